// Presence across heraldd nodes sharing one Redis (the Redis engine): the
// members of a channel live in Redis, not in the node their connection is on.
//
// Three nodes A, B, C on one redis-server, the official ably-js SDK over
// JSON and msgpack. Every test enters members on one node and looks from
// the others, so it would fail if members were kept per node:
//  - members entered on A are in the SYNC of a client attaching on B
//    (presence.get(), syncComplete) and in REST presence on C; enter,
//    update and leave published on A reach presence subscribers on B and C
//    once each, in order, with the same ids, and REST presence history on
//    every node holds them in that order;
//  - the ATTACHED on B of a channel whose members are all on A carries
//    HAS_PRESENCE and a SYNC that lists them (raw protocol), and one of a
//    channel without members does not;
//  - A killed with SIGKILL: within --node-timeout-ms (plus the third of it
//    the survivors check in at) subscribers on B and C get a LEAVE for each
//    of A's members, on every channel, with the member's connectionId and
//    last data; REST presence on B and C no longer lists them and presence
//    history records the LEAVEs; a member on B stays, without a LEAVE.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster_presence.test.mjs

import assert from 'node:assert/strict';
import { describe, uniqueChannel, eventually } from './lib/server.mjs';
import { PROTOCOLS, PresenceInbox, withTimeout, rawRealtime } from './lib/realtime.mjs';
import { test, rtTest, startCluster, useCluster, waitForState } from './lib/redis.mjs';

const NODE_TIMEOUT_MS = 1500;
const ARGS = [
  '--node-timeout-ms', String(NODE_TIMEOUT_MS),
  '--max-idle-interval-ms', '2000',
  '--presence-grace-ms', '15000', // a LEAVE sooner than this is the dead node's reaping
];
const HAS_PRESENCE = 1;

const byClient = (a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0);
const brief = (m) => ({ action: m.action, clientId: m.clientId, connectionId: m.connectionId, data: m.data });

/** A connected ably-js Realtime client of `srv`. */
async function connected(scope, srv, opts = {}) {
  const c = scope.realtime(srv, { key: srv.key, ...opts });
  await waitForState(c.connection, 'connected', { what: `${opts.label || opts.clientId || 'client'} connection (:${srv.port})` });
  return c;
}

/** A client on `srv` subscribed to the presence of `name`. */
async function observer(scope, srv, name, opts = {}) {
  const client = await connected(scope, srv, opts);
  const channel = client.channels.get(name);
  const inbox = new PresenceInbox();
  await withTimeout(inbox.subscribe(channel), 10000, `presence subscribe ${name} on :${srv.port}`);
  return { client, channel, inbox };
}

/** Every item of an ably-js paginated query. */
async function allPages(first) {
  const items = [];
  let page = await first;
  for (let n = 0; page; n++) {
    assert.ok(n < 100, 'pagination ends');
    items.push(...page.items);
    // eslint-disable-next-line no-await-in-loop
    page = page.hasNext() ? await page.next() : null;
  }
  return items;
}

const restPresence = (srv, name, binary) => allPages(srv.rest({ binary }).channels.get(name).presence.get());
const restPresenceHistory = (srv, name, binary) => allPages(srv.rest({ binary }).channels.get(name).presence.history({ direction: 'forwards' }));

