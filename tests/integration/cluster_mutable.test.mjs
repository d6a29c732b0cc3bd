// Mutable messages across heraldd nodes sharing one Redis (the redis
// engine): a change made on one node is the same message on every node.
//
// Two nodes A and B on one redis-server, the official ably-js SDK (JSON and
// msgpack):
//  - a message published on A and appended to, updated and deleted on A
//    reaches a realtime subscriber on B live, each change naming the
//    message's serial and carrying its version (an append as its fragment);
//    B's getMessage, getMessageVersions (both directions, paged) and
//    history then show what A made of it, and a rewind on B replays the
//    changes as they were delivered;
//  - with echoMessages false, a connection does not receive its own change
//    of another's message, and the message's publisher receives it;
//  - history on B, paged one message at a time across A and B, lists each
//    message once, where it was created, as it now is (the change entries
//    between them are left out);
//  - ten updates fired at once at one message, half on A and half on B, all
//    land: eleven versions with distinct serials, the message as it now is
//    being the newest; six appends fired at once from both nodes all end up
//    in its data once each (the compare-and-set in Redis retries the
//    losers);
//  - on B: a namespace without mutableMessages refuses with 93002, an
//    unknown serial is 40400, another client's message without an -any
//    capability 40160;
//  - with a short --persisted-retention-ms (mutable namespaces persist), a
//    changed message's state and versions leave Redis with the message
//    (trimmed by a later publish, as the stream is, while newer changed
//    messages keep the keys alive), and the message is then 40400 on both
//    nodes;
//  - an app deleted with DELETE /apps/:id takes its messages' states and
//    versions out of Redis too.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster_mutable.test.mjs

import assert from 'node:assert/strict';
import { describe, uniqueChannel, eventually, Ably } from './lib/server.mjs';
import { Inbox, PROTOCOLS, rejection } from './lib/realtime.mjs';
import { rtTest, useCluster } from './lib/redis.mjs';

const ROOT = 'mutapp.root:rootsecret';
const OWN = 'mutapp.own:ownsecret';
const CONFIG = {
  apps: [{
    id: 'mutapp',
    keys: [
      { key: ROOT },
      { key: OWN, capability: { '*': ['publish', 'subscribe', 'history', 'message-update-own', 'message-delete-own'] } },
    ],
    namespaces: [{ id: 'mutable', mutableMessages: true }],
  }],
};

function rest(srv, { binary = false, ...opts } = {}) {
  return new Ably.Rest({ key: ROOT, endpoint: '127.0.0.1', port: srv.port, tls: false, useBinaryProtocol: binary, ...opts });
}

async function restAs(srv, key, clientId, binary) {
  const tokenDetails = await rest(srv, { key }).auth.requestToken({ clientId });
  return rest(srv, { key: undefined, tokenDetails, binary });
}

async function published(channel, data, name = 'greeting') {
  const { serials } = await channel.publish(name, data);
  return serials[0];
}

/** Every page of `first` (a PaginatedResult), the next ones fetched by `next`. */
async function allPages(first, next) {
  const items = [];
  for (let page = first, n = 0; ; n++) {
    items.push(...page.items);
    if (!page.hasNext()) return items;
    assert.ok(n < 100, 'the pages end');
    // eslint-disable-next-line no-await-in-loop
    page = await next(page, n);
  }
}

