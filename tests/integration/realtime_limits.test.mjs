// Per-connection and per-name limits of the realtime and REST interfaces
// (issue 15 items 5-7): channels attached per connection (90010), the
// longest channel name (40010), the inbound rate counted in messages
// (42911), control frames (pongs) bounded by --max-outbound-bytes, and live
// messages held back during a resume's replay bounded by it too (80020).
//
// Servers with shortened limits: `limited` (channels per connection,
// inbound rate), `outbound` (a small --max-outbound-bytes) and `stored`
// (SQLite, so that a replay's history pages queue behind other appends).
//
// Run: HERALDD=/abs/build/heraldd node --test tests/integration/realtime_limits.test.mjs

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach } from 'node:test';
import {
  Ably, startServer, test, before, after, uniqueChannel, assertAblyError, eventually, SANITIZED,
} from './lib/server.mjs';
import { open, ACTION, FLAG } from './lib/wsclient.mjs';

const CHANNEL_LIMIT = 20;
const INBOUND_RATE = 50;
const OUTBOUND_BYTES = 256 * 1024;
const REPLAY_OUTBOUND_BYTES = 1024 * 1024;
const NAME_MAX = 2048; /* CHANNEL_NAME_MAX in common/channel_name.h */

let limited;
let outbound;
let stored;
before(async () => {
  [limited, outbound, stored] = await Promise.all([
    startServer({ args: ['--max-channels-per-connection', String(CHANNEL_LIMIT),
                         '--max-inbound-rate', String(INBOUND_RATE)] }),
    startServer({ args: ['--max-outbound-bytes', String(OUTBOUND_BYTES)] }),
    // One worker: the subscriber's registration, its publishes and its
    // replay's history reads are ordered on one thread; a short tick
    // disconnects a slow subscriber within 250 ms.
    startServer({ args: ['--storage', 'sqlite', '--threads', '1', '--max-idle-interval-ms', '1000',
                         '--max-outbound-bytes', String(REPLAY_OUTBOUND_BYTES),
                         '--max-inbound-rate', '100000'] }),
  ]);
});
after(async () => {
  await Promise.all([limited, outbound, stored].filter(Boolean).map((s) => s.stop()));
});

const live = new Set();
afterEach(() => {
  for (const c of live) c.terminate();
  live.clear();
});
async function wsOpen(s, params = {}) {
  const c = await open(s, params);
  live.add(c);
  return c;
}

function assertErrorInfo(e, code, statusCode, what) {
  assert.ok(e, `${what}: an error`);
  assert.equal(e.code, code, `${what}: code (${JSON.stringify(e)})`);
  assert.equal(e.statusCode, statusCode, `${what}: statusCode`);
  assert.equal(typeof e.message, 'string', `${what}: message`);
}

/** A fresh pair completes a publish/subscribe round trip on s. */
async function assertRoundTrip(s, what) {
  const channel = uniqueChannel('alive');
  const sub = await wsOpen(s);
  sub.send({ action: ACTION.ATTACH, channel });
  await sub.next({ action: ACTION.ATTACHED, channel });
  const pub = await wsOpen(s);
  pub.send({ action: ACTION.MESSAGE, channel, msgSerial: 0, messages: [{ name: 'x', data: 'alive' }] });
  await pub.next(ACTION.ACK);
  const m = await sub.next({ action: ACTION.MESSAGE, channel });
  assert.equal(m.messages[0].data, 'alive', what);
}

// ------------------------------------------------ channels per connection