describe('presence across three nodes', () => {
  let A;
  let B;
  let C;
  useCluster({ nodes: 3, args: ARGS, ready: (nodes) => { [A, B, C] = nodes; } });

  for (const proto of PROTOCOLS) {
    const binary = proto.binary;
    rtTest(`${proto.name}: enter, update and leave on A reach subscribers on B and C; SYNC on B and REST presence on C list A's members; presence history on every node`, async (scope) => {
      const name = uniqueChannel(`cpres-${proto.name}`);
      const obsB = await observer(scope, B, name, { binary, label: 'observer on B' });
      const obsC = await observer(scope, C, name, { binary, label: 'observer on C' });
      const alice = await connected(scope, A, { binary, clientId: 'alice' });
      const bob = await connected(scope, A, { binary, clientId: 'bob' });
      const aliceCh = alice.channels.get(name);
      const bobCh = bob.channels.get(name);

      await aliceCh.presence.enter({ mood: 'happy' });
      await bobCh.presence.enter('bob-data');
      for (const [where, obs] of [['B', obsB], ['C', obsC]]) {
        const ea = await obs.inbox.waitFor('enter', 'alice');
        const eb = await obs.inbox.waitFor('enter', 'bob');
        assert.equal(ea.connectionId, alice.connection.id, `ENTER of alice on ${where}: connectionId`);
        assert.deepEqual(ea.data, { mood: 'happy' }, `ENTER of alice on ${where}: data`);
        assert.match(ea.id, new RegExp(`^${alice.connection.id}:\\d+:0$`), `ENTER id on ${where}`);
        assert.equal(eb.connectionId, bob.connection.id, `ENTER of bob on ${where}: connectionId`);
        assert.equal(eb.data, 'bob-data');
      }
      assert.equal((await obsB.inbox.waitFor('enter', 'alice')).id, (await obsC.inbox.waitFor('enter', 'alice')).id,
        'B and C deliver the same ENTER');

      // a client attaching on B now: the members come with the SYNC
      const late = await connected(scope, B, { binary, label: 'late on B' });
      const lateCh = late.channels.get(name);
      await withTimeout(lateCh.attach(), 10000, `attach ${name} on B`);
      const synced = await withTimeout(lateCh.presence.get(), 10000, 'presence.get() on B');
      assert.equal(lateCh.presence.syncComplete, true, 'the SYNC on B completed');
      assert.deepEqual(synced.map(brief).sort(byClient), [
        { action: 'present', clientId: 'alice', connectionId: alice.connection.id, data: { mood: 'happy' } },
        { action: 'present', clientId: 'bob', connectionId: bob.connection.id, data: 'bob-data' },
      ], 'presence.get() on B lists the members entered on A');

      const onC = await restPresence(C, name, binary);
      assert.deepEqual(onC.map(brief).sort(byClient), [
        { action: 'present', clientId: 'alice', connectionId: alice.connection.id, data: { mood: 'happy' } },
        { action: 'present', clientId: 'bob', connectionId: bob.connection.id, data: 'bob-data' },
      ], 'REST presence on C lists the members entered on A');

      await aliceCh.presence.update('busy');
      for (const obs of [obsB, obsC]) assert.equal((await obs.inbox.waitFor('update', 'alice')).data, 'busy');
      const afterUpdate = await restPresence(C, name, binary);
      assert.deepEqual(afterUpdate.filter((m) => m.clientId === 'alice').map((m) => m.data), ['busy'],
        'REST presence on C has the updated data');

      await aliceCh.presence.leave();
      for (const obs of [obsB, obsC]) {
        const leave = await obs.inbox.waitFor('leave', 'alice');
        assert.equal(leave.connectionId, alice.connection.id);
        assert.equal(leave.data, 'busy', 'a LEAVE carries the last data');
      }
      assert.deepEqual((await restPresence(C, name, binary)).map((m) => m.clientId), ['bob'], 'REST presence on C after the leave');
      await eventually(async () => {
        const now = await lateCh.presence.get();
        return now.length === 1 && now[0].clientId === 'bob';
      }, { what: 'presence.get() on B lists bob alone after alice left' });

      // subscribers on B and C saw the same changes, in the same order, as presence history on every node
      const expected = [['enter', 'alice'], ['enter', 'bob'], ['update', 'alice'], ['leave', 'alice']];
      const seen = obsB.inbox.changes();
      assert.deepEqual(seen.map((m) => [m.action, m.clientId]), expected, `changes seen on B: ${obsB.inbox.summary()}`);
      assert.deepEqual(obsC.inbox.changes().map((m) => m.id), seen.map((m) => m.id), 'C saw the same events as B, in order');
      for (const [where, srv] of [['A', A], ['B', B], ['C', C]]) {
        const hist = await restPresenceHistory(srv, name, binary);
        assert.deepEqual(hist.map((m) => [m.action, m.clientId]), expected, `presence history on ${where}`);
        assert.deepEqual(hist.map((m) => m.id), seen.map((m) => m.id), `presence history ids on ${where}`);
        assert.deepEqual(hist.map((m) => m.data), [{ mood: 'happy' }, 'bob-data', 'busy', 'busy'], `presence history data on ${where}`);
      }
    });
  }

  test('the ATTACHED on B of a channel whose members are on A has HAS_PRESENCE, and its SYNC lists them; a channel without members has no flag', async (t) => {
    const name = uniqueChannel('cpres-flag');
    const empty = uniqueChannel('cpres-empty');
    const scopeClients = [];
    t.after(() => scopeClients.forEach((c) => c.close()));
    const member = rawRealtime(A.port, { key: A.key, clientId: 'carol' });
    scopeClients.push(member);
    await member.next((pm) => pm.action === 4, 5000, 'CONNECTED on A');
    member.send({ action: 10, channel: name });
    await member.next((pm) => pm.action === 11 && pm.channel === name, 5000, 'ATTACHED on A');
    member.send({ action: 14, channel: name, msgSerial: 0, presence: [{ action: 2, data: 'carol-data' }] });
    const ack = await member.next((pm) => (pm.action === 1 || pm.action === 2) && pm.msgSerial === 0, 5000, 'ACK of the ENTER');
    assert.equal(ack.action, 1, `the ENTER is ACKed: ${JSON.stringify(ack)}`);

    const look = rawRealtime(B.port, { key: B.key });
    scopeClients.push(look);
    await look.next((pm) => pm.action === 4, 5000, 'CONNECTED on B');
    look.send({ action: 10, channel: name });
    const attached = await look.next((pm) => pm.action === 11 && pm.channel === name, 5000, 'ATTACHED on B');
    assert.ok(attached.flags & HAS_PRESENCE, `ATTACHED on B has HAS_PRESENCE (flags ${attached.flags})`);
    const sync = await look.next((pm) => pm.action === 16 && pm.channel === name, 5000, 'SYNC on B');
    assert.deepEqual((sync.presence || []).map((m) => [m.clientId, m.data, m.connectionId]),
      [['carol', 'carol-data', member.frames.find((pm) => pm.action === 4).connectionId]], 'the SYNC on B lists the member on A');

    look.send({ action: 10, channel: empty });
    const emptyAttached = await look.next((pm) => pm.action === 11 && pm.channel === empty, 5000, 'ATTACHED on B (empty channel)');
    assert.equal(emptyAttached.flags & HAS_PRESENCE, 0, `no members anywhere: no HAS_PRESENCE (flags ${emptyAttached.flags})`);
  });

  test('the SYNC after a resume on B has another sync id than the one on A (RTP18a: a SYNC with the id of the sync in progress continues it)', async (t) => {
    // The SYNC the client had from A may have been cut off mid-sequence by
    // the move; ably-js 2.28 takes a SYNC whose id (channelSerial before
    // the ':') is the one in progress for more of it, not a new sync, and
    // would keep members that left meanwhile (docs/sdk-compatibility.md).
    const name = uniqueChannel('cpres-syncid');
    const clients = [];
    t.after(() => clients.forEach((c) => c.close()));
    const member = rawRealtime(A.port, { key: A.key, clientId: 'dave' });
    clients.push(member);
    await member.next((pm) => pm.action === 4, 5000, 'CONNECTED of the member on A');
    member.send({ action: 10, channel: name });
    await member.next((pm) => pm.action === 11 && pm.channel === name, 5000, 'ATTACHED of the member on A');
    member.send({ action: 14, channel: name, msgSerial: 0, presence: [{ action: 2, data: 'dave-data' }] });
    const ack = await member.next((pm) => (pm.action === 1 || pm.action === 2) && pm.msgSerial === 0, 5000, 'ACK of the ENTER');
    assert.equal(ack.action, 1, `the ENTER is ACKed: ${JSON.stringify(ack)}`);

    const onA = rawRealtime(A.port, { key: A.key });
    clients.push(onA);
    const connected = await onA.next((pm) => pm.action === 4, 5000, 'CONNECTED on A');
    onA.send({ action: 10, channel: name });
    const attached = await onA.next((pm) => pm.action === 11 && pm.channel === name, 5000, 'ATTACHED on A');
    const syncA = await onA.next((pm) => pm.action === 16 && pm.channel === name, 5000, 'SYNC on A');
    const idA = /^([\w-]+):/.exec(syncA.channelSerial)?.[1];
    assert.ok(idA, `the SYNC on A has a channelSerial <syncId>:<cursor>: ${syncA.channelSerial}`);
    onA.close();
    await onA.closed;

    const onB = rawRealtime(B.port, { key: B.key, resume: connected.connectionKey });
    clients.push(onB);
    const resumed = await onB.next((pm) => pm.action === 4, 10000, 'CONNECTED on B');
    assert.equal(resumed.connectionId, connected.connectionId, `resumed on B: ${JSON.stringify(resumed.error)}`);
    onB.send({ action: 10, channel: name, channelSerial: attached.channelSerial });
    const reattached = await onB.next((pm) => pm.action === 11 && pm.channel === name, 5000, 'ATTACHED on B');
    assert.ok(reattached.flags & HAS_PRESENCE, `ATTACHED on B has HAS_PRESENCE (flags ${reattached.flags})`);
    const syncB = await onB.next((pm) => pm.action === 16 && pm.channel === name, 5000, 'SYNC on B');
    assert.deepEqual((syncB.presence || []).map((m) => m.clientId), ['dave'], 'the SYNC on B lists the member');
    const idB = /^([\w-]+):/.exec(syncB.channelSerial)?.[1];
    assert.ok(idB, `the SYNC on B has a channelSerial <syncId>:<cursor>: ${syncB.channelSerial}`);
    assert.notEqual(idB, idA, 'a new sync sequence, a new sync id');
  });
});

