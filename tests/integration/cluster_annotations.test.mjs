// Message annotations across heraldd nodes sharing one Redis (the redis
// engine): an annotation made on one node counts, and is delivered, on
// every node.
//
// Two nodes A and B on one redis-server, the official ably-js SDK (JSON and
// msgpack):
//  - annotations published on A over REST and realtime reach an
//    annotation_subscribe attachment on B raw, in order, and a plain
//    subscriber on B as summary MESSAGEs (action message.summary) naming
//    the annotated message, the last with the whole summary; B's
//    getMessage, history and annotations.get (paged, oldest first) show
//    what A made;
//  - 20 annotations fired at once from each node (multiple.v1 with
//    counts) are all counted exactly: the summary's compare-and-set in
//    Redis retries the losers;
//  - an Ably Chat message reaction POSTed to A's REST API is in the
//    message's reactions read on B, and B's room subscriber receives the
//    summary;
//  - with a short --persisted-retention-ms, a message's annotations and
//    summary leave Redis with the message (h:n:, h:sm:), and DELETE
//    /apps/:id takes them out too.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster_annotations.test.mjs

import assert from 'node:assert/strict';
import { describe, uniqueChannel, eventually, request, Ably } from './lib/server.mjs';
import { Inbox, PROTOCOLS } from './lib/realtime.mjs';
import { rtTest, useCluster } from './lib/redis.mjs';

const ROOT = 'annapp.root:rootsecret';
const CONFIG = {
  apps: [{ id: 'annapp', keys: [{ key: ROOT }], namespaces: [{ id: 'mutable', mutableMessages: true }] }],
};

function rest(srv, { binary = false, ...opts } = {}) {
  return new Ably.Rest({ key: ROOT, endpoint: '127.0.0.1', port: srv.port, tls: false, useBinaryProtocol: binary, ...opts });
}

async function restAs(srv, clientId, binary) {
  const tokenDetails = await rest(srv).auth.requestToken({ clientId });
  return rest(srv, { key: undefined, tokenDetails, binary });
}

const counts = (ids) => ({
  total: Object.values(ids).reduce((a, b) => a + b, 0),
  clientIds: ids, totalUnidentified: 0, clipped: false, totalClientIds: Object.keys(ids).length,
});

const EXPECTED = {
  'votes:total.v1': { total: 2 },
  'star:flag.v1': { total: 1, clientIds: ['alice'], clipped: false },
  'tag:distinct.v1': { x: { total: 1, clientIds: ['bob'], clipped: false } },
  'count:multiple.v1': { m: counts({ bob: 3 }) },
};

