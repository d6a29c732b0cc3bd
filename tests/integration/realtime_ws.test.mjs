// Realtime protocol over raw WebSockets (shared/spec/realtime.md §0-5, §10;
// server contract: /tmp/herald/rt_contract.md): handshake and its errors,
// heartbeats, ATTACH/DETACH and granted modes, publishing with ACK/NACK,
// delivered MESSAGE shape, JSON/msgpack payload conversion, resume, CLOSE,
// and robustness against broken or abusive clients.
//
// Two servers: `srv` with default realtime limits, `tuned` with small limits
// (idle interval, frame size, inbound rate, state TTL), started on first use.
// Most tests run once per wire format. Robustness tests check after every
// abuse that a fresh connection pair still completes a publish/subscribe
// round trip.
//
// Run: HERALDD=/abs/build/heraldd node --test tests/integration/realtime_ws.test.mjs

import assert from 'node:assert/strict';
import net from 'node:net';
import { afterEach } from 'node:test';
import {
  startServer, test, describe, before, after, uniqueChannel, eventually, assertAblyError,
  parseHttpResponses,
} from './lib/server.mjs';
import { makeJwt } from './lib/auth.mjs';
import { connect, open, show, encodePm, ACTION, FLAG, FRAME } from './lib/wsclient.mjs';

const FULL_KEY = 'testapp.full:secretfull';
const SUB_KEY = 'testapp.sub:secretsub';
const LIMITED_KEY = 'testapp.limited:secretlimited';
const CONFIG = {
  apps: [{
    id: 'testapp',
    keys: [
      { key: FULL_KEY, capability: { '*': ['*'] } },
      { key: SUB_KEY, capability: { '*': ['subscribe'] } },
      { key: LIMITED_KEY, capability: { 'open:*': ['*'] } },
    ],
  }],
};
const TUNED = { idleMs: 500, frameSize: 65536, inboundRate: 10, stateTtlMs: 60000 };
const FORMATS = ['json', 'msgpack'];
const CONNECTION_ID = /^[A-Za-z0-9_-]{10}$/;

let srv;
let tunedPromise = null;
before(async () => { srv = await startServer({ config: CONFIG, env: { HERALD_KEY: null } }); });
after(async () => {
  if (srv) await srv.stop();
  const t = tunedPromise && await tunedPromise.catch(() => null);
  if (t) await t.stop();
});

/** The server with small limits, started on first use. */
function tunedServer() {
  tunedPromise ??= startServer({
    config: CONFIG,
    env: { HERALD_KEY: null },
    args: [
      '--max-idle-interval-ms', String(TUNED.idleMs),
      '--max-frame-size', String(TUNED.frameSize),
      '--max-inbound-rate', String(TUNED.inboundRate),
      '--connection-state-ttl-ms', String(TUNED.stateTtlMs),
    ],
  });
  return tunedPromise;
}

// ---------------------------------------------------------------- helpers

