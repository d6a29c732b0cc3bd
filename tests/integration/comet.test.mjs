// The comet transport (shared/spec/realtime.md §7, docs/http-streaming.md):
// one realtime connection over a series of HTTP requests, /comet/connect,
// /comet/<connectionKey>/recv, /send, /close and /disconnect.
//
// ably-js (transports: ['comet']), in streaming mode (what Node's comet
// does by default) and polling mode (transportParams {stream: false}, what
// browsers' xhr_polling does), each with useBinaryProtocol false and true
// (comet forces JSON, so both must work the same):
//  - connect, attach, publish ACKed, subscribe with name and data intact;
//  - presence seen by a WebSocket client, and a leave at once on close;
//  - resume after the transport's sockets are destroyed, recover with a
//    recovery key, token renewal at expiry (DISCONNECTED 40142, a resume), a NACK 40160 for a publish the
//    capability forbids.
// Raw HTTP (a small client below, each request on a fresh TCP connection
// unless said otherwise, so requests land on either of the server's two
// workers and are moved to the connection's home):
//  - the connect answer, errors at connect, format=msgpack;
//  - unknown keys (410, 80016); every body ending with a newline;
//  - malformed send bodies failing only their connection (40000 on the
//    recv), an oversized one refused alone (413), a truncated one ignored;
//  - a newer recv answering the waiting one (204) or ending a stream;
//    one refused (410) while the stream it would replace is mid-write,
//    and two at once never mixing their responses;
//  - the end of a streaming recv after comet-stream-ms with nothing lost;
//    a connection lost for want of a recv, then resumed;
//  - close, disconnect, a dropped streaming recv followed by /close;
//  - resume of a comet connection over a WebSocket and vice versa;
//  - CORS: preflight, allowed and refused Origins;
//  - 50 send/recv cycles, each request on a new TCP connection;
//  - SIGTERM with a poll waiting, a stream open and a connection between
//    recvs (under the sanitizers: nothing leaked).
//
// One server for the file (short comet timers, one allowed Origin); the
// mid-write, two-recvs and SIGTERM tests start their own.
// Run: HERALDD=/abs/build/heraldd node --test tests/integration/comet.test.mjs

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import {
  startServer, test, describe, before, after, uniqueChannel, eventually, sleep, assertAblyError, request, rawExchange,
} from './lib/server.mjs';
import { signTokenRequest, guardedAuthCallback, expectAblyError } from './lib/auth.mjs';
import {
  rtTest, Inbox, waitForState, nextEvent, withTimeout, recordStateChanges, describeChanges, handled, startTcpProxy,
  closeClient,
} from './lib/realtime.mjs';
import { open as openWs, ACTION, FLAG } from './lib/wsclient.mjs';
import { ABLY_VERSION, sdkAtLeast } from './lib/ably.mjs';
import WebSocket from 'ws';

const ROOT = 'cometapp.root:secretroot';
const LIMITED = 'cometapp.limited:secretlimited';
const CONFIG = {
  apps: [{
    id: 'cometapp',
    keys: [
      { key: ROOT, capability: { '*': ['*'] } },
      { key: LIMITED, capability: { 'allowed:*': ['publish', 'subscribe', 'presence'] } },
    ],
  }],
};
const STREAM_MS = 300; // a streaming recv ends after this
const GRACE_MS = 500; // no recv for the heartbeat interval + this: lost
const MAX_IDLE_MS = 3000; // the heartbeat interval ably-js clients get
const PRESENCE_GRACE_MS = 15000; // the default: a leave sooner is not the grace's
const ALLOWED_ORIGIN = 'http://allowed.example';
const MAX_BODY = 2 * 1024 * 1024; // --max-body-size's default

let srv;
before(async () => {
  srv = await startServer({
    config: CONFIG,
    env: { HERALD_KEY: null },
    args: [
      '--comet-stream-ms', String(STREAM_MS),
      '--comet-recv-grace-ms', String(GRACE_MS),
      '--max-idle-interval-ms', String(MAX_IDLE_MS),
      '--presence-grace-ms', String(PRESENCE_GRACE_MS),
      '--allowed-origins', ALLOWED_ORIGIN,
    ],
  });
});
after(async () => { if (srv) await srv.stop(); });

const rest = () => srv.rest({ key: ROOT });

// ---------------------------------------------------------------- raw HTTP

/**
 * One HTTP request, on a TCP connection of its own unless `agent` is
 * given. The body is read as comet answers it: lines, each a JSON array of
 * ProtocolMessages, collected into `pms` as they arrive (a line that is not
 * an array is kept as {undecodable}).
 *  response  promise of {status, headers} once the head arrived
 *  done      promise of {status, headers, text, pms} once the body ended
 *  next(pred, timeoutMs, what)  the first PM (received or to come) matching pred
 *  destroy() drops the TCP connection abruptly
 */
class Exchange {
  constructor(port, method, path, { body, headers = {}, agent = false } = {}) {
    this.pms = [];
    this.text = '';
    this.waiters = new Set();
    this.ended = false;
    const hdrs = { ...headers };
    if (body !== undefined && !Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-type')) {
      hdrs['Content-Type'] = 'application/json';
    }
    this.req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: hdrs });
    this.response = handled(new Promise((resolve, reject) => {
      this.req.on('response', (res) => {
        this.res = res;
        resolve({ status: res.statusCode, headers: res.headers });
      });
      this.req.on('error', reject);
    }));
    this.done = handled(this.response.then((head) => new Promise((resolve, reject) => {
      let partial = '';
      this.res.setEncoding('utf8');
      this.res.on('data', (chunk) => {
        this.text += chunk;
        const lines = (partial + chunk).split('\n');
        partial = lines.pop();
        for (const line of lines) this.take(line);
      });
      this.res.on('end', () => {
        this.ended = true;
        if (partial) this.take(partial); // unterminated: the text shows it
        for (const w of this.waiters) w.onEnd();
        resolve({ ...head, text: this.text, pms: this.pms });
      });
      this.res.on('error', reject);
    })));
    this.req.end(body);
  }

  take(line) {
    if (!line) return;
    let items;
    try { items = JSON.parse(line); } catch (e) { items = null; }
    const pms = Array.isArray(items) ? items : [{ undecodable: line.slice(0, 200) }];
    for (const pm of pms) {
      this.pms.push(pm);
      for (const w of this.waiters) w.check(pm);
    }
  }

  next(pred, timeoutMs = 5000, what = 'a PM') {
    const have = this.pms.find(pred);
    if (have) return Promise.resolve(have);
    let w;
    const p = new Promise((resolve, reject) => {
      w = {
        check: (pm) => { if (pred(pm)) resolve(pm); },
        onEnd: () => reject(new Error(`response ended before ${what}; got ${showPms(this.pms)}`)),
      };
      this.waiters.add(w);
      if (this.ended) w.onEnd();
    });
    return withTimeout(p, timeoutMs, `${what} (got ${showPms(this.pms)})`).finally(() => this.waiters.delete(w));
  }

  destroy() {
    this.req.destroy();
  }
}

const showPms = (pms) => JSON.stringify(pms.slice(-6)).slice(0, 600);

/** A query string of connect params (v=6, the root key, heartbeats; null drops one). */
function connectQuery(params) {
  const all = { key: ROOT, v: '6', heartbeats: 'true', ...params };
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(all)) if (v !== null && v !== undefined) qs.append(k, String(v));
  return qs.toString();
}

/**
 * A raw comet connection. connect() (polling unless {stream: true}) waits
 * for CONNECTED; in streaming mode the connect's response stays open as
 * the first recv (`stream`). recv() starts a recv (an Exchange); poll()
 * is a recv's whole answer; send() posts ProtocolMessages (or a raw
 * string) and resolves with the answer.
 */
