// Faults in a cluster of heraldd nodes on the Redis engine (issue 19):
//  - a node killed with SIGKILL while all three take concurrent REST
//    publishes: its publishers get errors, the others carry on without one;
//    every acknowledged publish is in history exactly once with its serial,
//    serials increase, a repeated idempotent id is still deduplicated;
//  - Redis stopped (SIGTERM, AOF with appendfsync always) under load and
//    started again: meanwhile REST publishes are refused quickly with
//    503/50005, realtime publishes are NACKed 50005 and an attached realtime
//    client goes disconnected; afterwards it is connected again by itself
//    and gets new messages, publishing works again on every node, and no
//    acknowledged message is missing from history or from the subscriber;
//  - a node reconnecting while Redis still reads its data back (LOADING)
//    loads its Lua scripts again once Redis is ready, instead of failing
//    every publish with NOSCRIPT from then on.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster_faults.test.mjs

import assert from 'node:assert/strict';
import { describe, uniqueChannel, assertAblyError, eventually } from './lib/server.mjs';
import { Inbox, withTimeout, nextEvent, recordStateChanges, describeChanges, describeError } from './lib/realtime.mjs';
import {
  test, rtTest, startRedis, startCluster, stopCluster, teardown, waitForState, historyAcross, publishRaw, assertIncreasing, rejection,
} from './lib/redis.mjs';

const ARGS = ['--max-idle-interval-ms', '2000'];

/** Every item of each channel's history, read from `srv` (forwards, 500 a page). */
async function histories(srvs, channels) {
  const out = new Map();
  for (const [i, c] of channels.entries()) {
    // eslint-disable-next-line no-await-in-loop
    out.set(c, (await historyAcross([srvs[i % srvs.length], ...srvs], c, 'direction=forwards&limit=500')).items);
  }
  return out;
}

/** Asserts every acknowledged {channel, id, serial} is in `byChannel` once with its serial; no duplicate ids; serials increase. */
function assertAllAcked(byChannel, acked, what) {
  for (const [channel, items] of byChannel) {
    const ids = items.map((m) => m.id);
    const dups = ids.filter((id, i) => ids.indexOf(id) !== i);
    assert.deepEqual(dups, [], `${what}: no duplicate ids in ${channel}`);
    assertIncreasing(assert, items.map((m) => m.serial), `${what}: history serials of ${channel}`);
  }
  const missing = [];
  for (const a of acked) {
    const found = (byChannel.get(a.channel) || []).filter((m) => m.id === a.id);
    if (found.length !== 1) missing.push(`${a.id} on ${a.channel} found ${found.length} times`);
    else assert.equal(found[0].serial, a.serial, `${what}: ${a.id} kept the serial it was acknowledged with`);
  }
  assert.deepEqual(missing, [], `${what}: every acknowledged publish in history once (${acked.length} acknowledged)`);
}

