// A heraldd node killed under realtime publishing, in a cluster of three on
// one Redis (the Redis engine), with the official ably-js SDK: like
// crash.test.mjs, across nodes, with acknowledged realtime publishes.
//
// Six ably-js publishers (JSON and msgpack), two per node, each through its
// own TCP proxy (lib/tcp_proxy.mjs: the load balancer), publish
// concurrently to one channel, several publishes in flight each. Node C is
// killed with SIGKILL mid-way, while its ACKs are held up in its
// publishers' proxies (so it dies having stored publishes it did not
// acknowledge), and those proxies are switched to A and B, where the
// connections go on (resume on another node) and resend. Then:
//  - every publish resolved (the ones in flight at the kill too), and every
//    publisher kept its connectionId;
//  - every acknowledged message is in history exactly once, history ids are
//    unique, serials strictly increase, and each publisher's messages are in
//    its publish order;
//  - subscribers on the surviving nodes A (JSON) and B (msgpack) received
//    every message of history exactly once, in history order (same ids).
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster_crash.test.mjs

import assert from 'node:assert/strict';
import { describe, uniqueChannel, eventually } from './lib/server.mjs';
import { Inbox, withTimeout, handled, describeChanges, recordStateChanges } from './lib/realtime.mjs';
import { startSwitchProxy } from './lib/tcp_proxy.mjs';
import {
  rtTest, startRedis, startCluster, stopCluster, waitForState, historyAcross, publishRaw, assertIncreasing,
} from './lib/redis.mjs';

const ARGS = [
  '--node-timeout-ms', '1500',
  '--max-idle-interval-ms', '2000',
  '--max-inbound-rate', '100000',
];
const PER_NODE = 2;
const WINDOW = 4; // publishes in flight per publisher
const BEFORE_KILL = 600; // acknowledged publishes before the kill
const AFTER_KILL = 600; // and after it
const MOVED_AFTER_KILL = 50; // by each publisher of the killed node