class RawComet {
  static async connect(params = {}, { stream = false, server = srv } = {}) {
    const query = connectQuery({ stream: stream ? undefined : 'false', ...params });
    const ex = new Exchange(server.port, 'GET', `/comet/connect?${query}`);
    const head = await withTimeout(ex.response, 5000, 'the connect\'s answer');
    assert.equal(head.status, 200, `connect: ${head.status} ${stream ? '' : (await ex.done).text}`);
    const connected = await ex.next(() => true, 5000, 'the first PM');
    assert.equal(connected.action, ACTION.CONNECTED, `the first PM is CONNECTED: ${JSON.stringify(connected)}`);
    const c = new RawComet(server, connected);
    if (stream) c.stream = ex;
    else c.connectAnswer = await ex.done;
    return c;
  }

  constructor(server, connected) {
    this.port = server.port;
    this.connected = connected;
    this.connectionId = connected.connectionId;
    this.key = connected.connectionDetails.connectionKey;
  }

  path(what) { return `/comet/${this.key}/${what}`; }

  recv(opts) { return new Exchange(this.port, 'GET', this.path('recv'), opts); }

  /** A recv's whole answer (a poll; a stream ends after STREAM_MS). */
  poll(opts) { return withTimeout(this.recv(opts).done, 10000, 'a recv\'s answer'); }

  send(pms, opts = {}) {
    const body = typeof pms === 'string' ? pms : JSON.stringify(pms);
    return withTimeout(new Exchange(this.port, 'POST', this.path('send'), { body, ...opts }).done, 10000, 'a send\'s answer');
  }

  get(what, opts) { return withTimeout(new Exchange(this.port, 'GET', this.path(what), opts).done, 10000, `${what}'s answer`); }

  /** Sends, asserting the 204 that accepts any send. */
  async sendOk(pms, what = 'send') {
    const r = await this.send(pms);
    assert.equal(r.status, 204, `${what}: ${r.status} ${r.text}`);
    assert.equal(r.text, '', `${what}: no body`);
  }

  /** Polls until a PM matching pred arrives (heartbeats may answer a poll first); returns the PMs seen. */
  async pollUntil(pred, what = 'a PM', maxPolls = 10) {
    const seen = [];
    for (let i = 0; i < maxPolls; i++) {
      const r = await this.poll();
      assert.equal(r.status, 200, `recv while waiting for ${what}: ${r.status} ${r.text}`);
      seen.push(...r.pms);
      if (r.pms.some(pred)) return seen;
    }
    throw new Error(`${what} not received in ${maxPolls} polls: ${showPms(seen)}`);
  }

  /** Attaches `channel` (polling), returning ATTACHED. */
  async attach(channel) {
    await this.sendOk([{ action: ACTION.ATTACH, channel }], 'ATTACH');
    const seen = await this.pollUntil((pm) => pm.action === ACTION.ATTACHED && pm.channel === channel, 'ATTACHED');
    return seen.find((pm) => pm.action === ACTION.ATTACHED);
  }
}

/** Asserts a 410 answer of an unknown key: a DISCONNECTED with 80016. */
function assertGone(r, what) {
  const ctx = `${what}: ${r.status} ${r.text}`;
  assert.equal(r.status, 410, ctx);
  assert.equal(r.headers['content-type'], 'application/json', ctx);
  assert.ok(r.text.endsWith('\n'), `body ends with a newline: ${ctx}`);
  assert.equal(r.pms.length, 1, ctx);
  const [pm] = r.pms;
  assert.equal(pm.action, ACTION.DISCONNECTED, ctx);
  assert.equal(pm.error.code, 80016, ctx);
  assert.equal(pm.error.statusCode, 410, ctx);
  assert.equal(typeof pm.error.message, 'string', ctx);
}

/** Asserts an answer whose body is one ERROR with `code`, with the error's HTTP status. */
function assertErrorAnswer(r, status, code, what) {
  const ctx = `${what}: ${r.status} ${r.text}`;
  assert.equal(r.status, status, ctx);
  assert.equal(r.headers['content-type'], 'application/json', ctx);
  assert.ok(r.text.endsWith('\n'), `body ends with a newline: ${ctx}`);
  const err = r.pms.find((pm) => pm.action === ACTION.ERROR);
  assert.ok(err, `an ERROR in the answer: ${ctx}`);
  assert.equal(err.error.code, code, ctx);
  assert.equal(err.error.statusCode, status, ctx);
  assert.ok(typeof err.error.message === 'string' && err.error.message.length > 0, ctx);
  return err.error;
}

const isHeartbeat = (id) => (pm) => pm.action === ACTION.HEARTBEAT && pm.id === id;
const range = (n, f = String) => Array.from({ length: n }, (_, i) => f(i));

// ---------------------------------------------------------------- ably-js

const MODES = [
  { name: 'streaming', stream: true },
  { name: 'polling', stream: false },
];
const PROTOCOLS = [
  { name: 'useBinaryProtocol false', binary: false },
  { name: 'useBinaryProtocol true', binary: true },
];

/** The active transport of a connected ably-js client. */
function activeTransport(client) {
  return client.connection.connectionManager.activeProtocol.getTransport();
}

/** Destroys every TCP connection of a comet client's transport (no /close, no /disconnect). */
function dropCometSockets(client) {
  const agent = activeTransport(client).httpAgent;
  const sockets = [...Object.values(agent.sockets), ...Object.values(agent.freeSockets)].flat();
  assert.ok(sockets.length > 0, 'test precondition: the comet transport has sockets');
  for (const s of sockets) s.destroy();
}

