// App statistics across heraldd nodes sharing one Redis (the redis
// engine; server/channel/stats_minutes.h): each node stores its own record
// of a minute, the others follow it, and a minute reads as the sum of the
// nodes' records -- through GET /stats on either node, and in the
// [meta]stats:minute updates, which carry every node's records a node
// has. Two nodes A and B, ably-js (JSON and msgpack).
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster_stats.test.mjs

import assert from 'node:assert/strict';
import { describe, uniqueChannel, restClient, eventually } from './lib/server.mjs';
import { Inbox, PROTOCOLS, withTimeout } from './lib/realtime.mjs';
import { rtTest, useCluster } from './lib/redis.mjs';

// an app for each protocol, so that each test starts from no stats
const KEYS = { json: 'statsjson.root:secretroot', msgpack: 'statsmsgpack.root:secretroot' };
const CONFIG = {
  apps: Object.values(KEYS).map((key) => ({
    id: key.split('.')[0], keys: [{ key, capability: { '*': ['*'], '[meta]*': ['*'] } }],
  })),
};
const COUNT = 'messages.inbound.rest.messages.count';

/** The sum of COUNT over a page of Stats. */
const counted = (items) => items.reduce((sum, s) => sum + (s.entries[COUNT] || 0), 0);

describe('stats across two nodes', () => {
  let A;
  let B;
  useCluster({ nodes: 2, config: CONFIG, args: ['--stats-interval-ms', '200'], ready: (nodes) => { [A, B] = nodes; } });

  for (const { name: proto, binary } of PROTOCOLS) {
    rtTest(`${proto}: publishes on both nodes read back as one sum on either`, async (scope) => {
      const ROOT = KEYS[proto];
      const client = await scope.connected(B, { key: ROOT, binary });
      const inbox = new Inbox();
      await withTimeout(inbox.subscribe(client.channels.get('[meta]stats:minute')), 10000, 'subscribe stats on B');
      const channel = uniqueChannel('cluster-stats');
      for (let i = 0; i < 2; i++) await restClient(A, { key: ROOT }).channels.get(channel).publish('n', 'x');
      for (let i = 0; i < 3; i++) await restClient(B, { key: ROOT }).channels.get(channel).publish('n', 'x');
      // a node publishes the minute as it has it: its own record and the
      // other's once followed; every node's updates reach B's subscriber
      // (the most any update says of each minute, should the publishes
      // straddle two)
      await inbox.waitUntil((ms) => {
        const most = new Map();
        for (const m of ms) most.set(m.data.intervalId, Math.max(most.get(m.data.intervalId) || 0, m.data.entries[COUNT] || 0));
        return [...most.values()].reduce((a, b) => a + b, 0) === 5;
      }, 10000, 'updates counting both nodes\' publishes');
      // the other node follows the record a moment later: no event tells
      for (const srv of [A, B]) {
        await eventually(async () => {
          const page = await restClient(srv, { key: ROOT, binary }).stats({ unit: 'month' });
          return counted(page.items) === 5;
        }, { what: `both nodes' counts in GET /stats on :${srv.port}` });
      }
    });
  }
});