describe('a node killed under realtime publishing', () => {
  rtTest('SIGKILL of one of three nodes amid concurrent ably-js publishing through proxies: every acknowledged message once in history, serials increase, subscribers on the survivors get each once in history order', async (scope, t) => {
    const redis = await startRedis({ appendfsync: 'always' });
    let nodes = [];
    const proxies = [];
    try {
      nodes = await startCluster({ nodes: 3, redis: [redis], args: ARGS });
      const [A, B, C] = nodes;
      const name = uniqueChannel('ccrash');

      const subs = [];
      for (const [where, srv, binary] of [['A', A, false], ['B', B, true]]) {
        const client = scope.realtime(srv, { key: srv.key, binary, label: `subscriber on ${where}` });
        // eslint-disable-next-line no-await-in-loop
        await waitForState(client.connection, 'connected', { what: `subscriber on ${where}` });
        const inbox = new Inbox();
        // eslint-disable-next-line no-await-in-loop
        await withTimeout(inbox.subscribe(client.channels.get(name)), 10000, `subscribe on ${where}`);
        subs.push({ where, client, inbox });
      }

      const load = { stop: false, killed: false, acked: [], ackedAfterKill: 0, errors: [], waiters: [] };
      const notify = () => { for (const w of [...load.waiters]) w(); };
      const when = (pred) => new Promise((resolve) => {
        const w = () => { if (pred()) { load.waiters.splice(load.waiters.indexOf(w), 1); resolve(); } };
        load.waiters.push(w);
        w();
      });

      const pubs = [];
      for (const [label, srv] of [['A', A], ['B', B], ['C', C]]) {
        for (let i = 0; i < PER_NODE; i++) {
          // eslint-disable-next-line no-await-in-loop
          const proxy = await startSwitchProxy(srv.port);
          proxies.push(proxy);
          const binary = i % 2 === 1;
          const client = scope.realtime(proxy, {
            key: srv.key, binary, label: `publisher ${label}${i} (${binary ? 'msgpack' : 'json'})`, disconnectedRetryTimeout: 300,
          });
          // eslint-disable-next-line no-await-in-loop
          await waitForState(client.connection, 'connected', { what: `publisher ${label}${i}` });
          const channel = client.channels.get(name);
          pubs.push({
            id: `${label}${i}`, node: label, proxy, client, channel, connectionId: client.connection.id,
            changes: recordStateChanges(client.connection), sent: 0, acked: 0, ackedAfterKill: 0, inFlightAtKill: 0, inflight: new Set(),
          });
        }
      }

      // Publishes until stopped, up to WINDOW at a time; records each acknowledgement.
      async function publish(p) {
        for (let n = 0; !load.stop; n++) {
          const msgName = `${p.id}-${n}`;
          p.sent += 1;
          const done = handled(p.channel.publish(msgName, { n }).then(() => {
            load.acked.push({ name: msgName, pub: p.id });
            p.acked += 1;
            if (load.killed) { load.ackedAfterKill += 1; p.ackedAfterKill += 1; }
            notify();
          }, (e) => {
            load.errors.push(`${msgName}: ${e.code}/${e.statusCode} ${e.message}`);
            notify();
          }).finally(() => p.inflight.delete(done)));
          p.inflight.add(done);
          // eslint-disable-next-line no-await-in-loop
          if (p.inflight.size >= WINDOW) await Promise.race(p.inflight);
        }
        await Promise.all(p.inflight);
      }
      const running = pubs.map((p) => publish(p));

      await withTimeout(when(() => load.acked.length >= BEFORE_KILL || load.errors.length), 30000, `${BEFORE_KILL} acknowledged publishes before the kill`);
      assert.deepEqual(load.errors, [], 'no publish failed before the kill');
      const moved = pubs.filter((p) => p.node === 'C');
      // C's ACKs are held up on the way (as by a slow network) when it dies:
      // its publishers have messages C stored but did not acknowledge, which
      // they send again after the move
      for (const p of moved) p.proxy.hold({ down: true });
      const storedUnacked = async () => {
        const acked = new Set(load.acked.map((a) => a.name));
        const stored = (await historyAcross([A], name, 'direction=forwards&limit=1000')).items.map((m) => m.name);
        return moved.map((p) => stored.filter((n) => n.startsWith(`${p.id}-`) && !acked.has(n)).length);
      };
      await eventually(async () => (await storedUnacked()).every((n) => n > 0), { what: 'C stored publishes whose ACKs are held up' });
      await C.stop({ signal: 'SIGKILL' });
      load.killed = true;
      for (const p of moved) p.inFlightAtKill = p.inflight.size;
      const unackedStored = (await storedUnacked()).join(', ');
      moved.forEach((p, k) => p.proxy.switchTo([A, B][k % 2].port));
      await withTimeout(when(() => load.errors.length || (load.ackedAfterKill >= AFTER_KILL && moved.every((p) => p.ackedAfterKill >= MOVED_AFTER_KILL))),
        30000, `${AFTER_KILL} acknowledged publishes after the kill, ${MOVED_AFTER_KILL} from each of C's publishers`);
      load.stop = true;
      await withTimeout(Promise.all(running), 20000, 'every publisher ends, its publishes settled');
      t.diagnostic(`acknowledged ${load.acked.length} (${load.ackedAfterKill} after the kill); in flight on C's publishers at the kill: ${moved.map((p) => p.inFlightAtKill).join(', ')}, of which stored by C: ${unackedStored}`);

      assert.deepEqual(load.errors, [], 'every publish resolved');
      for (const p of pubs) {
        assert.equal(p.acked, p.sent, `publisher ${p.id}: every publish acknowledged`);
        assert.equal(p.client.connection.id, p.connectionId, `publisher ${p.id} kept its connection (${describeChanges(p.changes)})`);
        assert.equal(p.client.connection.state, 'connected', `publisher ${p.id} is connected`);
      }
      for (const p of moved) {
        assert.ok(p.changes.some((c) => c.current === 'disconnected'), `publisher ${p.id} of the killed node was disconnected (${describeChanges(p.changes)})`);
      }

      // history: every acknowledged message once, serials increase, each publisher in its order
      const hist = (await historyAcross([A, B], name, 'direction=forwards&limit=500')).items;
      const names = hist.map((m) => m.name);
      const dupNames = names.filter((x, i) => names.indexOf(x) !== i);
      assert.deepEqual(dupNames, [], 'no message twice in history');
      const ids = hist.map((m) => m.id);
      assert.equal(new Set(ids).size, ids.length, 'history ids are unique');
      const inHistory = new Set(names);
      const missing = load.acked.filter((a) => !inHistory.has(a.name)).map((a) => a.name);
      assert.deepEqual(missing, [], `every acknowledged message is in history (${load.acked.length} acknowledged, ${hist.length} in history)`);
      assert.equal(hist.length, load.acked.length, 'history holds the acknowledged messages and nothing else');
      assertIncreasing(assert, hist.map((m) => m.serial), 'history serials');
      for (const p of pubs) {
        const ns = hist.filter((m) => m.name.startsWith(`${p.id}-`)).map((m) => Number(m.name.slice(p.id.length + 1)));
        assert.deepEqual(ns, ns.map((_, k) => k), `publisher ${p.id}: its messages in history in publish order, none missing`);
        const own = hist.filter((m) => m.name.startsWith(`${p.id}-`));
        assert.ok(own.every((m) => m.connectionId === p.connectionId), `publisher ${p.id}: all its messages from connection ${p.connectionId}`);
      }

      // subscribers on the survivors: every message once, in history order
      const marker = await publishRaw(A, name, { name: 'end-marker', data: 'end' });
      assert.equal(marker.status, 201, `${marker.raw}`);
      for (const s of subs) {
        // eslint-disable-next-line no-await-in-loop
        await s.inbox.waitForName('end-marker', 15000);
        const got = s.inbox.messages.filter((m) => m.name !== 'end-marker');
        assert.equal(got.length, hist.length, `subscriber on ${s.where}: as many messages as history`);
        assert.deepEqual(got.map((m) => m.id), ids, `subscriber on ${s.where}: every message once, in history order`);
        assert.equal(s.inbox.messages.at(-1).name, 'end-marker', `subscriber on ${s.where}: nothing after the marker`);
      }
    } finally {
      try {
        await Promise.all(proxies.map((p) => p.close()));
        await stopCluster(nodes);
      } finally {
        await redis.stop();
      }
    }
  });
});