for (const mode of MODES) {
  for (const proto of PROTOCOLS) {
    const chan = (p) => uniqueChannel(`comet-${mode.name}-${proto.binary ? 'bin' : 'json'}-${p}`);

    /** An ably-js client on comet in this mode and protocol. */
    function comet(scope, opts = {}, target = srv) {
      return scope.realtime(target, {
        key: ROOT,
        binary: proto.binary,
        transports: ['comet'],
        ...(mode.stream ? {} : { transportParams: { stream: false } }),
        ...opts,
      });
    }

    /** A connected comet client, its transport asserted to be comet in this mode. */
    async function connected(scope, opts = {}, target = srv) {
      const c = comet(scope, opts, target);
      await waitForState(c.connection, 'connected', { what: `${opts.label || 'comet client'} connection` });
      const t = activeTransport(c);
      assert.equal(t.shortName, 'comet', 'connected over comet');
      assert.equal(t.stream, mode.stream, `stream ${mode.stream}`);
      return c;
    }

    async function subscribed(client, name) {
      const channel = client.channels.get(name);
      const inbox = new Inbox();
      const attached = await withTimeout(inbox.subscribe(channel), 10000, `attach ${name}`);
      return { channel, inbox, attached };
    }

    /** Publishes a marker through REST and waits for it: everything before it was delivered. */
    async function flush(inbox, restCh) {
      await restCh.publish('end-marker', 'end');
      await inbox.waitForName('end-marker');
    }

    describe(`ably-js over comet, ${mode.name}, ${proto.name}`, () => {
      rtTest('connects, publishes (ACKed) and receives its messages with name and data intact, over JSON', async (scope) => {
        const c = await connected(scope);
        const t = activeTransport(c);
        assert.equal(t.params.format, undefined, 'comet sends no format: JSON, whatever useBinaryProtocol says');
        assert.match(c.connection.id, /^[A-Za-z0-9_-]{10}$/);
        assert.equal(c.connection.key, c.connection.connectionManager.connectionDetails.connectionKey);
        const name = chan('pubsub');
        const { channel, inbox, attached } = await subscribed(c, name);
        assert.equal(channel.state, 'attached');
        assert.equal(attached.resumed, false);
        const bin = Buffer.from([0, 1, 2, 0xfe, 0xff]);
        const sent = [
          { name: 'text', data: 'héllo wörld \u2603' },
          { name: 'object', data: { a: [1, 2, { b: null }], s: 'x' } },
          { name: 'binary', data: bin },
        ];
        for (const m of sent) await withTimeout(channel.publish(m.name, m.data), 5000, `publish ${m.name} ACKed`);
        await inbox.waitForCount(3);
        assert.deepEqual(inbox.names(), ['text', 'object', 'binary']);
        assert.equal(inbox.messages[0].data, sent[0].data);
        assert.deepEqual(inbox.messages[1].data, sent[1].data);
        assert.ok(Buffer.isBuffer(inbox.messages[2].data), 'binary arrives as a Buffer');
        assert.deepEqual(Buffer.from(inbox.messages[2].data), bin);
        for (const m of inbox.messages) assert.equal(m.connectionId, c.connection.id, 'the publisher\'s connectionId');
        // a REST client sees the same
        const history = await rest().channels.get(name).history({ direction: 'forwards' });
        assert.deepEqual(history.items.map((m) => m.name), ['text', 'object', 'binary']);
        assert.equal(t, activeTransport(c), 'still the first transport');
      });

      rtTest('presence enter is seen by a WebSocket client; on close the member leaves at once', async (scope) => {
        const name = chan('presence');
        const watcher = scope.realtime(srv, { key: ROOT, label: 'ws watcher' });
        const wch = watcher.channels.get(name);
        const events = [];
        const waiters = new Set();
        await wch.presence.subscribe((m) => { events.push(m); for (const w of waiters) w(m); });
        const nextPresence = (action, timeoutMs) => {
          const have = events.find((e) => e.action === action);
          if (have) return Promise.resolve(have);
          let w;
          return withTimeout(new Promise((resolve) => { w = (m) => { if (m.action === action) resolve(m); }; waiters.add(w); }),
            timeoutMs, `presence ${action}`).finally(() => waiters.delete(w));
        };

        const c = await connected(scope, { clientId: 'comet-member', label: 'comet member' });
        const cch = c.channels.get(name);
        await withTimeout(cch.presence.enter({ mood: 'polling' }), 5000, 'enter ACKed');
        const entered = await nextPresence('enter', 5000);
        assert.equal(entered.clientId, 'comet-member');
        assert.equal(entered.connectionId, c.connection.id);
        assert.deepEqual(entered.data, { mood: 'polling' });
        const members = await wch.presence.get();
        assert.deepEqual(members.map((m) => m.clientId), ['comet-member']);

        const closedAt = Date.now();
        c.close();
        await waitForState(c.connection, 'closed', { what: 'comet client' });
        const left = await nextPresence('leave', PRESENCE_GRACE_MS / 3);
        const ms = Date.now() - closedAt;
        assert.equal(left.clientId, 'comet-member');
        assert.equal(left.connectionId, entered.connectionId);
        assert.ok(ms < PRESENCE_GRACE_MS / 3, `left ${ms} ms after close, not after the presence grace`);
        assert.deepEqual(await wch.presence.get(), []);
      });

      rtTest('resume after the transport\'s sockets are destroyed: same connectionId, every message once, in order', async (scope) => {
        const name = chan('resume');
        const N = 60;
        const sub = await connected(scope, { label: 'subscriber' });
        const { channel, inbox } = await subscribed(sub, name);
        const idBefore = sub.connection.id;
        const firstTransport = activeTransport(sub);
        const restCh = rest().channels.get(name);

        // publish at a steady pace; drop the subscriber's sockets in the middle
        const publishing = handled((async () => {
          for (let i = 0; i < N; i++) { await restCh.publish(String(i), `seq-${i}`); await sleep(10); }
        })());
        await inbox.waitForCount(15);
        const dropped = nextEvent(sub.connection, 'disconnected', 5000, 'disconnected after the drop');
        const back = nextEvent(sub.connection, 'connected', 10000, 'connected again');
        const reattached = nextEvent(channel, 'attached', 10000, 'channel re-attached');
        dropCometSockets(sub);
        await dropped;
        const change = await back;
        assert.equal(sub.connection.id, idBefore, 'resumed: same connection id');
        assert.equal(change.reason ?? null, null, `no error on resume: ${change.reason?.code} ${change.reason?.message}`);
        assert.notEqual(activeTransport(sub), firstTransport, 'on a new transport');
        assert.equal(activeTransport(sub).shortName, 'comet');
        assert.equal((await reattached).resumed, true, 'ATTACHED after resume flags RESUMED');
        await publishing;
        await flush(inbox, restCh);
        assert.deepEqual(inbox.names(), [...range(N), 'end-marker'], 'every message once, in order');
      });

      rtTest('recover with a recovery key in a new client: same connectionId, missed messages delivered', async (scope, t) => {
        const proxy = await startTcpProxy(srv.port);
        t.after(() => proxy.close());
        const name = chan('recover');
        const restCh = rest().channels.get(name);
        const a = await connected(scope, { label: 'A' }, proxy);
        const subA = await subscribed(a, name);
        await restCh.publish('m0', 'zero');
        await subA.inbox.waitForName('m0');
        const recoveryKey = a.connection.createRecoveryKey();
        assert.equal(JSON.parse(recoveryKey).connectionKey, a.connection.key);
        const idA = a.connection.id;
        // A vanishes without /close (a crashed page) and cannot come back
        proxy.setUp(false);
        const gone = nextEvent(a.connection, 'disconnected', 5000, 'A disconnected');
        proxy.dropAll();
        await gone;
        await restCh.publish([{ name: 'm1', data: 'one' }, { name: 'm2', data: 'two' }]);

        const b = comet(scope, { recover: recoveryKey, label: 'B' });
        const change = await waitForState(b.connection, 'connected', { what: 'B connection' });
        assert.equal(activeTransport(b).shortName, 'comet');
        assert.equal(b.connection.id, idA, 'recovered: same connection id');
        assert.equal(change?.reason ?? null, null, `no error on recover: ${change?.reason?.code} ${change?.reason?.message}`);
        const subB = await subscribed(b, name);
        assert.equal(subB.attached?.resumed, true, 'ATTACHED with the recovered channelSerial flags RESUMED');
        await flush(subB.inbox, restCh);
        assert.deepEqual(subB.inbox.names(), ['m1', 'm2', 'end-marker'], 'the missed messages, then live ones');
      });

      rtTest('token renewal with short-lived tokens: DISCONNECTED 40142 at expiry, the same connection resumed over comet, nothing lost', async (scope) => {
        const TTL = 2000;
        const guard = guardedAuthCallback(() => signTokenRequest(ROOT, { ttl: TTL, clientId: 'renewer' }), { limit: 8 });
        const c = await connected(scope, { authCallback: guard.authCallback, label: 'renewer' });
        const changes = recordStateChanges(c.connection);
        const name = chan('renew');
        const { inbox } = await subscribed(c, name);
        const id = c.connection.id;
        const restCh = rest().channels.get(name);

        const expired = await waitForState(c.connection, 'disconnected', { timeoutMs: TTL + 3000, what: 'the token expiry' });
        assert.equal(expired.reason?.code, 40142, `token expired: ${expired.reason?.message}`);
        await restCh.publish('while-renewing', 'x');
        await waitForState(c.connection, 'connected', { what: 'the resume with a new token' });
        assert.ok(guard.calls >= 2, `authCallback called again (${guard.calls} calls)`);
        assert.equal(c.connection.id, id, 'same connection after the renewal');
        assert.equal(activeTransport(c).shortName, 'comet');
        await restCh.publish('after-expiry', 'y');
        await flush(inbox, restCh);
        assert.deepEqual(inbox.names(), ['while-renewing', 'after-expiry', 'end-marker']);
        assert.equal(changes.filter((ch) => ch.current === 'disconnected').length, 1, describeChanges(changes));
        assert.ok(!changes.some((ch) => ['suspended', 'failed'].includes(ch.current)), describeChanges(changes));
        // ably-js reconnects a closed client when a renewal it began
        // completes after close(): close while connected, the next expiry
        // a token's life away
        await closeClient(c);
      });

      rtTest('a publish the capability forbids is NACKed 40160; the connection and an allowed channel carry on', async (scope) => {
        const c = await connected(scope, { key: LIMITED, label: 'limited' });
        await expectAblyError(assert, c.channels.get(chan('denied')).publish('x', 'y'), 401, 40160, 'publish to a denied channel');
        assert.equal(c.connection.state, 'connected');
        const { channel, inbox } = await subscribed(c, uniqueChannel('allowed:comet'));
        await withTimeout(channel.publish('ok', 'fine'), 5000, 'allowed publish ACKed');
        await inbox.waitForName('ok');
        assert.equal(c.connection.state, 'connected');
      });
    });
  }
}

