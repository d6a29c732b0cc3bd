// Realtime connections moving between heraldd nodes sharing one Redis (the
// Redis engine): a resume or recover that arrives at another node goes on
// with the same connection there.
//
// Three nodes A, B, C on one redis-server, the official ably-js SDK (JSON
// and msgpack) connected through a load balancer: a TCP proxy made here
// whose target can be switched (lib/tcp_proxy.mjs; switching destroys the
// piped connections). Every test moves a client from A to B, so it would
// fail if a connection could only be resumed on the node that made it:
//  - A killed with SIGKILL, the proxy switched to B: the client is
//    connected again with the same connectionId; what was published (REST,
//    on C) while it was away arrives once each, in order, then new
//    messages; its presence member stays, after the survivors reaped the
//    dead A (no LEAVE on C, REST presence on C lists it); the client is
//    back well within --node-timeout-ms;
//  - A alive, the proxy moved to B: the same, and A does not make the
//    member leave later (past --connection-state-ttl-ms and
//    --presence-grace-ms: no LEAVE on A or C, REST presence on A and C
//    list it);
//  - recover: a new client with the first one's recovery key, through the
//    proxy to B after A died, gets the same connectionId, then what was
//    published meanwhile (from its channelSerial) and its member stays;
//  - msgSerial continuity: publishes whose ACKs the proxy held back (A
//    stored them) and publishes it never forwarded, A killed, the client on
//    B: every publish resolves, each message is in history exactly once
//    with the id <connectionId>:<msgSerial>:0 of a serial that goes on
//    counting, and a subscriber gets each once, in order.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster_resume.test.mjs

import assert from 'node:assert/strict';
import { describe, uniqueChannel, eventually, sleep } from './lib/server.mjs';
import { PROTOCOLS, PresenceInbox, Inbox, withTimeout, recordStateChanges, describeChanges, handled } from './lib/realtime.mjs';
import { startSwitchProxy } from './lib/tcp_proxy.mjs';
import {
  rtTest, startRedis, startCluster, stopCluster, waitForState, historyAcross, publishRaw, assertIncreasing,
} from './lib/redis.mjs';

// A alive: short enough that the test can wait past what would make A
// end the connection (the state TTL) and its member leave (the grace).
const STATE_TTL_MS = 3000;
const GRACE_MS = 1000;
const MOVE_ARGS = [
  '--node-timeout-ms', '1500',
  '--connection-state-ttl-ms', String(STATE_TTL_MS),
  '--presence-grace-ms', String(GRACE_MS),
  '--max-idle-interval-ms', '2000',
];
// A killed: the client has to be back (on B) before the survivors take A
// for dead, and its state in Redis must still be there: room for a loaded
// machine (a node killed up to a third of the timeout after its last
// check-in is found silent that much sooner).
const NODE_TIMEOUT_MS = 2500;
const KILL_ARGS = [
  '--node-timeout-ms', String(NODE_TIMEOUT_MS),
  '--connection-state-ttl-ms', '5000',
  '--presence-grace-ms', String(GRACE_MS),
  '--max-idle-interval-ms', '2000',
];
const REAPED = /node \S+ was silent: its presence members left/;

/**
 * A fresh redis-server, nodes A, B, C on it (with `args`), and a proxy in front of A;
 * `fn({redis, A, B, C, proxy})`; everything stopped afterwards.
 */
async function withCluster(args, fn) {
  const redis = await startRedis();
  let nodes = [];
  let proxy = null;
  let failure = null;
  try {
    nodes = await startCluster({ nodes: 3, redis: [redis], args });
    const [A, B, C] = nodes;
    proxy = await startSwitchProxy(A.port);
    return await fn({ redis, A, B, C, proxy, nodes });
  } catch (e) {
    failure = e;
    throw e;
  } finally {
    try {
      if (proxy) await proxy.close();
      await stopCluster(nodes);
    } catch (e) {
      // a node that does not stop cleanly fails the test, without hiding why the test failed before
      if (!failure) throw e;
      failure.message += ` (and stopping the nodes: ${e.message})`;
    } finally {
      await redis.stop();
    }
  }
}

