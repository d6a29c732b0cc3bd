// Several heraldd nodes sharing one Redis (the Redis engine, issue 19): what
// is published on one node is the same channel on every other node.
//
// Three nodes A, B, C on one redis-server. Every test publishes on one node
// and reads or subscribes on the others, so each would fail if the nodes
// did not share the channel:
//  - REST publishes (ably-js JSON and msgpack) on A are in the history of B
//    and C with the same ids, serials and timestamps, in publish order;
//    history options (limit and Link pagination whose pages are fetched from
//    alternating nodes, both directions, start/end) on other nodes;
//  - realtime subscribers on every node (JSON and msgpack) get REST and
//    realtime publishes made on A, each once, in publish order, with the
//    same ids on every node;
//  - 3 x 100 concurrent publishes on all three nodes: every subscriber on
//    every node sees one identical sequence, serials increase, history is
//    that sequence;
//  - an idempotent publish repeated on another node is stored once;
//  - rewind on C returns what was published on A;
//  - SSE on B gets what is published on A; resuming on C with Last-Event-ID
//    gets exactly the missed messages;
//  - GET /channels and GET /channels/<name> on other nodes;
//  - serials keep increasing and history is kept across a restart of every
//    node and across a Redis restart (AOF, appendfsync always).
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster.test.mjs

import assert from 'node:assert/strict';
import { describe, after, uniqueChannel, eventually, parseLinkHeader } from './lib/server.mjs';
import { PROTOCOLS, Inbox, withTimeout } from './lib/realtime.mjs';
import { rawStream, streamQuery } from './lib/eventstream.mjs';
import {
  test, rtTest, startRedis, startCluster, stopCluster, useCluster, teardown, waitForState, historyAcross, publishRaw, assertIncreasing,
} from './lib/redis.mjs';

const ARGS = ['--max-idle-interval-ms', '2000'];
const range = (n, f = (i) => i) => Array.from({ length: n }, (_, i) => f(i));
const MARKER = 'end-marker';

let A;
let B;
let C;
useCluster({ nodes: 3, args: ARGS, ready: (nodes) => { [A, B, C] = nodes; } });

/** Every item of an ably-js history query, page by page. */
async function allHistory(channel, params) {
  const items = [];
  let page = await channel.history(params);
  for (let n = 0; page; n++) {
    assert.ok(n < 1000, 'history pagination ends');
    items.push(...page.items);
    // eslint-disable-next-line no-await-in-loop
    page = page.hasNext() ? await page.next() : null;
  }
  return items;
}

/** A connected ably-js Realtime client of `srv`. */
async function connected(scope, srv, opts = {}) {
  const c = scope.realtime(srv, { key: srv.key, ...opts });
  await waitForState(c.connection, 'connected', { what: `${opts.label || 'client'} connection (:${srv.port})` });
  return c;
}

/** A subscribed channel of a new client of `srv`: {client, channel, inbox}. */
async function subscriber(scope, srv, name, { binary = false, label, channelOptions } = {}) {
  const client = await connected(scope, srv, { binary, label });
  const channel = client.channels.get(name, channelOptions);
  const inbox = new Inbox();
  await withTimeout(inbox.subscribe(channel), 10000, `${label || 'subscriber'} attach ${name}`);
  return { client, channel, inbox, label: label || `subscriber on :${srv.port}` };
}

/** [id, serial, timestamp, name] of each message, for comparing whole sequences. */
const keyed = (ms) => ms.map((m) => [m.id, m.serial, m.timestamp, m.name]);

// ---------------------------------------------------------------- REST and history