const live = new Set();
afterEach(() => {
  for (const c of live) c.terminate();
  live.clear();
});
/** An open WebSocket (nothing received yet), closed after the test. */
async function wsConnect(s, params = {}) {
  const c = await connect(s, params);
  live.add(c);
  return c;
}
/** A connection that got CONNECTED, closed after the test. */
async function wsOpen(s, params = {}) {
  const c = await open(s, params);
  live.add(c);
  return c;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/** A complete ErrorInfo (spec §2.4) with the given code and statusCode. */
function assertErrorInfo(err, code, statusCode, what = '') {
  const ctx = `${what}: ${JSON.stringify(err)}`;
  assert.ok(err && typeof err === 'object', `ErrorInfo object ${ctx}`);
  assert.equal(typeof err.message, 'string', `message string ${ctx}`);
  assert.ok(err.message.length > 0, `message non-empty ${ctx}`);
  assert.equal(typeof err.code, 'number', `code number ${ctx}`);
  assert.equal(typeof err.statusCode, 'number', `statusCode number ${ctx}`);
  if (code !== undefined) assert.equal(err.code, code, `code ${ctx}`);
  if (statusCode !== undefined) assert.equal(err.statusCode, statusCode, `statusCode ${ctx}`);
  if (err.href !== undefined) assert.equal(typeof err.href, 'string', `href ${ctx}`);
}

/**
 * The connection gets a connection-level ERROR (no channel) with a complete
 * ErrorInfo, then the server closes the socket. `first`: the ERROR must be
 * the very first frame (handshake errors).
 */
async function expectFatalError(c, code, statusCode, { first = false, what = '' } = {}) {
  const pm = await c.next(first ? () => true : ACTION.ERROR);
  if (first) assert.equal(c.received[0], pm, `${what}: ERROR is the first frame`);
  assert.equal(pm.action, ACTION.ERROR, `${what}: expected ERROR, got ${show(pm)}`);
  assert.equal(pm.channel, undefined, `${what}: connection ERROR has no channel: ${show(pm)}`);
  assertErrorInfo(pm.error, code, statusCode, what);
  await withTimeout(c.closed, 5000, `${what}: server closes the socket after ERROR`);
  return pm;
}

/** The server's next reply concerning `channel` (ATTACHED, DETACHED or ERROR). */
function channelReply(c, channel, timeoutMs) {
  return c.next((pm) => pm.channel === channel
    && [ACTION.ATTACHED, ACTION.DETACHED, ACTION.ERROR].includes(pm.action), timeoutMs);
}

async function attach(c, channel, extra = {}) {
  c.send({ action: ACTION.ATTACH, channel, ...extra });
  const pm = await channelReply(c, channel);
  assert.equal(pm.action, ACTION.ATTACHED, `ATTACH ${channel}: ${show(pm)}`);
  return pm;
}

/** A channel-level ERROR for `channel` in reply to ATTACH; the connection stays up. */
async function expectAttachError(c, channel, code, statusCode, extra = {}) {
  c.send({ action: ACTION.ATTACH, channel, ...extra });
  const pm = await channelReply(c, channel);
  assert.equal(pm.action, ACTION.ERROR, `ATTACH ${channel}: expected channel ERROR, got ${show(pm)}`);
  assert.equal(pm.channel, channel, 'channel ERROR names the channel');
  assertErrorInfo(pm.error, code, statusCode, `ATTACH ${JSON.stringify(channel)}`);
  await c.ping(); // connection still usable
  return pm;
}

function sendMessages(c, channel, msgSerial, messages) {
  c.send({ action: ACTION.MESSAGE, channel, msgSerial, messages });
}

/**
 * Collects ACK/NACKs for serials first..first+n-1, checking they come in
 * order, contiguous, each serial exactly once. Returns one entry per serial:
 * {msgSerial, action, count (of the covering PM), res (ACK), error (NACK)}.
 */
async function outcomes(c, first, n, timeoutMs = 5000) {
  const out = [];
  let expect = first;
  while (expect < first + n) {
    const pm = await c.next((p) => p.action === ACTION.ACK || p.action === ACTION.NACK, timeoutMs);
    assert.equal(pm.msgSerial, expect, `ACK/NACK in order without gaps (expected serial ${expect}): ${show(pm)}`);
    assert.ok(Number.isInteger(pm.count) && pm.count >= 1, `count >= 1: ${show(pm)}`);
    assert.ok(expect + pm.count <= first + n, `covers only serials that were sent: ${show(pm)}`);
    if (pm.action === ACTION.ACK) {
      assert.ok(Array.isArray(pm.res) && pm.res.length === pm.count, `ACK res has count entries: ${show(pm)}`);
    } else {
      assertErrorInfo(pm.error, undefined, undefined, `NACK ${show(pm)}`);
    }
    for (let i = 0; i < pm.count; i++) {
      out.push({ msgSerial: expect + i, action: pm.action, count: pm.count, res: pm.res && pm.res[i], error: pm.error });
    }
    expect += pm.count;
  }
  return out;
}

/** Publishes one PM and expects an ACK; returns its serials. */
async function publishOk(c, channel, msgSerial, messages) {
  sendMessages(c, channel, msgSerial, messages);
  const [o] = await outcomes(c, msgSerial, 1);
  assert.equal(o.action, ACTION.ACK, `publish serial ${msgSerial} to ${channel}: ${JSON.stringify(o)}`);
  assert.equal(o.res.serials.length, messages.length, `one serial per message: ${JSON.stringify(o.res)}`);
  return o.res.serials;
}

async function expectNack(c, channel, msgSerial, messages, code, statusCode) {
  sendMessages(c, channel, msgSerial, messages);
  const [o] = await outcomes(c, msgSerial, 1);
  assert.equal(o.action, ACTION.NACK, `publish serial ${msgSerial} must be NACKed: ${JSON.stringify(o)}`);
  assertErrorInfo(o.error, code, statusCode, `NACK serial ${msgSerial}`);
}

const nextMessage = (c, channel, timeoutMs) => c.next((pm) => pm.action === ACTION.MESSAGE && pm.channel === channel, timeoutMs);

async function restHistory(s, channel) {
  const res = await s.request('GET', `/channels/${encodeURIComponent(channel)}/messages`);
  assert.equal(res.status, 200, `history ${channel}: ${res.raw}`);
  return res.body;
}

/** Server alive and serving: a subscriber receives what a publisher sends. */
async function assertHealthy(s, what = '') {
  assert.ok(s.isRunning(), `server still running ${what}`);
  const channel = uniqueChannel('healthy');
  const sub = await wsOpen(s);
  const pub = await wsOpen(s, { format: 'msgpack' });
  await attach(sub, channel);
  await publishOk(pub, channel, 0, [{ name: 'ok', data: 'alive' }]);
  const m = await nextMessage(sub, channel);
  assert.equal(m.messages[0].data, 'alive', `round trip after ${what}`);
  sub.terminate();
  pub.terminate();
}

/** Raw TCP socket to `s` (for cases ws cannot produce). */
function tcp(s) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(s.port, '127.0.0.1', () => resolve(sock));
    sock.on('error', reject);
  });
}

