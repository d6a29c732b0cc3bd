// Occupancy across heraldd nodes sharing one Redis (the Redis engine):
// GET /channels/<name> and GET /channels count every node's attachments and
// members, not only those of the node answering.
//
// Two nodes A and B on one redis-server, the official ably-js SDK (JSON and
// msgpack clients, the REST status read both ways):
//  - attachments on A and B with different modes, and members entered on
//    both: the metrics on either node are the sums, mode by mode; a detach
//    on A, and a change of modes on A (setOptions re-attaching with
//    modes), show on B;
//  - a channel with only an attachment on A (no message, no member) is in
//    GET /channels on B, by id and by value, and leaves it after the detach;
//  - [meta]occupancy events on one node count the other node's attachments
//    as they come and go;
//  - A killed with SIGKILL: B stops counting A's attachments (and lists the
//    channel no more) once the survivors reaped A, within the node timeout,
//    and B's occupancy subscribers get an event saying so.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster_occupancy.test.mjs

import assert from 'node:assert/strict';
import { describe, uniqueChannel, eventually } from './lib/server.mjs';
import { Inbox, withTimeout } from './lib/realtime.mjs';
import { rtTest, useCluster, waitForState } from './lib/redis.mjs';

const NODE_TIMEOUT_MS = 1500;
const ARGS = ['--node-timeout-ms', String(NODE_TIMEOUT_MS), '--max-idle-interval-ms', '2000', '--occupancy-interval-ms', '200'];
const NONE = {
  connections: 0, publishers: 0, subscribers: 0, presenceConnections: 0, presenceSubscribers: 0,
  presenceMembers: 0, objectPublishers: 0, objectSubscribers: 0,
};

/** The occupancy metrics of `name` as `srv` reports them (raw GET, JSON). */
async function metrics(srv, name) {
  const res = await srv.request('GET', `/channels/${encodeURIComponent(name)}`);
  assert.equal(res.status, 200, `GET /channels/${name} on :${srv.port}: ${res.raw}`);
  return res.body.status.occupancy.metrics;
}

/** Waits until `srv` reports exactly `want` for `name`; returns the metrics. */
async function metricsBecome(srv, name, want, what) {
  let last;
  try {
    await eventually(async () => {
      last = await metrics(srv, name);
      return Object.entries(want).every(([k, v]) => last[k] === v);
    }, { timeoutMs: 10000, what });
  } catch (e) {
    assert.deepEqual(last, { ...last, ...want }, `${what} (:${srv.port})`);
    throw e;
  }
  return last;
}

/** Channel ids of GET /channels?prefix=… on `srv` (by=id). */
async function listed(srv, prefix) {
  const res = await srv.request('GET', `/channels?prefix=${encodeURIComponent(prefix)}&by=id`);
  assert.equal(res.status, 200, `GET /channels on :${srv.port}: ${res.raw}`);
  return res.body;
}

/** A connected ably-js Realtime client of `srv`. */
async function connected(scope, srv, opts = {}) {
  const c = scope.realtime(srv, { key: srv.key, ...opts });
  await waitForState(c.connection, 'connected', { what: `${opts.clientId || 'client'} connection (:${srv.port})` });
  return c;
}

async function attached(client, name, options) {
  const ch = options ? client.channels.get(name, options) : client.channels.get(name);
  await withTimeout(ch.attach(), 10000, `attach ${name}`);
  return ch;
}