describe('REST publish on one node, history on the others', () => {
  for (const proto of PROTOCOLS) {
    test(`ably-js REST (${proto.name}) publishes on A: B and C return them in order, same ids, serials, timestamps, payloads`, async () => {
      const name = uniqueChannel(`rest-${proto.name}`);
      const chA = A.rest({ binary: proto.binary }).channels.get(name);
      const bytes = Buffer.from([0, 1, 2, 127, 128, 254, 255]);
      const serials = [];
      serials.push(...(await chA.publish('s', 'héllo ✓')).serials);
      serials.push(...(await chA.publish('j', { a: 1, b: ['x', null, true] })).serials);
      serials.push(...(await chA.publish('b', bytes)).serials);
      serials.push(...(await chA.publish([{ name: 'arr0', data: '0' }, { name: 'arr1', data: '1' }, { name: 'arr2', data: '2' }])).serials);
      serials.push(...(await chA.publish({ name: 'own', id: `own-${name}`, data: 'own id' })).serials);
      const want = ['s', 'j', 'b', 'arr0', 'arr1', 'arr2', 'own'];
      assert.equal(serials.length, want.length);
      assertIncreasing(assert, serials, 'publish serials');

      const fromA = await allHistory(chA, { direction: 'forwards' });
      assert.deepEqual(fromA.map((m) => m.name), want, 'history on A');
      for (const [label, other] of [['B', B], ['C', C]]) {
        for (const reader of PROTOCOLS) {
          const ctx = `${label} (${reader.name} reader)`;
          const items = await allHistory(other.rest({ binary: reader.binary }).channels.get(name), { direction: 'forwards', limit: 3 });
          assert.deepEqual(items.map((m) => m.name), want, `${ctx}: names in publish order`);
          assert.deepEqual(items.map((m) => m.serial), serials, `${ctx}: serials = the publish serials`);
          assert.deepEqual(keyed(items), keyed(fromA), `${ctx}: ids, serials, timestamps as on A`);
          assert.equal(items[0].data, 'héllo ✓', `${ctx}: string`);
          assert.deepEqual(items[1].data, { a: 1, b: ['x', null, true] }, `${ctx}: JSON`);
          assert.ok(Buffer.isBuffer(items[2].data) && bytes.equals(items[2].data), `${ctx}: binary ${items[2].data?.toString?.('hex')}`);
          assert.equal(items[6].id, `own-${name}`, `${ctx}: the client-supplied id`);
          const back = await allHistory(other.rest({ binary: reader.binary }).channels.get(name), { limit: 2 });
          assert.deepEqual(keyed(back), keyed(fromA).reverse(), `${ctx}: backwards = reversed`);
        }
      }
    });
  }

  test('history options on other nodes: limit with Link pages fetched from alternating nodes, both directions, start/end', async () => {
    const name = uniqueChannel('opts');
    const N = 20;
    for (let i = 0; i < N; i++) {
      const r = await publishRaw(A, name, { name: `m${i}`, data: `d${i}` });
      assert.equal(r.status, 201, `publish m${i}: ${r.raw}`);
      // distinct timestamps (ms) for the start/end checks: no event marks a millisecond passing
      await new Promise((res) => setTimeout(res, 3));
    }
    const names = range(N, (i) => `m${i}`);
    const full = (await historyAcross([B], name, 'direction=forwards&limit=1000')).items;
    assert.deepEqual(full.map((m) => m.name), names, 'full history on B');
    assertIncreasing(assert, full.map((m) => m.serial), 'history serials');

    const fwd = await historyAcross([C, B, A], name, 'direction=forwards&limit=7');
    assert.equal(fwd.pages, 3, '20 messages at 7 a page: 3 pages');
    assert.deepEqual(keyed(fwd.items), keyed(full), 'forwards pages C, B, A');
    const bwd = await historyAcross([B, C], name, 'limit=7');
    assert.equal(bwd.pages, 3);
    assert.deepEqual(keyed(bwd.items), keyed(full).reverse(), 'backwards (the default) pages B, C, B');

    const first = await C.request('GET', `/channels/${encodeURIComponent(name)}/messages?limit=4`);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.map((m) => m.name), ['m19', 'm18', 'm17', 'm16'], 'limit=4 backwards on C');
    const rels = parseLinkHeader(first.headers.get('link'));
    assert.ok(rels.next, `a next link: ${first.headers.get('link')}`);

    const start = full[5].timestamp;
    const end = full[14].timestamp;
    assert.ok(start < end, `timestamps ${start} < ${end}`);
    const inRange = full.filter((m) => m.timestamp >= start && m.timestamp <= end);
    assert.ok(inRange.length >= 10 && inRange.length < N, `the range holds a strict subset (${inRange.length})`);
    const sub = await historyAcross([C, A], name, `start=${start}&end=${end}&direction=forwards&limit=3`);
    assert.deepEqual(keyed(sub.items), keyed(inRange), 'start/end forwards, 3 a page, from C and A');
    const subBack = await historyAcross([B, C], name, `start=${start}&end=${end}&limit=4`);
    assert.deepEqual(keyed(subBack.items), keyed(inRange).reverse(), 'start/end backwards from B and C');
    const onlyStart = (await historyAcross([B], name, `start=${full[15].timestamp}&direction=forwards`)).items;
    assert.deepEqual(keyed(onlyStart), keyed(full.filter((m) => m.timestamp >= full[15].timestamp)), 'start only');
    const onlyEnd = (await historyAcross([C], name, `end=${full[3].timestamp}`)).items;
    assert.deepEqual(keyed(onlyEnd), keyed(full.filter((m) => m.timestamp <= full[3].timestamp)).reverse(), 'end only');
    // the same through ably-js on B
    const sdk = await allHistory(B.rest().channels.get(name), { start, end, direction: 'backwards', limit: 4 });
    assert.deepEqual(keyed(sdk), keyed(inRange).reverse(), 'ably-js history({start, end, limit}) on B');
  });

  test('an idempotent publish (client-supplied id) repeated on B is stored once; B answers with the original serials', async () => {
    const name = uniqueChannel('idem');
    const one = { id: `idem-${name}`, name: 'one', data: '1' };
    const pair = [{ id: `pair-${name}:0`, name: 'p0', data: 'a' }, { id: `pair-${name}:1`, name: 'p1', data: 'b' }];
    const a1 = await publishRaw(A, name, one);
    assert.equal(a1.status, 201, `${a1.raw}`);
    const a2 = await publishRaw(A, name, pair);
    assert.equal(a2.status, 201, `${a2.raw}`);
    const b1 = await publishRaw(B, name, one);
    assert.equal(b1.status, 201, `repeat on B: ${b1.raw}`);
    const b2 = await publishRaw(B, name, pair);
    assert.equal(b2.status, 201, `repeat on B: ${b2.raw}`);
    const c1 = await C.rest({ binary: true }).channels.get(name).publish(one);
    const items = (await historyAcross([C], name)).items;
    assert.deepEqual(items.map((m) => m.id), [one.id, pair[0].id, pair[1].id], `stored once each: ${JSON.stringify(items.map((m) => m.id))}`);
    assert.deepEqual(b1.body.serials, a1.body.serials, 'the repeat on B returns the original serial');
    assert.deepEqual(b2.body.serials, a2.body.serials, 'the repeated pair on B returns the original serials');
    assert.deepEqual(c1.serials, a1.body.serials, 'the repeat through ably-js on C too');
  });
});