function upgradeRequest(s, query = `key=${encodeURIComponent(FULL_KEY)}&v=6&format=json`) {
  return `GET /?${query} HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
    + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
}

/** A client-to-server text frame (masked, as a client's must be; the zero
 * mask leaves the payload as it is). Payloads under 126 bytes. */
function maskedTextFrame(text) {
  const payload = Buffer.from(text);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

/** Resolves once what sock receives (from now on) includes `text`. */
function receives(sock, text, what) {
  let buf = '';
  return withTimeout(new Promise((resolve) => {
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes(text)) resolve();
    });
  }), 5000, what);
}

/** A channel's occupancy metrics (GET /channels/:channel). */
async function occupancy(s, channel) {
  const res = await s.request('GET', `/channels/${encodeURIComponent(channel)}`);
  assert.equal(res.status, 200, `channel status ${channel}: ${res.raw}`);
  return res.body.status.occupancy.metrics;
}

/** A raw TCP socket that completed the WebSocket upgrade (101 received). */
async function rawUpgraded(s) {
  const sock = await tcp(s);
  sock.on('error', () => {});
  sock.write(upgradeRequest(s));
  let buf = '';
  await withTimeout(new Promise((resolve) => {
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n\r\n')) resolve();
    });
  }), 5000, 'upgrade response');
  assert.match(buf, /^HTTP\/1\.1 101 /, `upgrade accepted: ${buf.slice(0, 200)}`);
  return sock;
}

function jwt(clientId) {
  return makeJwt({ key: FULL_KEY, clientId, capability: { '*': ['*'] } });
}

// ---------------------------------------------------------------- connection

describe('connection', () => {
  for (const format of FORMATS) {
    test(`CONNECTED is the first frame with the contract's connectionDetails (${format})`, async () => {
      const c = await wsOpen(srv, { format });
      const pm = c.connected;
      assert.equal(pm[FRAME].binary, format === 'msgpack', `frame type for format=${format}`);
      assert.match(pm.connectionId, CONNECTION_ID, 'connectionId: 10 chars [A-Za-z0-9_-]');
      assert.equal(pm.error, undefined, 'no error on a fresh connection');
      const d = pm.connectionDetails;
      assert.deepEqual(Object.keys(d).sort(), ['connectionKey', 'connectionStateTtl', 'maxFrameSize', 'maxIdleInterval',
        'maxInboundRate', 'maxMessageSize', 'maxOutboundRate', 'serverId', 'siteCode'],
      `connectionDetails fields of an anonymous connection: ${show(d)}`);
      assert.ok(d.connectionKey.startsWith(pm.connectionId + '!'), `connectionKey ${d.connectionKey}`);
      assert.match(d.connectionKey.slice(pm.connectionId.length + 1), /^[A-Za-z0-9_-]+$/, 'URL-safe key secret');
      if (pm.connectionKey !== undefined) assert.equal(pm.connectionKey, d.connectionKey, 'top-level connectionKey copy');
      assert.equal(d.connectionStateTtl, 120000);
      assert.equal(d.maxIdleInterval, 15000);
      assert.equal(d.maxMessageSize, 65536);
      assert.equal(d.maxFrameSize, 524288);
      assert.equal(d.maxInboundRate, 250);
      assert.ok(Number.isInteger(d.maxOutboundRate) && d.maxOutboundRate > 0, `maxOutboundRate ${d.maxOutboundRate}`);
      assert.ok(typeof d.serverId === 'string' && d.serverId.length > 0, `serverId ${d.serverId}`);
      assert.equal(d.siteCode, 'local');

      const other = await wsOpen(srv, { format });
      assert.notEqual(other.connectionId, c.connectionId, 'each connection gets its own id');
      assert.notEqual(other.connectionKey, c.connectionKey, 'and its own key');
    });
  }

  test('clientId param on a key connection is reported in connectionDetails', async () => {
    const c = await wsOpen(srv, { clientId: 'alice' });
    assert.equal(c.connected.connectionDetails.clientId, 'alice');
  });

  test('token auth: access_token and accessToken spellings, token clientId reported', async () => {
    for (const param of ['access_token', 'accessToken']) {
      const c = await wsOpen(srv, { key: null, [param]: jwt('alice'), clientId: 'alice' });
      assert.equal(c.connected.connectionDetails.clientId, 'alice', `${param}: ${show(c.connected)}`);
    }
  });

  test('connectionDetails reflect the server options', async () => {
    const d = (await wsOpen(await tunedServer())).connected.connectionDetails;
    assert.equal(d.maxIdleInterval, TUNED.idleMs);
    assert.equal(d.maxFrameSize, TUNED.frameSize);
    assert.equal(d.maxInboundRate, TUNED.inboundRate);
    assert.equal(d.connectionStateTtl, TUNED.stateTtlMs);
  });

  const handshakeErrors = [
    { what: 'v=1', params: { v: '1' }, code: 40017, status: 400 },
    { what: 'v missing', params: { v: null }, code: 40017, status: 400 },
    { what: 'v=7', params: { v: '7' }, code: 40017, status: 400 },
    { what: 'no credentials', params: { key: null }, code: 40101, status: 401, message: /credential|key|token/i },
    { what: 'bad secret', params: { key: 'testapp.full:wrongsecret' }, code: 40101, status: 401 },
    { what: 'clientId param conflicts with the token', params: { key: null, access_token: jwt('alice'), clientId: 'bob' }, code: 40102, status: 401 },
  ];
  for (const format of FORMATS) {
    test(`handshake errors: upgrade, ERROR without channel, close (${format})`, async () => {
      for (const h of handshakeErrors) {
        const c = await wsConnect(srv, { format, ...h.params });
        const pm = await expectFatalError(c, h.code, h.status, { first: true, what: `${h.what} (${format})` });
        assert.equal(pm[FRAME].binary, format === 'msgpack', `${h.what}: frame type for format=${format}`);
        if (h.message) assert.match(pm.error.message, h.message, `${h.what}: message says why`);
      }
    });
  }

  test('handshake error: format=xml → ERROR 40000', async () => {
    const c = await wsConnect(srv, { format: 'xml' });
    await expectFatalError(c, 40000, 400, { first: true, what: 'format=xml' });
  });

  test('plain HTTP on / still answers REST-style (404 Ably error), REST keeps working', async () => {
    const res = await srv.request('GET', '/');
    assertAblyError(assert, res, 404, 40400, 'GET /');
    const t = await srv.request('GET', '/time', { key: null });
    assert.equal(t.status, 200);
  });

  for (const format of FORMATS) {
    test(`HEARTBEAT ping is echoed with its id (${format})`, async () => {
      const c = await wsOpen(srv, { format });
      c.send({ action: ACTION.HEARTBEAT, id: 'abc' });
      const pm = await c.next(ACTION.HEARTBEAT);
      assert.deepEqual(pm, { action: 0, id: 'abc' });
      assert.equal(pm[FRAME].binary, format === 'msgpack');
    });
  }

  test('idle connection receives {action:0} every maxIdleInterval', async () => {
    const c = await wsOpen(await tunedServer());
    const isBeat = (pm) => pm.action === ACTION.HEARTBEAT && pm.id === undefined;
    const t0 = Date.now();
    assert.deepEqual(await c.next(isBeat, 2 * TUNED.idleMs + 500), { action: 0 });
    const t1 = Date.now();
    assert.deepEqual(await c.next(isBeat, 2 * TUNED.idleMs + 500), { action: 0 });
    const t2 = Date.now();
    assert.ok(t1 - t0 >= TUNED.idleMs / 2, `first heartbeat not too early: ${t1 - t0} ms`);
    assert.ok(t2 - t1 >= TUNED.idleMs / 2, `heartbeats spaced about maxIdleInterval: ${t2 - t1} ms`);
  });
});

