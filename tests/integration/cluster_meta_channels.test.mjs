// Metachannels across heraldd nodes sharing one Redis (the Redis engine):
// their events are publishes through the shared engine, so every node's
// subscribers get every node's events, and a channel opens and closes once
// for the cluster, not once per node.
//
// Two nodes A and B, ably-js (JSON and msgpack):
//  - [meta]channel.lifecycle: an attach on A gives channel.opened to
//    subscribers on B (and A); a second attachment, on B, opens nothing;
//    A's detach closes nothing while B's attachment stays; B's detach gives
//    channel.closed: each once, on both nodes;
//  - [meta]connection.lifecycle: a connection made on A is announced to a
//    subscriber on B, and its close too.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster_meta_channels.test.mjs

import assert from 'node:assert/strict';
import { describe, uniqueChannel, eventually } from './lib/server.mjs';
import { Inbox, PROTOCOLS, withTimeout } from './lib/realtime.mjs';
import { rtTest, useCluster } from './lib/redis.mjs';

const ROOT = 'metaapp.root:secretroot';
const CONFIG = { apps: [{ id: 'metaapp', keys: [{ key: ROOT, capability: { '*': ['*'], '[meta]*': ['*'] } }] }] };

/** A client of `srv` subscribed to metachannel `name`, with its inbox. */
async function watcher(scope, srv, name, binary) {
  const client = await scope.connected(srv, { key: ROOT, binary });
  const inbox = new Inbox();
  await withTimeout(inbox.subscribe(client.channels.get(name)), 10000, `subscribe ${name} (:${srv.port})`);
  return inbox;
}

/** Waits for the message named `event` whose data satisfies pred. */
async function eventWhere(inbox, event, pred, what) {
  const match = (m) => m.name === event && pred(m.data);
  await inbox.waitUntil((ms) => ms.some(match), 10000, what);
  return inbox.messages.find(match);
}

/** Waits until `srv` counts `want` attachments of `name` (GET /channels/<name>). */
async function connectionsBecome(srv, name, want) {
  await eventually(async () => {
    const res = await srv.request('GET', `/channels/${encodeURIComponent(name)}`, { key: ROOT });
    return res.status === 200 && res.body.status.occupancy.metrics.connections === want;
  }, { timeoutMs: 10000, what: `${want} connections on ${name} (:${srv.port})` });
}

describe('metachannels across two nodes', () => {
  let A;
  let B;
  useCluster({ nodes: 2, config: CONFIG, ready: (nodes) => { [A, B] = nodes; } });

  for (const { name: proto, binary } of PROTOCOLS) {
    rtTest(`${proto}: an attach on A opens the channel for subscribers on B and A; it closes once the last attachment, on B, leaves; once each`, async (scope) => {
      const onB = await watcher(scope, B, '[meta]channel.lifecycle', binary);
      const onA = await watcher(scope, A, '[meta]channel.lifecycle', binary);
      const name = uniqueChannel(`cluster-life-${proto}`);
      const clientA = await scope.connected(A, { key: ROOT, binary });
      const clientB = await scope.connected(B, { key: ROOT, binary });

      await clientA.channels.get(name).attach();
      const opened = await eventWhere(onB, 'channel.opened', (d) => d?.channelId === name, 'channel.opened on B');
      assert.equal(opened.data.status.isActive, true);
      assert.equal(opened.data.status.occupancy.metrics.connections, 1);
      await eventWhere(onA, 'channel.opened', (d) => d?.channelId === name, 'channel.opened on A');

      await clientB.channels.get(name).attach();
      await connectionsBecome(A, name, 2);
      await clientA.channels.get(name).detach();
      await connectionsBecome(B, name, 1);
      await clientB.channels.get(name).detach();
      const closed = await eventWhere(onB, 'channel.closed', (d) => d?.channelId === name, 'channel.closed on B');
      assert.equal(closed.data.status.isActive, false);
      assert.equal(closed.data.status.occupancy.metrics.connections, 0);
      await eventWhere(onA, 'channel.closed', (d) => d?.channelId === name, 'channel.closed on A');
      for (const [node, inbox] of [['B', onB], ['A', onA]]) {
        assert.deepEqual(inbox.messages.filter((m) => m.data?.channelId === name).map((m) => m.name),
          ['channel.opened', 'channel.closed'], `the events on ${node}`);
      }
    });

    rtTest(`${proto}: a connection made on A, and its close, are announced to a subscriber on B`, async (scope) => {
      const onB = await watcher(scope, B, '[meta]connection.lifecycle', binary);
      const client = await scope.connected(A, { key: ROOT, binary, clientId: `cluster-${proto}` });
      const id = client.connection.id;
      const opened = await eventWhere(onB, 'connection.opened', (d) => d?.connectionId === id, 'connection.opened on B');
      assert.deepEqual(opened.data, { connectionId: id, clientId: `cluster-${proto}`, transport: 'web_socket' });
      client.close();
      await eventWhere(onB, 'connection.closed', (d) => d?.connectionId === id, 'connection.closed on B');
    });
  }
});