// ---------------------------------------------------------------- realtime

describe('realtime across nodes', () => {
  for (const proto of PROTOCOLS) {
    const other = PROTOCOLS.find((p) => p !== proto);
    rtTest(`subscribers on A, B, C get REST and realtime (${proto.name}) publishes made on A once each, in publish order, same ids`, async (scope) => {
      const name = uniqueChannel(`rt-${proto.name}`);
      const subs = [
        await subscriber(scope, B, name, { binary: proto.binary, label: `B ${proto.name}` }),
        await subscriber(scope, C, name, { binary: proto.binary, label: `C ${proto.name}` }),
        await subscriber(scope, C, name, { binary: other.binary, label: `C ${other.name}` }),
        await subscriber(scope, A, name, { binary: other.binary, label: `A ${other.name}` }),
      ];
      const pub = await connected(scope, A, { binary: proto.binary, label: 'A publisher' });
      const pubCh = pub.channels.get(name);
      const restCh = A.rest({ binary: proto.binary }).channels.get(name);
      const order = [];
      const serials = [];
      for (let i = 0; i < 5; i++) {
        serials.push(...(await restCh.publish(`rest${i}`, { i })).serials);
        order.push(`rest${i}`);
        serials.push(...(await pubCh.publish(`rt${i}`, `payload ${i}`)).serials); // resolves on the ACK
        order.push(`rt${i}`);
      }
      serials.push(...(await restCh.publish(MARKER, 'end')).serials);
      order.push(MARKER);
      assertIncreasing(assert, serials, 'ACK serials');

      for (const s of subs) await s.inbox.waitForName(MARKER, 10000);
      const hist = (await historyAcross([B], name)).items;
      assert.deepEqual(hist.map((m) => m.name), order, 'history on B');
      for (const s of subs) {
        const got = s.inbox.messages;
        assert.deepEqual(got.map((m) => m.name), order, `${s.label}: each message once, in publish order`);
        assert.deepEqual(got.map((m) => m.serial), serials, `${s.label}: serials = the ACK serials`);
        assert.deepEqual(keyed(got), keyed(hist), `${s.label}: ids, serials, timestamps = history`);
        assert.deepEqual(got[0].data, { i: 0 }, `${s.label}: JSON payload`);
        assert.equal(got[1].data, 'payload 0', `${s.label}: string payload`);
        assert.equal(got[1].connectionId, pub.connection.id, `${s.label}: connectionId of the realtime publisher`);
        assert.equal(got[1].id, `${pub.connection.id}:0:0`, `${s.label}: realtime id <connectionId>:<msgSerial>:0`);
      }
    });
  }

  rtTest('3 x 100 concurrent publishes on A (REST), B (realtime) and C (REST msgpack): one identical sequence everywhere, serials increase, history is that sequence', async (scope) => {
    const name = uniqueChannel('concurrent');
    const PER = 100;
    const subs = [
      await subscriber(scope, A, name, { label: 'A json' }),
      await subscriber(scope, B, name, { binary: true, label: 'B msgpack' }),
      await subscriber(scope, C, name, { label: 'C json' }),
      await subscriber(scope, C, name, { binary: true, label: 'C msgpack' }),
    ];
    const rtPub = await connected(scope, B, { label: 'B publisher' });
    const acked = new Map(); // id -> serial
    const sent = { A: [], B: [], C: [] }; // names in the order each publisher made them
    const restA = (async () => {
      for (let i = 0; i < PER; i++) {
        const id = `a-${name}-${i}`;
        const r = await publishRaw(A, name, { id, name: `A${i}`, data: `d${i}` });
        assert.equal(r.status, 201, `A publish ${i}: ${r.raw}`);
        sent.A.push(`A${i}`);
        acked.set(id, r.body.serials[0]);
      }
    })();
    const rtB = (async () => {
      const ch = rtPub.channels.get(name);
      const results = await Promise.all(range(PER, (i) => {
        sent.B.push(`B${i}`);
        return ch.publish(`B${i}`, `d${i}`);
      }));
      results.forEach((r, i) => acked.set(`${rtPub.connection.id}:${i}:0`, r.serials[0]));
    })();
    const restC = (async () => {
      const ch = C.rest({ binary: true }).channels.get(name);
      for (let i = 0; i < PER; i++) {
        const id = `c-${name}-${i}`;
        const r = await ch.publish({ id, name: `C${i}`, data: { i } });
        sent.C.push(`C${i}`);
        acked.set(id, r.serials[0]);
      }
    })();
    await Promise.all([restA, rtB, restC]);
    assert.equal(acked.size, 3 * PER, 'every publish acknowledged once');

    for (const s of subs) await s.inbox.waitForCount(3 * PER, 20000);
    const ref = subs[0].inbox.messages;
    const refIds = ref.map((m) => m.id);
    assert.equal(new Set(refIds).size, 3 * PER, `${subs[0].label}: ${3 * PER} distinct ids`);
    assertIncreasing(assert, ref.map((m) => m.serial), `${subs[0].label}: delivered serials`);
    for (const m of ref) assert.equal(m.serial, acked.get(m.id), `${m.id}: delivered serial = the ACK serial`);
    for (const p of ['A', 'B', 'C']) {
      assert.deepEqual(ref.map((m) => m.name).filter((n) => n[0] === p), sent[p], `${p}'s publishes in the order made`);
    }
    for (const s of subs.slice(1)) {
      assert.deepEqual(s.inbox.messages.map((m) => [m.id, m.serial, m.name]), ref.map((m) => [m.id, m.serial, m.name]),
        `${s.label} saw the sequence ${subs[0].label} saw`);
    }
    const hist = await historyAcross([C, A, B], name, 'direction=forwards&limit=100');
    assert.deepEqual(keyed(hist.items), keyed(ref), 'history (forwards, pages from C, A, B) = the delivered sequence');
    // nothing more arrives (no late duplicate)
    const last = await publishRaw(B, name, { name: MARKER });
    assert.equal(last.status, 201);
    for (const s of subs) {
      await s.inbox.waitForName(MARKER, 10000);
      assert.equal(s.inbox.messages.length, 3 * PER + 1, `${s.label}: nothing but the marker after the ${3 * PER}`);
    }
  });

  for (const proto of PROTOCOLS) {
    rtTest(`rewind "5" on C (${proto.name}) after 8 publishes on A: the last 5, then live ones from B`, async (scope) => {
      const name = uniqueChannel(`rewind-${proto.name}`);
      for (let i = 0; i < 8; i++) assert.equal((await publishRaw(A, name, { name: `m${i}` })).status, 201);
      const { inbox, channel } = await subscriber(scope, C, name, { binary: proto.binary, label: 'C rewind', channelOptions: { params: { rewind: '5' } } });
      assert.equal(channel.params?.rewind, '5', 'ATTACHED echoes the rewind param');
      await inbox.waitForCount(5);
      assert.equal((await publishRaw(B, name, { name: 'live' })).status, 201);
      await inbox.waitForName('live');
      const hist = (await historyAcross([A], name)).items;
      assert.deepEqual(inbox.names(), ['m3', 'm4', 'm5', 'm6', 'm7', 'live']);
      assert.deepEqual(keyed(inbox.messages), keyed(hist.slice(3)), 'the same messages as history');
    });
  }
});