// ---------------------------------------------------------------- raw: connect

// A client listing web_socket and comet behind something that refuses
// WebSocket upgrades (a reverse proxy without upgrade support). ably-js
// 2.28, on an upgrade failing on every host, probes wsConnectivityCheckUrl
// and, if WebSockets do not work there either, goes on over comet; 2.26
// stays disconnected retrying web_socket (docs/sdk-compatibility.md). The
// probe must reach Herald the way the client does (its default is Ably's
// wss://ws-up.ably-realtime.com): a WebSocket to "/" opens, then gets an
// ERROR, and an open is all the probe asks.
describe('ably-js with web_socket and comet, WebSocket upgrades refused on the way', () => {
  /** A TCP proxy to srv resetting every request that asks for a WebSocket upgrade. */
  async function upgradeRefusingProxy() {
    const seen = [];
    const server = net.createServer((down) => {
      down.on('error', () => {});
      down.once('data', (first) => {
        const head = first.toString('latin1');
        const upgrade = /^upgrade:\s*websocket/im.test(head);
        seen.push({ line: head.slice(0, head.indexOf('\r\n')), upgrade });
        if (upgrade) { down.resetAndDestroy(); return; }
        const up = net.connect(srv.port, '127.0.0.1', () => { up.write(first); down.pipe(up); up.pipe(down); });
        up.on('error', () => down.destroy());
        down.on('close', () => up.destroy());
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: server.address().port,
      seen,
      close: () => new Promise((resolve) => server.close(resolve)),
    };
  }

  rtTest('the WebSocket probe fails through the proxy, the client connects over comet and exchanges messages', async (scope, t) => {
    if (!sdkAtLeast('2.28.0')) {
      t.skip(`ably-js ${ABLY_VERSION} does not fall back to comet when the upgrade is refused`);
      return;
    }
    const proxy = await upgradeRefusingProxy();
    t.after(() => proxy.close());
    const name = uniqueChannel('comet-fallback');
    const client = scope.realtime(proxy, {
      key: ROOT,
      transports: ['web_socket', 'comet'],
      wsConnectivityCheckUrl: `ws://127.0.0.1:${proxy.port}/`,
      disconnectedRetryTimeout: 500,
    });
    await waitForState(client.connection, 'connected', { what: 'connection through the proxy', failOn: ['failed', 'suspended'] });
    assert.equal(activeTransport(client).shortName, 'comet', 'connected over comet');
    const refused = proxy.seen.filter((r) => r.upgrade);
    assert.ok(refused.some((r) => /^GET \/\?.*\bkey=/.test(r.line)), `the realtime upgrade was tried first: ${JSON.stringify(proxy.seen)}`);
    assert.ok(refused.some((r) => /^GET \/ HTTP/.test(r.line)), `the probe of wsConnectivityCheckUrl went through the proxy: ${JSON.stringify(proxy.seen)}`);
    assert.ok(proxy.seen.some((r) => r.line.startsWith('GET /comet/connect')), 'then comet');

    const channel = client.channels.get(name);
    const inbox = new Inbox();
    await withTimeout(inbox.subscribe(channel), 10000, `attach ${name}`);
    await channel.publish('over-comet', { n: 1 });
    await rest().channels.get(name).publish('from-rest', 'x');
    await inbox.waitForName('from-rest');
    assert.deepEqual(inbox.names(), ['over-comet', 'from-rest']);
    assert.deepEqual(inbox.messages[0].data, { n: 1 });
  });

  test('a WebSocket to "/" opens, then gets an ERROR and is closed: all wsConnectivityCheckUrl\'s probe needs', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/`);
    const frames = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString('utf8'))));
    await withTimeout(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 5000, 'WebSocket open');
    await withTimeout(new Promise((resolve) => ws.once('close', resolve)), 5000, 'closed by the server');
    assert.equal(frames[0]?.action, ACTION.ERROR, `an ERROR: ${JSON.stringify(frames)}`);
  });
});

/** REST-publishes `names` to `channel` (one request each, in order). */
async function publishNames(channel, names) {
  const ch = rest().channels.get(channel);
  for (const name of names) await ch.publish(name, `data-${name}`);
}

const messageNames = (pms, channel) => pms
  .filter((pm) => pm.action === ACTION.MESSAGE && pm.channel === channel)
  .flatMap((pm) => pm.messages.map((m) => m.name));

describe('raw comet: connect', () => {
  test('a polling connect is answered [CONNECTED] as one JSON body with a Content-Length, and ends', async () => {
    const c = await RawComet.connect();
    const r = c.connectAnswer;
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.text));
    assert.equal(r.headers['cache-control'], 'no-cache, no-store');
    assert.ok(r.text.endsWith(']\n'), `one array line: ${JSON.stringify(r.text)}`);
    assert.equal(r.text.indexOf('\n'), r.text.length - 1, 'a single line');
    assert.equal(r.pms.length, 1);
    const [pm] = r.pms;
    assert.match(pm.connectionId, /^[A-Za-z0-9_-]{10}$/);
    assert.ok(c.key.startsWith(`${pm.connectionId}!`), `connectionKey ${c.key} names the connection`);
    assert.equal(pm.connectionKey, c.key);
    assert.equal(pm.connectionDetails.maxIdleInterval, MAX_IDLE_MS);
    assert.equal(pm.error, undefined);
    // the connection is live: a ping round-trips
    await c.sendOk([{ action: ACTION.HEARTBEAT, id: 'p1' }]);
    await c.pollUntil(isHeartbeat('p1'), 'the ping\'s echo');
  });

  test('a streaming connect stays open as the first recv: CONNECTED at once, then later frames on the same response', async () => {
    const c = await RawComet.connect({}, { stream: true });
    const head = await c.stream.response;
    assert.equal(head.headers['content-type'], 'application/json');
    assert.equal(head.headers['content-length'], undefined, 'streamed: no Content-Length');
    assert.equal(head.headers.connection, 'close', 'the end of the stream is the end of the connection');
    await c.sendOk([{ action: ACTION.HEARTBEAT, id: 'on-stream' }]);
    await c.stream.next(isHeartbeat('on-stream'), 2000, 'the ping\'s echo on the connect\'s response');
    assert.equal(c.stream.ended, false, 'still streaming');
    const { text } = await withTimeout(c.stream.done, STREAM_MS + 2000, 'the stream\'s end');
    assert.ok(text.split('\n').slice(0, -1).every((l) => l.startsWith('[') && l.endsWith(']')), `array lines: ${text}`);
    assert.ok(text.endsWith('\n'));
  });

  test('format=msgpack is ignored: comet speaks JSON whatever the client asks', async () => {
    const c = await RawComet.connect({ format: 'msgpack' });
    assert.equal(c.connectAnswer.headers['content-type'], 'application/json');
    await c.sendOk([{ action: ACTION.HEARTBEAT, id: 'json-anyway' }]);
    const seen = await c.pollUntil(isHeartbeat('json-anyway'), 'the ping\'s echo');
    assert.ok(seen.length > 0);
  });

  for (const stream of [false, true]) {
    test(`a refused connect (${stream ? 'streaming' : 'polling'}) is answered whole: the error's status, [ERROR]`, async () => {
      const modeParam = stream ? {} : { stream: 'false' };
      const cases = [
        [{ key: 'cometapp.root:wrongsecret' }, 401, 40101],
        [{ key: 'nosuchapp.k:secret' }, 401, 40101], // realtime: an unknown key name is a wrong credential
        [{ v: '99' }, 400, 40017],
        [{ key: null }, 401, 40101],
      ];
      for (const [params, status, code] of cases) {
        const r = await withTimeout(new Exchange(srv.port, 'GET', `/comet/connect?${connectQuery({ ...modeParam, ...params })}`).done,
          5000, `connect ${JSON.stringify(params)}`);
        const err = assertErrorAnswer(r, status, code, `connect ${JSON.stringify(params)}`);
        assert.ok(err.message.length > 0);
        assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.text), 'not streamed: a Content-Length');
        assert.equal(r.pms.length, 1, `only the ERROR: ${r.text}`);
      }
    });
  }
});

