// Ably Chat (@ably/chat, the release tests/package.json pins) on Herald,
// unchanged but for the Realtime client's endpoint, port and tls: two
// clients on ably-js (JSON and msgpack) join a room and each asserts what
// the other did. Messages and message reactions go through Chat's REST API
// (/chat/v4/rooms/..., rest_chat.c, rest_chat_reactions.c) onto the room's
// channel "<room>::$chat", whose messages are mutable and annotated; typing, room reactions, presence and occupancy events are the
// ordinary channel's. Chat's `import "ably"` is the ably-js the tests
// selected (lib/chat.mjs), so both passes of the Makefile run it.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/chat.test.mjs

import assert from 'node:assert/strict';
import { ChatClient } from './lib/chat.mjs';
import {
  Ably, describe, before, after, test, startServer, uniqueChannel, request, restClient, assertAblyError,
} from './lib/server.mjs';
import { rtTest, PROTOCOLS, withTimeout, rejection } from './lib/realtime.mjs';

/** Collects a Chat subscription's events; waits for one matching pred. */
class Seen {
  constructor() {
    this.events = [];
    this.waiters = new Set();
  }

  push = (e) => {
    this.events.push(e);
    for (const w of this.waiters) w();
  };

  wait(pred, what) {
    let check;
    const p = new Promise((resolve) => {
      check = () => { const e = this.events.find(pred); if (e) resolve(e); };
      this.waiters.add(check);
      check();
    });
    const have = () => this.events.map((e) => e.type).join(',');
    return withTimeout(p, 10000, `${what} (seen: ${have()})`).finally(() => this.waiters.delete(check));
  }
}

/** The room `name` of a new ChatClient on a connected Realtime client, attached. */
async function joinRoom(realtime, name, options) {
  const room = await new ChatClient(realtime, { logLevel: 'silent' }).rooms.get(name, options);
  await withTimeout(room.attach(), 10000, `${realtime.auth.clientId} attaches ${name}`);
  return room;
}

/** A token for clientId with capability on the room's channel. */
async function roomToken(srv, clientId, room, ops) {
  const capability = JSON.stringify({ [`${room}::$chat`]: ops });
  return restClient(srv).auth.requestToken({ clientId, capability });
}

const texts = (messages) => messages.map((m) => m.text);

