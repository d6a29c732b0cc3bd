// HTTP hardening (issue 15, items 3, 4, 7 and 9): header, body and idle
// keep-alive timeouts; request bodies that grow as their bytes arrive; the
// per-address cap on connections that have not authenticated; request
// framing stricter than http-parser's; chunked bodies of 1-byte chunks;
// --allowed-origins for CORS and WebSocket upgrades.
//
// Timeouts are shortened with --http-*-timeout-ms so each test waits for
// the server's own answer (408, or the connection closing), never a sleep.
//
// Run: HERALDD=/abs/build/heraldd node --test tests/integration/http_hardening.test.mjs

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import {
  startServer, test, describe, before, after, rawExchange, parseHttpResponses,
  assertAblyError, basicAuth, uniqueChannel,
} from './lib/server.mjs';
import { open, WebSocket, ACTION } from './lib/wsclient.mjs';

const AUTH = `Authorization: ${basicAuth('testapp.root:secretroot')}\r\n`;
const SHORT = ['--http-header-timeout-ms', '300', '--http-body-timeout-ms', '300',
  '--http-idle-timeout-ms', '300'];

/* The one response of a raw exchange that the server ended. */
function onlyResponse(res) {
  assert.notEqual(res.why, 'timeout', `server neither answered nor closed: ${JSON.stringify(res.text)}`);
  const responses = parseHttpResponses(res.data);
  assert.equal(responses.length, 1, `one response expected: ${JSON.stringify(res.text)}`);
  return responses[0];
}

/* An Ably error in a raw response, then the connection closed. */
function assertRawAblyError(res, status, code) {
  const r = onlyResponse(res);
  const ctx = JSON.stringify(res.text.slice(0, 400));
  assert.equal(r.status, status, ctx);
  assert.equal(r.headers['content-type'], 'application/json', ctx);
  assert.equal(r.headers.connection, 'close', ctx);
  assert.equal(r.headers['x-ably-errorcode'], String(code), ctx);
  const { error } = JSON.parse(r.body.toString('utf8'));
  assert.equal(error.code, code, ctx);
  assert.equal(error.statusCode, status, ctx);
  assert.ok(error.message.length > 0, ctx);
  return error;
}

/* A socket from a chosen loopback source address, once connected. */
function connectFrom(port, localAddress = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/* Writes raw on s and resolves with the first complete response. */
function exchangeOn(s, raw) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const [r] = parseHttpResponses(buf);
      if (r) { s.off('data', onData); resolve(r); }
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error(`closed: ${JSON.stringify(buf.toString('latin1'))}`)));
    s.write(raw);
  });
}

/* GET /time from 127.0.0.2: a client other than the one flooding. */
function timeFromOtherAddress(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/time', localAddress: '127.0.0.2', timeout: 3000 },
      (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('timeout', () => { req.destroy(); resolve('timeout'); });
    req.on('error', (e) => resolve(e.code));
  });
}

async function memoryKb(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))[1]);
  return { rss: field('VmRSS'), size: field('VmSize') };
}

describe('HTTP timeouts', () => {
  let srv;
  before(async () => { srv = await startServer({ args: SHORT }); });
  after(() => srv.stop());

  test('slowloris: a head that stops short gets 408/40800, then the connection closes', async () => {
    const res = await rawExchange(srv.port, 'GET /time HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    assertRawAblyError(res, 408, 40800);
  });

  test('a connection that sends nothing is closed after the header timeout', async () => {
    const res = await rawExchange(srv.port, '');
    assert.notEqual(res.why, 'timeout');
    assert.equal(res.data.length, 0);
  });

  test('a body that stops short gets 408/40800, then the connection closes', async () => {
    const res = await rawExchange(srv.port,
      `POST /channels/${uniqueChannel()}/messages HTTP/1.1\r\nHost: x\r\n${AUTH}` +
      'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":');
    assertRawAblyError(res, 408, 40800);
  });

  test('an idle keep-alive connection is closed after the idle timeout', async () => {
    const res = await rawExchange(srv.port, 'GET /time HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = onlyResponse(res);
    assert.equal(r.status, 200);
    assert.equal(r.headers.connection, 'keep-alive');
  });

  test('a keep-alive connection serves requests one after the other within the timeouts', async () => {
    const s = await connectFrom(srv.port);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await exchangeOn(s, 'GET /time HTTP/1.1\r\nHost: x\r\n\r\n');
        assert.equal(r.status, 200);
      }
    } finally { s.destroy(); }
  });

  test('an upgraded WebSocket connection is not subject to the HTTP timeouts', async () => {
    const hb = await startServer({ args: [...SHORT, '--max-idle-interval-ms', '200'] });
    try {
      const c = await open(hb);
      // Heartbeats every 200 ms: after 6 of them every HTTP timeout has passed.
      for (let i = 0; i < 6; i++) await c.next(ACTION.HEARTBEAT, 3000);
      assert.ok(c.isOpen(), 'the WebSocket is still open');
      c.terminate();
    } finally { await hb.stop(); }
  });
});