// ---------------------------------------------------------------- SSE

describe('SSE across nodes', () => {
  const open = new Set();
  after(() => { for (const s of open) s.destroy(); });
  async function sse(srv, params, opts) {
    const r = await rawStream(srv, `/sse?${streamQuery({ key: srv.key, ...params })}`, opts);
    open.add(r);
    assert.equal(r.status, 200, `GET /sse on :${srv.port}: ${r.head} ${r.body}`);
    return r;
  }
  const isMessage = (b) => b.event === 'message';
  const msgs = (r) => r.events.filter(isMessage).map((b) => ({ ...JSON.parse(b.data), eventId: b.id }));

  test('an SSE stream on B gets what A publishes; resuming on C with Last-Event-ID gets exactly the missed ones, then live', async () => {
    const name = uniqueChannel('sse');
    const first = await sse(B, { channels: name });
    // the id-only event: the stream is attached (its position); what is published before it may precede the stream
    await first.next((b) => b.id !== undefined && b.data === undefined, 10000, 'the id-only event on B');
    const serials = [];
    for (const n of ['a0', 'a1', 'a2']) {
      const r = await publishRaw(A, name, { name: n, data: `data-${n}` });
      assert.equal(r.status, 201);
      serials.push(r.body.serials[0]);
    }
    await first.count(isMessage, 3, 10000, 'the three messages on B');
    const seen = msgs(first);
    assert.deepEqual(seen.map((m) => m.name), ['a0', 'a1', 'a2']);
    assert.deepEqual(seen.map((m) => m.eventId), serials, 'event id = serial');
    assert.equal(seen[0].channel, name);
    const lastId = seen[2].eventId;
    first.destroy();
    for (const n of ['b0', 'b1', 'b2']) assert.equal((await publishRaw(A, name, { name: n })).status, 201);
    const again = await sse(C, { channels: name }, { headers: { 'Last-Event-ID': lastId } });
    await again.count(isMessage, 3, 10000, 'the missed messages on C');
    assert.equal((await publishRaw(B, name, { name: 'live' })).status, 201);
    await again.count(isMessage, 4, 10000, 'the live message on C');
    const got = msgs(again);
    assert.deepEqual(got.map((m) => m.name), ['b0', 'b1', 'b2', 'live'], 'exactly the missed ones, then live');
    assert.equal(again.events.filter((b) => b.event === 'error').length, 0, 'no error event');
    const hist = (await historyAcross([A], name)).items;
    assert.deepEqual(got.map((m) => [m.id, m.serial]), hist.slice(3).map((m) => [m.id, m.serial]), 'ids and serials as in history');
    // rewind on the SSE side too
    const rw = await sse(A, { channels: name, rewind: 2 });
    await rw.count(isMessage, 2, 10000, 'rewind 2 on A');
    assert.deepEqual(msgs(rw).map((m) => m.name), ['b2', 'live']);
  });
});