// ---------------------------------------------------------------- channels

describe('channels', () => {
  for (const format of FORMATS) {
    test(`ATTACH → ATTACHED with the default modes and a channelSerial (${format})`, async () => {
      const c = await wsOpen(srv, { format });
      const channel = uniqueChannel('att');
      const pm = await attach(c, channel);
      assert.equal(pm.channel, channel);
      assert.equal(pm.flags & FLAG.MODE_MASK, FLAG.DEFAULT_MODES, `granted modes, flags=${pm.flags}`);
      assert.equal(pm.flags & FLAG.RESUMED, 0, 'fresh attach is not RESUMED');
      assert.ok(typeof pm.channelSerial === 'string' && pm.channelSerial.length > 0, `channelSerial ${pm.channelSerial}`);
      assert.equal(pm.error, undefined);
      assert.ok(pm.params === undefined || Object.keys(pm.params).length === 0, `no params requested: ${show(pm)}`);
    });
  }

  test('ATTACH with requested modes gets exactly those (∩ capability)', async () => {
    const full = await wsOpen(srv);
    assert.equal((await attach(full, uniqueChannel('m'), { flags: FLAG.SUBSCRIBE })).flags & FLAG.MODE_MASK, FLAG.SUBSCRIBE);
    const pubSub = FLAG.PUBLISH | FLAG.SUBSCRIBE;
    assert.equal((await attach(full, uniqueChannel('m'), { flags: pubSub })).flags & FLAG.MODE_MASK, pubSub);

    const sub = await wsOpen(srv, { key: SUB_KEY });
    assert.equal((await attach(sub, uniqueChannel('s'))).flags & FLAG.MODE_MASK, FLAG.SUBSCRIBE | FLAG.PRESENCE_SUBSCRIBE,
      'subscribe-only key, default modes: SUBSCRIBE|PRESENCE_SUBSCRIBE');
    assert.equal((await attach(sub, uniqueChannel('s'), { flags: pubSub })).flags & FLAG.MODE_MASK, FLAG.SUBSCRIBE);
    assert.equal((await attach(sub, uniqueChannel('s'), { flags: FLAG.SUBSCRIBE | FLAG.OBJECT_SUBSCRIBE })).flags & FLAG.MODE_MASK,
      FLAG.SUBSCRIBE | FLAG.OBJECT_SUBSCRIBE);
    await expectAttachError(sub, uniqueChannel('s'), 40160, 401, { flags: FLAG.PUBLISH });
  });

  test('ATTACH outside the capability → channel ERROR 40160; connection unaffected', async () => {
    const c = await wsOpen(srv, { key: LIMITED_KEY });
    await expectAttachError(c, uniqueChannel('closed'), 40160, 401);
    await attach(c, uniqueChannel('open:ok'));
  });

  test('invalid channel names → channel ERROR 40010', async () => {
    const c = await wsOpen(srv);
    for (const name of ['[bad]x', ':x']) await expectAttachError(c, name, 40010, 400);
  });

  test('ATTACHED echoes only the recognised params (never agent)', async () => {
    const c = await wsOpen(srv);
    const pm = await attach(c, uniqueChannel('params'), {
      params: { rewind: '1', echo: 'false', agent: 'ably-react-hooks/2.26.0', foo: 'bar' },
    });
    assert.deepEqual(pm.params, { rewind: '1', echo: 'false' });
  });

  test('DETACH → DETACHED, then no delivery (sentinel connection gets it)', async () => {
    const channel = uniqueChannel('detach');
    const detached = await wsOpen(srv);
    const sentinel = await wsOpen(srv);
    await attach(detached, channel);
    await attach(sentinel, channel);
    detached.send({ action: ACTION.DETACH, channel });
    const pm = await channelReply(detached, channel);
    assert.equal(pm.action, ACTION.DETACHED, show(pm));
    assert.equal(pm.error, undefined);

    const res = await srv.request('POST', `/channels/${encodeURIComponent(channel)}/messages`, { json: { name: 'after', data: 'x' } });
    assert.equal(res.status, 201, `${res.raw}`);
    assert.equal((await nextMessage(sentinel, channel)).messages[0].name, 'after');
    await detached.ping();
    assert.equal(detached.received.find((p) => p.action === ACTION.MESSAGE), undefined, 'no MESSAGE after DETACHED');

    const never = uniqueChannel('never');
    detached.send({ action: ACTION.DETACH, channel: never });
    assert.equal((await channelReply(detached, never)).action, ACTION.DETACHED, 'DETACHED even if never attached');
  });
});