describe('a node killed under load', () => {
  test('SIGKILL of one of three nodes amid concurrent REST publishing: nothing acknowledged lost or doubled, the other nodes carry on', async () => {
    const redis = await startRedis({ appendfsync: 'always' });
    let nodes = [];
    let failure = null;
    try {
      nodes = await startCluster({ nodes: 3, redis: [redis], args: ARGS });
      const [A, B, C] = nodes;
      const run = uniqueChannel('crash');
      const CHANNELS = ['a', 'b', 'c', 'd'].map((x) => `${run}:${x}`);
      const PER_NODE = 3;
      const acked = [];
      const state = { stop: false, killed: false, ackedAfterKill: 0, waiters: [] };
      const notify = () => { for (const w of state.waiters) w(); };
      const when = (pred) => new Promise((resolve) => {
        const w = () => { if (pred()) { state.waiters.splice(state.waiters.indexOf(w), 1); resolve(); } };
        state.waiters.push(w);
        w();
      });
      // Publishes until stopped (or its node is gone); returns how it ended.
      async function publisher(srv, label, index) {
        for (let n = 0; !state.stop; n++) {
          const channel = CHANNELS[(index + n) % CHANNELS.length];
          const id = `${label}-${index}-${n}`;
          const body = n % 3 === 0 ? [{ id: `${id}:0`, data: 'x' }, { id: `${id}:1`, data: 'y' }] : { id, data: 'x' };
          let res;
          try {
            // eslint-disable-next-line no-await-in-loop
            res = await publishRaw(srv, channel, body, { signal: AbortSignal.timeout(10000) });
          } catch (e) {
            return { label, error: `${e.name}: ${e.cause?.code || e.message}`, n };
          }
          if (res.status !== 201) return { label, error: `HTTP ${res.status} ${res.raw.toString('utf8').slice(0, 200)}`, n };
          const ids = Array.isArray(body) ? body.map((m) => m.id) : [id];
          ids.forEach((mid, i) => acked.push({ channel, id: mid, serial: res.body.serials[i], label }));
          if (state.killed) state.ackedAfterKill += 1;
          notify();
        }
        return { label, error: null };
      }
      const running = [];
      for (const [label, srv] of [['A', A], ['B', B], ['C', C]]) {
        for (let i = 0; i < PER_NODE; i++) running.push(publisher(srv, label, i));
      }
      await withTimeout(when(() => acked.length >= 400), 20000, '400 acknowledged publishes before the kill');
      await C.stop({ signal: 'SIGKILL' });
      state.killed = true;
      await withTimeout(when(() => state.ackedAfterKill >= 150), 20000, '150 more acknowledged publishes on A and B after the kill');
      state.stop = true;
      const ends = await Promise.all(running);
      const onC = ends.filter((e) => e.label === 'C');
      const others = ends.filter((e) => e.label !== 'C');
      assert.deepEqual(others.filter((e) => e.error), [], 'publishers to A and B saw no error');
      for (const e of onC) assert.ok(e.error, `a publisher to the killed node C saw an error (${JSON.stringify(e)})`);
      assert.ok(acked.filter((a) => a.label === 'C').length > 0, 'C acknowledged publishes before it was killed');

      assertAllAcked(await histories([A, B], CHANNELS), acked, 'after the kill, read on A and B');
      // a node started afterwards reads the same
      const [D] = await startCluster({ nodes: 1, redis: [redis], args: ARGS });
      nodes.push(D);
      assertAllAcked(await histories([D], CHANNELS), acked, 'on a node started after the kill');
      // serials keep growing on every channel
      for (const c of CHANNELS) {
        const top = acked.filter((a) => a.channel === c).map((a) => a.serial).sort().at(-1);
        const res = await publishRaw(D, c, { data: 'after' });
        assert.equal(res.status, 201, `${res.raw}`);
        assert.ok(res.body.serials[0] > top, `${c}: ${res.body.serials[0]} > ${top}`);
      }
      // an id C acknowledged, repeated on D: stored once, the original serial
      const again = acked.filter((a) => a.label === 'C' && !a.id.includes(':')).at(-1);
      const dup = await publishRaw(D, again.channel, { id: again.id, data: 'x' });
      assert.equal(dup.status, 201, `${dup.raw}`);
      assert.deepEqual(dup.body.serials, [again.serial], 'the repeat returns the original serial');
      const count = (await historyAcross([A], again.channel)).items.filter((m) => m.id === again.id).length;
      assert.equal(count, 1, `${again.id} stored once`);
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      await teardown(failure, () => stopCluster(nodes, failure ? { timeoutMs: 3000 } : undefined), () => redis.stop());
    }
  });
});