test(`the ${CHANNEL_LIMIT + 1}th ATTACH of a connection → ERROR 90010 for that channel; the first ${CHANNEL_LIMIT} work, the connection goes on`, async () => {
  const c = await wsOpen(limited);
  const names = Array.from({ length: CHANNEL_LIMIT + 1 }, (_, i) => uniqueChannel(`many${i}`));
  for (const channel of names) c.send({ action: ACTION.ATTACH, channel });
  for (const channel of names.slice(0, CHANNEL_LIMIT)) {
    await c.next({ action: ACTION.ATTACHED, channel });
  }
  const over = names[CHANNEL_LIMIT];
  const err = await c.next({ action: ACTION.ERROR, channel: over });
  assertErrorInfo(err.error, 90010, 400, 'over the limit');
  assert.ok(c.isOpen(), 'the connection stays');
  await c.ping();
  // Re-attaching one already attached is no new channel.
  c.send({ action: ACTION.ATTACH, channel: names[0] });
  await c.next({ action: ACTION.ATTACHED, channel: names[0] });
  // A detach makes room.
  c.send({ action: ACTION.DETACH, channel: names[1] });
  await c.next({ action: ACTION.DETACHED, channel: names[1] });
  c.send({ action: ACTION.ATTACH, channel: over });
  await c.next({ action: ACTION.ATTACHED, channel: over });
});

test('ably-js: attach over the channel limit rejects with 90010, that channel fails, the connection stays connected', async () => {
  const client = new Ably.Realtime({
    key: limited.key, endpoint: '127.0.0.1', port: limited.port, tls: false,
    useBinaryProtocol: false, logLevel: 0,
  });
  try {
    const channels = Array.from({ length: CHANNEL_LIMIT }, (_, i) => client.channels.get(uniqueChannel(`sdk${i}`)));
    await Promise.all(channels.map((ch) => ch.attach()));
    const over = client.channels.get(uniqueChannel('sdkover'));
    await assert.rejects(over.attach(), (e) => e.code === 90010);
    assert.equal(over.state, 'failed');
    assert.equal(client.connection.state, 'connected');
    await channels[0].publish('still', 'works');
  } finally {
    client.close();
  }
});

// ------------------------------------------------ channel name length

const atMax = () => uniqueChannel('n').padEnd(NAME_MAX, 'x');
const overMax = (extra = 1) => uniqueChannel('n').padEnd(NAME_MAX + extra, 'x');

test(`REST: a channel name of ${NAME_MAX} bytes is taken; longer ones (2049 B, 10 KB, 32 KB) → 400/40010`, async () => {
  const ok = await limited.request('POST', `/channels/${atMax()}/messages`, { json: { name: 'a', data: 'b' } });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  for (const extra of [1, 10 * 1024 - NAME_MAX, 30 * 1024 - NAME_MAX]) {
    const res = await limited.request('POST', `/channels/${overMax(extra)}/messages`, { json: { name: 'a', data: 'b' } });
    assertAblyError(assert, res, 400, 40010, `name of ${NAME_MAX + extra} bytes`);
    const hist = await limited.request('GET', `/channels/${overMax(extra)}/messages`);
    assertAblyError(assert, hist, 400, 40010, `history of a name of ${NAME_MAX + extra} bytes`);
  }
});

test(`realtime: ATTACH and MESSAGE on a name over ${NAME_MAX} bytes → 40010 (ERROR, NACK); at ${NAME_MAX} it attaches`, async () => {
  const c = await wsOpen(limited);
  const ok = atMax();
  c.send({ action: ACTION.ATTACH, channel: ok });
  await c.next({ action: ACTION.ATTACHED, channel: ok });
  for (const extra of [1, 100 * 1024 - NAME_MAX]) {
    const channel = overMax(extra);
    c.send({ action: ACTION.ATTACH, channel });
    const err = await c.next({ action: ACTION.ERROR, channel });
    assertErrorInfo(err.error, 40010, 400, `ATTACH, ${NAME_MAX + extra} bytes`);
  }
  c.send({ action: ACTION.MESSAGE, channel: overMax(), msgSerial: 0, messages: [{ data: 'x' }] });
  const nack = await c.next(ACTION.NACK);
  assertErrorInfo(nack.error, 40010, 400, 'MESSAGE');
  await c.ping();
});

// ------------------------------------------------ inbound rate in messages