// ---------------------------------------------------------------- publishing

describe('publishing', () => {
  for (const format of FORMATS) {
    test(`MESSAGE msgSerial 0,1,2 → ACKs in order with one serial per message (${format})`, async () => {
      const c = await wsOpen(srv, { format });
      const channel = uniqueChannel('ack');
      const sizes = [1, 2, 1];
      sizes.forEach((n, serial) => sendMessages(c, channel, serial,
        Array.from({ length: n }, (_, i) => ({ name: `m${serial}.${i}`, data: 'd', action: 0, size: 2 }))));
      const out = await outcomes(c, 0, 3);
      assert.deepEqual(out.map((o) => o.action), [ACTION.ACK, ACTION.ACK, ACTION.ACK]);
      assert.deepEqual(out.map((o) => o.res.serials.length), sizes);
      const serials = out.flatMap((o) => o.res.serials);
      for (const s of serials) assert.ok(typeof s === 'string' && s.length > 0, `serial ${s}`);
      assert.deepEqual([...serials].sort(), serials, 'serials increase');
      assert.equal(new Set(serials).size, serials.length, 'serials unique');
      const hist = await restHistory(srv, channel);
      assert.deepEqual(hist.map((m) => m.serial).reverse(), serials, 'history holds the ACKed serials');
    });
  }

  test('NACK 40160 outside the capability keeps ACK order: ACK 0, NACK 1, ACK 2', async () => {
    const c = await wsOpen(srv, { key: LIMITED_KEY });
    const ok = uniqueChannel('open:n');
    sendMessages(c, ok, 0, [{ name: 'a', data: '0' }]);
    sendMessages(c, uniqueChannel('closed'), 1, [{ name: 'b', data: '1' }]);
    sendMessages(c, ok, 2, [{ name: 'c', data: '2' }]);
    const out = await outcomes(c, 0, 3);
    assert.deepEqual(out.map((o) => o.action), [ACTION.ACK, ACTION.NACK, ACTION.ACK]);
    assert.equal(out[1].count, 1, 'the NACK covers exactly serial 1');
    assertErrorInfo(out[1].error, 40160, 401, 'NACK');
  });

  test('message over maxMessageSize → NACK 40009; the connection goes on', async () => {
    const c = await wsOpen(srv);
    const channel = uniqueChannel('big');
    await expectNack(c, channel, 0, [{ name: 'big', data: 'x'.repeat(70000) }], 40009, 413);
    await publishOk(c, channel, 1, [{ name: 'small', data: 'y' }]);
  });

  test('clientId mismatch on an identified connection → NACK 40012', async () => {
    const c = await wsOpen(srv, { clientId: 'alice' });
    const channel = uniqueChannel('cid');
    await expectNack(c, channel, 0, [{ name: 'x', data: 'y', clientId: 'mallory' }], 40012, 400);
    await publishOk(c, channel, 1, [{ name: 'x', data: 'y', clientId: 'alice' }]);
    await publishOk(c, channel, 2, [{ name: 'x', data: 'z' }]);
    const hist = await restHistory(srv, channel);
    assert.deepEqual(hist.map((m) => m.clientId), ['alice', 'alice'], 'stamped with the connection clientId');
  });

  for (const format of FORMATS) {
    test(`delivered MESSAGE has the contract's shape (subscriber ${format})`, async () => {
      const channel = uniqueChannel('shape');
      const sub = await wsOpen(srv, { format });
      const pub = await wsOpen(srv, { clientId: 'bob' });
      await attach(sub, channel);
      const t0 = Date.now();
      await publishOk(pub, channel, 0, [{ name: 'warmup', data: '-' }]);
      const [serial] = await publishOk(pub, channel, 1, [{ name: 'greet', data: 'hi', action: 0, size: 7, extras: { headers: { k: 'v' } } }]);
      await nextMessage(sub, channel);
      const pm = await nextMessage(sub, channel);
      assert.equal(pm[FRAME].binary, format === 'msgpack');
      const id = pub.connectionId;
      assert.deepEqual(Object.keys(pm).sort(), ['action', 'channel', 'channelSerial', 'connectionId', 'id', 'messages', 'timestamp'],
        `PM fields: ${show(pm)}`);
      assert.equal(pm.id, `${id}:1`);
      assert.equal(pm.connectionId, id);
      assert.equal(pm.channelSerial, serial, 'channelSerial = serial of the last item');
      assert.ok(Number.isInteger(pm.timestamp) && pm.timestamp >= t0 - 1000 && pm.timestamp <= Date.now() + 1000, `timestamp ${pm.timestamp}`);
      assert.equal(pm.messages.length, 1);
      const m = pm.messages[0];
      assert.ok(Number.isInteger(m.timestamp) && Math.abs(m.timestamp - pm.timestamp) < 5000, `item timestamp ${m.timestamp}`);
      assert.deepEqual({ ...m, timestamp: 0 }, {
        id: `${id}:1:0`, name: 'greet', data: 'hi', clientId: 'bob', connectionId: id,
        timestamp: 0, serial, action: 0, extras: { headers: { k: 'v' } },
      });
    });
  }

  test('binary data crosses formats: msgpack bin ↔ JSON base64 (spec §2.8)', async () => {
    const channel = uniqueChannel('bin');
    const jsonSub = await wsOpen(srv, { format: 'json' });
    const mpSub = await wsOpen(srv, { format: 'msgpack' });
    const jsonPub = await wsOpen(srv, { format: 'json' });
    const mpPub = await wsOpen(srv, { format: 'msgpack' });
    await attach(jsonSub, channel);
    await attach(mpSub, channel);
    const bytes = Buffer.from('deadbeef', 'hex');
    const hi = Buffer.from('hi');

    await publishOk(mpPub, channel, 0, [
      { name: 'bin', data: bytes },
      { name: 'cipher', data: bytes, encoding: 'cipher+aes-128-cbc' },
      { name: 'text', data: 'plain' },
    ]);
    const viaJson = (await nextMessage(jsonSub, channel)).messages;
    assert.deepEqual(viaJson.map((m) => [m.data, m.encoding]), [
      [bytes.toString('base64'), 'base64'],
      [bytes.toString('base64'), 'cipher+aes-128-cbc/base64'],
      ['plain', undefined],
    ]);
    const viaMp = (await nextMessage(mpSub, channel)).messages;
    assert.ok(Buffer.isBuffer(viaMp[0].data) && viaMp[0].data.equals(bytes), `msgpack keeps bin: ${show(viaMp[0])}`);
    assert.equal(viaMp[0].encoding, undefined);
    assert.ok(Buffer.isBuffer(viaMp[1].data) && viaMp[1].data.equals(bytes));
    assert.equal(viaMp[1].encoding, 'cipher+aes-128-cbc');
    assert.equal(viaMp[2].data, 'plain');

    await publishOk(jsonPub, channel, 0, [
      { name: 'b64', data: 'aGk=', encoding: 'base64' },
      { name: 'utf8b64', data: 'aGk=', encoding: 'utf-8/base64' },
    ]);
    const fromJson = (await nextMessage(jsonSub, channel)).messages;
    assert.deepEqual(fromJson.map((m) => [m.data, m.encoding]), [['aGk=', 'base64'], ['aGk=', 'utf-8/base64']]);
    const toMp = (await nextMessage(mpSub, channel)).messages;
    const decodedOrUnchanged = (m, stripped, full) => {
      const decoded = Buffer.isBuffer(m.data) && m.data.equals(hi) && m.encoding === stripped;
      const unchanged = m.data === 'aGk=' && m.encoding === full;
      assert.ok(decoded || unchanged, `msgpack subscriber: bin 'hi' with encoding ${stripped} or unchanged: ${show(m)}`);
    };
    decodedOrUnchanged(toMp[0], undefined, 'base64');
    decodedOrUnchanged(toMp[1], 'utf-8', 'utf-8/base64');
  });
});