/** A connected ably-js client (direct to a node, or through a proxy). */
async function connected(scope, target, key, opts = {}) {
  const c = scope.realtime(target, { key, disconnectedRetryTimeout: 300, ...opts });
  await waitForState(c.connection, 'connected', { what: `${opts.label || opts.clientId || 'client'} connection (:${target.port})` });
  return c;
}

/** A client on `srv` subscribed to the presence of `name`. */
async function presenceObserver(scope, srv, name, label) {
  const client = await connected(scope, srv, srv.key, { label });
  const channel = client.channels.get(name);
  const inbox = new PresenceInbox();
  await withTimeout(inbox.subscribe(channel), 10000, `presence subscribe on :${srv.port}`);
  return { client, channel, inbox };
}

async function restPresence(srv, name) {
  const page = await srv.rest().channels.get(name).presence.get();
  assert.equal(page.hasNext(), false);
  return page.items;
}

/** REST publishes of `names` on `srv`, one after the other. */
async function publishNames(srv, channel, names) {
  for (const n of names) {
    // eslint-disable-next-line no-await-in-loop
    const res = await publishRaw(srv, channel, { name: n, data: `data of ${n}` });
    assert.equal(res.status, 201, `publish ${n}: ${res.raw}`);
  }
}

/** Every node checked in once (h:nodes), so that a dead one is noticed. */
async function checkedIn(redis, n = 3) {
  await eventually(async () => (await redis.command('ZCARD', 'h:nodes')) >= n, { what: `${n} nodes checked in` });
}

/** Waits until a survivor logged that it reaped the dead node's members. */
function reaped(survivors) {
  return eventually(() => survivors.some((s) => REAPED.test(s.logs().stderr + s.logs().stdout)),
    { timeoutMs: NODE_TIMEOUT_MS * 4 + 3000, what: 'a survivor reaped the dead node' });
}

/**
 * Every presence event that happened on `name` before now has reached
 * `inboxes`: a marker member enters through `srv` and each waits for it.
 */
async function presenceRoundTrip(scope, srv, name, inboxes, label) {
  const marker = await connected(scope, srv, srv.key, { clientId: label, label });
  await marker.channels.get(name).presence.enter('marker');
  for (const inbox of inboxes) {
    // eslint-disable-next-line no-await-in-loop
    await inbox.waitFor('enter', label);
  }
}