describe('mutable messages across two nodes', () => {
  let A;
  let B;
  useCluster({ nodes: 2, config: CONFIG, ready: (nodes) => { [A, B] = nodes; } });

  for (const { name: proto, binary } of PROTOCOLS) {
    describe(proto, () => {
      rtTest('changes made on A reach a subscriber on B live; B reads the message, its versions and history as A made them', async (scope) => {
        const name = uniqueChannel('mutable:live');
        const subscriber = await scope.connected(B, { key: ROOT, binary });
        const inbox = new Inbox();
        await inbox.subscribe(subscriber.channels.get(name));
        const publisher = await scope.connected(A, { key: ROOT, binary });
        const channel = publisher.channels.get(name);
        await channel.attach();
        const serial = (await channel.publish('story', 'Once')).serials[0];
        const appended = await channel.appendMessage({ serial, data: ' upon' });
        const updated = await channel.updateMessage({ serial, data: 'Once upon a time' },
          { description: 'finished', metadata: { by: 'A' } });
        const deleted = await channel.deleteMessage({ serial }, { description: 'gone' });
        const got = await inbox.waitForCount(4);
        assert.deepEqual(got.map((m) => m.action), ['message.create', 'message.append', 'message.update', 'message.delete']);
        assert.ok(got.every((m) => m.serial === serial), 'every change names the message');
        assert.equal(got[1].data, ' upon', 'an append arrives as its fragment');
        assert.equal(got[1].name, 'story');
        assert.deepEqual(got.slice(1).map((m) => m.version.serial),
          [appended.versionSerial, updated.versionSerial, deleted.versionSerial]);
        assert.equal(got[2].data, 'Once upon a time');
        assert.equal(got[2].version.description, 'finished');
        assert.deepEqual(got[2].version.metadata, { by: 'A' });
        assert.equal(got[3].timestamp, got[0].timestamp, 'a change keeps the creation time');
        assert.ok(got[3].version.timestamp >= got[0].timestamp);

        const onB = rest(B, { binary }).channels.get(name);
        const now = await onB.getMessage(serial);
        assert.equal(now.serial, serial);
        assert.equal(now.action, 'message.delete');
        assert.equal(now.data, 'Once upon a time');
        assert.equal(now.name, 'story');
        assert.equal(now.timestamp, got[0].timestamp);
        assert.equal(now.version.serial, deleted.versionSerial);
        assert.equal(now.version.description, 'gone');

        const versions = await onB.getMessageVersions(serial);
        assert.deepEqual(versions.items.map((m) => m.action), ['message.create', 'message.update', 'message.delete'],
          'the append made no version');
        assert.deepEqual(versions.items.map((m) => m.version.serial), [serial, updated.versionSerial, deleted.versionSerial]);
        assert.deepEqual(versions.items.map((m) => m.data), ['Once', 'Once upon a time', 'Once upon a time']);
        const newestFirst = await onB.getMessageVersions(serial, { direction: 'backwards', limit: 2 });
        assert.deepEqual(newestFirst.items.map((m) => m.action), ['message.delete', 'message.update']);
        assert.ok(newestFirst.hasNext());
        assert.deepEqual((await newestFirst.next()).items.map((m) => m.action), ['message.create']);

        const history = await onB.history();
        assert.equal(history.items.length, 1, 'the message once, not its changes');
        assert.equal(history.items[0].serial, serial);
        assert.equal(history.items[0].action, 'message.delete');

        const late = await scope.connected(B, { key: ROOT, binary });
        const replay = new Inbox();
        await replay.subscribe(late.channels.get(name, { params: { rewind: '10' } }));
        const replayed = await replay.waitForCount(4);
        assert.deepEqual(replayed.map((m) => [m.action, m.version?.serial, m.data]),
          got.map((m) => [m.action, m.version?.serial, m.data]), 'a rewind on B replays the changes as delivered');
      });
    });
  }

  rtTest('echoMessages false on either node leaves out the changer\'s own changes, not those of others of the publisher\'s message', async (scope) => {
    const name = uniqueChannel('mutable:echo');
    const alice = await scope.connected(A, { key: ROOT, clientId: 'alice', echoMessages: false });
    const bob = await scope.connected(B, { key: ROOT, clientId: 'bob', echoMessages: false });
    const toAlice = new Inbox();
    const toBob = new Inbox();
    await toAlice.subscribe(alice.channels.get(name));
    await toBob.subscribe(bob.channels.get(name));
    const serial = (await alice.channels.get(name).publish('note', 'by alice')).serials[0];
    await bob.channels.get(name).updateMessage({ serial, data: 'edited by bob' });
    await alice.channels.get(name).publish('marker', 'after');
    const gotAlice = await toAlice.waitForCount(1);
    assert.equal(gotAlice[0].action, 'message.update', 'alice receives bob\'s change of her message');
    assert.equal(gotAlice[0].data, 'edited by bob');
    const gotBob = await toBob.waitForCount(2);
    assert.deepEqual(gotBob.map((m) => [m.action, m.name]), [['message.create', 'note'], ['message.create', 'marker']],
      'bob receives alice\'s messages but not his own change');
  });

  rtTest('history on B pages each message once, as it now is, across both nodes', async () => {
    const name = uniqueChannel('mutable:pages');
    const onA = rest(A).channels.get(name);
    const onB = rest(B, { binary: true }).channels.get(name);
    const { serials: [first, second] } = await onA.publish([{ name: 'a', data: 'first' }, { name: 'b', data: 'second' }]);
    for (let i = 1; i <= 5; i++) {
      // eslint-disable-next-line no-await-in-loop
      await (i % 2 ? onA : onB).updateMessage({ serial: second, data: `second, edit ${i}` });
    }
    await onA.appendMessage({ serial: first, data: ', appended' });
    const third = await published(onA, 'third');
    for (const direction of ['backwards', 'forwards']) {
      // eslint-disable-next-line no-await-in-loop
      const items = await allPages(await onB.history({ limit: 1, direction }),
        (page) => page.next());
      const want = [[first, 'first, appended'], [second, 'second, edit 5'], [third, 'third']];
      if (direction === 'backwards') want.reverse();
      assert.deepEqual(items.map((m) => [m.serial, m.data]), want, direction);
    }
    const two = await onA.history({ limit: 2 });
    assert.deepEqual(two.items.map((m) => m.serial), [third, second]);
    const secondNow = await onB.getMessage(second);
    assert.equal(secondNow.data, 'second, edit 5', 'the second message of a publish is found too');
    assert.equal(secondNow.name, 'b');
    assert.equal((await onA.getMessageVersions(second)).items.length, 6);
  });

  rtTest('ten updates at once from both nodes all land as versions; six appends at once all join the data', async () => {
    const name = uniqueChannel('mutable:race');
    const onA = rest(A).channels.get(name);
    const onB = rest(B).channels.get(name);
    const serial = await published(onA, 'v0');
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      (i % 2 ? onB : onA).updateMessage({ serial, data: `v${i + 1}` })));
    const versionSerials = results.map((r) => r.versionSerial);
    assert.equal(new Set(versionSerials).size, 10, 'each update has its own version serial');
    const versions = await allPages(await onB.getMessageVersions(serial, { limit: 4 }), (page) => page.next());
    assert.equal(versions.length, 11, 'created, then ten versions');
    const listed = versions.map((m) => m.version.serial);
    assert.equal(new Set(listed).size, 11);
    assert.deepEqual(listed, [...listed].sort(), 'oldest first');
    assert.deepEqual(listed.slice(1).sort(), [...versionSerials].sort());
    assert.deepEqual(versions.slice(1).map((m) => m.data).sort(), Array.from({ length: 10 }, (_, i) => `v${i + 1}`).sort());
    const newest = versions[10];
    for (const srv of [A, B]) {
      // eslint-disable-next-line no-await-in-loop
      const now = await rest(srv).channels.get(name).getMessage(serial);
      assert.equal(now.version.serial, newest.version.serial, 'the message is its newest version');
      assert.equal(now.data, newest.data);
    }

    const text = await published(onA, '');
    const fragments = ['a', 'b', 'c', 'd', 'e', 'f'];
    await Promise.all(fragments.map((f, i) => (i % 2 ? onB : onA).appendMessage({ serial: text, data: f })));
    const joined = (await onB.getMessage(text)).data;
    assert.deepEqual([...joined].sort(), fragments, `every fragment once: ${joined}`);
    assert.equal((await onA.getMessageVersions(text)).items.length, 1, 'appends make no version');
  });

  rtTest('on B: 93002 outside a mutable namespace, 40400 for an unknown serial, 40160 for another client\'s message', async (scope) => {
    const plain = rest(A).channels.get(uniqueChannel('plain'));
    const fixed = await published(plain, 'fixed');
    const refused = await rejection(rest(B).channels.get(plain.name).updateMessage({ serial: fixed, data: 'changed' }));
    assert.equal(refused.code, 93002);
    assert.equal(refused.statusCode, 400);
    const rt = await scope.connected(B, { key: ROOT });
    const rtPlain = rt.channels.get(plain.name);
    await rtPlain.attach();
    assert.equal((await rejection(rtPlain.deleteMessage({ serial: fixed }))).code, 93002);

    const name = uniqueChannel('mutable:errors');
    await published(rest(A).channels.get(name), 'something');
    const onB = rest(B).channels.get(name);
    const unknown = '01700000000000-000@nowhere:000';
    const missing = await rejection(onB.updateMessage({ serial: unknown, data: 'x' }));
    assert.equal(missing.code, 40400);
    assert.equal(missing.statusCode, 404);
    assert.equal((await rejection(onB.getMessage(unknown))).code, 40400);

    const alice = (await restAs(A, OWN, 'alice')).channels.get(name);
    const bob = (await restAs(B, OWN, 'bob')).channels.get(name);
    const serial = await published(alice, 'alice wrote this');
    await (await restAs(B, OWN, 'alice')).channels.get(name).updateMessage({ serial, data: 'alice edited this on B' });
    const other = await rejection(bob.updateMessage({ serial, data: 'bob was here' }));
    assert.equal(other.code, 40160);
    assert.equal((await rejection(bob.deleteMessage({ serial }))).code, 40160);
    const now = await rest(A).channels.get(name).getMessage(serial);
    assert.equal(now.data, 'alice edited this on B');
    assert.equal(now.version.clientId, 'alice');
  });
});