describe('a node killed with SIGKILL', () => {
  let A;
  let B;
  let C;
  const cluster = useCluster({ nodes: 3, args: ARGS, ready: (nodes) => { [A, B, C] = nodes; } });
  // the bound on how soon a dead node's members leave: detection (the
  // survivors check in each third of the timeout), plus the work after it
  const DEADLINE_MS = NODE_TIMEOUT_MS + NODE_TIMEOUT_MS / 3 + 1500;

  rtTest('its members leave within --node-timeout-ms: LEAVEs on B and C (JSON and msgpack), gone from REST presence, recorded in presence history; members on B stay', async (scope, t) => {
    const one = uniqueChannel('cpres-kill-1');
    const two = uniqueChannel('cpres-kill-2');
    const observers = [];
    for (const [srv, where, binary] of [[B, 'B', false], [C, 'C', true]]) {
      for (const name of [one, two]) {
        // eslint-disable-next-line no-await-in-loop
        observers.push({ where, name, ...await observer(scope, srv, name, { binary, label: `observer of ${name} on ${where}` }) });
      }
    }
    const alice = await connected(scope, A, { clientId: 'alice', label: 'alice on A' });
    const bob = await connected(scope, A, { clientId: 'bob', binary: true, label: 'bob on A' });
    const carol = await connected(scope, B, { clientId: 'carol', label: 'carol on B' });
    await alice.channels.get(one).presence.enter('alice-1');
    await alice.channels.get(one).presence.update('alice-1b');
    await alice.channels.get(two).presence.enter('alice-2');
    await bob.channels.get(one).presence.enter({ bob: 1 });
    await carol.channels.get(one).presence.enter('carol-1');
    const members = { [one]: ['alice', 'bob'], [two]: ['alice'] };
    for (const o of observers) {
      // eslint-disable-next-line no-await-in-loop
      for (const id of members[o.name]) await o.inbox.waitFor('enter', id);
    }
    assert.deepEqual((await restPresence(C, one, false)).map((m) => m.clientId).sort(), ['alice', 'bob', 'carol']);
    const ids = { alice: alice.connection.id, bob: bob.connection.id };
    const lastData = { [one]: { alice: 'alice-1b', bob: { bob: 1 } }, [two]: { alice: 'alice-2' } };
    // A has checked in (h:nodes, each third of the node timeout) at least
    // once: the test below covers a node killed before that
    await eventually(async () => (await cluster.redis.command('ZCARD', 'h:nodes')) >= 3, { what: 'the three nodes checked in' });

    const t0 = Date.now();
    await A.stop({ signal: 'SIGKILL' });
    await Promise.all(observers.flatMap((o) => members[o.name].map(async (id) => {
      const leave = await o.inbox.waitFor('leave', id, DEADLINE_MS + 5000);
      assert.equal(leave.connectionId, ids[id], `LEAVE of ${id} on ${o.where} (${o.name}): connectionId`);
      assert.deepEqual(leave.data, lastData[o.name][id], `LEAVE of ${id} on ${o.where} (${o.name}): last data`);
    })));
    const took = Date.now() - t0;
    t.diagnostic(`A's members left ${took} ms after the kill`);
    assert.ok(took <= DEADLINE_MS, `the dead node's members left ${took} ms after the kill (node timeout ${NODE_TIMEOUT_MS} ms, bound ${DEADLINE_MS} ms)`);

    // each LEAVE once; carol, on a live node, never left
    for (const o of observers) {
      const leaves = o.inbox.messages.filter((m) => m.action === 'leave');
      assert.deepEqual(leaves.map((m) => m.clientId).sort(), members[o.name],
        `LEAVEs on ${o.where} (${o.name}): one per member of A (${o.inbox.summary()})`);
    }
    for (const [where, srv] of [['B', B], ['C', C]]) {
      // eslint-disable-next-line no-await-in-loop
      const left1 = await restPresence(srv, one, where === 'C');
      assert.deepEqual(left1.map(brief), [{ action: 'present', clientId: 'carol', connectionId: carol.connection.id, data: 'carol-1' }],
        `REST presence of ${one} on ${where}: carol alone`);
      // eslint-disable-next-line no-await-in-loop
      assert.deepEqual(await restPresence(srv, two, where === 'C'), [], `REST presence of ${two} on ${where}: nobody`);
    }
    const fresh = await connected(scope, C, { binary: true, label: 'fresh on C' });
    const got = await withTimeout(fresh.channels.get(one).presence.get(), 10000, 'presence.get() on C');
    assert.deepEqual(got.map((m) => m.clientId), ['carol'], 'a client attaching on C now: carol alone');

    // presence history records the LEAVEs, after the ENTERs, on both survivors
    for (const [where, srv] of [['B', B], ['C', C]]) {
      // eslint-disable-next-line no-await-in-loop
      const h1 = await restPresenceHistory(srv, one, false);
      assert.deepEqual(h1.slice(0, 4).map((m) => `${m.action}:${m.clientId}`),
        ['enter:alice', 'update:alice', 'enter:bob', 'enter:carol'], `presence history of ${one} on ${where}: the entries`);
      const leaves = h1.slice(4);
      assert.deepEqual(leaves.map((m) => `${m.action}:${m.clientId}`).sort(), ['leave:alice', 'leave:bob'],
        `presence history of ${one} on ${where}: then A's members leaving, nothing else`);
      for (const m of leaves) {
        assert.equal(m.connectionId, ids[m.clientId]);
        assert.deepEqual(m.data, lastData[one][m.clientId]);
      }
      // eslint-disable-next-line no-await-in-loop
      const h2 = await restPresenceHistory(srv, two, true);
      assert.deepEqual(h2.map((m) => `${m.action}:${m.clientId}:${JSON.stringify(m.data)}`),
        ['enter:alice:"alice-2"', 'leave:alice:"alice-2"'], `presence history of ${two} on ${where}`);
    }
    const reaped = [B, C].some((srv) => /node \S+ was silent: its presence members left/.test(srv.logs().stderr + srv.logs().stdout));
    assert.ok(reaped, 'a survivor logged the reaping of the silent node');
  });

  rtTest('a node killed right after it started (before its first check-in): its members leave too', async (scope) => {
    const name = uniqueChannel('cpres-kill-early');
    const obs = await observer(scope, B, name, { label: 'observer on B' });
    const [D] = await startCluster({ nodes: 1, redis: [cluster.redis], args: ARGS });
    cluster.nodes.push(D);
    const dave = await connected(scope, D, { clientId: 'dave', label: 'dave on D' });
    await dave.channels.get(name).presence.enter('dave-data');
    await obs.inbox.waitFor('enter', 'dave');
    const t0 = Date.now();
    await D.stop({ signal: 'SIGKILL' });
    const leave = await obs.inbox.waitFor('leave', 'dave', DEADLINE_MS + 2000);
    assert.equal(leave.connectionId, dave.connection.id);
    const took = Date.now() - t0;
    assert.ok(took <= DEADLINE_MS, `D's member left ${took} ms after the kill (bound ${DEADLINE_MS} ms)`);
    assert.deepEqual(await restPresence(C, name, false), [], 'REST presence on C: nobody');
  });
});
