// SSE and the plain event stream (shared/spec/realtime.md §8): GET /sse and
// GET /event-stream with the `eventsource` package (what a browser's
// EventSource does) and raw HTTP (comments, ids, the stream's end).
//
// Covered: one and several channels, messages published by raw REST and by
// ably-js REST; enveloped and bare payloads (string, JSON, binary,
// multi-line); NDJSON; rewind by count, by time and per channel; resuming
// after an event id (Last-Event-ID header, lastEvent param) on one and three
// channels with exactly the missed messages, and from the id a stream gets
// before its first message; a position older than history; every refusal
// before a stream starts as an HTTP error with an Ably body; token expiry
// mid-stream; keepalives and heartbeat events; a reader that stops reading
// cut off while another keeps receiving; occupancy; presence never reaching
// a stream; shutdown.
//
// Servers: `srv` (default limits, at most 5 channels per connection),
// `tuned` (300 ms idle interval), `slow` (64 KiB outbound bound), each
// started on first use; the shutdown test starts its own.
//
// Run: HERALDD=/abs/build/heraldd node --test tests/integration/sse.test.mjs

import assert from 'node:assert/strict';
import { afterEach } from 'node:test';
import {
  startServer, test, describe, before, after, uniqueChannel, eventually, assertAblyError, Ably,
} from './lib/server.mjs';
import { eventSource, rawStream, streamQuery } from './lib/eventstream.mjs';

const FULL = 'testapp.full:secretfull';
const SUB = 'testapp.sub:secretsub';
const PUB = 'testapp.pub:secretpub';
const LIMITED = 'testapp.limited:secretlimited';
const CONFIG = {
  apps: [{
    id: 'testapp',
    keys: [
      { key: FULL, capability: { '*': ['*'] } },
      { key: SUB, capability: { '*': ['subscribe'] } },
      { key: PUB, capability: { '*': ['publish'] } },
      { key: LIMITED, capability: { 'open:*': ['*'] } },
    ],
  }],
};
const MAX_CHANNELS = 5;
const SLOW = { maxOutbound: 65536, batches: 160, perBatch: 50, size: 1000 };
SLOW.total = SLOW.batches * SLOW.perBatch;

const started = new Map();
/** A server of CONFIG with extra args, started on first use, stopped at the end. */
function server(args = []) {
  const k = args.join(' ');
  if (!started.has(k)) started.set(k, startServer({ config: CONFIG, env: { HERALD_KEY: null }, args }));
  return started.get(k);
}
let srv;
before(async () => { srv = await server(['--max-channels-per-connection', String(MAX_CHANNELS)]); });
after(async () => { for (const p of started.values()) await (await p.catch(() => null))?.stop(); });

const open = new Set();
afterEach(() => {
  for (const s of open) (s.close ?? s.destroy)();
  open.clear();
});
function es(s, params, opts) {
  const e = eventSource(s, `/sse?${streamQuery(params)}`, opts);
  open.add(e);
  return e;
}
async function raw(s, path, params, opts) {
  const r = await rawStream(s, `${path}?${streamQuery(params)}`, opts);
  open.add(r);
  return r;
}

/** REST-publishes body (a Message or an array) to channel as raw HTTP; returns the serials. */
async function publish(s, channel, body) {
  const r = await s.request('POST', `/channels/${encodeURIComponent(channel)}/messages`, { key: FULL, json: body });
  assert.equal(r.status, 201, `publish to ${channel}: ${r.raw}`);
  return r.body.serials;
}
async function publishNames(s, channel, names) {
  for (const name of names) await publish(s, channel, { name, data: `data-${name}` });
}

const isMessage = (b) => b.event === 'message';
const isError = (b) => b.event === 'error';
const names = (blocks) => blocks.filter(isMessage).map((b) => JSON.parse(b.data).name);
const range = (n, f = (i) => i) => Array.from({ length: n }, (_, i) => f(i));

function assertErrorInfo(e, code, statusCode, what) {
  assert.equal(typeof e.message, 'string', `${what}: message ${JSON.stringify(e)}`);
  assert.equal(e.code, code, `${what}: code ${JSON.stringify(e)}`);
  assert.equal(e.statusCode, statusCode, `${what}: statusCode ${JSON.stringify(e)}`);
  assert.equal(typeof e.href, 'string', `${what}: href ${JSON.stringify(e)}`);
}

/** The raw stream's id-only event: its position once every channel is attached. */
const idOnly = (r) => r.next((b) => b.id !== undefined && b.data === undefined, 5000, 'the id-only event');