// ---------------------------------------------------------------- raw: keys, bodies

describe('raw comet: unknown keys and answer bodies', () => {
  test('an unknown key is answered 410 with [DISCONNECTED 80016] on recv, send, close and disconnect', async () => {
    const key = 'AAAAAAAAAA!nosuchconnectionkeyxyz';
    const ex = (method, what, body) => new Exchange(srv.port, method, `/comet/${key}/${what}`, { body }).done;
    assertGone(await ex('GET', 'recv'), 'recv');
    assertGone(await ex('POST', 'send', '[{"action":0}]'), 'send');
    assertGone(await ex('GET', 'close'), 'close');
    assertGone(await ex('GET', 'disconnect'), 'disconnect');
    assertGone(await new Exchange(srv.port, 'GET', '/comet/garbage/recv').done, 'a key of no connection\'s shape');
  });

  test('every comet answer with a body ends with a newline: connect, polls, stream lines, errors, 410', async () => {
    const bodies = [];
    const poller = await RawComet.connect();
    bodies.push(['polling connect', poller.connectAnswer.text]);
    await poller.sendOk([{ action: ACTION.HEARTBEAT, id: 'nl' }, { action: ACTION.ATTACH, channel: uniqueChannel('nl') }]);
    for (let i = 0; !bodies.some(([, text]) => text.includes('"action":11')); i++) {
      assert.ok(i < 5, 'ATTACHED within 5 polls');
      bodies.push([`poll ${i}`, (await poller.poll()).text]);
    }
    const streamer = await RawComet.connect({}, { stream: true });
    await streamer.sendOk([{ action: ACTION.HEARTBEAT, id: 'nl-stream' }]);
    bodies.push(['streaming connect', (await streamer.stream.done).text]);
    bodies.push(['refused connect', (await new Exchange(srv.port, 'GET', `/comet/connect?${connectQuery({ key: 'cometapp.root:bad' })}`).done).text]);
    bodies.push(['unknown key', (await new Exchange(srv.port, 'GET', '/comet/nope/recv').done).text]);
    await poller.sendOk('not json');
    bodies.push(['the error of a malformed send', (await poller.poll()).text]);
    for (const [what, text] of bodies) {
      assert.ok(text.length > 0, `${what}: a body`);
      assert.ok(text.endsWith('\n'), `${what} ends with a newline: ${JSON.stringify(text.slice(-80))}`);
      for (const line of text.split('\n').slice(0, -1)) {
        assert.ok(Array.isArray(JSON.parse(line)), `${what}: every line a JSON array: ${line.slice(0, 200)}`);
      }
    }
  });
});

// ---------------------------------------------------------------- raw: send

describe('raw comet: send', () => {
  test('malformed send bodies fail only their own connection: 204, then 400 [ERROR 40000] on the recv, then 410', async () => {
    const bystander = await RawComet.connect();
    const cases = [
      ['not JSON', 'this is not json', /not a JSON document/],
      ['truncated JSON', '[{"action":0,"id":"x"}', /not a JSON document/],
      ['an object, not an array', '{"action":0,"id":"x"}', /not an array/],
      ['an array of non-objects', '[1,"two",null]', /Invalid protocol message/],
      ['an array with one bad item after a good one', '[{"action":0,"id":"ok"},42]', /Invalid protocol message/],
      ['a huge non-JSON body (1 MiB)', 'x'.repeat(1 << 20), /not a JSON document/],
    ];
    for (const [what, body, message] of cases) {
      const c = await RawComet.connect();
      const s = await c.send(body);
      assert.equal(s.status, 204, `${what}: the send is taken: ${s.status} ${s.text}`);
      const r = await c.poll();
      const err = assertErrorAnswer(r, 400, 40000, `${what}: the recv`);
      assert.match(err.message, message, what);
      assertGone(await c.poll(), `${what}: the connection is over`);
    }
    // an empty array is no error
    const quiet = await RawComet.connect();
    await quiet.sendOk('[]', 'an empty array');
    await quiet.sendOk([{ action: ACTION.HEARTBEAT, id: 'after-empty' }]);
    await quiet.pollUntil(isHeartbeat('after-empty'), 'the ping after []');
    // the others never noticed
    await bystander.sendOk([{ action: ACTION.HEARTBEAT, id: 'still-here' }]);
    await bystander.pollUntil(isHeartbeat('still-here'), 'the bystander\'s ping');
  });

  test('a send over max-body-size is refused 413 with an Ably error; the connection carries on', async () => {
    const c = await RawComet.connect();
    const r = await c.send(JSON.stringify([{ action: ACTION.HEARTBEAT, id: 'x'.repeat(MAX_BODY) }]));
    const ctx = `${r.status} ${r.text.slice(0, 300)}`;
    assert.equal(r.status, 413, ctx);
    assert.equal(r.headers['content-type'], 'application/json', ctx);
    assert.equal(r.headers['x-ably-errorcode'], '41300', ctx);
    const body = JSON.parse(r.text);
    assert.equal(body.error.code, 41300, ctx);
    assert.equal(body.error.statusCode, 413, ctx);
    assert.ok(body.error.message.length > 0, ctx);
    assert.ok(r.headers['access-control-allow-origin'], 'CORS on the refusal too');
    await c.sendOk([{ action: ACTION.HEARTBEAT, id: 'after-413' }]);
    const seen = await c.pollUntil(isHeartbeat('after-413'), 'a ping after the refusal');
    assert.ok(!seen.some((pm) => pm.action === ACTION.ERROR), `no error: ${showPms(seen)}`);
  });

  test('a truncated send (fewer bytes than its Content-Length, then closed) delivers nothing and wedges nothing', async () => {
    const c = await RawComet.connect();
    const partial = '[{"action":0,"id":"truncated"}]'; // a whole array: taken only if the server did not wait for the rest
    const sock = net.connect(srv.port, '127.0.0.1');
    sock.on('error', () => {});
    await new Promise((resolve) => sock.once('connect', resolve));
    sock.write(`POST ${c.path('send')} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${partial.length + 100}\r\n\r\n${partial}`);
    // while it hangs: other requests of the connection are served
    await c.sendOk([{ action: ACTION.HEARTBEAT, id: 'during' }]);
    const during = await c.pollUntil(isHeartbeat('during'), 'a ping while the truncated send hangs');
    const closed = new Promise((resolve) => sock.once('close', resolve));
    sock.end();
    await closed;
    await c.sendOk([{ action: ACTION.HEARTBEAT, id: 'after' }]);
    const after = await c.pollUntil(isHeartbeat('after'), 'a ping after the truncated send closed');
    const all = [...during, ...after];
    assert.ok(!all.some(isHeartbeat('truncated')), `the truncated body was not taken: ${showPms(all)}`);
    assert.ok(!all.some((pm) => pm.action === ACTION.ERROR), `no error: ${showPms(all)}`);
  });
});

// ---------------------------------------------------------------- raw: recv