test(`--max-inbound-rate counts messages: 10 frames of 100 messages at ${INBOUND_RATE}/s → NACK 42911 beyond the budget`, async () => {
  const c = await wsOpen(limited);
  const channel = uniqueChannel('rate');
  const frames = 10, perFrame = 100;
  const started = Date.now();
  for (let s = 0; s < frames; s++) {
    c.send({ action: ACTION.MESSAGE, channel, msgSerial: s,
             messages: Array.from({ length: perFrame }, (_, i) => ({ name: 'm', data: `${s}.${i}` })) });
  }
  let acked = 0, nacked = 0;
  while (acked + nacked < frames) {
    const pm = await c.next((p) => p.action === ACTION.ACK || p.action === ACTION.NACK);
    if (pm.action === ACTION.ACK) acked += pm.count;
    else {
      assertErrorInfo(pm.error, 42911, 429, 'NACK');
      nacked += pm.count;
    }
  }
  const seconds = (Date.now() - started) / 1000;
  assert.ok(acked >= 1, 'the first frame is taken');
  // The burst (one second's worth), the one frame it let into debt and
  // what the elapsed time earned: never the 1,000 messages sent.
  const budget = INBOUND_RATE + perFrame + INBOUND_RATE * seconds;
  assert.ok(acked * perFrame <= budget, `${acked * perFrame} messages accepted, budget ${budget}`);
  // The debt is paid back at the rate: single messages pass again later.
  let serial = frames;
  await eventually(async () => {
    c.send({ action: ACTION.MESSAGE, channel, msgSerial: serial++, messages: [{ data: 'later' }] });
    const pm = await c.next((p) => p.action === ACTION.ACK || p.action === ACTION.NACK);
    return pm.action === ACTION.ACK;
  }, { timeoutMs: 10000, intervalMs: 200, what: 'a publish within the rate again' });
});

// ------------------------------------------------ pongs and --max-outbound-bytes

function rssBytes(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]) * 1024;
}

/** A masked client PING frame with a 125-byte payload. */
function pingFrame() {
  const payload = crypto.randomBytes(125);
  const mask = crypto.randomBytes(4);
  const frame = Buffer.alloc(2 + 4 + payload.length);
  frame[0] = 0x89;
  frame[1] = 0x80 | payload.length;
  mask.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i] ^ mask[i % 4];
  return frame;
}

/** A raw realtime WebSocket on s that never reads after the handshake. */
function rawRealtimeSocket(s) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(s.port, '127.0.0.1');
    const key = crypto.randomBytes(16).toString('base64');
    sock.once('error', reject);
    sock.write(`GET /?key=${encodeURIComponent(s.key)}&v=6&format=json HTTP/1.1\r\n` +
               `Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
               `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    let got = '';
    const onData = (d) => {
      got += d.toString('latin1');
      if (!got.includes('"action":4')) return; /* CONNECTED */
      sock.off('data', onData);
      sock.pause();
      resolve(sock);
    };
    sock.on('data', onData);
  });
}

test('a client that floods pings and never reads is closed once its unsent pongs pass --max-outbound-bytes; RSS stays bounded; others keep working', async () => {
  const sock = await rawRealtimeSocket(outbound);
  const closed = new Promise((resolve) => { sock.on('close', resolve); sock.on('error', () => {}); });
  let isClosed = false;
  closed.then(() => { isClosed = true; });
  const pid = outbound.proc.pid;
  const before = rssBytes(pid);
  let peak = before;
  const burst = Buffer.concat(Array.from({ length: 8000 }, pingFrame)); /* ~1 MB */
  const maxBytes = 256 * 1024 * 1024;
  let sent = 0;
  while (!isClosed && sent < maxBytes) {
    const ok = sock.write(burst);
    sent += burst.length;
    peak = Math.max(peak, rssBytes(pid));
    if (!ok) await Promise.race([new Promise((r) => sock.once('drain', r)), closed]);
  }
  await Promise.race([closed, new Promise((r) => { setTimeout(r, 10000).unref(); })]);
  peak = Math.max(peak, rssBytes(pid));
  assert.ok(isClosed && sent < maxBytes, `closed after ${sent} bytes of pings`);
  const growth = peak - before;
  if (!SANITIZED) assert.ok(growth < 24 * 1024 * 1024, `server RSS grew by ${(growth / 1048576).toFixed(1)} MB`);
  await assertRoundTrip(outbound, 'after the ping flood');
});