describe('Ably Chat on Herald', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--occupancy-interval-ms', '200'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  for (const { name: proto, binary } of PROTOCOLS) {
    rtTest(`${proto}: messages sent, seen, updated and deleted between two clients; history before subscribing`, async (scope) => {
      const name = uniqueChannel(`room-${proto}`);
      const alice = await joinRoom(await scope.connected(srv, { binary, clientId: 'alice' }), name);
      const one = await alice.messages.send({ text: 'one' });
      const two = await alice.messages.send({ text: 'two' });

      const bob = await joinRoom(await scope.connected(srv, { binary, clientId: 'bob' }), name);
      const atBob = new Seen();
      const atAlice = new Seen();
      const { historyBeforeSubscribe } = bob.messages.subscribe(atBob.push);
      alice.messages.subscribe(atAlice.push);
      const before = await historyBeforeSubscribe({ limit: 10 });
      assert.deepEqual(texts(before.items), ['two', 'one'], 'bob sees what was sent before he subscribed, newest first');
      assert.deepEqual(before.items.map((m) => m.serial), [two.serial, one.serial]);
      assert.equal(before.hasNext(), false);

      const sent = await alice.messages.send({ text: 'hello', metadata: { mood: 'sunny', n: 1 }, headers: { lang: 'en' } });
      assert.equal(sent.clientId, 'alice');
      assert.equal(sent.action, 'message.create');
      assert.equal(sent.version.serial, sent.serial);
      const created = await atBob.wait((e) => e.type === 'message.created' && e.message.text === 'hello', 'bob sees hello');
      assert.equal(created.message.serial, sent.serial);
      assert.equal(created.message.clientId, 'alice');
      assert.deepEqual(created.message.metadata, { mood: 'sunny', n: 1 });
      assert.deepEqual(created.message.headers, { lang: 'en' });
      assert.equal(created.message.timestamp.getTime(), sent.timestamp.getTime());
      const reply = await bob.messages.send({ text: 'hi alice' });
      const replied = await atAlice.wait((e) => e.type === 'message.created' && e.message.serial === reply.serial, 'alice sees bob');
      assert.equal(replied.message.clientId, 'bob');
      assert.equal(replied.message.text, 'hi alice');

      const updated = await alice.messages.update(sent.serial, { text: 'hello, edited', metadata: { mood: 'rainy' } },
        { description: 'typo', metadata: { editor: 'alice' } });
      assert.equal(updated.action, 'message.update');
      assert.equal(updated.serial, sent.serial);
      assert.equal(updated.text, 'hello, edited');
      assert.deepEqual(updated.headers, {}, 'an update replaces the headers too');
      assert.ok(updated.version.serial > sent.serial, 'a newer version');
      assert.equal(updated.version.clientId, 'alice');
      assert.equal(updated.version.description, 'typo');
      assert.deepEqual(updated.version.metadata, { editor: 'alice' });
      assert.equal(updated.timestamp.getTime(), sent.timestamp.getTime(), 'timestamp stays the create time');
      const seenUpdate = await atBob.wait((e) => e.type === 'message.updated', 'bob sees the edit');
      assert.equal(seenUpdate.message.serial, sent.serial);
      assert.equal(seenUpdate.message.text, 'hello, edited');
      assert.deepEqual(seenUpdate.message.metadata, { mood: 'rainy' });
      assert.equal(seenUpdate.message.version.serial, updated.version.serial);
      assert.equal(seenUpdate.message.version.description, 'typo');

      const deleted = await alice.messages.delete(sent.serial, { description: 'gone' });
      assert.equal(deleted.action, 'message.delete');
      assert.ok(deleted.version.serial > updated.version.serial);
      const seenDelete = await atBob.wait((e) => e.type === 'message.deleted', 'bob sees the delete');
      assert.equal(seenDelete.message.serial, sent.serial);
      assert.equal(seenDelete.message.version.serial, deleted.version.serial);
      assert.equal(seenDelete.message.version.description, 'gone');
      assert.equal(seenDelete.message.action, 'message.delete');

      const now = await bob.messages.get(sent.serial);
      assert.equal(now.action, 'message.delete');
      assert.equal(now.version.serial, deleted.version.serial);
      assert.equal(now.clientId, 'alice', 'the message stays its sender\'s');

      const first = await bob.messages.history({ orderBy: 'oldestFirst', limit: 2 });
      assert.deepEqual(texts(first.items), ['one', 'two']);
      assert.ok(first.hasNext());
      const second = await first.next();
      assert.deepEqual(second.items.map((m) => [m.serial, m.action]),
        [[sent.serial, 'message.delete'], [reply.serial, 'message.create']], 'each message once, as it now is');
      assert.equal(second.hasNext(), false);
      const newest = await bob.messages.history({ limit: 1 });
      assert.deepEqual(texts(newest.items), ['hi alice'], 'newest first by default');

      const versions = await bob.messages.getVersions(sent.serial);
      assert.deepEqual(versions.items.map((m) => [m.action, m.text, m.version.serial]), [
        ['message.create', 'hello', sent.serial],
        ['message.update', 'hello, edited', updated.version.serial],
        ['message.delete', 'hello, edited', deleted.version.serial],
      ]);
    });

    rtTest(`${proto}: typing, room reactions, presence and occupancy between two clients`, async (scope) => {
      const name = uniqueChannel(`room-live-${proto}`);
      const options = { occupancy: { enableEvents: true }, typing: { heartbeatThrottleMs: 1000 } };
      const alice = await joinRoom(await scope.connected(srv, { binary, clientId: 'alice' }), name, options);
      const bob = await joinRoom(await scope.connected(srv, { binary, clientId: 'bob' }), name, options);

      const typing = new Seen();
      bob.typing.subscribe(typing.push);
      await alice.typing.keystroke();
      const started = await typing.wait((e) => e.change.type === 'typing.started', 'bob sees alice typing');
      assert.equal(started.change.clientId, 'alice');
      assert.deepEqual([...bob.typing.current], ['alice']);
      await alice.typing.stop();
      const stopped = await typing.wait((e) => e.change.type === 'typing.stopped', 'bob sees alice stop');
      assert.equal(stopped.change.clientId, 'alice');
      assert.equal(bob.typing.current.size, 0);

      const reactions = new Seen();
      bob.reactions.subscribe(reactions.push);
      await alice.reactions.send({ name: 'heart', metadata: { big: true } });
      const reaction = await reactions.wait((e) => e.reaction.name === 'heart', 'bob sees the room reaction');
      assert.equal(reaction.reaction.clientId, 'alice');
      assert.deepEqual(reaction.reaction.metadata, { big: true });
      assert.equal(reaction.reaction.isSelf, false);

      const occupancy = new Seen();
      bob.occupancy.subscribe(occupancy.push);
      const presence = new Seen();
      bob.presence.subscribe(presence.push);
      await alice.presence.enter({ status: 'online' });
      const entered = await presence.wait((e) => e.type === 'enter', 'bob sees alice enter');
      assert.equal(entered.member.clientId, 'alice');
      assert.deepEqual(entered.member.data, { status: 'online' });
      assert.deepEqual((await bob.presence.get()).map((m) => m.clientId), ['alice']);
      // the channel's owner learns other workers' counts as they change, so
      // an event may come before both attachments count
      await occupancy.wait((e) => e.occupancy.presenceMembers === 1 && e.occupancy.connections === 2,
        'bob sees the occupancy event: both connections, alice present');
      assert.deepEqual(await bob.occupancy.get(), { connections: 2, presenceMembers: 1 });
      await alice.presence.update({ status: 'away' });
      const update = await presence.wait((e) => e.type === 'update', 'bob sees alice update');
      assert.deepEqual(update.member.data, { status: 'away' });
      await alice.presence.leave();
      await presence.wait((e) => e.type === 'leave' && e.member.clientId === 'alice', 'bob sees alice leave');
      assert.equal(await bob.presence.isUserPresent('alice'), false);
    });

    rtTest(`${proto}: message reactions of each type (unique, distinct, multiple) seen as summaries by the other client`, async (scope) => {
      const name = uniqueChannel(`room-reactions-${proto}`);
      const alice = await joinRoom(await scope.connected(srv, { binary, clientId: 'alice' }), name);
      const bob = await joinRoom(await scope.connected(srv, { binary, clientId: 'bob' }), name);
      const message = await alice.messages.send({ text: 'react to me' });
      const summaries = new Seen();
      alice.messages.reactions.subscribe(summaries.push);
      const { serial } = message;

      await bob.messages.reactions.send(serial, { type: 'unique', name: 'thumbsup' });
      await bob.messages.reactions.send(serial, { type: 'unique', name: 'heart' });
      let s = await summaries.wait((e) => e.reactions.unique.heart && !e.reactions.unique.thumbsup,
        'alice sees bob\'s one unique reaction move');
      assert.equal(s.messageSerial, serial);
      assert.deepEqual(s.reactions.unique.heart, { total: 1, clientIds: ['bob'], clipped: false });

      await bob.messages.reactions.send(serial, { type: 'distinct', name: 'a' });
      await bob.messages.reactions.send(serial, { type: 'distinct', name: 'a' });
      await bob.messages.reactions.send(serial, { type: 'distinct', name: 'b' });
      await alice.messages.reactions.send(serial, { type: 'distinct', name: 'a' });
      s = await summaries.wait((e) => e.reactions.distinct.a?.total === 2 && e.reactions.distinct.b?.total === 1,
        'alice sees the distinct reactions, each client once a name');
      assert.deepEqual([...s.reactions.distinct.a.clientIds].sort(), ['alice', 'bob']);
      assert.deepEqual(s.reactions.distinct.b.clientIds, ['bob']);

      await bob.messages.reactions.send(serial, { type: 'multiple', name: 'vote', count: 3 });
      await bob.messages.reactions.send(serial, { type: 'multiple', name: 'vote' });
      s = await summaries.wait((e) => e.reactions.multiple.vote?.total === 4, 'alice sees the multiple reactions add up');
      assert.deepEqual(s.reactions.multiple.vote.clientIds, { bob: 4 });
      assert.equal(s.reactions.multiple.vote.totalClientIds, 1);
      assert.equal(s.reactions.multiple.vote.totalUnidentified, 0);

      const read = await alice.messages.get(serial);
      assert.deepEqual(read.reactions, s.reactions, 'the message as read carries its reactions');
      const [page] = (await alice.messages.history({ limit: 1 })).items;
      assert.deepEqual(page.reactions, s.reactions, 'and so does history');
      const bobs = await alice.messages.reactions.clientReactions(serial, 'bob');
      assert.deepEqual(Object.keys(bobs.unique), ['heart']);
      assert.deepEqual(Object.keys(bobs.distinct).sort(), ['a', 'b']);
      assert.deepEqual(bobs.distinct.a.clientIds, ['bob'], 'the client\'s reactions, the client alone');
      assert.deepEqual(bobs.multiple.vote.clientIds, { bob: 4 });
      const mine = await alice.messages.reactions.clientReactions(serial);
      assert.deepEqual(mine, { unique: {}, distinct: { a: { total: 2, clientIds: ['alice'], clipped: false } }, multiple: {} },
        'by default the caller\'s');

      await bob.messages.reactions.delete(serial, { type: 'unique' });
      await bob.messages.reactions.delete(serial, { type: 'distinct', name: 'a' });
      await bob.messages.reactions.delete(serial, { type: 'multiple', name: 'vote' });
      s = await summaries.wait((e) => !e.reactions.unique.heart && e.reactions.distinct.a?.total === 1 && !e.reactions.multiple.vote,
        'alice sees bob\'s reactions deleted');
      assert.deepEqual(s.reactions.distinct.a.clientIds, ['alice']);
      assert.deepEqual(s.reactions.distinct.b.clientIds, ['bob'], 'a delete names its name');
    });

    rtTest(`${proto}: capabilities on the room's channel: -own rights, no rights, and Chat's errors are the test's ably-js's`, async (scope) => {
      const name = uniqueChannel(`room-caps-${proto}`);
      const basic = ['publish', 'subscribe', 'presence', 'history'];
      const own = [...basic, 'message-update-own', 'message-delete-own'];
      const alice = await joinRoom(await scope.connected(srv, { binary, key: undefined, token: (await roomToken(srv, 'alice', name, own)).token }), name);
      const bob = await joinRoom(await scope.connected(srv, { binary, key: undefined, token: (await roomToken(srv, 'bob', name, own)).token }), name);
      const carol = await joinRoom(await scope.connected(srv, { binary, key: undefined, token: (await roomToken(srv, 'carol', name, basic)).token }), name);

      const mine = await alice.messages.send({ text: 'mine' });
      const edited = await alice.messages.update(mine.serial, { text: 'still mine' });
      assert.equal(edited.text, 'still mine', 'message-update-own lets alice edit her message');
      let e = await rejection(bob.messages.update(mine.serial, { text: 'bob was here' }), 10000, 'bob edits alice\'s message');
      assert.ok(e instanceof Ably.ErrorInfo, 'Chat throws the ably-js ErrorInfo the tests loaded');
      assert.equal(e.code, 40160);
      assert.equal(e.statusCode, 401);
      e = await rejection(bob.messages.delete(mine.serial), 10000, 'bob deletes alice\'s message');
      assert.equal(e.code, 40160);
      const carols = await carol.messages.send({ text: 'carol' });
      e = await rejection(carol.messages.update(carols.serial, { text: 'carol, edited' }), 10000, 'carol edits without the right');
      assert.equal(e.code, 40160);
      assert.equal((await alice.messages.get(mine.serial)).text, 'still mine', 'refused changes change nothing');
      e = await rejection(carol.messages.reactions.send(mine.serial, { name: 'like' }), 10000, 'carol reacts without annotation-publish');
      assert.equal(e.code, 40160);

      const outsider = await scope.connected(srv, { binary, key: undefined, token: (await roomToken(srv, 'dave', `${name}-other`, own)).token });
      const room = await new ChatClient(outsider, { logLevel: 'silent' }).rooms.get(name);
      e = await rejection(room.messages.send({ text: 'let me in' }), 10000, 'a client without rights on the room sends');
      assert.equal(e.code, 40160);
    });
  }

  describe('bad input to the Chat REST API', () => {
    const room = uniqueChannel('room-bad');
    const path = `/chat/v4/rooms/${room}/messages`;
    const call = (method, p, opts = {}) => request(srv.url, method, p, { key: srv.key, ...opts });

    test('a body without text, with text not a string, or not an object: 400', async () => {
      assertAblyError(assert, await call('POST', path, { json: { metadata: {} } }), 400, 40003, 'no text');
      assertAblyError(assert, await call('POST', path, { json: { text: 7 } }), 400, 40003, 'text a number');
      assertAblyError(assert, await call('POST', path, { json: { text: 'x', metadata: 'no' } }), 400, 40003, 'metadata a string');
      assertAblyError(assert, await call('POST', path, { json: { text: 'x', headers: { a: { b: 1 } } } }), 400, 40003, 'nested headers');
      assertAblyError(assert, await call('POST', path, { json: ['text'] }), 400, 40001, 'an array');
      assertAblyError(assert, await call('POST', path, { body: '{"text":', headers: { 'content-type': 'application/json' } }), 400, 40001, 'malformed JSON');
      const sent = await call('POST', path, { json: { text: 'fine' } });
      assert.equal(sent.status, 201);
      assertAblyError(assert, await call('PUT', `${path}/${encodeURIComponent(sent.body.serial)}`, { json: { message: { text: 1 } } }), 400, 40003, 'an update\'s text a number');
      assertAblyError(assert, await call('PUT', `${path}/${encodeURIComponent(sent.body.serial)}`, { json: { message: { text: 'x' }, metadata: { n: 1 } } }), 400, 40003, 'operation metadata not strings');
    });

    test('unknown serials: 404 40400 for get, update, delete and reactions', async () => {
      const serial = encodeURIComponent('01700000000000-000@nowhere:000');
      assertAblyError(assert, await call('GET', `${path}/${serial}`), 404, 40400, 'get');
      assertAblyError(assert, await call('PUT', `${path}/${serial}`, { json: { message: { text: 'x' } } }), 404, 40400, 'update');
      assertAblyError(assert, await call('POST', `${path}/${serial}/delete`, { json: {} }), 404, 40400, 'delete');
      const headers = { 'x-ably-clientid': Buffer.from('alice').toString('base64') };
      assertAblyError(assert, await call('POST', `${path}/${serial}/reactions`, { json: { type: 'distinct', name: 'x' }, headers }), 404, 40400, 'react');
      assertAblyError(assert, await call('GET', `${path}/${serial}/client-reactions?forClientId=alice`), 404, 40400, 'client reactions');
    });

    test('a reaction of an unknown type, without a name, or with a bad count: 400 40003', async () => {
      const sent = await call('POST', path, { json: { text: 'react' } });
      const reactions = `${path}/${encodeURIComponent(sent.body.serial)}/reactions`;
      const headers = { 'x-ably-clientid': Buffer.from('alice').toString('base64') };
      assertAblyError(assert, await call('POST', reactions, { json: { type: 'bogus', name: 'x' }, headers }), 400, 40003, 'unknown type');
      assertAblyError(assert, await call('POST', reactions, { json: { type: 'distinct' }, headers }), 400, 40003, 'no name');
      assertAblyError(assert, await call('POST', reactions, { json: { type: 'multiple', name: 'x', count: 0 }, headers }), 400, 40003, 'count 0');
      const ok = await call('POST', reactions, { json: { type: 'reaction:multiple.v1', name: 'x', count: 2 }, headers });
      assert.equal(ok.status, 201, 'the annotation type is a type too');
      assert.equal(typeof ok.body.serial, 'string');
    });

    test('an idempotencyKey repeated sends one message', async () => {
      const first = await call('POST', `${path}?idempotencyKey=k-1`, { json: { text: 'once' } });
      const again = await call('POST', `${path}?idempotencyKey=k-1`, { json: { text: 'once' } });
      assert.equal(first.status, 201);
      assert.equal(again.status, 201);
      assert.equal(again.body.serial, first.body.serial);
      const page = await call('GET', `${path}?limit=100`);
      assert.equal(page.body.filter((m) => m.text === 'once').length, 1);
    });

    test('msgpack request and answer', async () => {
      const sent = await call('POST', path, { msgpack: { text: 'packed', headers: { k: 1 } }, accept: 'msgpack' });
      assert.equal(sent.status, 201);
      assert.equal(sent.contentType, 'application/x-msgpack');
      assert.equal(sent.body.text, 'packed');
      assert.deepEqual(sent.body.headers, { k: 1 });
      assert.equal(sent.body.action, 'message.create');
      assert.equal(sent.body.version.serial, sent.body.serial);
    });

    test('a room name that is a channel qualifier: 400 40010', async () => {
      assertAblyError(assert, await call('GET', `/chat/v4/rooms/${encodeURIComponent('[meta]x')}/messages`), 400, 40010);
    });
  });
});