// ---------------------------------------------------------------- channel enumeration

describe('channel metadata across nodes', () => {
  test('GET /channels on B and C lists channels published on A (paged, links followed on the other node); GET /channels/<name> describes them', async () => {
    const prefix = `enum-${process.pid}-${Date.now()}-`;
    const names = range(5, (i) => `${prefix}${i}`);
    for (const n of names) assert.equal((await publishRaw(A, n, { name: 'x' })).status, 201);
    const collected = [];
    let res = await B.request('GET', `/channels?prefix=${encodeURIComponent(prefix)}&by=id&limit=2`);
    for (let pages = 1; ; pages++) {
      assert.equal(res.status, 200, `${res.raw}`);
      collected.push(...res.body);
      const rels = parseLinkHeader(res.headers.get('link'));
      if (!rels.next) break;
      assert.ok(pages < 10, 'enumeration ends');
      res = await (pages % 2 ? C : B).request('GET', `/channels?${rels.next.split('?')[1]}`);
    }
    assert.deepEqual([...collected].sort(), names, 'each channel once');
    const byValue = await C.request('GET', `/channels?prefix=${encodeURIComponent(prefix)}&by=value`);
    assert.equal(byValue.status, 200);
    assert.deepEqual(byValue.body.map((d) => d.channelId).sort(), names, 'by=value on C');
    for (const d of byValue.body) assert.equal(d.status?.isActive, true, `${d.channelId} active`);
    for (const srv of [B, C]) {
      const d = await srv.request('GET', `/channels/${encodeURIComponent(names[2])}`);
      assert.equal(d.status, 200, `${d.raw}`);
      assert.equal(d.body.channelId, names[2]);
      assert.equal(d.body.status.isActive, true);
    }
  });
});