// ------------------------------------------------ held live messages during a replay

/** Keeps s's store busy with bulk appends to another channel until the
 * returned stop() is called; resolves once the appends flow. */
async function jamStore(s) {
  let running = true;
  const channel = uniqueChannel('jam');
  const body = Array.from({ length: 1000 }, (_, i) => ({ name: 'jam', data: `j${i}` }));
  const post = () => s.request('POST', `/channels/${channel}/messages`, { json: body });
  let flowing;
  const started = new Promise((r) => { flowing = r; });
  const loops = Array.from({ length: 6 }, async () => {
    while (running) {
      await post();
      flowing();
    }
  });
  await started;
  return async () => { running = false; await Promise.all(loops); };
}

test('live messages held back while a resume replays count toward --max-outbound-bytes: the subscriber is disconnected (80020) before the replay ends', async () => {
  const channel = uniqueChannel('held');
  // A message first, so that the attach position is a recent serial.
  assert.equal((await stored.request('POST', `/channels/${channel}/messages`, { json: { name: 'old' } })).status, 201);
  const first = await wsOpen(stored);
  first.send({ action: ACTION.ATTACH, channel });
  const attached = await first.next({ action: ACTION.ATTACHED, channel });
  await first.terminate();
  // 30 history pages of small messages: the subscriber reads them easily.
  const pages = 100;
  const backlog = Array.from({ length: pages * 100 }, (_, i) => ({ name: 'old', data: `${i}` }));
  for (let i = 0; i < backlog.length; i += 1000) {
    const res = await stored.request('POST', `/channels/${channel}/messages`, { json: backlog.slice(i, i + 1000) });
    assert.equal(res.status, 201);
  }
  const lastOld = String(backlog.length - 1);
  const stopJam = await jamStore(stored);
  try {
    const sub = await wsOpen(stored, { resume: first.connectionKey });
    assert.equal(sub.connectionId, first.connectionId, 'resumed');
    // The resume's ATTACH and, right behind it, live messages worth twice
    // the bound (its own, echoed): they reach the channel after the
    // attachment's position and before its first history page, and the
    // pages queue behind the bulk appends.
    sub.send({ action: ACTION.ATTACH, channel, channelSerial: attached.channelSerial });
    const big = 'x'.repeat(60 * 1024);
    const n = Math.ceil(2 * REPLAY_OUTBOUND_BYTES / big.length);
    for (let s = 0; s < n; s++) {
      sub.send({ action: ACTION.MESSAGE, channel, msgSerial: s, messages: [{ name: 'live', data: big }] });
    }
    const resumed = await sub.next({ action: ACTION.ATTACHED, channel });
    assert.ok(resumed.flags & FLAG.RESUMED, `a resume: the replay runs (${JSON.stringify(resumed)})`);
    const gone = await sub.next(ACTION.DISCONNECTED, 10000);
    assertErrorInfo(gone.error, 80020, 429, 'DISCONNECTED');
    const messages = sub.received.filter((pm) => pm.action === ACTION.MESSAGE).flatMap((pm) => pm.messages);
    assert.equal(messages.filter((m) => m.name === 'live').length, 0, 'no held message was delivered');
    assert.ok(!messages.some((m) => m.name === 'old' && m.data === lastOld),
              `disconnected during the replay (${messages.length} of ${backlog.length} backlog messages arrived)`);
  } finally {
    await stopJam();
  }
  await assertRoundTrip(stored, 'after the slow subscriber');
});
