// Channels sharded over two Redis servers (the Redis engine, issue 19): three
// heraldd nodes are given both URLs; 40 channels published on from every
// node end up spread over both servers, each channel's stream on exactly one
// of them (every node hashes a channel to the same shard), and history,
// realtime delivery across nodes and GET /channels (all 40, from any node)
// work as with one server.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster_shards.test.mjs

import assert from 'node:assert/strict';
import { describe, before, after, parseLinkHeader, DEFAULT_KEY } from './lib/server.mjs';
import { Inbox, withTimeout } from './lib/realtime.mjs';
import {
  test, rtTest, startRedis, startCluster, stopCluster, waitForState, historyAcross, publishRaw, assertIncreasing,
} from './lib/redis.mjs';

const APP = DEFAULT_KEY.split('.')[0];
const COUNT = 40;
const PER_CHANNEL = 3;
const range = (n, f = (i) => i) => Array.from({ length: n }, (_, i) => f(i));

let shards = [];
let nodes = [];
const prefix = `shard-${process.pid}-${Date.now().toString(36)}-`;
const channels = range(COUNT, (i) => `${prefix}${i}`);
const published = new Map(); // channel -> [{name, serial}]

before(async () => {
  shards = await Promise.all([startRedis(), startRedis()]);
  nodes = await startCluster({ nodes: 3, redis: shards, args: ['--max-idle-interval-ms', '2000'] });
  // every channel gets PER_CHANNEL messages, each from a different node
  await Promise.all(channels.map(async (c, ci) => {
    const list = [];
    for (let k = 0; k < PER_CHANNEL; k++) {
      const srv = nodes[(ci + k) % nodes.length];
      const name = `m${k}`;
      // eslint-disable-next-line no-await-in-loop
      const res = await publishRaw(srv, c, { name, data: `${c}/${k}` });
      if (res.status !== 201) throw new Error(`publish ${name} to ${c} on :${srv.port}: ${res.status} ${res.raw}`);
      list.push({ name, serial: res.body.serials[0] });
    }
    published.set(c, list);
  }));
});
after(async () => {
  try {
    await stopCluster(nodes);
  } finally {
    await Promise.all(shards.map((s) => s.stop()));
  }
});

/** The channel of a message-stream key h:m:<app>\n<channel>, or null if the key is not of this app. */
function channelOfKey(key) {
  const head = `h:m:${APP}\n`;
  return key.startsWith(head) ? key.slice(head.length) : null;
}

