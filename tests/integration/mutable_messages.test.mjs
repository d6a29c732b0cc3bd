// Mutable messages (updates, deletes, appends) as the official ably-js SDK
// uses them, on JSON and msgpack, REST and realtime:
//  - in a namespace with mutableMessages (and in Ably Chat rooms,
//    "<room>::$chat"), updateMessage / deleteMessage / appendMessage answer
//    the new version's serial; getMessage gives the message as it now is
//    (its serial and creation time, action update or delete, version
//    {serial, timestamp, clientId, description, metadata}); history shows it
//    once, where it was created, as it now is; getMessageVersions lists the
//    message as created then each update or delete (appends make none);
//  - realtime subscribers receive an update or delete as the whole message,
//    an append as its fragment (action message.append);
//  - elsewhere the operations fail with 93002; an unknown serial is
//    404/40400; the message-update-own / -delete-own capabilities allow only
//    the publisher's own messages, -any every message, neither: 40160;
//  - malformed PATCH bodies get Ably errors.
// Each runs on the memory and the sqlite engine (cluster_mutable: redis).
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/mutable_messages.test.mjs

import assert from 'node:assert/strict';
import { describe, before, after, startServer, uniqueChannel, request, assertAblyError, Ably } from './lib/server.mjs';
import { rtTest, Inbox, PROTOCOLS, withTimeout, rejection } from './lib/realtime.mjs';

const OWN_CAPS = ['publish', 'subscribe', 'history', 'message-update-own', 'message-delete-own'];
const CONFIG = {
  apps: [{
    id: 'mutapp',
    keys: [
      { key: 'mutapp.root:rootsecret' },
      { key: 'mutapp.own:ownsecret', capability: { '*': OWN_CAPS } },
      { key: 'mutapp.plain:plainsecret', capability: { '*': ['publish', 'subscribe', 'history'] } },
    ],
    namespaces: [{ id: 'mutable', mutableMessages: true }],
  }],
};
const ROOT = 'mutapp.root:rootsecret';

function rest(srv, { binary = false, ...opts } = {}) {
  return new Ably.Rest({ key: ROOT, endpoint: '127.0.0.1', port: srv.port, tls: false, useBinaryProtocol: binary, ...opts });
}

/** A REST client acting as clientId with the key `key`'s capability (a token). */
async function restAs(srv, key, clientId, binary) {
  const tokenDetails = await rest(srv, { key }).auth.requestToken({ clientId });
  return rest(srv, { key: undefined, tokenDetails, binary });
}

/** Publishes data on channel and returns the published message's serial. */
async function published(channel, data, name = 'greeting') {
  const { serials } = await channel.publish(name, data);
  return serials[0];
}