describe('Redis down and back', () => {
  rtTest('Redis stopped under load: 503/50005 fast, NACK 50005, attached client disconnected; after the restart all resumes by itself, nothing acknowledged lost', async (scope) => {
    const redis = await startRedis({ appendfsync: 'always' });
    let nodes = [];
    let failure = null;
    const load = { stop: false, phase: 'up', acked: [], refusals: [], unexpected: [], waiters: [], inflight: {} };
    /** Per loader: its publish in flight (and for how long), and what it got in each phase. */
    const loadState = () => ['A', 'B', 'C'].map((l) => {
      const f = load.inflight[l];
      const per = (phase) => `${load.acked.filter((a) => a.label === l && a.phase === phase).length} ok/${load.refusals.filter((r) => r.label === l && r.phase === phase).length} refused`;
      return `${l}: ${f ? `${f.id} in flight for ${Date.now() - f.since} ms` : 'idle'}, up ${per('up')}, down ${per('down')}, back ${per('back')}`;
    }).join('; ');
    const notify = () => { for (const w of [...load.waiters]) w(); };
    const when = (pred) => new Promise((resolve) => {
      const w = () => { if (pred()) { load.waiters.splice(load.waiters.indexOf(w), 1); resolve(); } };
      load.waiters.push(w);
      w();
    });
    const running = [];
    try {
      nodes = await startCluster({ nodes: 3, redis: [redis], args: ARGS });
      const [A, B, C] = nodes;
      const name = uniqueChannel('outage');
      const other = `${name}-other`;

      // an attached subscriber on B, reconnecting quickly
      const sub = scope.realtime(B, { key: B.key, label: 'B subscriber', disconnectedRetryTimeout: 500, suspendedRetryTimeout: 1000 });
      const subChanges = recordStateChanges(sub.connection);
      await waitForState(sub.connection, 'connected', { what: 'subscriber connection' });
      const subCh = sub.channels.get(name);
      const inbox = new Inbox();
      await withTimeout(inbox.subscribe(subCh), 10000, 'subscriber attach');
      // a realtime publisher on C with no channel attached; it must not queue while disconnected
      const pub = scope.realtime(C, { key: C.key, label: 'C publisher', queueMessages: false, disconnectedRetryTimeout: 500 });
      await waitForState(pub.connection, 'connected', { what: 'publisher connection' });
      const pubCh = pub.channels.get(name);
      assert.equal(typeof (await pubCh.publish('rt-before', 'x')).serials[0], 'string', 'realtime publish ACKed while Redis is up');

      // REST load on every node, both channels
      async function loader(srv, label) {
        for (let n = 0; !load.stop; n++) {
          const channel = n % 2 ? other : name;
          const id = `${label}-${n}`;
          const t0 = Date.now();
          load.inflight[label] = { id, since: t0 };
          let res;
          try {
            // eslint-disable-next-line no-await-in-loop
            res = await publishRaw(srv, channel, { id, name: id, data: 'x' }, { signal: AbortSignal.timeout(6000) });
          } catch (e) {
            load.unexpected.push(`${label} ${id} in phase ${load.phase}: ${e.name} ${e.cause?.code || e.message}`);
            return;
          }
          const ms = Date.now() - t0;
          load.inflight[label] = null;
          if (res.status === 201) {
            load.acked.push({ channel, id, serial: res.body.serials[0], phase: load.phase, label });
          } else if (res.status === 503 && res.body?.error?.code === 50005) {
            load.refusals.push({ label, id, ms, phase: load.phase, res });
            // eslint-disable-next-line no-await-in-loop
            await new Promise((r) => setTimeout(r, 20)); // a refused publisher retries at once: no event to wait for
          } else {
            load.unexpected.push(`${label} ${id} in phase ${load.phase}: HTTP ${res.status} ${res.raw.toString('utf8').slice(0, 200)}`);
            return;
          }
          notify();
        }
      }
      for (const [label, srv] of [['A', A], ['B', B], ['C', C]]) running.push(loader(srv, label));
      await withTimeout(when(() => load.acked.length >= 60), 15000, '60 acknowledged publishes before the outage');
      const ackedBefore = load.acked.length;

      // ---- Redis down
      load.phase = 'down';
      const downAt = Date.now();
      // listening first: the client may be reconnecting again by the time the pause returns
      const disconnected = nextEvent(sub.connection, 'disconnected', 10000, 'the attached subscriber going disconnected');
      await redis.pause();
      const discoChange = await disconnected;
      const discoMs = Date.now() - downAt;
      await withTimeout(when(() => ['A', 'B', 'C'].every((l) => load.refusals.some((r) => r.phase === 'down' && r.label === l))), 6000,
        'REST publishes refused on every node while Redis is down')
        .catch((e) => { throw new Error(`${e.message}; loaders: ${loadState()}`); });
      const t0 = Date.now();
      const refused = await publishRaw(A, name, { name: 'while-down' });
      const refusedMs = Date.now() - t0;
      assertAblyError(assert, refused, 503, 50005, 'raw REST publish on A while Redis is down');
      assert.ok(refusedMs < 2000, `refused in ${refusedMs} ms (the client's timeout is 10 s)`);
      const sdkErr = await rejection(B.rest({ binary: true }).channels.get(name).publish('while-down-sdk', 'x'), 8000, 'ably-js REST publish on B while down');
      assert.equal(sdkErr.code, 50005, `ably-js REST error ${sdkErr.code}/${sdkErr.statusCode}: ${sdkErr.message}`);
      assert.equal(sdkErr.statusCode, 503);
      assert.equal(pub.connection.state, 'connected', `the publisher without attached channels stays connected (${pub.connection.state})`);
      const nack = await rejection(pubCh.publish('rt-while-down', 'x'), 8000, 'realtime publish while Redis is down');
      assert.equal(nack.code, 50005, `realtime publish NACKed with ${nack.code}/${nack.statusCode}: ${nack.message}`);

      // ---- Redis back
      load.phase = 'back';
      const refusalsDown = load.refusals.filter((r) => r.phase === 'down');
      await redis.restart();
      const upAt = Date.now();
      await waitForState(sub.connection, 'connected', { timeoutMs: 20000, failOn: ['failed', 'closed'], what: 'the subscriber after the restart' });
      await waitForState(subCh, 'attached', { timeoutMs: 20000, what: 'the subscriber\'s channel after the restart' });
      await withTimeout(when(() => ['A', 'B', 'C'].every((l) => load.acked.some((a) => a.phase === 'back' && a.label === l))), 20000,
        'every node acknowledging REST publishes again')
        .catch((e) => { throw new Error(`${e.message}; loaders: ${loadState()}`); });
      const backMs = Date.now() - upAt;
      assert.equal(typeof (await pubCh.publish('rt-after', 'x')).serials[0], 'string', 'realtime publish ACKed after the restart');
      await withTimeout(when(() => load.acked.filter((a) => a.phase === 'back').length >= 60), 15000, '60 acknowledged publishes after the restart');
      load.stop = true;
      await Promise.all(running);
      const marker = await publishRaw(A, name, { name: 'marker-after' });
      assert.equal(marker.status, 201, `${marker.raw}`);
      await inbox.waitForName('marker-after', 10000);

      assert.deepEqual(load.unexpected, [], 'no publish ended in anything but 201 or 503/50005');
      assert.equal(load.refusals.filter((r) => r.phase === 'up').length, 0, 'nothing refused before the outage');
      const slow = refusalsDown.filter((r) => r.ms >= 2000);
      assert.deepEqual(slow.map((r) => `${r.label} ${r.ms} ms`), [], 'every refusal while down came within 2 s');
      for (const r of refusalsDown.slice(0, 3)) assertAblyError(assert, r.res, 503, 50005, `load publish ${r.id}`);
      assert.ok(subChanges.some((c) => c.current === 'disconnected'), `subscriber states: ${describeChanges(subChanges)}`);

      // history: every acknowledged publish (REST load, realtime) once, serials increasing
      const byChannel = await histories([C, A], [name, other]);
      assertAllAcked(byChannel, load.acked, 'after the outage');
      const hist = byChannel.get(name);
      const names = hist.map((m) => m.name);
      for (const n of ['rt-before', 'rt-after', 'marker-after']) assert.equal(names.filter((x) => x === n).length, 1, `${n} in history once`);
      for (const n of ['while-down', 'while-down-sdk', 'rt-while-down']) assert.ok(!names.includes(n), `refused ${n} is not in history`);
      assert.ok(ackedBefore > 0 && load.acked.length > ackedBefore);

      // the subscriber on B (attached before anything was published): every message of its channel, once, in history order
      const got = inbox.messages.map((m) => m.id);
      const dupIds = got.filter((id, i) => got.indexOf(id) !== i);
      assert.deepEqual(dupIds, [], 'the subscriber got no message twice');
      const ackedIds = new Set(load.acked.map((a) => a.id));
      const missed = hist.filter((m) => !got.includes(m.id));
      assert.deepEqual(missed.filter((m) => ackedIds.has(m.id)).map((m) => `${m.name} ${m.serial}`), [],
        `the subscriber missed no acknowledged message (states ${describeChanges(subChanges)})`);
      assert.deepEqual(missed.map((m) => `${m.name} ${m.serial}`), [],
        'the subscriber missed nothing history holds (not even a publish refused while it was being stored)');
      assert.deepEqual(got, hist.map((m) => m.id), 'the subscriber got them in history order');
      process.stderr.write(`[cluster_faults] disconnected after ${discoMs} ms; all nodes publishing ${backMs} ms after the restart; ` +
        `reason ${describeError(discoChange?.reason)}; ${refusalsDown.length} refusals while down (max ${Math.max(...refusalsDown.map((r) => r.ms))} ms)\n`);
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      load.stop = true;
      await Promise.allSettled(running);
      await scope.closeAll();
      await teardown(failure, () => stopCluster(nodes, failure ? { timeoutMs: 3000 } : undefined), () => redis.stop());
    }
  });
});