describe('raw comet: recv', () => {
  test('polling: of two waiting recvs the older is answered 204 when the newer arrives; the newer takes the next frames', async () => {
    // Two recvs on two TCP connections: which reaches the connection first
    // is the server's to say (no answer tells when a recv waits), so the
    // test asks only that one of them, the older, is let go at once.
    const c = await RawComet.connect();
    const recvs = [c.recv(), c.recv()];
    const older = await withTimeout(Promise.race(recvs.map((r) => r.done.then(() => r))), 3000,
      'one recv answered once the other arrived');
    const newer = recvs.find((r) => r !== older);
    const r1 = await older.done;
    assert.equal(r1.status, 204);
    assert.equal(r1.text, '');
    assert.equal(newer.ended, false, 'the newer waits');
    await c.sendOk([{ action: ACTION.HEARTBEAT, id: 'for-newer' }]);
    const r2 = await withTimeout(newer.done, 3000, 'the newer recv');
    assert.equal(r2.status, 200);
    assert.ok(r2.pms.some(isHeartbeat('for-newer')), `the newer recv took it: ${r2.text}`);
  });

  test('polling: a recv answers every frame queued before it as one array', async () => {
    const c = await RawComet.connect();
    await c.sendOk(range(5, (i) => ({ action: ACTION.HEARTBEAT, id: `q${i}` })));
    const r = await c.poll();
    assert.equal(r.status, 200);
    assert.equal(r.text.split('\n').length, 2, `one line: ${r.text}`);
    assert.deepEqual(r.pms.filter((pm) => pm.action === ACTION.HEARTBEAT && pm.id).map((pm) => pm.id), range(5, (i) => `q${i}`));
  });

  test('streaming: a newer recv ends the streaming one; the frames after it come on the new one', async () => {
    const c = await RawComet.connect({}, { stream: true });
    await c.sendOk([{ action: ACTION.HEARTBEAT, id: 'on-first' }]);
    await c.stream.next(isHeartbeat('on-first'), 2000, 'a frame on the first stream');
    const second = c.recv();
    const r1 = await withTimeout(c.stream.done, 2000, 'the first stream ended by the second recv');
    assert.equal(r1.status, 200);
    await c.sendOk([{ action: ACTION.HEARTBEAT, id: 'on-second' }]);
    await second.next(isHeartbeat('on-second'), 2000, 'the frame on the second stream');
    assert.ok(!r1.pms.some(isHeartbeat('on-second')));
  });

  test('streaming: a recv ends after comet-stream-ms; frames published between recvs come on the next, none lost', async () => {
    const channel = uniqueChannel('stream-end');
    const c = await RawComet.connect({}, { stream: true });
    const started = Date.now();
    await c.sendOk([{ action: ACTION.ATTACH, channel }]);
    await c.stream.next((pm) => pm.action === ACTION.ATTACHED && pm.channel === channel, 2000, 'ATTACHED');
    await withTimeout(c.stream.done, STREAM_MS + 2000, 'the connect\'s stream ends');
    const lasted = Date.now() - started;
    assert.ok(lasted >= STREAM_MS - 20 && lasted < STREAM_MS + 1500, `the stream lasted ${lasted} ms (comet-stream-ms ${STREAM_MS})`);
    // no recv open now: these wait in the connection's queue
    await publishNames(channel, ['a', 'b', 'c']);
    const next = c.recv();
    await next.next((pm) => messageNames(next.pms, channel).length === 3, 3000, 'the three messages');
    assert.deepEqual(messageNames(next.pms, channel), ['a', 'b', 'c']);
    // and the following recv, after this one ends, continues
    await withTimeout(next.done, STREAM_MS + 2000, 'the second stream ends');
    await publishNames(channel, ['d']);
    const third = c.recv();
    await third.next((pm) => pm.action === ACTION.MESSAGE && pm.channel === channel, 3000, 'message d');
    assert.deepEqual(messageNames(third.pms, channel), ['d']);
    third.destroy();
  });

  test('no recv for the heartbeat interval + comet-recv-grace-ms: the connection is lost, then resumes with its connectionId', async () => {
    const HEARTBEAT_MS = 300;
    const channel = uniqueChannel('lost');
    const c = await RawComet.connect({ heartbeatInterval: HEARTBEAT_MS });
    assert.equal(c.connected.connectionDetails.maxIdleInterval, HEARTBEAT_MS);
    const attached = await c.attach(channel);
    const lastRecv = Date.now();
    // no more recvs; an empty send is a probe that changes nothing
    await eventually(async () => (await c.send('[]')).status === 410,
      { timeoutMs: HEARTBEAT_MS + GRACE_MS + 3000, intervalMs: 50, what: 'the connection lost (sends 410)' });
    const lostAfter = Date.now() - lastRecv;
    assert.ok(lostAfter >= HEARTBEAT_MS + GRACE_MS - 50, `lost after ${lostAfter} ms, not before ${HEARTBEAT_MS + GRACE_MS}`);
    await publishNames(channel, ['missed']);

    const back = await RawComet.connect({ resume: c.key });
    assert.equal(back.connectionId, c.connectionId, 'resumed: same connectionId');
    assert.equal(back.connected.error, undefined, `no error: ${JSON.stringify(back.connected.error)}`);
    assert.notEqual(back.key, c.key, 'a new connection key');
    await back.sendOk([{ action: ACTION.ATTACH, channel, channelSerial: attached.channelSerial }]);
    const seen = await back.pollUntil((pm) => messageNames([pm], channel).includes('missed'), 'the missed message');
    const reattached = seen.find((pm) => pm.action === ACTION.ATTACHED && pm.channel === channel);
    assert.ok(reattached && (reattached.flags & FLAG.RESUMED), `ATTACHED RESUMED: ${showPms(seen)}`);
    assert.deepEqual(messageNames(seen, channel), ['missed']);
  });
});

describe('raw comet: a streaming recv replaced while it writes', () => {
  test('a newer recv while a stream\'s write is in flight: 410, the stream cut, the connection resumable with nothing lost', async (t) => {
    // A reader that stops reading while 8 MB are published (twice what
    // loopback's socket buffers absorb): the server's write to it stays in
    // flight, a frame half written. A newer recv then cannot take the queue
    // (its head frame is half sent on the old stream): it is refused as
    // after a dropped stream, and the client resumes.
    const s = await startServer({
      config: CONFIG,
      env: { HERALD_KEY: null },
      args: ['--max-outbound-bytes', String(64 << 20), '--comet-stream-ms', '60000'],
    });
    t.after(() => s.stop());
    const N = 140;
    const data = 'x'.repeat(60000);
    const channel = uniqueChannel('cut');
    const c = await RawComet.connect({}, { server: s, stream: true });
    await c.sendOk([{ action: ACTION.ATTACH, channel }]);
    await c.stream.next((pm) => pm.action === ACTION.ATTACHED, 2000, 'ATTACHED');
    c.stream.res.pause();
    const restCh = s.rest({ key: ROOT }).channels.get(channel);
    for (let i = 0; i < N; i++) await restCh.publish(`m${i}`, data);
    await sleep(300); // no event tells when the server's write blocks

    const newer = c.recv();
    await restCh.publish('after', 'x'); // a frame for whichever recv holds the queue
    assertGone(await withTimeout(newer.done, 3000, 'the newer recv answered'), 'the newer recv');
    c.stream.res.resume();
    const old = await withTimeout(c.stream.done, 5000, 'the old stream ends');
    const got = messageNames(old.pms, channel);
    assert.ok(got.length < N, `test precondition: the old stream was cut while writing (it got ${got.length} of ${N})`);
    assert.deepEqual(got, range(got.length, (i) => `m${i}`), 'the old stream: whole messages, in order');
    const cut = old.pms.findIndex((pm) => pm.undecodable);
    assert.ok(cut < 0 || cut === old.pms.length - 1, `only the last line may be cut (line ${cut} of ${old.pms.length})`);

    const back = await RawComet.connect({ resume: c.key }, { server: s });
    assert.equal(back.connectionId, c.connectionId, `resumed: ${JSON.stringify(back.connected)}`);
    assert.equal(back.connected.error, undefined);
    const last = [...old.pms].reverse().find((pm) => pm.action === ACTION.MESSAGE && pm.channel === channel);
    await back.sendOk([{ action: ACTION.ATTACH, channel, channelSerial: last.channelSerial }]);
    const rest = [];
    await eventually(async () => {
      const r = await back.poll();
      assert.equal(r.status, 200, `recv after resume: ${r.status} ${r.text.slice(0, 200)}`);
      rest.push(...messageNames(r.pms, channel));
      return rest.includes('after');
    }, { timeoutMs: 10000, what: 'the rest after resume' });
    assert.deepEqual([...got, ...rest], [...range(N, (i) => `m${i}`), 'after'], 'every message once, in order');
  });
});

