// Message annotations as the official ably-js SDK uses them, on JSON and
// msgpack, REST and realtime (channel.annotations.publish / delete /
// subscribe / get):
//  - each summary method's exact summary after creates and deletes by two
//    clients (total.v1, flag.v1, distinct.v1, unique.v1, multiple.v1), as
//    getMessage and history show it;
//  - raw annotations reach only attachments with the annotation_subscribe
//    mode (ably-js throws 93001 from annotations.subscribe without it);
//  - every plain subscriber receives the summary as a MESSAGE with action
//    message.summary naming the annotated message;
//  - annotations.get lists a message's annotations oldest first, in pages;
//  - refusals: no annotation-publish capability 40160, a namespace without
//    mutableMessages 93002, an unknown message 40400, a malformed annotation
//    400 (40003), flag/distinct/unique from an unidentified client 40161;
//  - concurrent annotations of one message all count (the summary's
//    compare-and-set);
//  - the same on the sqlite and redis engines (REST, realtime and the
//    race; cluster_annotations.test.mjs has them across redis nodes).
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/annotations.test.mjs

import assert from 'node:assert/strict';
import { describe, before, after, startServer, uniqueChannel, request, assertAblyError, Ably } from './lib/server.mjs';
import { rtTest, Inbox, PROTOCOLS, rejection } from './lib/realtime.mjs';
import { useCluster } from './lib/redis.mjs';

const CONFIG = {
  apps: [{
    id: 'annapp',
    keys: [
      { key: 'annapp.root:rootsecret' },
      { key: 'annapp.member:membersecret', capability: { '*': ['publish', 'subscribe', 'history', 'annotation-publish'] } },
      { key: 'annapp.plain:plainsecret', capability: { '*': ['publish', 'subscribe', 'history'] } },
    ],
    namespaces: [{ id: 'mutable', mutableMessages: true }],
  }],
};
const ROOT = 'annapp.root:rootsecret';
const MEMBER = 'annapp.member:membersecret';

function rest(srv, { binary = false, ...opts } = {}) {
  return new Ably.Rest({ key: ROOT, endpoint: '127.0.0.1', port: srv.port, tls: false, useBinaryProtocol: binary, ...opts });
}

/** A REST client acting as clientId with key's capability (a token). */
async function restAs(srv, key, clientId, binary) {
  const tokenDetails = await rest(srv, { key }).auth.requestToken({ clientId });
  return rest(srv, { key: undefined, tokenDetails, binary });
}

/** A connected realtime client as clientId (root's capability). */
function realtimeAs(scope, srv, clientId, binary) {
  return scope.connected(srv, { binary, key: undefined, authCallback: (_, cb) => rest(srv).auth.requestToken({ clientId }).then((t) => cb(null, t), cb) });
}

const list = (ids) => ({ total: ids.length, clientIds: ids, clipped: false });
const counts = (ids, totalUnidentified = 0) => ({
  total: Object.values(ids).reduce((a, b) => a + b, 0) + totalUnidentified,
  clientIds: ids, totalUnidentified, clipped: false, totalClientIds: Object.keys(ids).length,
});

// Two clients' annotations of each method, then deletes, and the summary
// expected after each phase.
const CREATES = [
  ['alice', { type: 'votes:total.v1' }], ['bob', { type: 'votes:total.v1' }], ['alice', { type: 'votes:total.v1' }],
  ['alice', { type: 'star:flag.v1' }], ['bob', { type: 'star:flag.v1' }],
  ['alice', { type: 'tag:distinct.v1', name: 'a' }], ['alice', { type: 'tag:distinct.v1', name: 'b' }], ['bob', { type: 'tag:distinct.v1', name: 'a' }],
  ['alice', { type: 'pick:unique.v1', name: 'x' }], ['bob', { type: 'pick:unique.v1', name: 'x' }], ['alice', { type: 'pick:unique.v1', name: 'y' }],
  ['alice', { type: 'count:multiple.v1', name: 'm', count: 2 }], ['alice', { type: 'count:multiple.v1', name: 'm', count: 3 }],
  ['bob', { type: 'count:multiple.v1', name: 'm' }], ['bob', { type: 'count:multiple.v1', name: 'n', count: 4 }],
];
const AFTER_CREATES = {
  'votes:total.v1': { total: 3 },
  'star:flag.v1': list(['alice', 'bob']),
  'tag:distinct.v1': { a: list(['alice', 'bob']), b: list(['alice']) },
  'pick:unique.v1': { x: list(['bob']), y: list(['alice']) },
  'count:multiple.v1': { m: counts({ alice: 5, bob: 1 }), n: counts({ bob: 4 }) },
};
const DELETES = [
  ['bob', { type: 'votes:total.v1' }],
  ['alice', { type: 'star:flag.v1' }],
  ['alice', { type: 'tag:distinct.v1', name: 'a' }],
  ['bob', { type: 'pick:unique.v1', name: 'x' }],
  ['alice', { type: 'count:multiple.v1', name: 'm' }],
  ['bob', { type: 'count:multiple.v1', name: 'n' }],
];
const AFTER_DELETES = {
  'votes:total.v1': { total: 2 },
  'star:flag.v1': list(['bob']),
  'tag:distinct.v1': { a: list(['bob']), b: list(['alice']) },
  'pick:unique.v1': { y: list(['alice']) },
  'count:multiple.v1': { m: counts({ bob: 1 }) },
};

