// TLS (transport/tls.c): heraldd with --tls-cert/--tls-key serves https and
// wss on --tls-port beside plaintext. A self-signed certificate is made here
// with the openssl CLI; the clients trust it through their `ca` options
// (ably-js: restAgentOptions for REST and comet, a WebSocket class with
// `ca` for realtime). Every transport over TLS (REST, WebSocket, SSE,
// comet; JSON and msgpack), what is dropped (plaintext, a garbage
// ClientHello, a handshake that never ends) without disturbing other
// connections, and SIGHUP re-reading the files.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { Ably, describe, after, startServer, test, tlsArgs } from './lib/server.mjs';
import { ClientScope, Inbox, waitForState } from './lib/realtime.mjs';

const dir = mkdtempSync(join(tmpdir(), 'herald-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate for 127.0.0.1 in dir/<name>.cert.pem, .key.pem. */
function makeCert(name) {
  const cert = join(dir, `${name}.cert.pem`);
  const key = join(dir, `${name}.key.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  return { cert, key, pem: readFileSync(cert, 'utf8') };
}

const A = makeCert('a');
const B = makeCert('b');
const CA = [A.pem, B.pem];

// ably-js's WebSocket (the `ws` package) with our CA: ably-js passes no
// options of its own to it.
class TrustingWebSocket extends WebSocket {
  constructor(url, protocols, opts) { super(url, protocols, { ...opts, ca: CA }); }
}
Ably.Realtime.Platform.Config.WebSocket = TrustingWebSocket;

const sdkTls = (srv) => ({
  tls: true, tlsPort: srv.tlsPort, restAgentOptions: { ca: CA, keepAlive: true, maxSockets: 10 },
});

function rest(srv, binary) {
  return new Ably.Rest({ key: srv.key, endpoint: '127.0.0.1', useBinaryProtocol: binary, logLevel: 0, ...sdkTls(srv) });
}

/** GET path on a new TLS connection: {status, body, cert (the server's)}. */
function httpsGet(port, path, { headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, headers, ca: CA, agent: false }, (res) => {
      const cert = res.socket.getPeerCertificate();
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body, cert }));
    });
    req.on('error', reject);
  });
}

/** A raw TCP connection to port: sends raw, resolves how it ended ({data, why}). */
function rawTcp(port, raw, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    const t0 = Date.now();
    const timer = setTimeout(() => { sock.destroy(); resolve({ data, why: 'timeout', ms: Date.now() - t0 }); }, timeoutMs);
    sock.on('connect', () => { if (raw) sock.write(raw); });
    sock.on('data', (d) => { data = Buffer.concat([data, d]); });
    sock.on('error', () => {});
    sock.on('close', () => { clearTimeout(timer); resolve({ data, why: 'closed', ms: Date.now() - t0 }); });
  });
}

/** Resolves once the server's stderr contains text (it logs as it goes). */
async function logged(srv, text, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  while (!srv.logs().stderr.includes(text)) {
    if (Date.now() > end) throw new Error(`server did not log "${text}"`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const fingerprint = (cert) => cert.fingerprint256;
const certFingerprint = (pem) => new X509Certificate(pem).fingerprint256;

describe('TLS', () => {
  let srv;
  const tlsServer = async (extra = []) => {
    const s = await startServer({ args: [...tlsArgs(dir, A), ...extra] });
    assert.ok(s.tlsPort && s.tlsPort !== s.port, 'a TLS port beside the plaintext one');
    return s;
  };

  test('REST publish and history over https, JSON and msgpack; plaintext stays on --port', async () => {
    srv = await tlsServer();
    for (const binary of [false, true]) {
      const ch = rest(srv, binary).channels.get(`tls-rest-${binary}`);
      await ch.publish('greeting', { hello: 'tls', binary });
      await ch.publish('bytes', Buffer.from([1, 2, 3]));
      const page = await ch.history({ direction: 'forwards' });
      assert.deepEqual(page.items.map((m) => m.name), ['greeting', 'bytes']);
      assert.deepEqual(page.items[0].data, { hello: 'tls', binary });
      assert.deepEqual([...page.items[1].data], [1, 2, 3]);
    }
    const plain = await fetch(`${srv.url}/time`);
    assert.equal(plain.status, 200, 'plaintext is served on --port as before');
    const secure = await httpsGet(srv.tlsPort, '/time');
    assert.equal(secure.status, 200);
    assert.equal(fingerprint(secure.cert), certFingerprint(A.pem));
  });

  for (const [transport, binary] of [['web_socket', false], ['web_socket', true]]) {
    test(`realtime over ${transport} on TLS (${binary ? 'msgpack' : 'JSON'}): attach, publish, receive`, async () => {
      const scope = new ClientScope();
      try {
        const opts = { key: srv.key, binary, transports: [transport], ...sdkTls(srv) };
        const sub = scope.realtime(srv, opts);
        const pub = scope.realtime(srv, opts);
        await Promise.all([waitForState(sub.connection, 'connected'), waitForState(pub.connection, 'connected')]);
        const name = `tls-${transport}-${binary}`;
        const inbox = new Inbox();
        await sub.channels.get(name).subscribe((m) => inbox.push(m));
        const big = 'x'.repeat(40000); // records of more than one TLS record
        await pub.channels.get(name).publish('one', { n: 1 });
        await pub.channels.get(name).publish('big', big);
        await inbox.waitForCount(2);
        assert.deepEqual(inbox.messages.map((m) => m.name), ['one', 'big']);
        assert.equal(inbox.messages[1].data, big);
      } finally {
        await scope.closeAll();
      }
    });
  }

  // ably-js's comet requests take no `ca` of the client's (only
  // NODE_EXTRA_CA_CERTS, which make integration-test-tls sets for
  // comet.test.mjs), so here comet is spoken raw, every request on one
  // kept-alive TLS connection: a request answered on another worker moves
  // that connection there with its TLS session.
  test('comet over TLS: connect, attach, a published message arrives, over one kept-alive connection', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: CA });
    const sockets = new Set();
    const call = (method, path, body) => new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: srv.tlsPort, method, path, agent,
        headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
        sockets.add(res.socket);
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, json: text ? JSON.parse(text) : null }));
      });
      req.on('error', reject);
      req.end(body ? JSON.stringify(body) : undefined);
    });
    try {
      const q = new URLSearchParams({ key: srv.key, v: '3', format: 'json', stream: 'false' });
      const connected = await call('GET', `/comet/connect?${q}`);
      assert.equal(connected.status, 200);
      const ck = connected.json.find((m) => m.action === 4)?.connectionKey;
      assert.ok(ck, `CONNECTED with a connectionKey: ${JSON.stringify(connected.json)}`);
      const until = async (action) => {
        for (let i = 0; i < 20; i++) {
          const r = await call('GET', `/comet/${ck}/recv?stream=false`);
          assert.ok(r.status < 300, `recv: ${r.status}`);
          const m = (r.json || []).find((x) => x.action === action);
          if (m) return m;
        }
        throw new Error(`no action ${action}`);
      };
      assert.ok((await call('POST', `/comet/${ck}/send`, [{ action: 10, channel: 'tls-comet' }])).status < 300);
      await until(11); // ATTACHED
      await rest(srv, false).channels.get('tls-comet').publish('c', 'comet-data');
      const msg = await until(15); // MESSAGE
      assert.equal(msg.messages[0].data, 'comet-data');
      assert.equal(sockets.size, 1, 'every request on one TLS connection');
    } finally {
      agent.destroy();
    }
  });

  test('SSE over TLS: a published message arrives on the event stream', async () => {
    const name = 'tls-sse';
    const got = new Promise((resolve, reject) => {
      const q = new URLSearchParams({ v: '1.2', channels: name, key: srv.key });
      const req = https.get({ host: '127.0.0.1', port: srv.tlsPort, path: `/sse?${q}`, ca: CA, agent: false }, (res) => {
        assert.equal(res.statusCode, 200);
        let text = '';
        res.on('data', (d) => {
          text += d;
          if (text.includes('"sse-data"')) { req.destroy(); resolve(text); }
        });
        rest(srv, false).channels.get(name).publish('m', 'sse-data').catch(reject);
      });
      req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
    });
    assert.match(await got, /data: .*sse-data/);
  });

  test('plaintext HTTP and a garbage ClientHello on the TLS port are dropped; another TLS client goes on', async () => {
    const scope = new ClientScope();
    try {
      const c = scope.realtime(srv, { key: srv.key, ...sdkTls(srv) });
      await waitForState(c.connection, 'connected');
      const plain = await rawTcp(srv.tlsPort, 'GET /time HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(plain.why, 'closed', 'plaintext on the TLS port: closed');
      assert.ok(!plain.data.toString('latin1').startsWith('HTTP/'), 'no plaintext HTTP answer');
      const garbage = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), Buffer.alloc(64, 0xab)]);
      assert.equal((await rawTcp(srv.tlsPort, garbage)).why, 'closed', 'a garbage ClientHello: closed');
      const inbox = new Inbox();
      const ch = c.channels.get('tls-survivor');
      await ch.subscribe((m) => inbox.push(m));
      await rest(srv, false).channels.get('tls-survivor').publish('still', 'here');
      await inbox.waitForCount(1);
      assert.equal(c.connection.state, 'connected');
    } finally {
      await scope.closeAll();
    }
  });

  test('a handshake that never completes is closed by the header timeout', async () => {
    const s = await tlsServer(['--http-header-timeout-ms', '300']);
    try {
      const silent = rawTcp(s.tlsPort, null);
      const partial = rawTcp(s.tlsPort, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // a ClientHello's first bytes
      for (const r of await Promise.all([silent, partial])) {
        assert.equal(r.why, 'closed', 'closed by the server');
        assert.ok(r.ms >= 250, `not before the timeout (${r.ms} ms)`);
      }
      assert.equal((await httpsGet(s.tlsPort, '/time')).status, 200, 'a full handshake is served');
    } finally {
      await s.stop();
    }
  });

  test('SIGHUP: new handshakes get the new certificate, open connections go on, a bad file keeps the old one', async () => {
    const cert = join(dir, 'live.cert.pem');
    const key = join(dir, 'live.key.pem');
    copyFileSync(A.cert, cert);
    copyFileSync(A.key, key);
    const s = await startServer({ args: tlsArgs(dir, { cert, key }) });
    try {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: CA });
      const get = (path) => new Promise((resolve, reject) => {
        https.get({ host: '127.0.0.1', port: s.tlsPort, path, agent }, (res) => {
          const socket = res.socket;
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode, socket, cert: socket.getPeerCertificate() }));
        }).on('error', reject);
      });
      const first = await get('/time');
      assert.equal(fingerprint(first.cert), certFingerprint(A.pem));

      copyFileSync(B.cert, cert);
      copyFileSync(B.key, key);
      s.proc.kill('SIGHUP');
      await logged(s, 'TLS certificate and key reloaded');
      const again = await get('/time');
      assert.equal(again.status, 200);
      assert.equal(again.socket, first.socket, 'the open connection went on');
      assert.equal(fingerprint((await httpsGet(s.tlsPort, '/time')).cert), certFingerprint(B.pem), 'a new handshake: the new certificate');

      writeFileSync(cert, 'not a certificate\n');
      s.proc.kill('SIGHUP');
      await logged(s, 'the TLS certificate in use stays');
      assert.equal(fingerprint((await httpsGet(s.tlsPort, '/time')).cert), certFingerprint(B.pem), 'a bad file: the old certificate stays');
      agent.destroy();
    } finally {
      await s.stop();
    }
  });

  test('without --tls-port the main port serves TLS only', async () => {
    const s = await startServer({ args: ['--tls-cert', A.cert, '--tls-key', A.key] });
    try {
      assert.equal(s.tlsPort, null, 'one port');
      assert.equal((await httpsGet(s.port, '/time')).status, 200, 'https on --port');
      const plain = await rawTcp(s.port, 'GET /time HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.ok(!plain.data.toString('latin1').startsWith('HTTP/'), 'no plaintext answer on --port');
    } finally {
      await s.stop();
    }
  });

  test('a certificate without its key is refused at start-up', async () => {
    const s = await startServer({ args: ['--tls-cert', A.cert], quiet: true }).catch((e) => e);
    assert.ok(s instanceof Error, 'heraldd did not start');
    assert.match(s.message, /--tls-key/);
  });

  after(() => srv?.stop());
});