const range = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('a connection moving from node A to node B', () => {
  for (const proto of PROTOCOLS) {
    const binary = proto.binary;

    rtTest(`${proto.name}: A killed, the proxy switched to B: same connectionId, messages published meanwhile once each and in order, its member stays after A is reaped`, async (scope) => {
      await withCluster(KILL_ARGS, async ({ redis, A, B, C, proxy }) => {
        const name = uniqueChannel(`cres-kill-${proto.name}`);
        const obsC = await presenceObserver(scope, C, name, 'presence observer on C');
        const client = await connected(scope, proxy, A.key, { binary, clientId: 'rita', label: 'rita via proxy' });
        const id0 = client.connection.id;
        const channel = client.channels.get(name);
        const inbox = new Inbox();
        await withTimeout(inbox.subscribe(channel), 10000, 'subscribe via A');
        await channel.presence.enter('rita-data');
        await obsC.inbox.waitFor('enter', 'rita');
        const before = range('before', 3);
        await publishNames(C, name, before);
        await inbox.waitForCount(3);
        await checkedIn(redis);

        const changes = recordStateChanges(client.connection);
        const gone = handled(waitForState(client.connection, 'disconnected', { what: 'rita after the kill' }));
        await A.stop({ signal: 'SIGKILL' });
        proxy.dropAll(); // the balancer notices (the piped sockets may have ended already)
        await gone;
        const away = range('away', 5);
        await publishNames(C, name, away);
        proxy.switchTo(B.port);
        await waitForState(client.connection, 'connected', { what: 'rita on B', timeoutMs: 5000 });
        assert.equal(client.connection.id, id0, `the same connection on B (state changes: ${describeChanges(changes)})`);
        assert.equal(proxy.target, B.port);
        await waitForState(channel, 'attached', { what: 'the channel, again' });
        const after = range('after', 3);
        await publishNames(C, name, after);
        const expected = [...before, ...away, ...after];
        await inbox.waitUntil((ms) => ms.some((m) => m.name === after.at(-1)), 10000, 'the last message');
        assert.deepEqual(inbox.names(), expected, 'each message once, in order');
        const hist = (await historyAcross([B], name)).items;
        assert.deepEqual(inbox.messages.map((m) => m.id), hist.map((m) => m.id), 'the ids of history');

        // the survivors reap A: rita's member is B's now, so it stays
        await reaped([B, C]);
        await presenceRoundTrip(scope, C, name, [obsC.inbox], 'marker-c');
        assert.deepEqual(obsC.inbox.messages.filter((m) => m.clientId === 'rita' && m.action === 'leave'), [],
          `no LEAVE of rita on C (${obsC.inbox.summary()})`);
        const members = (await restPresence(C, name)).filter((m) => m.clientId === 'rita');
        assert.deepEqual(members.map((m) => [m.connectionId, m.data]), [[id0, 'rita-data']], 'REST presence on C lists rita');
        assert.equal(client.connection.state, 'connected');
        assert.equal(client.connection.id, id0);
      });
    });

    rtTest(`${proto.name}: A alive, the proxy moved to B: same connectionId, messages once each and in order; A never makes the member leave (past the state TTL and the presence grace)`, async (scope) => {
      await withCluster(MOVE_ARGS, async ({ A, B, C, proxy }) => {
        const name = uniqueChannel(`cres-move-${proto.name}`);
        const obsA = await presenceObserver(scope, A, name, 'presence observer on A');
        const obsC = await presenceObserver(scope, C, name, 'presence observer on C');
        const client = await connected(scope, proxy, A.key, { binary, clientId: 'milo', label: 'milo via proxy' });
        const id0 = client.connection.id;
        const channel = client.channels.get(name);
        const inbox = new Inbox();
        await withTimeout(inbox.subscribe(channel), 10000, 'subscribe via A');
        await channel.presence.enter('milo-data');
        await obsA.inbox.waitFor('enter', 'milo');
        await obsC.inbox.waitFor('enter', 'milo');
        const before = range('before', 3);
        await publishNames(C, name, before);
        await inbox.waitForCount(3);

        const changes = recordStateChanges(client.connection);
        const movedAt = Date.now();
        const accepted = proxy.accepted;
        proxy.switchTo(B.port);
        const during = range('during', 3);
        await publishNames(C, name, during);
        await eventually(() => changes.some((c) => c.current === 'disconnected') && client.connection.state === 'connected',
          { what: `milo disconnected and connected again (${describeChanges(changes)})` });
        assert.equal(client.connection.id, id0, `the same connection on B (state changes: ${describeChanges(changes)})`);
        assert.ok(proxy.accepted > accepted, 'it came back through the proxy, now to B');
        const after = range('after', 3);
        await publishNames(C, name, after);
        await inbox.waitUntil((ms) => ms.some((m) => m.name === after.at(-1)), 10000, 'the last message');
        assert.deepEqual(inbox.names(), [...before, ...during, ...after], 'each message once, in order');

        // a realtime publish from the moved connection works too
        await channel.publish('from-milo', 'x');
        await inbox.waitForName('from-milo');

        // past what would make A end the connection and its member leave
        const wait = Math.max(STATE_TTL_MS, GRACE_MS) + 1500 - (Date.now() - movedAt);
        if (wait > 0) await sleep(wait);
        await presenceRoundTrip(scope, C, name, [obsA.inbox, obsC.inbox], 'marker-c');
        for (const [where, obs] of [['A', obsA], ['C', obsC]]) {
          assert.deepEqual(obs.inbox.messages.filter((m) => m.clientId === 'milo' && m.action === 'leave'), [],
            `no LEAVE of milo on ${where} (${obs.inbox.summary()})`);
        }
        for (const [where, srv] of [['A', A], ['C', C]]) {
          // eslint-disable-next-line no-await-in-loop
          const members = (await restPresence(srv, name)).filter((m) => m.clientId === 'milo');
          assert.deepEqual(members.map((m) => [m.connectionId, m.data]), [[id0, 'milo-data']], `REST presence on ${where} lists milo`);
        }
        assert.equal(client.connection.state, 'connected');
        assert.equal(client.connection.id, id0, `still the same connection (${describeChanges(changes)})`);
        assert.equal(changes.filter((c) => c.current === 'connected').length, 1, `connected once since the move (${describeChanges(changes)})`);
      });
    });
  }

  rtTest('recover: after A died, a new client with the recovery key, through the proxy to B, gets the same connectionId, the messages it missed, and its member stays', async (scope) => {
    await withCluster(KILL_ARGS, async ({ redis, A, B, C, proxy }) => {
      const name = uniqueChannel('cres-recover');
      const obsC = await presenceObserver(scope, C, name, 'presence observer on C');
      const first = await connected(scope, proxy, A.key, { clientId: 'remy', label: 'remy via proxy (first)' });
      const id0 = first.connection.id;
      const channel = first.channels.get(name);
      const inbox = new Inbox();
      await withTimeout(inbox.subscribe(channel), 10000, 'subscribe via A');
      await channel.presence.enter('remy-data');
      await obsC.inbox.waitFor('enter', 'remy');
      const before = range('before', 3);
      await publishNames(C, name, before);
      await inbox.waitForCount(3);
      await checkedIn(redis);
      const recoveryKey = first.connection.createRecoveryKey();
      assert.ok(recoveryKey, 'a recovery key');

      // A dies; the first client can only try A again (its own proxy stays on A)
      const gone = handled(waitForState(first.connection, 'disconnected', { what: 'first client after the kill' }));
      await A.stop({ signal: 'SIGKILL' });
      proxy.dropAll();
      await gone;
      const gap = range('gap', 4);
      await publishNames(C, name, gap);

      const proxyB = await startSwitchProxy(B.port);
      try {
        const second = await connected(scope, proxyB, B.key, { clientId: 'remy', recover: recoveryKey, label: 'remy via proxy to B (recovered)' });
        assert.equal(second.connection.id, id0, `recovered on B: the same connectionId (errorReason ${second.connection.errorReason && second.connection.errorReason.message})`);
        assert.equal(second.connection.errorReason, null, 'recovered without an error');
        const ch2 = second.channels.get(name);
        const inbox2 = new Inbox();
        await withTimeout(inbox2.subscribe(ch2), 10000, 'subscribe on B after the recover');
        const after = range('after', 2);
        await publishNames(C, name, after);
        await inbox2.waitUntil((ms) => ms.some((m) => m.name === after.at(-1)), 10000, 'the last message after the recover');
        assert.deepEqual(inbox2.names(), [...gap, ...after], 'from its channelSerial: the missed messages once each, in order, then new ones');

        await reaped([B, C]);
        await presenceRoundTrip(scope, C, name, [obsC.inbox], 'marker-c');
        assert.deepEqual(obsC.inbox.messages.filter((m) => m.clientId === 'remy' && m.action === 'leave'), [],
          `no LEAVE of remy on C (${obsC.inbox.summary()})`);
        const members = (await restPresence(C, name)).filter((m) => m.clientId === 'remy');
        assert.deepEqual(members.map((m) => [m.connectionId, m.data]), [[id0, 'remy-data']], 'REST presence on C lists remy');
        assert.equal(second.connection.id, id0);
      } finally {
        await proxyB.close();
      }
    });
  });

  for (const proto of PROTOCOLS) {
    rtTest(`${proto.name}: msgSerial continuity: publishes whose ACKs were held back and publishes never forwarded, A killed, resumed on B: every publish resolves, each once in history with ids of consecutive msgSerials`, async (scope) => {
      await withCluster(KILL_ARGS, async ({ A, B, C, proxy }) => {
        const name = uniqueChannel(`cres-serial-${proto.name}`);
        const sub = await connected(scope, C, C.key, { binary: proto.binary, label: 'subscriber on C' });
        const subInbox = new Inbox();
        await withTimeout(subInbox.subscribe(sub.channels.get(name)), 10000, 'subscribe on C');
        const client = await connected(scope, proxy, A.key, { binary: proto.binary, label: 'publisher via proxy' });
        const id0 = client.connection.id;
        const channel = client.channels.get(name);
        await withTimeout(channel.attach(), 10000, 'attach via A');
        await withTimeout(channel.publish('warm', 'w'), 5000, 'first publish');

        // stored on A, ACKs never delivered
        proxy.hold({ down: true });
        const stored = range('stored', 3);
        const settled = [];
        const track = (n) => {
          const p = channel.publish(n, `data of ${n}`);
          settled.push(handled(p.then(() => ({ n, ok: true }), (e) => ({ n, ok: false, error: `${e.code}: ${e.message}` }))));
        };
        stored.forEach(track);
        await eventually(async () => (await historyAcross([C], name)).items.length === 1 + stored.length,
          { what: 'A stored the held-back publishes' });
        // never forwarded to A
        proxy.hold({ down: true, up: true });
        const unsent = range('unsent', 2);
        unsent.forEach(track);
        await sleep(100); // let the client write them (to the held socket)
        assert.equal(client.connection.state, 'connected', 'no ACK came and the client still waits');

        await A.stop({ signal: 'SIGKILL' });
        const inHistory = (await historyAcross([C], name)).items.map((m) => m.name);
        assert.deepEqual(inHistory, ['warm', ...stored], 'A had stored the first batch, not the second');
        const changes = recordStateChanges(client.connection);
        proxy.switchTo(B.port);
        const results = await withTimeout(Promise.all(settled), 10000, 'every held publish settles after the resume on B');
        assert.deepEqual(results.filter((r) => !r.ok), [], 'every held publish resolved');
        assert.equal(client.connection.id, id0, `resumed on B with the same connection (${describeChanges(changes)})`);
        const fresh = range('fresh', 2);
        for (const n of fresh) await withTimeout(channel.publish(n, `data of ${n}`), 5000, `publish ${n} on B`);

        const expected = ['warm', ...stored, ...unsent, ...fresh];
        for (const [where, srv] of [['B', B], ['C', C]]) {
          // eslint-disable-next-line no-await-in-loop
          const items = (await historyAcross([srv], name)).items;
          assert.deepEqual(items.map((m) => m.name), expected, `history on ${where}: each publish once, in order`);
          assert.deepEqual(items.map((m) => m.id), expected.map((_, k) => `${id0}:${k}:0`), `history ids on ${where}: consecutive msgSerials of one connection`);
          assertIncreasing(assert, items.map((m) => m.serial), `history serials on ${where}`);
        }
        await subInbox.waitUntil((ms) => ms.some((m) => m.name === fresh.at(-1)), 10000, 'the subscriber gets the last publish');
        assert.deepEqual(subInbox.names(), expected, 'the subscriber on C got each message once, in order');
      });
    });
  }
});