describe('publishes in flight when Redis goes away', () => {
  test('Redis killed (SIGKILL) amid 5 concurrent publishers per node: each in-flight publish is answered (201 or 503/50005) at once; every node serves again once Redis is back', async () => {
    const redis = await startRedis({ appendfsync: 'always' });
    let nodes = [];
    let failure = null;
    const state = { stop: false, inflight: new Map(), answers: [], unexpected: [] };
    const running = [];
    try {
      nodes = await startCluster({ nodes: 3, redis: [redis], args: ARGS });
      const name = uniqueChannel('inflight');
      const PER_NODE = 5;
      let acked = 0;
      let enough;
      const warm = new Promise((r) => { enough = r; });
      async function publisher(srv, label) {
        for (let n = 0; !state.stop; n++) {
          const id = `${label}-${n}`;
          state.inflight.set(id, Date.now());
          let res;
          try {
            // eslint-disable-next-line no-await-in-loop
            res = await publishRaw(srv, name, { id, data: 'x' }, { signal: AbortSignal.timeout(6000) });
          } catch (e) {
            state.unexpected.push(`${id}: ${e.name} after ${Date.now() - state.inflight.get(id)} ms`);
            state.inflight.delete(id);
            return;
          }
          state.inflight.delete(id);
          state.answers.push({ id, status: res.status, code: res.body?.error?.code });
          if (res.status === 201) { acked += 1; if (acked >= 150) enough(); continue; }
          if (res.status !== 503 || res.body?.error?.code !== 50005) {
            state.unexpected.push(`${id}: HTTP ${res.status} ${res.raw.toString('utf8').slice(0, 200)}`);
            return;
          }
          return; // refused: this publisher is done
        }
      }
      for (const [i, srv] of nodes.entries()) {
        for (let k = 0; k < PER_NODE; k++) running.push(publisher(srv, `n${i}.${k}`));
      }
      await withTimeout(warm, 15000, '150 acknowledged publishes');
      await redis.kill();
      // every publisher ends with an answer soon; none may hang
      const ended = await Promise.race([
        Promise.all(running).then(() => true),
        new Promise((r) => { setTimeout(() => r(false), 3000); }),
      ]);
      const stuck = [...state.inflight.entries()].map(([id, t0]) => `${id} (${Date.now() - t0} ms)`);
      assert.ok(ended, `every publish in flight when Redis died was answered within 3 s; still waiting: ${stuck.join(', ')}`);
      assert.deepEqual(state.unexpected, [], 'answers are 201 or 503/50005');
      await redis.restart();
      for (const [i, srv] of nodes.entries()) {
        // no event says when a node is back on Redis: poll, each try bounded
        await eventually(async () => {
          const res = await publishRaw(srv, name, { name: `back${i}` }, { signal: AbortSignal.timeout(2000) }).catch((e) => ({ status: e.name }));
          return res.status === 201;
        }, { timeoutMs: 10000, intervalMs: 100, what: `node ${i} publishing again after the Redis restart` });
        const h = await srv.request('GET', `/channels/${encodeURIComponent(name)}/messages?limit=1`, { signal: AbortSignal.timeout(2000) });
        assert.equal(h.status, 200, `node ${i} history after the restart`);
      }
    } catch (e) {
      failure = e;
      throw e;
    } finally {
      state.stop = true;
      await Promise.allSettled(running);
      await teardown(failure, () => stopCluster(nodes, failure ? { timeoutMs: 3000 } : undefined), () => redis.stop());
    }
  });
});