describe('HTTP request bodies', () => {
  test('200 connections declaring 2 MB bodies and stopping short hold neither memory nor address space', async () => {
    const srv = await startServer({ args: ['--threads', '1'] });
    const sockets = [];
    try {
      const head = (i) => `POST /channels/big-${i}/messages HTTP/1.1\r\nHost: x\r\n${AUTH}` +
        'Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n' + '{"data":"' + 'x'.repeat(1000);
      // A request answered first on the same connection tells us the server
      // has read the segment the partial body came in.
      const open1 = async (i) => {
        const s = await connectFrom(srv.port);
        sockets.push(s);
        const r = await exchangeOn(s, 'GET /time HTTP/1.1\r\nHost: x\r\n\r\n' + head(i));
        assert.equal(r.status, 200);
      };
      await open1(0);
      const before = await memoryKb(srv.proc.pid);
      for (let i = 1; i <= 200; i++) await open1(i);
      const afterKb = await memoryKb(srv.proc.pid);
      const rssMb = (afterKb.rss - before.rss) / 1024, sizeMb = (afterKb.size - before.size) / 1024;
      console.log(`# 200 short 2 MB bodies: VmRSS ${before.rss} -> ${afterKb.rss} kB, VmSize ${before.size} -> ${afterKb.size} kB`);
      assert.ok(rssMb < 8, `VmRSS grew by ${rssMb.toFixed(1)} MB`);
      assert.ok(sizeMb < 64, `VmSize grew by ${sizeMb.toFixed(1)} MB (2 MB reserved per body?)`);
    } finally {
      for (const s of sockets) s.destroy();
      await srv.stop();
    }
  });

  test('a body for a route that needs credentials is refused (401) before it is read when they are wrong', async () => {
    const srv = await startServer();
    try {
      const wrong = `Authorization: ${basicAuth('testapp.root:wrong')}\r\n`;
      for (const auth of [wrong, '']) {
        const res = await rawExchange(srv.port,
          `POST /channels/${uniqueChannel()}/messages HTTP/1.1\r\nHost: x\r\n${auth}` +
          'Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{"name":',
          { untilFn: (buf) => parseHttpResponses(buf).length > 0 });
        assert.equal(res.why, 'until', `answered without the body: ${JSON.stringify(res.text)}`);
        const [r] = parseHttpResponses(res.data);
        assert.equal(r.status, 401, res.text);
        assert.equal(JSON.parse(r.body).error.code, 40101, res.text);
      }
    } finally { await srv.stop(); }
  });

  test('a 2 MiB body in 1-byte chunks is accepted whole', async () => {
    const srv = await startServer();
    try {
      const channel = uniqueChannel('chunks');
      const prefix = '{"name":"one-byte-chunks",';
      const suffix = '"data":"end"}';
      const body = prefix + ' '.repeat(2 * 1024 * 1024 - prefix.length - suffix.length) + suffix;
      let chunked = '';
      for (const ch of body) chunked += `1\r\n${ch}\r\n`;
      const res = await rawExchange(srv.port,
        `POST /channels/${channel}/messages HTTP/1.1\r\nHost: x\r\n${AUTH}Connection: close\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}0\r\n\r\n`,
        { timeoutMs: 60000 });
      assert.equal(onlyResponse(res).status, 201, res.text.slice(0, 300));
      const history = await srv.request('GET', `/channels/${channel}/messages`);
      assert.equal(history.status, 200);
      assert.deepEqual(history.body.map((m) => [m.name, m.data]), [['one-byte-chunks', 'end']]);
    } finally { await srv.stop(); }
  });
});