describe('annotations across nodes', () => {
  let A;
  let B;
  useCluster({ nodes: 2, config: CONFIG, ready: (nodes) => { [A, B] = nodes; } });

  for (const { name: proto, binary } of PROTOCOLS) {
    rtTest(`${proto}: annotations made on A (REST and realtime) reach B raw and as summaries; B reads them`, async (scope) => {
      const name = uniqueChannel('mutable:across');
      const watcher = await scope.connected(B, { key: ROOT, binary });
      const raw = new Inbox();
      await watcher.channels.get(name, { modes: ['SUBSCRIBE', 'ANNOTATION_SUBSCRIBE'] }).annotations.subscribe((a) => raw.push(a));
      const plain = await scope.connected(B, { key: ROOT, binary });
      const messages = new Inbox();
      await messages.subscribe(plain.channels.get(name));

      const alice = (await restAs(A, 'alice', binary)).channels.get(name);
      const bobRt = await scope.connected(A, { key: ROOT, clientId: 'bob', binary });
      const bob = bobRt.channels.get(name);
      await bob.attach();
      const { serials: [serial] } = await alice.publish('question', 'which?');
      await alice.annotations.publish(serial, { type: 'votes:total.v1' });
      await alice.annotations.publish(serial, { type: 'star:flag.v1' });
      await bob.annotations.publish(serial, { type: 'votes:total.v1' });
      await bob.annotations.publish(serial, { type: 'tag:distinct.v1', name: 'x' });
      await bob.annotations.publish(serial, { type: 'count:multiple.v1', name: 'm', count: 3 });

      const got = await raw.waitForCount(5);
      assert.deepEqual(got.map((a) => a.clientId), ['alice', 'alice', 'bob', 'bob', 'bob']);
      assert.deepEqual(got.map((a) => a.type), ['votes:total.v1', 'star:flag.v1', 'votes:total.v1', 'tag:distinct.v1', 'count:multiple.v1']);
      assert.ok(got.every((a) => a.messageSerial === serial && a.serial > serial && a.action === 'annotation.create'));
      assert.equal(got[4].count, 3);
      const isSummary = (m) => m.action === 'message.summary';
      const all = await messages.waitUntil((ms) => ms.filter(isSummary).length === 5, 10000, 'summaries on B');
      const summaries = all.filter(isSummary);
      assert.ok(summaries.every((m) => m.serial === serial), 'each names the annotated message');
      assert.deepEqual(summaries[0].annotations.summary, { 'votes:total.v1': { total: 1 } });
      assert.deepEqual(summaries[4].annotations.summary, EXPECTED);

      const onB = rest(B, { binary }).channels.get(name);
      const now = await onB.getMessage(serial);
      assert.deepEqual(now.annotations.summary, EXPECTED);
      assert.equal(now.action, 'message.create');
      assert.equal(now.data, 'which?');
      const [inHistory] = (await onB.history()).items;
      assert.deepEqual(inHistory.annotations.summary, EXPECTED);
      const first = await onB.annotations.get(serial, { limit: 3 });
      assert.equal(first.items.length, 3);
      assert.ok(first.hasNext());
      const second = await first.next();
      assert.deepEqual([...first.items, ...second.items].map((a) => a.serial), got.map((a) => a.serial), 'oldest first, as delivered');
      assert.ok(!second.hasNext());
    });
  }

  rtTest('20 annotations at once from each node are all counted exactly', async () => {
    const name = uniqueChannel('mutable:race');
    const clients = await Promise.all(['a0', 'a1', 'b0', 'b1'].map((id, i) => restAs(i < 2 ? A : B, id)));
    const channels = clients.map((c) => c.channels.get(name));
    const { serials: [serial] } = await channels[0].publish('m', 'x');
    const expected = {};
    const sends = [];
    for (let i = 0; i < 40; i++) {
      const who = i % 4; // 0, 1 on A; 2, 3 on B: 20 each
      const count = (i % 3) + 1;
      const id = ['a0', 'a1', 'b0', 'b1'][who];
      expected[id] = (expected[id] || 0) + count;
      sends.push(channels[who].annotations.publish(serial, { type: 'votes:multiple.v1', name: 'up', count }));
      sends.push(channels[who].annotations.publish(serial, { type: 'n:total.v1' }));
    }
    await Promise.all(sends);
    for (const node of [A, B]) {
      const { summary } = (await rest(node).channels.get(name).getMessage(serial)).annotations;
      assert.deepEqual(summary['votes:multiple.v1'], { up: counts(expected) });
      assert.deepEqual(summary['n:total.v1'], { total: 40 });
    }
    assert.equal((await rest(B).channels.get(name).annotations.get(serial, { limit: 100 })).items.length, 80);
  });

  rtTest('a Chat message reaction sent to A\'s REST API is in the message\'s reactions on B', async (scope) => {
    const room = uniqueChannel('room');
    const subscriber = await scope.connected(B, { key: ROOT });
    const messages = new Inbox();
    await messages.subscribe(subscriber.channels.get(`${room}::$chat`));
    const headers = { 'x-ably-clientid': Buffer.from('alice').toString('base64') };
    const path = `/chat/v4/rooms/${encodeURIComponent(room)}/messages`;
    const sent = await request(A.url, 'POST', path, { key: ROOT, json: { text: 'hi' }, headers });
    assert.equal(sent.status, 201, sent.raw.toString());
    const serial = encodeURIComponent(sent.body.serial);
    const reacted = await request(A.url, 'POST', `${path}/${serial}/reactions`, { key: ROOT, json: { type: 'unique', name: 'heart' }, headers });
    assert.equal(reacted.status, 201, reacted.raw.toString());
    const got = await messages.waitUntil((ms) => ms.some((m) => m.action === 'message.summary'), 10000, 'the summary on B');
    assert.deepEqual(got.find((m) => m.action === 'message.summary').annotations.summary['reaction:unique.v1'],
      { heart: { total: 1, clientIds: ['alice'], clipped: false } });
    const read = await request(B.url, 'GET', `${path}/${serial}`, { key: ROOT });
    assert.equal(read.status, 200, read.raw.toString());
    assert.deepEqual(read.body.reactions.unique, { heart: { total: 1, clientIds: ['alice'], clipped: false } });
  });
});