describe('Redis answering LOADING while it reads its data back', () => {
  test('a node that reconnects while Redis still loads its AOF loads its scripts again once Redis is ready: publishes work, no NOSCRIPT forever', async () => {
    const redis = await startRedis({ appendfsync: 'everysec' });
    let nodes = [];
    try {
      nodes = await startCluster({ nodes: 1, redis: [redis], args: ARGS });
      const [A] = nodes;
      // enough data that reading it back takes a while (LOADING meanwhile)
      await redis.command('EVAL', "for i = 1, 600000 do redis.call('SET', 'filler:' .. i, i) end return 1", '0');
      assert.equal((await publishRaw(A, uniqueChannel('loading'), { name: 'before' })).status, 201);
      await redis.restart();
      const name = uniqueChannel('loading');
      let last;
      await eventually(async () => {
        last = await publishRaw(A, name, { name: 'after' });
        return last.status === 201;
      }, { timeoutMs: 15000, what: 'a publish acknowledged after the restart' }).catch((e) => {
        throw new Error(`${e.message}; the last answer: ${last?.status} ${last?.raw}`);
      });
      assert.match(A.logs().stderr, /LOADING/, 'the node did reconnect while Redis was loading');
    } finally {
      await teardown(null, () => stopCluster(nodes), () => redis.stop());
    }
  });
});