// ---------------------------------------------------------------- subscribing

describe('subscribing', () => {
  test('EventSource on one channel: messages from raw REST and ably-js REST arrive enveloped, id = the serial', async () => {
    const ch = uniqueChannel('one');
    const src = es(srv, { key: FULL, channels: ch });
    await src.opened;
    const [serial] = await publish(srv, ch, { name: 'raw', data: 'from curl' });
    await srv.rest({ key: FULL }).channels.get(ch).publish('sdk', { from: 'ably-js' });
    await src.waitFor(2);
    const [a, b] = src.messages.map((m) => ({ ...m, msg: JSON.parse(m.data) }));
    assert.equal(a.msg.name, 'raw');
    assert.equal(a.msg.data, 'from curl');
    assert.equal(a.msg.channel, ch);
    assert.equal(a.msg.serial, serial);
    assert.equal(a.id, serial, 'a one-channel stream\'s event id is the serial');
    assert.match(a.msg.id, /:0:0$/);
    assert.equal(typeof a.msg.timestamp, 'number');
    assert.equal(b.msg.name, 'sdk');
    assert.equal(b.msg.encoding, 'json');
    assert.deepEqual(JSON.parse(b.msg.data), { from: 'ably-js' });
    assert.equal(b.msg.channel, ch);
    assert.equal(b.id, b.msg.serial);
    assert.equal(src.messages.length, 2, 'nothing else arrived');
  });

  test('EventSource on three channels: each message names its channel; the id holds one position per channel', async () => {
    const chans = range(3, (i) => uniqueChannel(`multi${i}`));
    const src = es(srv, { key: FULL, channels: chans.join(',') });
    await src.opened;
    const serials = [];
    for (const [i, ch] of chans.entries()) serials.push((await publish(srv, ch, { name: `m${i}`, data: `d${i}` }))[0]);
    await src.waitFor(3);
    for (const [i, m] of src.messages.entries()) {
      const msg = JSON.parse(m.data);
      assert.equal(msg.channel, chans[i]);
      assert.equal(msg.name, `m${i}`);
      const parts = m.id.split('~');
      assert.equal(parts.length, 3, `id ${m.id}`);
      assert.deepEqual(parts.slice(0, i + 1), serials.slice(0, i + 1), `positions after message ${i}`);
    }
  });

  test('a custom separator splits the channel list', async () => {
    const [a, b] = [uniqueChannel('sepa'), uniqueChannel('sepb')];
    const src = es(srv, { key: FULL, channels: `${a}|${b}`, separator: '|' });
    await src.opened;
    await publish(srv, b, { name: 'to-b' });
    await publish(srv, a, { name: 'to-a' });
    await src.waitFor(2);
    assert.deepEqual(src.messages.map((m) => JSON.parse(m.data).channel), [b, a]);
  });

  test('enveloped=false: bare payloads: a string as is, JSON as its text, binary as base64, lines as data lines', async () => {
    const ch = uniqueChannel('bare');
    const r = await raw(srv, '/sse', { key: FULL, channels: ch, enveloped: 'false' });
    const src = es(srv, { key: FULL, channel: ch, enveloped: 'false' });
    await src.opened;
    const bin = Buffer.from([0, 1, 2, 250, 255]);
    const serials = await publish(srv, ch, [
      { name: 's', data: 'hello' },
      { name: 'j', data: { a: 1, b: [true, null] } },
      { name: 'b', data: bin.toString('base64'), encoding: 'base64' },
      { name: 'l', data: 'line 1\nline 2\r\nline 3' },
      { name: 'e' },
    ]);
    const want = ['hello', '{"a":1,"b":[true,null]}', bin.toString('base64'), 'line 1\nline 2\nline 3', ''];
    const blocks = await r.count(isMessage, 5);
    assert.deepEqual(blocks.map((b) => b.data), want);
    assert.equal(blocks[3].data.split('\n').length, 3, 'three data: lines');
    assert.equal(blocks.filter((b) => b.id !== undefined).length, 1, 'one id, on the last event of the publish');
    assert.equal(blocks[4].id, serials[4]);
    await src.waitFor(5);
    assert.deepEqual(src.messages.map((m) => m.data), want, 'EventSource reads the same');
  });

  test('/event-stream without Accept: one JSON object per line {"event":"message","data":..,"id":..}', async () => {
    const ch = uniqueChannel('ndjson');
    const env = await raw(srv, '/event-stream', { key: FULL, channels: ch }, { format: 'ndjson' });
    const bare = await raw(srv, '/event-stream', { key: FULL, channels: ch, enveloped: 'false' }, { format: 'ndjson' });
    assert.equal(env.headers['content-type'], 'application/x-ndjson');
    const first = await env.next(() => true);
    assert.deepEqual(Object.keys(first), ['id'], 'the position comes first, alone');
    const serials = await publish(srv, ch, [
      { name: 'j', data: { x: [1, 2] } },
      { name: 's', data: 'text "quoted"\n' },
      { name: 'b', data: Buffer.from('bytes').toString('base64'), encoding: 'base64' },
    ]);
    const got = await env.count((e) => e.event === 'message', 3);
    assert.deepEqual(got.map((e) => e.data.name), ['j', 's', 'b']);
    assert.equal(got[0].data.channel, ch);
    assert.equal(got[0].data.encoding, 'json');
    assert.equal(got[2].data.encoding, 'base64');
    assert.equal(got[2].id, serials[2], 'the last event of the publish carries the id');
    assert.equal(got[0].id, undefined);
    const b = await bare.count((e) => e.event === 'message', 3);
    assert.deepEqual(b.map((e) => e.data), [{ x: [1, 2] }, 'text "quoted"\n', Buffer.from('bytes').toString('base64')]);
    assert.equal(b[2].id, serials[2]);
  });

  test('/event-stream with Accept: text/event-stream is SSE; /sse always is; CORS and streaming headers; bytes from the client are ignored', async () => {
    const ch = uniqueChannel('head');
    const r = await raw(srv, '/event-stream', { key: FULL, channels: ch },
      { headers: { Accept: 'text/event-stream', Origin: 'http://page.example' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/event-stream');
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.equal(r.headers['x-accel-buffering'], 'no');
    assert.equal(r.headers.connection, 'close');
    assert.equal(r.headers['access-control-allow-origin'], 'http://page.example');
    assert.equal(r.headers['content-length'], undefined, 'the body ends with the connection');
    await idOnly(r);
    r.socket.write('GET /time HTTP/1.1\r\n\r\nnonsense\n\n');
    await publish(srv, ch, { name: 'after-noise' });
    await r.next(isMessage);
    assert.deepEqual(names(r.events), ['after-noise']);
    const plain = await raw(srv, '/sse', { key: FULL, channels: ch }, { headers: { Accept: 'application/json' } });
    assert.equal(plain.headers['content-type'], 'text/event-stream');
  });

  test('credentials: Authorization Basic and Bearer, accessToken and access_token params', async () => {
    const ch = uniqueChannel('creds');
    const { token } = await srv.rest({ key: FULL }).auth.requestToken();
    const streams = await Promise.all([
      raw(srv, '/sse', { channels: ch }, { headers: { Authorization: `Basic ${Buffer.from(SUB).toString('base64')}` } }),
      raw(srv, '/sse', { channels: ch }, { headers: { Authorization: `Bearer ${Buffer.from(token).toString('base64')}` } }),
      raw(srv, '/sse', { channels: ch, accessToken: token }),
      raw(srv, '/sse', { channels: ch, access_token: token }),
    ]);
    for (const r of streams) assert.equal(r.status, 200, r.head);
    await publish(srv, ch, { name: 'hi' });
    for (const r of streams) await r.next(isMessage);
  });

  test('presence never reaches a stream: it subscribes to messages only', async () => {
    const ch = uniqueChannel('presence');
    const r = await raw(srv, '/sse', { key: FULL, channels: ch });
    await idOnly(r);
    const rt = new Ably.Realtime({ key: FULL, clientId: 'member', endpoint: '127.0.0.1', port: srv.port, tls: false, logLevel: 0 });
    try {
      await rt.channels.get(ch).presence.enter('here');
      await publish(srv, ch, { name: 'after-enter' });
      await r.next(isMessage);
    } finally {
      rt.close();
    }
    assert.deepEqual(r.events.filter((b) => b.data !== undefined).map((b) => b.event), ['message']);
  });

  test('occupancy counts stream subscribers, and stops counting them when they go', async () => {
    const ch = uniqueChannel('occupancy');
    const metrics = async () => (await srv.request('GET', `/channels/${ch}`, { key: FULL })).body.status.occupancy.metrics;
    const a = await raw(srv, '/sse', { key: FULL, channels: ch });
    const b = await raw(srv, '/event-stream', { key: SUB, channels: ch }, { format: 'ndjson' });
    await Promise.all([idOnly(a), b.next(() => true)]);
    const m = await metrics();
    assert.equal(m.subscribers, 2, JSON.stringify(m));
    assert.equal(m.connections, 2);
    assert.equal(m.publishers, 0, 'a stream does not publish');
    assert.equal(m.presenceSubscribers, 0);
    a.destroy();
    await eventually(async () => (await metrics()).subscribers === 1, { what: 'one subscriber left' });
    b.destroy();
    await eventually(async () => (await metrics()).subscribers === 0, { what: 'none left' });
  });
});

// ---------------------------------------------------------------- backlogs

describe('rewind and resume', () => {
  test('rewind=N: the last N messages, then live; rewind=10s: all of the last 10 s; a qualifier overrides it', async () => {
    const ch = uniqueChannel('rewind');
    await publishNames(srv, ch, ['m0', 'm1', 'm2', 'm3', 'm4']);
    const byCount = await raw(srv, '/sse', { key: FULL, channels: ch, rewind: 3 });
    const byTime = await raw(srv, '/sse', { key: FULL, channels: ch, rewind: '10s' });
    const qualified = await raw(srv, '/sse', { key: FULL, channels: `[?rewind=2]${ch}`, rewind: 4 });
    await Promise.all([byCount.count(isMessage, 3), byTime.count(isMessage, 5), qualified.count(isMessage, 2)]);
    await publish(srv, ch, { name: 'live' });
    await Promise.all([byCount.count(isMessage, 4), byTime.count(isMessage, 6), qualified.count(isMessage, 3)]);
    assert.deepEqual(names(byCount.events), ['m2', 'm3', 'm4', 'live']);
    assert.deepEqual(names(byTime.events), ['m0', 'm1', 'm2', 'm3', 'm4', 'live']);
    assert.deepEqual(names(qualified.events), ['m3', 'm4', 'live']);
    const src = es(srv, { key: FULL, channels: ch, rewind: 1 });
    await src.waitFor(1);
    assert.equal(JSON.parse(src.messages[0].data).name, 'live', 'EventSource gets the backlog too');
  });

  test('Last-Event-ID (raw HTTP) on one channel: exactly the missed messages, in order, then live; rewind is ignored', async () => {
    const ch = uniqueChannel('resume1');
    const first = await raw(srv, '/sse', { key: FULL, channels: ch });
    await publishNames(srv, ch, ['a0', 'a1', 'a2']);
    const seen = await first.count(isMessage, 3);
    const lastId = seen[2].id;
    first.destroy();
    await publishNames(srv, ch, ['b0', 'b1', 'b2']);
    const again = await raw(srv, '/sse', { key: FULL, channels: ch, rewind: 100 }, { headers: { 'Last-Event-ID': lastId } });
    await again.count(isMessage, 3);
    await publish(srv, ch, { name: 'live' });
    await again.count(isMessage, 4);
    assert.deepEqual(names(again.events), ['b0', 'b1', 'b2', 'live']);
    assert.equal(again.events.filter(isError).length, 0);
    const ids = again.events.filter(isMessage).map((b) => b.id);
    assert.deepEqual([...ids].sort(), ids, 'ids grow');
  });

  test('lastEvent= on three channels: each channel continues after its own position, no gap, no duplicate', async () => {
    const chans = range(3, (i) => uniqueChannel(`resume3-${i}`));
    const first = await raw(srv, '/sse', { key: FULL, channels: chans.join(',') });
    await publish(srv, chans[0], { name: 'x0' });
    await publish(srv, chans[1], { name: 'y0' });
    await publish(srv, chans[2], { name: 'z0' });
    await publish(srv, chans[0], { name: 'x1' });
    const seen = await first.count(isMessage, 4);
    const lastId = seen[3].id;
    assert.equal(lastId.split('~').length, 3);
    first.destroy();
    await publish(srv, chans[1], { name: 'y1' });
    await publish(srv, chans[2], { name: 'z1' });
    await publish(srv, chans[0], { name: 'x2' });
    await publish(srv, chans[1], { name: 'y2' });
    const again = await raw(srv, '/sse', { key: FULL, channels: chans.join(','), lastEvent: lastId });
    await again.count(isMessage, 4);
    await publish(srv, chans[2], { name: 'z2' });
    await again.count(isMessage, 5);
    const got = again.events.filter(isMessage).map((b) => JSON.parse(b.data));
    const of = (c) => got.filter((m) => m.channel === c).map((m) => m.name);
    assert.deepEqual(of(chans[0]), ['x2']);
    assert.deepEqual(of(chans[1]), ['y1', 'y2']);
    assert.deepEqual(of(chans[2]), ['z1', 'z2']);
    assert.equal(got.at(-1).name, 'z2', 'live after the backlog');
    assert.equal(again.events.filter(isError).length, 0);
  });

  test('a stream dropped before its first message resumes from the id it got at the start', async () => {
    const [quiet, busy] = [uniqueChannel('quiet'), uniqueChannel('busy')];
    await publish(srv, busy, { name: 'before' });
    const first = await raw(srv, '/sse', { key: FULL, channels: `${quiet},${busy}` });
    const { id } = await idOnly(first);
    assert.equal(id.split('~').length, 2);
    first.destroy();
    await publish(srv, quiet, { name: 'q-missed' });
    await publish(srv, busy, { name: 'b-missed' });
    const again = await raw(srv, '/sse', { key: FULL, channels: `${quiet},${busy}` }, { headers: { 'Last-Event-ID': id } });
    await again.count(isMessage, 2);
    assert.deepEqual(names(again.events).sort(), ['b-missed', 'q-missed']);
    assert.equal(again.events.filter(isError).length, 0, JSON.stringify(again.events));
  });

  test('a position older than history: an error event (90003), then live', async () => {
    const ch = uniqueChannel('expired');
    await publish(srv, ch, { name: 'old' });
    const r = await raw(srv, '/sse', { key: FULL, channels: ch, lastEvent: '01000000000000-000' });
    const err = await r.next(isError);
    assertErrorInfo(JSON.parse(err.data), 90003, 404, 'continuity lost');
    await publish(srv, ch, { name: 'live' });
    await r.next(isMessage);
    assert.deepEqual(names(r.events), ['live']);
  });
});

// ---------------------------------------------------------------- refusals

describe('refusals before a stream starts are HTTP errors with an Ably body', () => {
  const cases = [
    ['no credentials', '/sse', { channels: 'c' }, 401, 40101],
    ['a wrong secret', '/sse', { key: 'testapp.full:wrong', channels: 'c' }, 401, 40101],
    ['an invalid token', '/sse', { accessToken: 'not-a-token', channels: 'c' }, 401, [40140, 40143, 40144, 40145]],
    ['no channels', '/sse', { key: FULL }, 400, 40000],
    ['no v', '/sse', { key: FULL, channels: 'c', v: null }, 400, 40000],
    ['no subscribe capability', '/sse', { key: PUB, channels: 'c' }, 401, 40160],
    ['a channel outside the capability', '/event-stream', { key: LIMITED, channels: 'open:ok,closed' }, 401, 40160],
    ['too many channels', '/sse', { key: FULL, channels: range(MAX_CHANNELS + 1, (i) => `c${i}`).join(',') }, 400, 90010],
    ['an invalid channel name', '/sse', { key: FULL, channels: 'ok,:bad' }, 400, 40010],
    ['an empty channel name', '/sse', { key: FULL, channels: 'a,,b' }, 400, 40010],
    ['a channel named twice', '/sse', { key: FULL, channels: 'a,[?rewind=1]a' }, 400, 40000],
    ['an invalid rewind', '/sse', { key: FULL, channels: 'a', rewind: 'soon' }, 400, 40000],
    ['an invalid enveloped', '/sse', { key: FULL, channels: 'a', enveloped: 'maybe' }, 400, 40003],
    ['a lastEvent that is no position', '/sse', { key: FULL, channels: 'a', lastEvent: 'garbage' }, 400, 40003],
    ['a lastEvent with too few positions', '/sse', { key: FULL, channels: 'a,b', lastEvent: '01700000000000-000' }, 400, 40003],
    ['a lastEvent with too many positions', '/sse', { key: FULL, channels: 'a', lastEvent: '01700000000000-000~01700000000000-000' }, 400, 40003],
  ];
  for (const [what, path, params, status, code] of cases) {
    test(what, async () => {
      const res = await srv.request('GET', `${path}?${streamQuery(params)}`, { key: null });
      assertAblyError(assert, res, status, code, what);
    });
  }

  test('a Last-Event-ID header that is no position', async () => {
    const res = await srv.request('GET', `/sse?${streamQuery({ key: FULL, channels: 'a' })}`,
      { key: null, headers: { 'Last-Event-ID': 'x~y' } });
    assertAblyError(assert, res, 400, 40003);
  });

  test('a channel inside the limited capability streams', async () => {
    const r = await raw(srv, '/sse', { key: LIMITED, channels: 'open:fine' });
    assert.equal(r.status, 200);
  });
});

// ---------------------------------------------------------------- the stream's life

describe('the stream\'s life', () => {
  test('a token that expires mid-stream: an error event (40142), then the stream ends', async () => {
    const ch = uniqueChannel('expiry');
    const ttl = 1500;
    const { token } = await srv.rest({ key: FULL }).auth.requestToken({ ttl });
    const r = await raw(srv, '/sse', { accessToken: token, channels: ch });
    await idOnly(r);
    await publish(srv, ch, { name: 'while-valid' });
    const err = await r.next(isError, ttl + 5000, 'the expiry');
    assertErrorInfo(JSON.parse(err.data), 40142, 401, 'token expired');
    await r.closed;
    assert.deepEqual(names(r.events), ['while-valid']);
    assert.equal(r.events.at(-1), err, 'the error is the last event');
  });

  test('keepalives: a comment (SSE) or a blank line (NDJSON) after the idle interval; heartbeats=true: heartbeat events', async () => {
    const tuned = await server(['--max-idle-interval-ms', '300']);
    const ch = uniqueChannel('keepalive');
    const [sse, sseBeats, nd, ndBeats] = await Promise.all([
      raw(tuned, '/sse', { key: FULL, channels: ch }),
      raw(tuned, '/sse', { key: FULL, channels: ch, heartbeats: 'true' }),
      raw(tuned, '/event-stream', { key: FULL, channels: ch }, { format: 'ndjson' }),
      raw(tuned, '/event-stream', { key: FULL, channels: ch, heartbeats: 'true' }, { format: 'ndjson' }),
    ]);
    await Promise.all([
      sse.count((b) => b.comments.includes('keepalive'), 2, 5000),
      sseBeats.count((b) => b.event === 'heartbeat' && b.data === '', 2, 5000),
      nd.count((e) => e.keepalive, 2, 5000),
      ndBeats.count((e) => e.event === 'heartbeat' && !('data' in e), 2, 5000),
    ]);
    assert.equal(sseBeats.events.filter((b) => b.comments.length).length, 0, 'no comments with heartbeats=true');
    const src = eventSource(tuned, `/sse?${streamQuery({ key: FULL, channels: ch, heartbeats: 'true' })}`);
    open.add(src);
    await new Promise((resolve) => src.es.addEventListener('heartbeat', resolve));
  });

  test('a reader that stops reading is cut off (80020) while another stream on the channel receives everything', async () => {
    // The header timeout bounds how long a goodbye waits for a peer that
    // does not read; this test holds the reader paused while 8 MB go out.
    const s = await server(['--max-outbound-bytes', String(SLOW.maxOutbound), '--http-header-timeout-ms', '60000']);
    const ch = uniqueChannel('slow');
    const slow = await raw(s, '/sse', { key: FULL, channels: ch, enveloped: 'false' });
    const good = es(s, { key: FULL, channels: ch, enveloped: 'false' });
    await Promise.all([idOnly(slow), good.opened]);
    slow.socket.pause();
    const data = 'x'.repeat(SLOW.size);
    for (let b = 0; b < SLOW.batches; b++) {
      await publish(s, ch, range(SLOW.perBatch, (i) => ({ name: String(b * SLOW.perBatch + i), data })));
    }
    await good.waitFor(SLOW.total, 30000);
    assert.equal(good.messages.length, SLOW.total);
    assert.ok(good.messages.every((m) => m.data === data));
    slow.socket.resume();
    await slow.closed;
    const received = slow.events.filter(isMessage).length;
    const last = slow.events.at(-1);
    assert.ok(received < SLOW.total, `the slow reader was cut off (${received} of ${SLOW.total})`);
    assert.ok(last && isError(last), `the last event is an error: ${JSON.stringify(last)}`);
    assertErrorInfo(JSON.parse(last.data), 80020, 429, 'too slow');
  });

  test('shutdown: the stream gets an error event (80003) and ends', async () => {
    const own = await startServer({ config: CONFIG, env: { HERALD_KEY: null } });
    try {
      const r = await rawStream(own, `/sse?${streamQuery({ key: FULL, channels: 'bye' })}`);
      await idOnly(r);
      const stopped = own.stop();
      await r.closed;
      await stopped;
      const last = r.events.at(-1);
      assert.ok(isError(last), JSON.stringify(r.events));
      assertErrorInfo(JSON.parse(last.data), 80003, 400, 'shutdown');
    } finally {
      if (own.isRunning()) await own.stop();
    }
  });
});