describe('raw comet: two recvs at once on a streaming connection', () => {
  test('every answer is one well-formed response or none: no response head inside another\'s body (50 rounds)', async (t) => {
    // The race needs both recvs dispatched in one loop turn of the home
    // worker (both moved from the other worker arrive together): about one
    // round in ten. A stream ends after 1 ms here, so rounds are quick.
    const s = await startServer({ config: CONFIG, env: { HERALD_KEY: null }, args: ['--comet-stream-ms', '1'] });
    t.after(() => s.stop());
    const recvOnce = (key) => rawExchange(s.port,
      `GET /comet/${key}/recv HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, { timeoutMs: 3000 })
      .then((a) => { assert.notEqual(a.why, 'timeout', `a recv answered or closed: ${a.text.slice(0, 300)}`); return a; });
    const statuses = new Map();
    for (let round = 0; round < 50; round++) {
      const c = await RawComet.connect({}, { server: s, stream: true });
      await withTimeout(c.stream.done, 2000, 'the connect\'s stream ends');
      await c.sendOk([{ action: ACTION.HEARTBEAT, id: `queued-${round}` }]); // waits for a recv
      const pending = [recvOnce(c.key), recvOnce(c.key)];
      await Promise.race(pending);
      // the other may be a newer recv waiting for frames, as it should
      await c.sendOk([{ action: ACTION.HEARTBEAT, id: `release-${round}` }]);
      const answers = await Promise.all(pending);
      const got = [];
      assert.ok(answers.some((a) => a.text), `round ${round}: at least one answered`);
      for (const a of answers) {
        // a stream replaced before its head went out is closed unanswered (the client resumes)
        if (!a.text) { statuses.set('cut', (statuses.get('cut') || 0) + 1); continue; }
        const ctx = `round ${round}: ${JSON.stringify(a.text.slice(0, 600))}`;
        const headEnd = a.text.indexOf('\r\n\r\n');
        const status = Number((a.text.match(/^HTTP\/1\.1 (\d{3}) /) || [])[1]);
        assert.ok(headEnd > 0 && status, `an HTTP response: ${ctx}`);
        const body = a.text.slice(headEnd + 4);
        assert.ok(!body.includes('HTTP/1.1'), `no response head in the body: ${ctx}`);
        assert.ok([200, 204, 410].includes(status), ctx);
        for (const line of body.split('\n').slice(0, -1)) assert.ok(Array.isArray(JSON.parse(line)), `array lines: ${ctx}`);
        statuses.set(status, (statuses.get(status) || 0) + 1);
        got.push(...body.split('\n').filter(Boolean).flatMap((l) => JSON.parse(l)));
      }
      assert.ok(got.filter(isHeartbeat(`queued-${round}`)).length <= 1, `the queued frame at most once: round ${round}`);
    }
    assert.ok(statuses.get(200) > 0, `some answers streamed: ${JSON.stringify([...statuses])}`);
  });
});

// ---------------------------------------------------------------- raw: close, disconnect

describe('raw comet: close and disconnect', () => {
  test('/close: CLOSED on the recv, then the key is gone (410); a resume gets a new connection (80008)', async () => {
    const c = await RawComet.connect();
    const waiting = c.recv();
    const r = await c.get('close');
    assert.equal(r.status, 204);
    const w = await withTimeout(waiting.done, 3000, 'the waiting recv');
    assert.equal(w.status, 200);
    assert.ok(w.pms.some((pm) => pm.action === ACTION.CLOSED), `CLOSED: ${w.text}`);
    assertGone(await c.poll(), 'recv after close');
    const again = await RawComet.connect({ resume: c.key });
    assert.notEqual(again.connectionId, c.connectionId);
    assert.equal(again.connected.error?.code, 80008, JSON.stringify(again.connected));
  });

  test('/disconnect drops the transport only: the connection resumes with its connectionId', async () => {
    const channel = uniqueChannel('disconnect');
    const c = await RawComet.connect();
    const attached = await c.attach(channel);
    const r = await c.get('disconnect');
    assert.equal(r.status, 204);
    assertGone(await c.poll(), 'recv after disconnect: the transport is gone');
    await publishNames(channel, ['while-away']);
    const back = await RawComet.connect({ resume: c.key });
    assert.equal(back.connectionId, c.connectionId, `resumed: ${JSON.stringify(back.connected)}`);
    assert.equal(back.connected.error, undefined, `no error: ${JSON.stringify(back.connected.error)}`);
    await back.sendOk([{ action: ACTION.ATTACH, channel, channelSerial: attached.channelSerial }]);
    const seen = await back.pollUntil((pm) => messageNames([pm], channel).includes('while-away'), 'the message sent while away');
    assert.deepEqual(messageNames(seen, channel), ['while-away']);
  });

  rtTest('a dropped streaming recv takes no more recvs, but /close still ends the connection and its presence at once', async (scope) => {
    const channel = uniqueChannel('dropped');
    const watcher = scope.realtime(srv, { key: ROOT, label: 'ws watcher' });
    const wch = watcher.channels.get(channel);
    const leaves = [];
    let onLeave;
    const left = new Promise((resolve) => { onLeave = resolve; });
    await wch.presence.subscribe('leave', (m) => { leaves.push(m); onLeave(m); });

    const c = await RawComet.connect({ clientId: 'streamer' }, { stream: true });
    await c.sendOk([{ action: ACTION.ATTACH, channel }]);
    await c.stream.next((pm) => pm.action === ACTION.ATTACHED, 2000, 'ATTACHED');
    await c.sendOk([{ action: ACTION.PRESENCE, channel, msgSerial: 0, presence: [{ action: 2, data: 'here' }] }]);
    await c.stream.next((pm) => pm.action === ACTION.ACK, 2000, 'the enter ACKed');
    await eventually(async () => (await wch.presence.get()).length === 1, { what: 'the watcher sees the member' });

    c.stream.destroy();
    await sleep(200); // no event tells when the server has read the drop
    assertGone(await c.poll(), 'a recv after the drop');
    const closedAt = Date.now();
    const r = await c.get('close');
    assert.equal(r.status, 204, `close after the drop: ${r.status} ${r.text}`);
    const leave = await withTimeout(left, PRESENCE_GRACE_MS / 3, 'the member leaves on /close');
    assert.equal(leave.clientId, 'streamer');
    assert.equal(leave.connectionId, c.connectionId);
    assert.ok(Date.now() - closedAt < PRESENCE_GRACE_MS / 3, 'at once, not after the presence grace');
    assertGone(await c.get('close'), 'close again: the connection is over');
  });
});

// ---------------------------------------------------------------- raw: across transports

describe('raw comet: resume across transports', () => {
  test('a comet connection resumed over a WebSocket: same connectionId, the missed message delivered, the comet key gone', async () => {
    const channel = uniqueChannel('comet-to-ws');
    const c = await RawComet.connect();
    await c.attach(channel);
    await publishNames(channel, ['before']);
    const seen = await c.pollUntil((pm) => messageNames([pm], channel).includes('before'), 'the first message');
    const last = seen.find((pm) => messageNames([pm], channel).includes('before'));
    await c.get('disconnect');
    await publishNames(channel, ['missed']);
    const ws = await openWs(srv, { key: ROOT, resume: c.key });
    try {
      assert.equal(ws.connectionId, c.connectionId, 'resumed over a WebSocket: same connectionId');
      assert.equal(ws.connected.error, undefined, JSON.stringify(ws.connected.error));
      await ws.send({ action: ACTION.ATTACH, channel, channelSerial: last.channelSerial });
      const msg = await ws.next((pm) => pm.action === ACTION.MESSAGE && pm.channel === channel);
      assert.deepEqual(msg.messages.map((m) => m.name), ['missed']);
      assertGone(await c.poll(), 'the old comet key');
    } finally {
      ws.terminate();
    }
  });

  test('a live comet connection taken over by a WebSocket resume: the comet side is told and its key is gone', async () => {
    const c = await RawComet.connect();
    const ws = await openWs(srv, { key: ROOT, resume: c.key });
    try {
      assert.equal(ws.connectionId, c.connectionId, 'same connectionId');
      // whatever was left for the comet transport, it ends and its key goes
      let r = await c.poll();
      if (r.status !== 410) r = await c.poll();
      assertGone(r, 'the comet key after the takeover');
      await ws.ping('over-ws');
    } finally {
      ws.terminate();
    }
  });

  test('a WebSocket connection resumed over comet: same connectionId; the WebSocket is closed; the missed message delivered', async () => {
    const channel = uniqueChannel('ws-to-comet');
    const ws = await openWs(srv, { key: ROOT });
    await ws.send({ action: ACTION.ATTACH, channel });
    const attached = await ws.next((pm) => pm.action === ACTION.ATTACHED);
    ws.terminate();
    await ws.closed;
    await publishNames(channel, ['missed']);
    const c = await RawComet.connect({ resume: ws.connectionKey });
    assert.equal(c.connectionId, ws.connectionId, 'resumed over comet: same connectionId');
    assert.equal(c.connected.error, undefined, JSON.stringify(c.connected.error));
    await c.sendOk([{ action: ACTION.ATTACH, channel, channelSerial: attached.channelSerial }]);
    const seen = await c.pollUntil((pm) => messageNames([pm], channel).includes('missed'), 'the missed message');
    assert.deepEqual(messageNames(seen, channel), ['missed']);
  });

  test('a live WebSocket connection taken over by a comet resume: the WebSocket is closed, comet carries on', async () => {
    const ws = await openWs(srv, { key: ROOT });
    const c = await RawComet.connect({ resume: ws.connectionKey }, { stream: true });
    assert.equal(c.connectionId, ws.connectionId, 'same connectionId');
    await withTimeout(ws.closed, 3000, 'the WebSocket closed by the takeover');
    await c.sendOk([{ action: ACTION.HEARTBEAT, id: 'over-comet' }]);
    await c.stream.next(isHeartbeat('over-comet'), 2000, 'a ping over comet');
  });
});

// ---------------------------------------------------------------- raw: CORS

describe('raw comet: CORS', () => {
  test('the preflight of /comet/<key>/send is answered 204 with the allow headers', async () => {
    const r = await new Exchange(srv.port, 'OPTIONS', '/comet/x/send', {
      headers: { Origin: ALLOWED_ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    }).done;
    assert.equal(r.status, 204);
    assert.equal(r.headers['access-control-allow-origin'], ALLOWED_ORIGIN);
    assert.match(r.headers['access-control-allow-methods'], /\bPOST\b/);
    assert.match(r.headers['access-control-allow-methods'], /\bGET\b/);
    assert.match(r.headers['access-control-allow-headers'], /content-type/i);
  });

  test('answers to an allowed Origin carry Access-Control-Allow-Origin and expose the error headers', async () => {
    const headers = { Origin: ALLOWED_ORIGIN };
    const connect = await new Exchange(srv.port, 'GET', `/comet/connect?${connectQuery({ stream: 'false' })}`, { headers }).done;
    const key = connect.pms[0].connectionKey;
    const stream = new Exchange(srv.port, 'GET', `/comet/${key}/recv`, { headers });
    const send = await new Exchange(srv.port, 'POST', `/comet/${key}/send`, { headers, body: '[{"action":0,"id":"cors"}]' }).done;
    const streamHead = await stream.response;
    await stream.next(isHeartbeat('cors'), 2000, 'the ping on the streaming recv');
    stream.destroy();
    const gone = await new Exchange(srv.port, 'GET', '/comet/nope/recv', { headers }).done;
    for (const [what, h] of [['connect', connect.headers], ['streaming recv', streamHead.headers], ['send', send.headers], ['410', gone.headers]]) {
      assert.equal(h['access-control-allow-origin'], ALLOWED_ORIGIN, `${what}: ${JSON.stringify(h)}`);
      assert.match(h['access-control-expose-headers'] || '', /X-Ably-Errorcode/i, `${what} exposes X-Ably-Errorcode`);
    }
  });

  test('a request from an Origin not allowed is refused 403, without CORS headers', async () => {
    const headers = { Origin: 'http://evil.example' };
    for (const [method, path] of [['GET', `/comet/connect?${connectQuery({ stream: 'false' })}`], ['GET', '/comet/x/recv'], ['OPTIONS', '/comet/x/send']]) {
      const res = await request(srv.url, method, path, { headers });
      assert.equal(res.headers.get('access-control-allow-origin'), null, `${method} ${path}: no CORS`);
      if (method !== 'OPTIONS') assertAblyError(assert, res, 403, 40300, `${method} ${path}`);
      else assert.equal(res.status, 403, `${method} ${path}`);
    }
  });
});

// ---------------------------------------------------------------- raw: workers

describe('raw comet: requests on fresh TCP connections', () => {
  test('50 send/recv cycles of one connection, every request on a new TCP connection, all in order', async () => {
    // Each new connection lands on either worker (SO_REUSEPORT hashes the
    // source port); those that land away from the connection's home are
    // moved there (http__move): over 100 requests, both paths are taken.
    const channel = uniqueChannel('cycles');
    const c = await RawComet.connect();
    await c.attach(channel);
    const restCh = rest().channels.get(channel);
    const pings = [];
    const names = [];
    for (let i = 0; i < 50; i++) {
      await c.sendOk([{ action: ACTION.HEARTBEAT, id: `cycle-${i}` }], `send ${i}`);
      if (i % 10 === 0) await restCh.publish(`m${i}`, String(i));
      const seen = await c.pollUntil(isHeartbeat(`cycle-${i}`), `ping ${i}`);
      pings.push(...seen.filter((pm) => pm.action === ACTION.HEARTBEAT && pm.id).map((pm) => pm.id));
      names.push(...messageNames(seen, channel));
    }
    assert.deepEqual(pings, range(50, (i) => `cycle-${i}`), 'every ping answered once, in order');
    await eventually(async () => {
      if (names.length < 5) names.push(...messageNames((await c.poll()).pms, channel));
      return names.length >= 5;
    }, { what: 'the five publishes' });
    assert.deepEqual(names, ['m0', 'm10', 'm20', 'm30', 'm40']);
  });
});

// ---------------------------------------------------------------- raw: shutdown

describe('raw comet: shutdown', () => {
  test('SIGTERM: a waiting poll and a stream get DISCONNECTED at once; a connection between recvs holds nothing up', async () => {
    // default heartbeat interval (15 s): an answer sooner is the drain's
    const s = await startServer({ config: CONFIG, env: { HERALD_KEY: null } });
    try {
      const poller = await RawComet.connect({}, { server: s });
      const waiting = poller.recv();
      const streamer = await RawComet.connect({}, { server: s, stream: true });
      const idle = await RawComet.connect({}, { server: s }); // its connect answered, no recv
      await idle.sendOk([{ action: ACTION.HEARTBEAT, id: 'queued' }]); // something left in its queue
      const stopping = s.stop(); // throws if the exit is not clean (under the sanitizers: a leak)
      const [p, st] = await withTimeout(Promise.all([waiting.done, streamer.stream.done]), 5000,
        'the waiting poll and the stream answered');
      for (const [what, r] of [['the waiting poll', p], ['the stream', st]]) {
        const d = r.pms.find((pm) => pm.action === ACTION.DISCONNECTED);
        assert.ok(d, `${what}: DISCONNECTED: ${r.status} ${r.text}`);
        assert.equal(d.error?.code, 80003, `${what}: ${r.text}`);
      }
      const exit = await stopping;
      assert.equal(exit.code, 0);
      assert.ok(exit.ms < 5000, `stopped in ${exit.ms} ms`);
    } finally {
      if (s.isRunning()) await s.stop({ signal: 'SIGKILL' });
    }
  });
});