describe('annotations leave Redis with their message', () => {
  const RETENTION_MS = 1500;
  let A;
  const cluster = useCluster({ nodes: 1, config: CONFIG, args: ['--persisted-retention-ms', String(RETENTION_MS)], ready: (nodes) => { [A] = nodes; } });

  rtTest('a trimmed message takes its annotations and summary out of Redis', async () => {
    const name = uniqueChannel('mutable:trim');
    const channel = rest(A).channels.get(name);
    const { serials: [serial] } = await channel.publish('m', 'x');
    await channel.annotations.publish(serial, { type: 'votes:total.v1' });
    const redis = cluster.redis;
    const base = `annapp\n${name}`;
    assert.equal(await redis.command('XLEN', `h:n:${base}\n${serial}`), 1, 'the annotation is kept');
    assert.ok(await redis.command('HGET', `h:sm:${base}`, serial), 'the summary is kept');
    await eventually(async () => {
      // a later message's annotation runs the trim, keeping the keys alive
      const { serials: [later] } = await channel.publish('m', 'later');
      await channel.annotations.publish(later, { type: 'votes:total.v1' });
      return !(await redis.command('HGET', `h:sm:${base}`, serial));
    }, { timeoutMs: 10 * RETENTION_MS, intervalMs: RETENTION_MS / 4, what: 'the summary trimmed' });
    assert.equal(await redis.command('EXISTS', `h:n:${base}\n${serial}`), 0, 'the annotations went with it');
    assert.ok(await redis.command('HLEN', `h:sm:${base}`) >= 1, 'the newer messages\' summaries stay');
  });
});

describe('annotations of a deleted app on the redis engine', () => {
  const ADMIN = 'admin-secret';
  let A;
  const cluster = useCluster({ nodes: 1, args: ['--sandbox', '--admin-key', ADMIN], ready: (nodes) => { [A] = nodes; } });

  rtTest('DELETE /apps/:id drops its messages\' annotations and summaries', async () => {
    const made = await fetch(`${A.url}/apps`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys: [{}] }),
    });
    assert.equal(made.status, 201);
    const key = (await made.json()).keys[0].keyStr;
    const appId = key.split('.')[0];
    const name = `${uniqueChannel('room')}::$chat`; // Chat rooms are mutable
    const channel = rest(A, { key }).channels.get(name);
    const { serials: [serial] } = await channel.publish('m', 'doomed');
    await channel.annotations.publish(serial, { type: 'votes:total.v1' });
    const base = `${appId}\n${name}`;
    const keys = [`h:sm:${base}`, `h:lz:${base}`, `h:n:${base}\n${serial}`];
    for (const k of keys) {
      // eslint-disable-next-line no-await-in-loop
      assert.equal(await cluster.redis.command('EXISTS', k), 1, k);
    }
    const del = await fetch(`${A.url}/apps/${appId}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(del.status, 204);
    for (const k of keys) {
      // eslint-disable-next-line no-await-in-loop
      assert.equal(await cluster.redis.command('EXISTS', k), 0, `${k} deleted`);
    }
  });
});