describe('unauthenticated connections per address', () => {
  const CAP = 5;
  let srv;
  // One worker, so connections are accepted in the order they were opened.
  before(async () => {
    srv = await startServer({ args: ['--threads', '1', '--max-unauthenticated-per-address', String(CAP)] });
  });
  after(() => srv.stop());

  test('past the cap a connection is refused with 429/42910; another address and authenticated ones are served', async () => {
    const held = [];
    try {
      for (let i = 0; i < CAP; i++) held.push(await connectFrom(srv.port));
      // The refusal comes before the server reads anything: a client that
      // sent a request first could see a reset instead of the 429.
      const refused = await rawExchange(srv.port, '');
      assertRawAblyError(refused, 429, 42910);
      assert.equal(await timeFromOtherAddress(srv.port), 200, 'another address is served');
      // A connection that authenticated no longer counts toward the cap.
      const r = await exchangeOn(held[0],
        `GET /channels/${uniqueChannel()} HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`);
      assert.equal(r.status, 200);
      const served = await rawExchange(srv.port, 'GET /time HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(onlyResponse(served).status, 200, 'a slot was freed');
    } finally {
      for (const s of held) s.destroy();
    }
  });

  test('slowloris at a small descriptor limit does not lock out other addresses', async () => {
    const tight = await startServer({ fdLimit: 128, args: ['--max-unauthenticated-per-address', '32'] });
    const sockets = [];
    try {
      for (let i = 0; i < 200; i++) {
        const s = await connectFrom(tight.port).catch(() => null);
        if (s) { s.on('error', () => {}); s.write('GET /time HTTP/1.1\r\nHost: x\r\n'); sockets.push(s); }
      }
      assert.equal(await timeFromOtherAddress(tight.port), 200, 'a client from another address is served');
    } finally {
      for (const s of sockets) s.destroy();
      await tight.stop();
    }
  });
});

describe('HTTP framing strictness', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(() => srv.stop());
  const publish = (channel) => `POST /channels/${channel}/messages HTTP/1.1\r\nHost: x\r\n${AUTH}` +
    'Content-Type: application/json\r\n';
  const body = '{"name":"n","data":"d"}';
  const chunk = `${body.length.toString(16)}\r\n${body}`;

  const cases = {
    'space before the colon (Transfer-Encoding : chunked)':
      publish('strict-a').replace('Content-Type', 'Transfer-Encoding : chunked\r\nContent-Type') + `\r\n${chunk}\r\n0\r\n\r\n`,
    'an obs-fold continuation line':
      'GET /time HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n',
    'chunk data not followed by CRLF':
      publish('strict-c') + `Transfer-Encoding: chunked\r\n\r\n${chunk}XX0\r\n\r\n`,
    'bare LF line endings':
      'GET /time HTTP/1.1\nHost: x\n\n',
    'a bare LF in one header line':
      'GET /time HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n',
    'a bare LF after a chunk size':
      publish('strict-f') + `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\n${body}\r\n0\r\n\r\n`,
  };
  for (const [name, raw] of Object.entries(cases)) {
    test(`400/40000 and close: ${name}`, async () => {
      assertRawAblyError(await rawExchange(srv.port, raw), 400, 40000);
    });
  }

  test('well-formed chunked requests with extensions and trailers are still served', async () => {
    const channel = uniqueChannel('strict-ok');
    const res = await rawExchange(srv.port,
      publish(channel) + 'Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n' +
      `${body.length.toString(16)};ext=1\r\n${body}\r\n0\r\nX-Trailer: t\r\n\r\n`);
    assert.equal(onlyResponse(res).status, 201, res.text.slice(0, 300));
  });
});

describe('CORS and allowed origins', () => {
  const ALLOWED = 'https://app.example';
  let open_, restricted;
  before(async () => {
    open_ = await startServer();
    restricted = await startServer({ args: ['--allowed-origins', `${ALLOWED}, http://localhost:3000`] });
  });
  after(async () => { await open_.stop(); await restricted.stop(); });

  test('by default any Origin is reflected, with credentials (ably-js sends Authorization with credentials: include)', async () => {
    const res = await open_.request('GET', '/time', { headers: { Origin: 'https://any.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://any.example');
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(res.headers.get('vary'), 'Origin');
    const none = await open_.request('GET', '/time');
    assert.equal(none.headers.get('access-control-allow-origin'), '*');
  });

  test('a listed Origin is served with CORS headers, and its preflight works', async () => {
    const res = await restricted.request('GET', `/channels/${uniqueChannel()}`, { headers: { Origin: ALLOWED } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED);
    const pre = await restricted.request('OPTIONS', '/channels/x/messages', {
      key: null,
      headers: { Origin: 'http://localhost:3000', 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
  });

  test('another Origin is refused with 403/40300 and no CORS headers: requests and preflights', async () => {
    const res = await restricted.request('POST', `/channels/${uniqueChannel()}/messages`, {
      headers: { Origin: 'https://evil.example' }, json: { name: 'n', data: 'd' },
    });
    assertAblyError(assert, res, 403, 40300);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    const pre = await restricted.request('OPTIONS', '/apps', {
      key: null, headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    assertAblyError(assert, pre, 403, 40300);
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
  });

  test('requests without an Origin (not a browser) are served', async () => {
    const res = await restricted.request('GET', `/channels/${uniqueChannel()}`);
    assert.equal(res.status, 200);
  });

  const upgrade = (srv, origin) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/?key=${encodeURIComponent(srv.key)}&v=6&format=json`,
      origin ? { origin } : {});
    ws.on('open', () => { ws.terminate(); resolve({ opened: true }); });
    ws.on('unexpected-response', (req, res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    ws.on('error', () => {});
  });

  test('WebSocket upgrades: a listed Origin or none connects, another gets 403/40300', async () => {
    assert.deepEqual(await upgrade(restricted, ALLOWED), { opened: true });
    assert.deepEqual(await upgrade(restricted, null), { opened: true });
    const refused = await upgrade(restricted, 'https://evil.example');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 40300);
    assert.deepEqual(await upgrade(open_, 'https://evil.example'), { opened: true }, 'default: any origin');
  });
});