describe('occupancy across two nodes', () => {
  let A;
  let B;
  useCluster({ nodes: 2, args: ARGS, ready: (nodes) => { [A, B] = nodes; } });

  rtTest('GET /channels/<name> on either node sums the attachments of both, mode by mode, and the members entered on both; a detach and a change of modes on A show on B', async (scope) => {
    const name = uniqueChannel('cocc');
    const alice = await connected(scope, A, { clientId: 'alice' });
    const reader = await connected(scope, A, { binary: true });
    const bob = await connected(scope, B, { clientId: 'bob', binary: true });
    const aliceCh = await attached(alice, name);
    const readerCh = await attached(reader, name, { modes: ['SUBSCRIBE'] });
    const bobCh = await attached(bob, name);
    await aliceCh.presence.enter('a');
    await bobCh.presence.enter('b');

    const all = {
      ...NONE, connections: 3, publishers: 2, subscribers: 3, presenceConnections: 2,
      presenceSubscribers: 2, presenceMembers: 2,
    };
    for (const srv of [A, B]) {
      // eslint-disable-next-line no-await-in-loop
      assert.deepEqual(await metricsBecome(srv, name, all, 'three attachments and two members'), all);
    }
    // the SDK's own call, over msgpack, reads the same
    const status = await B.rest({ binary: true }).channels.get(name).status();
    assert.equal(status.channelId, name);
    assert.deepEqual(status.status.occupancy.metrics, all, 'channel.status() over msgpack on B');

    await withTimeout(readerCh.detach(), 10000, 'detach of the subscribe-only attachment on A');
    await metricsBecome(B, name, { connections: 2, subscribers: 2, publishers: 2 }, 'after the detach on A');

    await withTimeout(aliceCh.setOptions({ modes: ['SUBSCRIBE', 'PRESENCE'] }), 10000, 'setOptions on A');
    const narrowed = await metricsBecome(B, name,
      { connections: 2, publishers: 1, subscribers: 2, presenceConnections: 2, presenceSubscribers: 1 },
      'after A re-attached with subscribe and presence');
    assert.equal(narrowed.presenceMembers, 2, 'the members stay');

    await aliceCh.presence.leave();
    await metricsBecome(B, name, { presenceMembers: 1 }, 'after alice left');
    alice.close();
    await metricsBecome(B, name, { connections: 1, publishers: 1, subscribers: 1 }, 'after alice closed');
  });

  rtTest('a channel whose only use is an attachment on A is in GET /channels on B (by id and by value) until the detach', async (scope) => {
    const prefix = `cocc-enum-${process.pid}-${Date.now()}-`;
    const name = `${prefix}quiet`;
    const client = await connected(scope, A);
    const ch = await attached(client, name);
    await eventually(async () => (await listed(B, prefix)).includes(name), { timeoutMs: 10000, what: `${name} listed on B` });
    assert.deepEqual(await listed(B, prefix), [name], 'listed once');
    const byValue = await B.request('GET', `/channels?prefix=${encodeURIComponent(prefix)}&by=value`);
    assert.equal(byValue.status, 200, byValue.raw);
    assert.deepEqual(byValue.body.map((d) => [d.channelId, d.status.occupancy.metrics.connections]), [[name, 1]],
      'by=value on B counts the attachment on A');
    await withTimeout(ch.detach(), 10000, 'detach on A');
    await eventually(async () => (await listed(B, prefix)).length === 0, { timeoutMs: 10000, what: `${name} no longer listed on B` });
  });
  rtTest('[meta]occupancy events on A count the attachments on B as they come and go', async (scope) => {
    const name = uniqueChannel('cocc-events');
    const watcher = await connected(scope, A, {});
    const inbox = new Inbox();
    await withTimeout(inbox.subscribe(watcher.channels.get(name, { params: { occupancy: 'metrics' } })), 10000, 'subscribe on A');
    const event = (connections) => inbox.waitUntil((ms) => ms.some((m) => m.name === '[meta]occupancy' && m.data.metrics.connections === connections),
      10000, `an event with ${connections} connections`);
    await event(1);
    const onB = await connected(scope, B, { binary: true, clientId: 'b' });
    const chB = await attached(onB, name);
    await event(2);
    await withTimeout(chB.presence.enter('b'), 10000, 'enter on B');
    await inbox.waitUntil((ms) => ms.some((m) => m.name === '[meta]occupancy' && m.data.metrics.presenceMembers === 1), 10000, 'the member on B');
    await withTimeout(chB.detach(), 10000, 'detach on B');
    await inbox.waitUntil((ms) => {
      const last = ms.filter((m) => m.name === '[meta]occupancy').at(-1);
      return last && last.data.metrics.connections === 1 && last.data.metrics.presenceMembers === 0;
    }, 10000, 'B gone: 1 connection, no member');
  });
});

describe('a node killed with SIGKILL', () => {
  let A;
  let B;
  const cluster = useCluster({ nodes: 2, args: ARGS, ready: (nodes) => { [A, B] = nodes; } });

  rtTest('B stops counting and listing its attachments once it was reaped', async (scope, t) => {
    const prefix = `cocc-kill-${process.pid}-${Date.now()}-`;
    const name = `${prefix}x`;
    const onA = await connected(scope, A);
    await attached(onA, name);
    await attached(await connected(scope, A), name, { modes: ['PUBLISH'] });
    const onB = await connected(scope, B, { binary: true });
    await attached(onB, name);
    await metricsBecome(B, name, { connections: 3, publishers: 3, subscribers: 2 }, 'two attachments on A, one on B');
    await eventually(async () => (await cluster.redis.command('ZCARD', 'h:nodes')) >= 2, { what: 'both nodes checked in' });

    const watcher = await connected(scope, B, {});
    const events = new Inbox();
    await withTimeout(events.subscribe(watcher.channels.get(name, { params: { occupancy: 'metrics' } })), 10000, 'occupancy subscriber on B');
    await events.waitUntil((ms) => ms.some((m) => m.name === '[meta]occupancy' && m.data.metrics.connections === 4), 10000, 'an event counting A');
    const t0 = Date.now();
    await A.stop({ signal: 'SIGKILL' });
    await metricsBecome(B, name, { connections: 2, publishers: 2, subscribers: 2 }, "A's attachments no longer counted");
    await events.waitUntil((ms) => ms.some((m) => m.name === '[meta]occupancy' && m.data.metrics.connections === 2), 10000, 'an event without A');
    t.diagnostic(`B stopped counting A's attachments ${Date.now() - t0} ms after the kill`);
    assert.deepEqual(await listed(B, prefix), [name], 'still listed: B has an attachment');
    onB.close();
    watcher.close();
    await eventually(async () => (await listed(B, prefix)).length === 0, { timeoutMs: 10000, what: 'no longer listed once B closed too' });
  });
});