// ---------------------------------------------------------------- restarts

describe('restarts', () => {
  test('history and increasing serials survive a restart of every node, then a Redis restart (AOF, appendfsync always)', async () => {
    const r = await startRedis({ appendfsync: 'always' });
    let cluster = [];
    let failure = null;
    try {
      cluster = await startCluster({ nodes: 3, redis: [r], args: ARGS });
      const name = uniqueChannel('restart');
      const serials = [];
      const pub = async (srv, n) => {
        const res = await publishRaw(srv, name, { name: n, data: n });
        assert.equal(res.status, 201, `publish ${n} on :${srv.port}: ${res.raw}`);
        serials.push(res.body.serials[0]);
      };
      for (let i = 0; i < 6; i++) await pub(cluster[i % 3], `before${i}`);
      const before = (await historyAcross(cluster, name)).items;
      assert.equal(before.length, 6);

      await stopCluster(cluster);
      cluster = await startCluster({ nodes: 3, redis: [r], args: ARGS });
      for (const srv of cluster) {
        const items = (await historyAcross([srv], name)).items;
        assert.deepEqual(keyed(items), keyed(before), `history on a restarted node :${srv.port}`);
      }
      for (let i = 0; i < 3; i++) await pub(cluster[i], `nodes-restarted${i}`);
      assertIncreasing(assert, serials, 'serials across the node restart');

      await r.pause();
      await r.restart();
      // no event says when a node has its Redis connection back: poll, accepting 503 only
      for (const [i, srv] of cluster.entries()) {
        await eventually(async () => {
          const res = await publishRaw(srv, name, { name: `redis-restarted${i}` });
          if (res.status === 201) { serials.push(res.body.serials[0]); return true; }
          assert.equal(res.status, 503, `while reconnecting to Redis: ${res.status} ${res.raw}`);
          return false;
        }, { timeoutMs: 15000, intervalMs: 100, what: `node :${srv.port} publishes after the Redis restart` });
      }
      assertIncreasing(assert, serials, 'serials across the Redis restart');
      const all = (await historyAcross(cluster, name, 'direction=forwards&limit=4')).items;
      assert.deepEqual(all.map((m) => m.serial), serials, 'history = every acknowledged publish, in order');
      assert.deepEqual(keyed(all.slice(0, 6)), keyed(before), 'what was published before both restarts is unchanged');
      assert.deepEqual(all.map((m) => m.name).slice(6),
        ['nodes-restarted0', 'nodes-restarted1', 'nodes-restarted2', 'redis-restarted0', 'redis-restarted1', 'redis-restarted2']);
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      await teardown(failure, () => stopCluster(cluster), () => r.stop());
    }
  });
});