/** Runs the scripted annotations: clients[who].annotations.publish/delete. */
async function annotate(clients, serial, script, del = false) {
  for (const [who, values] of script) {
    const annotations = clients[who].annotations;
    await (del ? annotations.delete(serial, { ...values }) : annotations.publish(serial, { ...values }));
  }
}

function describeEngine(engine, args) {
  describe(`annotations (${engine})`, () => {
    let srv;
    if (engine === 'redis') {
      const cluster = useCluster({ nodes: 1, config: CONFIG });
      before(() => {
        [srv] = cluster.nodes;
        srv.key = ROOT;
      });
    } else {
      before(async () => {
        srv = await startServer({ config: CONFIG, args, env: { HERALD_KEY: null } });
        srv.key = ROOT;
      });
      after(async () => {
        if (srv) await srv.stop();
      });
    }

    const protocols = engine === 'memory' ? PROTOCOLS : [PROTOCOLS[0]];
    for (const { name: proto, binary } of protocols) {
      describe(proto, () => {
        rtTest('REST: each method\'s summary after creates and deletes; getMessage, history and annotations.get', async () => {
          const name = uniqueChannel('mutable:rest');
          const clients = {
            alice: (await restAs(srv, MEMBER, 'alice', binary)).channels.get(name),
            bob: (await restAs(srv, MEMBER, 'bob', binary)).channels.get(name),
          };
          const { serials: [serial] } = await clients.alice.publish('question', 'which?');
          await annotate(clients, serial, CREATES);
          assert.deepEqual((await clients.bob.getMessage(serial)).annotations.summary, AFTER_CREATES);
          await annotate(clients, serial, DELETES, true);
          const now = await clients.bob.getMessage(serial);
          assert.deepEqual(now.annotations.summary, AFTER_DELETES);
          assert.equal(now.action, 'message.create', 'a summary is no new version');
          assert.equal(now.data, 'which?');
          const [inHistory] = (await clients.bob.history()).items;
          assert.equal(inHistory.serial, serial);
          assert.deepEqual(inHistory.annotations.summary, AFTER_DELETES);

          const root = rest(srv, { binary }).channels.get(name);
          const first = await root.annotations.get(serial, { limit: 10 });
          assert.equal(first.items.length, 10);
          assert.ok(first.hasNext());
          const all = [...first.items];
          for (let page = first; page.hasNext();) {
            page = await page.next();
            all.push(...page.items);
          }
          assert.equal(all.length, CREATES.length + DELETES.length);
          const serials = all.map((a) => a.serial);
          assert.deepEqual([...serials].sort(), serials, 'oldest first');
          assert.ok(serials.every((s) => s > serial));
          assert.deepEqual(all.map((a) => a.action).slice(-DELETES.length), DELETES.map(() => 'annotation.delete'));
          assert.deepEqual(all.map((a) => a.clientId), [...CREATES, ...DELETES].map(([who]) => who));
          assert.deepEqual(all.map((a) => a.type), [...CREATES, ...DELETES].map(([, v]) => v.type));
          assert.ok(all.every((a) => a.messageSerial === serial && typeof a.id === 'string' && a.timestamp > 0));
          assert.equal(all[11].count, 2);
          assert.equal(all[5].name, 'a');
        });

        rtTest('realtime: raw annotations only with annotation_subscribe; summaries to every subscriber', async (scope) => {
          const name = uniqueChannel('mutable:rt');
          const alice = await realtimeAs(scope, srv, 'alice', binary);
          const bob = await realtimeAs(scope, srv, 'bob', binary);
          const watcher = await scope.connected(srv, { binary });
          const plain = await scope.connected(srv, { binary });

          const raw = new Inbox();
          const rawChannel = watcher.channels.get(name, { modes: ['SUBSCRIBE', 'ANNOTATION_SUBSCRIBE'] });
          await rawChannel.annotations.subscribe((a) => raw.push(a));
          const typed = new Inbox();
          await rawChannel.annotations.subscribe('star:flag.v1', (a) => typed.push(a));

          const messages = new Inbox();
          const plainChannel = plain.channels.get(name);
          await messages.subscribe(plainChannel);
          const leaked = new Inbox(); // ably-js keeps the listener registered
          const refused = await rejection(plainChannel.annotations.subscribe((a) => leaked.push(a)));
          assert.equal(refused.code, 93001);

          const clients = { alice: alice.channels.get(name), bob: bob.channels.get(name) };
          await Promise.all(Object.values(clients).map((c) => c.attach()));
          const { serials: [serial] } = await clients.alice.publish('question', 'which?');
          await annotate(clients, serial, CREATES);
          await annotate(clients, serial, DELETES, true);

          const total = CREATES.length + DELETES.length;
          const got = await raw.waitForCount(total);
          assert.deepEqual(got.map((a) => a.action), [...CREATES.map(() => 'annotation.create'), ...DELETES.map(() => 'annotation.delete')]);
          assert.deepEqual(got.map((a) => a.clientId), [...CREATES, ...DELETES].map(([who]) => who));
          assert.ok(got.every((a) => a.messageSerial === serial && a.serial > serial));
          assert.equal(got[14].name, 'n');
          assert.equal(got[14].count, 4);
          const flags = await typed.waitForCount(3);
          assert.deepEqual(flags.map((a) => a.clientId), ['alice', 'bob', 'alice']);

          const summaries = await messages.waitUntil((ms) => ms.filter((m) => m.action === 'message.summary').length === total, 10000, 'summaries');
          const last = summaries.filter((m) => m.action === 'message.summary').pop();
          assert.equal(last.serial, serial, 'a summary names the annotated message');
          assert.deepEqual(last.annotations.summary, AFTER_DELETES);
          const afterCreates = summaries.filter((m) => m.action === 'message.summary')[CREATES.length - 1];
          assert.deepEqual(afterCreates.annotations.summary, AFTER_CREATES);
          assert.equal(leaked.messages.length, 0, 'no raw annotation without the mode');
          assert.ok(!messages.messages.some((m) => m.annotations && m.annotations.summary && m.action === 'message.create' && Object.keys(m.annotations.summary).length),
            'only summaries carry one');
          assert.deepEqual((await clients.bob.getMessage(serial)).annotations.summary, AFTER_DELETES);
          const fromRealtime = await clients.bob.annotations.get(serial, {});
          assert.equal(fromRealtime.items.length, total);
        });
      });
    }

    rtTest('concurrent annotations (and edits) of one message are all counted: one at a time, and the compare-and-set', async () => {
      const name = uniqueChannel('mutable:race');
      const clients = await Promise.all(['c0', 'c1', 'c2', 'c3'].map((id) => restAs(srv, MEMBER, id)));
      const channels = clients.map((c) => c.channels.get(name));
      const { serials: [serial] } = await channels[0].publish('m', 'x');
      const N = 40;
      // With the memory engine (which keeps versions) edits of the message
      // race the annotations: neither may undo the other.
      const edits = engine === 'memory' ? ['one', 'two', 'three', 'four'] : [];
      const root = rest(srv).channels.get(name);
      await Promise.all([
        ...Array.from({ length: N }, (_, i) => channels[i % 4].annotations.publish(serial, i % 2
          ? { type: 'votes:total.v1' } : { type: 'emoji:distinct.v1', name: `e${i % 3}` })),
        ...edits.map((data) => root.updateMessage({ serial, data })),
      ]);
      const now = await channels[0].getMessage(serial);
      if (edits.length) {
        assert.equal(now.action, 'message.update');
        assert.ok(edits.includes(now.data), now.data);
      }
      const { summary } = now.annotations;
      assert.deepEqual(summary['votes:total.v1'], { total: N / 2 });
      const distinct = summary['emoji:distinct.v1'];
      assert.deepEqual(Object.keys(distinct).sort(), ['e0', 'e1', 'e2']);
      for (const e of Object.values(distinct)) assert.deepEqual([...e.clientIds].sort(), ['c0', 'c2']);
      assert.equal((await rest(srv).channels.get(name).annotations.get(serial, { limit: 100 })).items.length, N);
    });

    if (engine !== 'memory') return;

    rtTest('refusals: no annotation-publish 40160, not mutable 93002, unknown message 40400, unidentified flag 40161', async (scope) => {
      const name = uniqueChannel('mutable:refused');
      const root = rest(srv).channels.get(name);
      const { serials: [serial] } = await root.publish('m', 'x');
      const plain = (await restAs(srv, 'annapp.plain:plainsecret', 'carol')).channels.get(name);
      const denied = await rejection(plain.annotations.publish(serial, { type: 'votes:total.v1' }));
      assert.equal(denied.code, 40160);
      assert.equal(denied.statusCode, 401);
      const rtPlain = await scope.connected(srv, { key: 'annapp.plain:plainsecret' });
      const rtChannel = rtPlain.channels.get(name);
      await rtChannel.attach();
      const nack = await rejection(rtChannel.annotations.publish(serial, { type: 'votes:total.v1' }));
      assert.equal(nack.code, 40160);

      // the mode asked for without the annotation-subscribe capability is dropped
      const member = await scope.connected(srv, { key: MEMBER });
      const memberChannel = member.channels.get(name, { modes: ['SUBSCRIBE', 'ANNOTATION_SUBSCRIBE'] });
      assert.equal((await rejection(memberChannel.annotations.subscribe(() => {}))).code, 93001);
      assert.equal(memberChannel.state, 'attached');

      const other = rest(srv).channels.get(uniqueChannel('plain'));
      const { serials: [otherSerial] } = await other.publish('m', 'x');
      const notMutable = await rejection(other.annotations.publish(otherSerial, { type: 'votes:total.v1' }));
      assert.equal(notMutable.code, 93002);
      assert.equal((await rejection(other.annotations.get(otherSerial, {}))).code, 93002);

      const missing = '01700000000000-000@nowhere:000';
      const unknown = await rejection(root.annotations.publish(missing, { type: 'votes:total.v1' }));
      assert.equal(unknown.code, 40400);
      assert.equal(unknown.statusCode, 404);
      assert.equal((await rejection(root.annotations.get(missing, {}))).code, 40400);
      const rtRoot = (await scope.connected(srv)).channels.get(name);
      await rtRoot.attach();
      assert.equal((await rejection(rtRoot.annotations.publish(missing, { type: 'votes:total.v1' }))).code, 40400);

      const unidentified = await rejection(root.annotations.publish(serial, { type: 'star:flag.v1' }));
      assert.equal(unidentified.code, 40161);
      await root.annotations.publish(serial, { type: 'count:multiple.v1', name: 'm', count: 2 });
      await root.annotations.publish(serial, { type: 'votes:total.v1' });
      assert.deepEqual((await root.getMessage(serial)).annotations.summary, {
        'count:multiple.v1': { m: counts({}, 2) },
        'votes:total.v1': { total: 1 },
      });
    });

    rtTest('malformed annotations get 400 Ably errors and change nothing', async () => {
      const name = uniqueChannel('mutable:bad');
      const root = rest(srv).channels.get(name);
      const { serials: [serial] } = await root.publish('m', 'x');
      const path = `/channels/${encodeURIComponent(name)}/messages/${encodeURIComponent(serial)}/annotations`;
      const post = (json) => request(srv.url, 'POST', path, { key: ROOT, json });
      for (const type of ['votes', 'votes:total', 'votes:total.v2', ':total.v1', 'votes:sum.v1', 7]) {
        assertAblyError(assert, await post([{ messageSerial: serial, type }]), 400, type === 7 ? 40001 : 40003, `type ${type}`);
      }
      assertAblyError(assert, await post([{ type: 'votes:total.v1' }]), 400, 40003, 'no messageSerial');
      assertAblyError(assert, await post([{ messageSerial: 'another', type: 'votes:total.v1' }]), 400, 40003, 'another serial');
      assertAblyError(assert, await post([{ messageSerial: serial, type: 'votes:total.v1', action: 2 }]), 400, 40003, 'action');
      assertAblyError(assert, await post([{ messageSerial: serial, type: 'count:multiple.v1', name: 'm', count: 0 }]), 400, 40003, 'count');
      assertAblyError(assert, await post([{ messageSerial: serial, type: 'tag:distinct.v1', clientId: 'x' }]), 400, 40003, 'distinct without name');
      assertAblyError(assert, await post([]), 400, 40001, 'empty');
      assertAblyError(assert, await post('text'), 400, 40001, 'not an annotation');
      const ok = await post({ messageSerial: serial, type: 'votes:total.v1' });
      assert.equal(ok.status, 201, ok.raw.toString());
      assert.equal(typeof ok.body.serial, 'string');
      assert.deepEqual((await root.getMessage(serial)).annotations.summary, { 'votes:total.v1': { total: 1 } });
      const page = await request(srv.url, 'GET', path, { key: ROOT });
      assert.equal(page.status, 200);
      assert.equal(page.body.length, 1);
    });
  });
}

describeEngine('memory', []);
describeEngine('sqlite', ['--storage', 'sqlite']);

describeEngine('redis', []);