describe('two Redis shards', () => {
  test('the 40 channels\' message streams are spread over both servers, each on exactly one', async () => {
    const perShard = [];
    for (const s of shards) perShard.push((await s.scan('h:m:*')).map(channelOfKey).filter((c) => c && c.startsWith(prefix)));
    const [one, two] = perShard;
    assert.ok(one.length > 0 && two.length > 0, `both shards hold channels: ${one.length} on the first, ${two.length} on the second`);
    const both = one.filter((c) => two.includes(c));
    assert.deepEqual(both, [], 'no channel has a stream on both shards (every node picks the same shard)');
    assert.deepEqual([...one, ...two].sort(), [...channels].sort(), 'every channel has a stream on one shard');
    // each stream holds the channel's messages
    for (const [i, s] of shards.entries()) {
      const sample = perShard[i][0];
      const len = await s.command('XLEN', `h:m:${APP}\n${sample}`);
      assert.equal(len, PER_CHANNEL, `${sample}: ${PER_CHANNEL} stream entries on shard ${i + 1}`);
    }
  });

  test('history of every channel on every node: its messages in order, with the publish serials', async () => {
    for (const [ci, c] of channels.entries()) {
      const want = published.get(c);
      for (const srv of nodes) {
        const { items } = await historyAcross([srv], c, 'direction=forwards');
        const ctx = `${c} on :${srv.port}`;
        assert.deepEqual(items.map((m) => m.name), want.map((m) => m.name), `${ctx}: names`);
        assert.deepEqual(items.map((m) => m.serial), want.map((m) => m.serial), `${ctx}: serials`);
        assert.deepEqual(items.map((m) => m.data), range(PER_CHANNEL, (k) => `${c}/${k}`), `${ctx}: data`);
      }
      assertIncreasing(assert, want.map((m) => m.serial), `${c} serials (channel ${ci})`);
    }
  });

  test('GET /channels on each node lists all 40 (paged 15 at a time, pages from alternating nodes)', async () => {
    for (const [i, first] of nodes.entries()) {
      const collected = [];
      let srv = first;
      let res = await srv.request('GET', `/channels?prefix=${encodeURIComponent(prefix)}&by=id&limit=15`);
      for (let pages = 1; ; pages++) {
        assert.equal(res.status, 200, `${res.raw}`);
        collected.push(...res.body);
        const rels = parseLinkHeader(res.headers.get('link'));
        if (!rels.next) break;
        assert.ok(pages < 20, 'enumeration ends');
        srv = nodes[(i + pages) % nodes.length];
        res = await srv.request('GET', `/channels?${rels.next.split('?')[1]}`);
      }
      const dups = collected.filter((c, k) => collected.indexOf(c) !== k);
      assert.deepEqual(dups, [], `starting on node ${i}: no channel listed twice`);
      assert.deepEqual([...collected].sort(), [...channels].sort(), `starting on node ${i}: all ${COUNT} channels`);
    }
    const byValue = await nodes[1].request('GET', `/channels?prefix=${encodeURIComponent(prefix)}&by=value&limit=100`);
    assert.equal(byValue.status, 200);
    assert.deepEqual(byValue.body.map((d) => d.channelId).sort(), [...channels].sort(), 'by=value');
  });

  rtTest('realtime: a subscriber on B attached to all 40 channels gets what A and C publish on each, in order', async (scope) => {
    const [A, B, C] = nodes;
    const client = scope.realtime(B, { key: B.key, label: 'B subscriber', binary: true });
    await waitForState(client.connection, 'connected', { what: 'subscriber' });
    const inboxes = new Map();
    await Promise.all(channels.map(async (c) => {
      const inbox = new Inbox();
      inboxes.set(c, inbox);
      await withTimeout(inbox.subscribe(client.channels.get(c)), 10000, `attach ${c}`);
    }));
    const serials = new Map();
    await Promise.all(channels.map(async (c) => {
      const s = [];
      for (const [k, srv] of [A, C, A].entries()) {
        // eslint-disable-next-line no-await-in-loop
        const res = await publishRaw(srv, c, { name: `live${k}`, data: String(k) });
        assert.equal(res.status, 201, `${res.raw}`);
        s.push(res.body.serials[0]);
      }
      serials.set(c, s);
    }));
    for (const c of channels) {
      const inbox = inboxes.get(c);
      await inbox.waitForCount(3, 10000);
      assert.deepEqual(inbox.names(), ['live0', 'live1', 'live2'], `${c}: each once, in order`);
      assert.deepEqual(inbox.messages.map((m) => m.serial), serials.get(c), `${c}: serials`);
    }
    // and a realtime publish on C reaches a realtime subscriber on A, on a channel of each shard
    const pub = scope.realtime(C, { key: C.key, label: 'C publisher' });
    const sub = scope.realtime(A, { key: A.key, label: 'A subscriber' });
    await Promise.all([waitForState(pub.connection, 'connected'), waitForState(sub.connection, 'connected')]);
    const onShard = [];
    for (const s of shards) onShard.push((await s.scan(`h:m:${APP}\n${prefix}*`)).map(channelOfKey)[0]);
    for (const c of onShard) {
      const inbox = new Inbox();
      await withTimeout(inbox.subscribe(sub.channels.get(c)), 10000, `attach ${c} on A`);
      const ack = await pub.channels.get(c).publish('rt', 'x');
      const m = await inbox.waitForName('rt', 10000);
      assert.equal(m.serial, ack.serials[0], `${c}: the ACKed serial`);
    }
  });
});