for (const engine of ['memory', 'sqlite']) describe(`mutable messages (${engine} engine)`, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: CONFIG, env: { HERALD_KEY: null }, args: ['--storage', engine] });
    srv.key = ROOT;
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  for (const { name: proto, binary } of PROTOCOLS) {
    describe(proto, () => {
      rtTest('REST update, delete, getMessage, history and versions', async () => {
        const channel = rest(srv, { binary }).channels.get(uniqueChannel('mutable:rest'));
        const serial = await published(channel, 'hello');
        const created = await channel.getMessage(serial);
        assert.equal(created.action, 'message.create');
        assert.equal(created.data, 'hello');
        assert.equal(created.version.serial, serial);

        const updated = await channel.updateMessage({ serial, data: 'hello, edited' },
          { description: 'typo', metadata: { reason: 'spelling' } });
        assert.equal(typeof updated.versionSerial, 'string');
        assert.ok(updated.versionSerial > serial, 'a version sorts after the message');

        const now = await channel.getMessage(serial);
        assert.equal(now.serial, serial);
        assert.equal(now.action, 'message.update');
        assert.equal(now.data, 'hello, edited');
        assert.equal(now.name, 'greeting', 'an update keeps what it does not replace');
        assert.equal(now.timestamp, created.timestamp, 'timestamp stays the creation time');
        assert.equal(now.version.serial, updated.versionSerial);
        assert.ok(now.version.timestamp >= created.timestamp);
        assert.equal(now.version.description, 'typo');
        assert.deepEqual(now.version.metadata, { reason: 'spelling' });

        const deleted = await channel.deleteMessage({ serial }, { description: 'gone' });
        const gone = await channel.getMessage(serial);
        assert.equal(gone.action, 'message.delete');
        assert.equal(gone.version.serial, deleted.versionSerial);
        assert.equal(gone.data, 'hello, edited', 'a delete without data keeps it');

        const history = await channel.history();
        assert.equal(history.items.length, 1, 'the message once, not its versions');
        assert.equal(history.items[0].serial, serial);
        assert.equal(history.items[0].action, 'message.delete');

        const versions = await channel.getMessageVersions(serial);
        assert.deepEqual(versions.items.map((m) => m.action), ['message.create', 'message.update', 'message.delete']);
        assert.deepEqual(versions.items.map((m) => m.version.serial), [serial, updated.versionSerial, deleted.versionSerial]);
        assert.deepEqual(versions.items.map((m) => m.data), ['hello', 'hello, edited', 'hello, edited']);
        const newestFirst = await channel.getMessageVersions(serial, { direction: 'backwards', limit: 2 });
        assert.deepEqual(newestFirst.items.map((m) => m.action), ['message.delete', 'message.update']);
        assert.ok(newestFirst.hasNext());
        const rest2 = await newestFirst.next();
        assert.deepEqual(rest2.items.map((m) => m.action), ['message.create']);
      });

      rtTest('REST appends join the data; versions leave them out', async () => {
        const channel = rest(srv, { binary }).channels.get(uniqueChannel('mutable:append'));
        const serial = await published(channel, 'The answer');
        const first = await channel.appendMessage({ serial, data: ' is' });
        const second = await channel.appendMessage({ serial, data: ' 42' });
        assert.ok(second.versionSerial > first.versionSerial);
        const now = await channel.getMessage(serial);
        assert.equal(now.data, 'The answer is 42');
        assert.equal(now.action, 'message.update');
        assert.equal(now.version.serial, second.versionSerial);
        const versions = await channel.getMessageVersions(serial);
        assert.deepEqual(versions.items.map((m) => m.action), ['message.create']);
        const [inHistory] = (await channel.history()).items;
        assert.equal(inHistory.data, 'The answer is 42');
      });

      rtTest('realtime subscribers receive updates, deletes and appends; realtime operations answer versionSerial', async (scope) => {
        const name = uniqueChannel('mutable:rt');
        const publisher = await scope.connected(srv, { binary });
        const subscriber = await scope.connected(srv, { binary });
        const inbox = new Inbox();
        await inbox.subscribe(subscriber.channels.get(name));
        const channel = publisher.channels.get(name);
        await channel.attach();
        const serial = (await channel.publish('story', 'Once')).serials[0];
        const appended = await channel.appendMessage({ serial, data: ' upon' });
        const updated = await channel.updateMessage({ serial, data: 'Once upon a time' });
        const deleted = await channel.deleteMessage({ serial });
        for (const r of [appended, updated, deleted]) assert.equal(typeof r.versionSerial, 'string');
        const got = await inbox.waitForCount(4);
        assert.deepEqual(got.map((m) => m.action), ['message.create', 'message.append', 'message.update', 'message.delete']);
        assert.ok(got.every((m) => m.serial === serial), 'every change names the message');
        assert.equal(got[1].data, ' upon', 'an append arrives as its fragment');
        assert.equal(got[1].name, 'story');
        assert.equal(got[1].version.serial, appended.versionSerial);
        assert.equal(got[2].data, 'Once upon a time');
        assert.equal(got[2].version.serial, updated.versionSerial);
        assert.equal(got[3].version.serial, deleted.versionSerial);
        assert.equal(got[3].timestamp, got[0].timestamp);
        const now = await channel.getMessage(serial);
        assert.equal(now.action, 'message.delete');
        assert.equal(now.data, 'Once upon a time');
      });

      rtTest('a namespace without mutableMessages refuses with 93002; an unknown serial is 40400', async (scope) => {
        const channel = rest(srv, { binary }).channels.get(uniqueChannel('plain'));
        const serial = await published(channel, 'fixed');
        const err = await rejection(channel.updateMessage({ serial, data: 'changed' }));
        assert.equal(err.code, 93002);
        assert.equal(err.statusCode, 400);
        const rt = await scope.connected(srv, { binary });
        const rtChannel = rt.channels.get(channel.name);
        await rtChannel.attach();
        const nack = await rejection(rtChannel.deleteMessage({ serial }));
        assert.equal(nack.code, 93002);
        const mutable = rest(srv, { binary }).channels.get(uniqueChannel('mutable:missing'));
        await published(mutable, 'something');
        const missing = await rejection(mutable.updateMessage({ serial: '01700000000000-000@nowhere:000', data: 'x' }));
        assert.equal(missing.code, 40400);
        assert.equal(missing.statusCode, 404);
        const notThere = await rejection(mutable.getMessage('01700000000000-000@nowhere:000'));
        assert.equal(notThere.code, 40400);
      });

      rtTest('-own capabilities change only the publisher\'s messages; without them 40160', async () => {
        const name = uniqueChannel('mutable:caps');
        const alice = (await restAs(srv, 'mutapp.own:ownsecret', 'alice', binary)).channels.get(name);
        const bob = (await restAs(srv, 'mutapp.own:ownsecret', 'bob', binary)).channels.get(name);
        const plain = (await restAs(srv, 'mutapp.plain:plainsecret', 'alice', binary)).channels.get(name);
        const serial = await published(alice, 'alice wrote this');
        await alice.updateMessage({ serial, data: 'alice edited this' });
        const now = await alice.getMessage(serial);
        assert.equal(now.clientId, 'alice');
        assert.equal(now.version.clientId, 'alice', 'the operation is the updater\'s');
        const other = await rejection(bob.updateMessage({ serial, data: 'bob was here' }));
        assert.equal(other.code, 40160);
        const otherDelete = await rejection(bob.deleteMessage({ serial }));
        assert.equal(otherDelete.code, 40160);
        const noCapability = await rejection(plain.updateMessage({ serial, data: 'no' }));
        assert.equal(noCapability.code, 40160);
        const root = rest(srv, { binary }).channels.get(name);
        await root.deleteMessage({ serial }, { clientId: 'moderator' });
        const moderated = await root.getMessage(serial);
        assert.equal(moderated.action, 'message.delete');
        assert.equal(moderated.clientId, 'alice');
        assert.equal(moderated.version.clientId, 'moderator');
        assert.equal((await alice.getMessage(serial)).data, 'alice edited this');
      });
    });
  }

  rtTest('Ably Chat rooms (<room>::$chat) are mutable without a namespace rule', async () => {
    const channel = rest(srv).channels.get(`${uniqueChannel('room')}::$chat`);
    const serial = await published(channel, 'chat text');
    await channel.updateMessage({ serial, data: 'chat text, edited' });
    assert.equal((await channel.getMessage(serial)).data, 'chat text, edited');
  });

  rtTest('malformed PATCH bodies get Ably errors', async () => {
    const channel = rest(srv).channels.get(uniqueChannel('mutable:bad'));
    const serial = await published(channel, 'x');
    const path = `/channels/${encodeURIComponent(channel.name)}/messages/${encodeURIComponent(serial)}`;
    const headers = { 'Content-Type': 'application/json' };
    const patch = (body) => request(srv.url, 'PATCH', path, { key: ROOT, headers, body });
    assertAblyError(assert, await patch('{not json'), 400, 40001);
    assertAblyError(assert, await patch(JSON.stringify({ serial, action: 0, data: 'y' })), 400, 40003);
    assertAblyError(assert, await patch(JSON.stringify({ serial, action: 9, data: 'y' })), 400, 40003);
    assertAblyError(assert, await patch(JSON.stringify({ serial: 'another', action: 1, data: 'y' })), 400, 40003);
    assertAblyError(assert, await patch(JSON.stringify({ serial, action: 1, version: { metadata: { n: 1 } } })), 400, 40003);
    assertAblyError(assert, await patch(JSON.stringify({ serial, action: 1, version: 'v' })), 400, 40003);
    assertAblyError(assert, await patch(JSON.stringify([{ serial, action: 1 }])), 400, 40001);
    const ok = await patch(JSON.stringify({ serial, action: 1, data: 'y' }));
    assert.equal(ok.status, 200, ok.raw.toString());
    assert.equal(ok.body.serial, serial);
    assert.equal(typeof ok.body.versionSerial, 'string');
  });
});