// ---------------------------------------------------------------- continuity

describe('continuity', () => {
  test('resume after an abrupt drop: same connectionId, resent msgSerial re-ACKed, stored once', async () => {
    const channel = uniqueChannel('resume');
    const c1 = await wsOpen(srv);
    const [serial] = await publishOk(c1, channel, 0, [{ name: 'once', data: '1' }]);
    await c1.terminate();

    const c2 = await wsOpen(srv, { resume: c1.connectionKey });
    assert.equal(c2.connectionId, c1.connectionId, `same connection: ${show(c2.connected)}`);
    assert.equal(c2.connected.error, undefined, 'no error on a successful resume');
    assert.ok(c2.connectionKey.startsWith(c1.connectionId + '!'));
    assert.deepEqual(await publishOk(c2, channel, 0, [{ name: 'once', data: '1' }]), [serial], 're-ACKed with the stored result');
    await publishOk(c2, channel, 1, [{ name: 'twice', data: '2' }]);
    const hist = await restHistory(srv, channel);
    assert.deepEqual(hist.map((m) => m.name), ['twice', 'once'], 'resent message not republished');
  });

  test('DISCONNECT: server closes the socket, state kept for resume', async () => {
    const c1 = await wsOpen(srv);
    c1.send({ action: ACTION.DISCONNECT });
    await withTimeout(c1.closed, 5000, 'socket closed after DISCONNECT');
    const c2 = await wsOpen(srv, { resume: c1.connectionKey });
    assert.equal(c2.connectionId, c1.connectionId);
    assert.equal(c2.connected.error, undefined);
  });

  const failedResumes = [
    { what: 'unknown well-formed key', key: 'abcdefghij!xxxxxxxxxxxxxxxxxxxxxx', code: 80008 },
    { what: 'malformed key %%%', key: '%%%', code: 80018 },
    { what: 'malformed key without !', key: 'nobang', code: 80018 },
  ];
  for (const f of failedResumes) {
    test(`failed resume (${f.what}) → new connection with error ${f.code}`, async () => {
      const c = await wsOpen(srv, { resume: f.key });
      assert.match(c.connectionId, CONNECTION_ID);
      assert.notEqual(c.connectionId, 'abcdefghij');
      assertErrorInfo(c.connected.error, f.code, 400, f.what);
      await publishOk(c, uniqueChannel('fresh'), 0, [{ name: 'x', data: 'y' }]);
    });
  }

  test('CLOSE → CLOSED and close; the key cannot be resumed afterwards', async () => {
    const c1 = await wsOpen(srv);
    c1.send({ action: ACTION.CLOSE });
    const pm = await c1.next(ACTION.CLOSED);
    assert.equal(pm.error, undefined);
    await withTimeout(c1.closed, 5000, 'socket closed after CLOSED');
    const c2 = await wsOpen(srv, { resume: c1.connectionKey });
    assert.notEqual(c2.connectionId, c1.connectionId, 'state discarded');
    assertErrorInfo(c2.connected.error, 80008, 400, 'resume after CLOSE');
  });
});