describe('mutable messages and retention on the redis engine', () => {
  const RETENTION_MS = 1000;
  let A;
  let B;
  const cluster = useCluster({ nodes: 2, config: CONFIG, args: ['--persisted-retention-ms', String(RETENTION_MS)], ready: (nodes) => { [A, B] = nodes; } });

  rtTest('a changed message\'s state and versions leave Redis with the message', async () => {
    const name = uniqueChannel('mutable:retention');
    const onA = rest(A).channels.get(name);
    const serial = await published(onA, 'short-lived');
    await onA.updateMessage({ serial, data: 'edited' });
    await rest(B).channels.get(name).appendMessage({ serial, data: ', appended' });
    const redis = cluster.redis;
    const base = `mutapp\n${name}`;
    assert.ok(await redis.command('HGET', `h:l:${base}`, serial), 'the state is kept');
    assert.equal(await redis.command('LLEN', `h:v:${base}\n${serial}`), 1, 'one version: the update');
    assert.equal(Number(await redis.command('ZSCORE', `h:lz:${base}`, serial)), (await onA.getMessage(serial)).timestamp);
    await eventually(async () => {
      // a publish trims what is past the retention; a change of a newer
      // message keeps the keys from expiring as a whole meanwhile
      const later = await published(onA, 'later');
      await onA.updateMessage({ serial: later, data: 'later, edited' });
      return !(await redis.command('HGET', `h:l:${base}`, serial));
    }, { timeoutMs: 10 * RETENTION_MS, intervalMs: RETENTION_MS / 4, what: 'the state trimmed' });
    assert.ok(await redis.command('HLEN', `h:l:${base}`) >= 1, 'the newer messages\' states stay');
    assert.equal(await redis.command('EXISTS', `h:v:${base}\n${serial}`), 0, 'the versions went with it');
    assert.equal(await redis.command('ZSCORE', `h:lz:${base}`, serial), null);
    for (const srv of [A, B]) {
      // eslint-disable-next-line no-await-in-loop
      const gone = await rejection(rest(srv).channels.get(name).getMessage(serial));
      assert.equal(gone.code, 40400);
    }
  });
});

describe('mutable messages of a deleted app on the redis engine', () => {
  const ADMIN = 'admin-secret';
  let A;
  const cluster = useCluster({ nodes: 1, args: ['--sandbox', '--admin-key', ADMIN], ready: (nodes) => { [A] = nodes; } });

  rtTest('DELETE /apps/:id drops its messages\' states and versions', async () => {
    const made = await fetch(`${A.url}/apps`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys: [{}] }),
    });
    assert.equal(made.status, 201);
    const key = (await made.json()).keys[0].keyStr;
    const appId = key.split('.')[0];
    const name = `${uniqueChannel('room')}::$chat`; // Chat rooms are mutable
    const channel = rest(A, { key }).channels.get(name);
    const serial = await published(channel, 'doomed');
    await channel.updateMessage({ serial, data: 'doomed, edited' });
    const base = `${appId}\n${name}`;
    const keys = [`h:l:${base}`, `h:lz:${base}`, `h:v:${base}\n${serial}`];
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