// ---------------------------------------------------------------- robustness

describe('robustness', () => {
  let tuned;
  before(async () => { tuned = await tunedServer(); });
  const mp = (v) => encodePm(v, 'msgpack');
  const undecodable = [
    { what: 'garbage text', format: 'json', data: 'not json' },
    { what: 'JSON array', format: 'json', data: '[{"action":0}]' },
    { what: 'JSON string', format: 'json', data: '"hello"' },
    { what: 'JSON number', format: 'json', data: '42' },
    { what: 'non-integer action', format: 'json', data: '{"action":"x"}' },
    { what: 'no action', format: 'json', data: '{"channel":"x"}' },
    { what: 'unknown action 99', format: 'json', data: '{"action":99}' },
    { what: 'server-only action ACK', format: 'json', data: '{"action":1,"msgSerial":0,"count":1}' },
    { what: 'binary frame on a json connection', format: 'json', data: mp({ action: 0, id: 'x' }), binary: true },
    { what: 'msgpack garbage', format: 'msgpack', data: Buffer.from([0xc1, 0x00, 0xff]), binary: true },
    { what: 'msgpack array', format: 'msgpack', data: mp([1, 2]), binary: true },
    { what: 'msgpack unknown action 99', format: 'msgpack', data: mp({ action: 99 }), binary: true },
    { what: 'text frame on a msgpack connection', format: 'msgpack', data: '{"action":0,"id":"x"}' },
    // msgpack-c reserves a container's declared size up front: these ask for
    // tens of gigabytes with a few bytes (tests/fuzz/fuzz_protocol_message.c)
    { what: 'msgpack array32 of 4 billion', format: 'msgpack', data: Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x00]), binary: true },
    { what: 'msgpack map32 of 4 billion in a message', format: 'msgpack',
      data: Buffer.from([0x82, 0xa6, ...Buffer.from('action'), 0x0f, 0xa8, ...Buffer.from('messages'), 0xdf, 0xff, 0xff, 0xff, 0xf0]), binary: true },
  ];
  test('undecodable or unexpected frames → ERROR 40000 and close; server unaffected', async () => {
    for (const u of undecodable) {
      const c = await wsOpen(tuned, { format: u.format });
      c.sendRaw(u.data, { binary: !!u.binary });
      await expectFatalError(c, 40000, 400, { what: u.what });
      await assertHealthy(tuned, u.what);
    }
  });

  for (const format of FORMATS) {
    test(`frame over --max-frame-size → ERROR 40009 and close (${format})`, async () => {
      const c = await wsOpen(tuned, { format });
      const pm = { action: ACTION.MESSAGE, channel: 'big', msgSerial: 0, messages: [{ data: 'x'.repeat(TUNED.frameSize + 5000) }] };
      c.send(pm);
      await expectFatalError(c, 40009, 413, { what: 'oversized frame' });
      await assertHealthy(tuned, 'oversized frame');
    });
  }

  test('invalid UTF-8 in a text frame → connection closed (ERROR or 1007)', async () => {
    const c = await wsOpen(tuned);
    c.sendRaw(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    const { code } = await withTimeout(c.closed, 5000, 'server closes after invalid UTF-8');
    const err = c.received.find((pm) => pm.action === ACTION.ERROR);
    if (err) assertErrorInfo(err.error, 40000, 400, 'invalid UTF-8');
    assert.ok(err || code === 1007, `ERROR before close or close code 1007 (got close ${code})`);
    await assertHealthy(tuned, 'invalid UTF-8');
  });

  for (const format of FORMATS) {
    test(`fragmented WebSocket messages are reassembled (${format})`, async () => {
      const c = await wsOpen(tuned, { format });
      const inTwo = (pm) => {
        const whole = Buffer.from(encodePm(pm, format));
        const half = whole.length >> 1;
        c.sendRaw(whole.subarray(0, half), { binary: format === 'msgpack', fin: false });
        c.sendRaw(whole.subarray(half), { binary: format === 'msgpack', fin: true });
      };
      inTwo({ action: ACTION.HEARTBEAT, id: 'frag' });
      assert.deepEqual(await c.next((pm) => pm.action === ACTION.HEARTBEAT && pm.id === 'frag'), { action: 0, id: 'frag' });
      const channel = uniqueChannel('frag');
      inTwo({ action: ACTION.MESSAGE, channel, msgSerial: 0, messages: [{ name: 'f', data: 'y'.repeat(3000) }] });
      const [o] = await outcomes(c, 0, 1);
      assert.equal(o.action, ACTION.ACK);
      assert.equal((await restHistory(tuned, channel))[0].data, 'y'.repeat(3000));
    });
  }

  test('raw socket destroyed mid-frame → server survives', async () => {
    const partials = [
      Buffer.from([0x81]), // half a frame header
      Buffer.from([0x81, 0xfe]), // 16-bit length announced, not given
      Buffer.concat([Buffer.from([0x81, 0xfe, 0x03, 0xe8, 1, 2, 3, 4]), Buffer.alloc(10, 0x41)]), // 1000 bytes announced, 10 sent
    ];
    for (const bytes of partials) {
      const sock = await rawUpgraded(tuned);
      // A whole HEARTBEAT first, in the same write: its answer shows the
      // server has read the partial frame behind it (one small write is one
      // segment on loopback, read at once).
      const id = `mid-${bytes.length}`;
      const answered = receives(sock, `"id":"${id}"`, 'HEARTBEAT answered before the partial frame');
      sock.write(Buffer.concat([maskedTextFrame(JSON.stringify({ action: ACTION.HEARTBEAT, id })), bytes]));
      await answered;
      sock.destroy();
      await assertHealthy(tuned, `partial frame ${bytes.toString('hex')}`);
    }
  });

  test('clients vanishing at every stage of the handshake and attach → server survives', async () => {
    const stages = {
      'TCP connect, nothing sent': async () => (await tcp(tuned)).destroy(),
      'half an upgrade request': async () => {
        const sock = await tcp(tuned);
        // behind a GET /time in the same write: once /time is answered the
        // server has read the half upgrade request too
        let buf = Buffer.alloc(0);
        const answered = withTimeout(new Promise((resolve) => {
          sock.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            if (parseHttpResponses(buf).length) resolve();
          });
        }), 5000, 'GET /time before the half upgrade');
        sock.write(`GET /time HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n${upgradeRequest(tuned).slice(0, 40)}`);
        await answered;
        sock.destroy();
      },
      'full upgrade request, gone before the 101': async () => {
        const sock = await tcp(tuned);
        sock.on('error', () => {});
        await new Promise((resolve) => sock.write(upgradeRequest(tuned), resolve));
        sock.destroy();
      },
      'upgraded, gone before reading CONNECTED': async () => (await wsConnect(tuned)).terminate(),
      'connected, then gone': async () => (await wsOpen(tuned)).terminate(),
      'ATTACH sent, gone before ATTACHED': async () => {
        const c = await wsOpen(tuned);
        const channel = uniqueChannel('gone');
        await c.send({ action: ACTION.ATTACH, channel });
        c.terminate();
        return channel;
      },
      'attached, then gone': async () => {
        const c = await wsOpen(tuned);
        const channel = uniqueChannel('gone');
        await attach(c, channel);
        c.terminate();
        return channel;
      },
      'MESSAGE sent, gone before ACK': async () => {
        const c = await wsOpen(tuned);
        await c.send({ action: ACTION.MESSAGE, channel: uniqueChannel('gone'), msgSerial: 0, messages: [{ name: 'x', data: 'y' }] });
        c.terminate();
      },
      'DETACH sent, gone before DETACHED': async () => {
        const c = await wsOpen(tuned);
        const channel = uniqueChannel('gone');
        await attach(c, channel);
        await c.send({ action: ACTION.DETACH, channel });
        c.terminate();
        return channel;
      },
      'CLOSE sent, gone before CLOSED': async () => {
        const c = await wsOpen(tuned);
        await c.send({ action: ACTION.CLOSE });
        c.terminate();
      },
    };
    for (const [what, run] of Object.entries(stages)) {
      // Where the client had a channel, the server has handled its going
      // once the channel's occupancy is back to 0. Nothing announces that a
      // socket without a channel was handled: the round trip on fresh
      // connections follows at once (and the final stop checks a clean exit).
      const channel = await run(); // the stages with a channel return its name
      if (typeof channel === 'string') {
        await eventually(async () => (await occupancy(tuned, channel)).connections === 0,
          { timeoutMs: 5000, what: `${what}: occupancy of ${channel} back to 0` });
      }
      await assertHealthy(tuned, what);
    }
  });

  test('inbound rate limit: 50 MESSAGEs at once → some NACK 42911, all answered once in order, connection stays', async () => {
    const c = await wsOpen(tuned);
    const channel = uniqueChannel('rate');
    const n = 50;
    for (let i = 0; i < n; i++) sendMessages(c, channel, i, [{ name: 'r', data: String(i) }]);
    const out = await outcomes(c, 0, n, 10000);
    const nacks = out.filter((o) => o.action === ACTION.NACK);
    assert.equal(out[0].action, ACTION.ACK, 'the first message is within the rate');
    assert.ok(nacks.length > 0, 'some messages are over the rate');
    assert.ok(nacks.length < n, 'not everything is refused');
    for (const o of nacks) assertErrorInfo(o.error, 42911, 429, `NACK serial ${o.msgSerial}`);
    assert.ok(c.isOpen(), 'connection stays open');
    await c.ping();
    // The bucket refills at the configured rate; the server's own answer says
    // when it has: publish again until ACKed, every refusal meanwhile a 42911.
    let serial = n;
    let later;
    await eventually(async () => {
      sendMessages(c, channel, serial, [{ name: 'later', data: 'ok' }]);
      [later] = await outcomes(c, serial++, 1);
      if (later.action === ACTION.NACK) assertErrorInfo(later.error, 42911, 429, 'NACK while the bucket refills');
      return later.action === ACTION.ACK;
    }, { timeoutMs: 5000, what: 'a publish ACKed once the rate allows again' });
    assert.equal(later.res.serials.length, 1);
    const acked = out.filter((o) => o.action === ACTION.ACK).length + 1;
    assert.equal((await restHistory(tuned, channel)).length, acked, 'exactly the ACKed messages are stored');
  });
});
