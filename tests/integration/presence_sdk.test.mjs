// Presence (spec/realtime.md §6, spec/rest.md §10.4-10.5) through the
// official ably-js SDK, each realtime test over JSON and msgpack:
//  - enter / update / leave seen by a second client, ids and identities;
//  - presence.get() after attach with 0, 1 and 1,100 members (multi-page
//    SYNC), and REST presence.get agreeing with it (filters, pages);
//  - enterClient for several clientIds; data of every kind across formats;
//  - leaving: at once on leave(), detach() and close(); after the grace
//    period on an abrupt disconnect; not at all when the client resumes in
//    time;
//  - presence history pages; the member limit (91003); the presence
//    capability (40160); POST /apps presence fixtures (test-app-setup.json).

import assert from 'node:assert/strict';
import {
  startServer, describe, before, after, uniqueChannel, sleep, request, basicAuth,
  parseLinkHeader, restClient,
} from './lib/server.mjs';
import { testAppSetupPostApps, ablyCommonFixture } from './lib/fixtures.mjs';
import {
  PROTOCOLS,
  PresenceInbox,
  rtTest, waitForState, withTimeout, killTransport, startTcpProxy, closeClient,
} from './lib/realtime.mjs';

const ROOT = 'presapp.root:secretroot';
const NO_PRESENCE = 'presapp.nopres:secretnopres';
const SMALL_ROOT = 'smallapp.root:secretsmall';
const SMALL_LIMIT = 3;
const CONFIG = {
  apps: [
    {
      id: 'presapp',
      keys: [
        { key: ROOT, capability: { '*': ['*'] } },
        { key: NO_PRESENCE, capability: { '*': ['publish', 'subscribe'] } },
      ],
    },
    {
      id: 'smallapp',
      keys: [{ key: SMALL_ROOT, capability: { '*': ['*'] } }],
      limits: { presence: { maxMembers: SMALL_LIMIT } },
    },
  ],
};
const GRACE_MS = 1500;
const BIG = 1100; // members: more than one SYNC page and one REST page
const SERVER_ARGS = [
  '--presence-grace-ms', String(GRACE_MS),
  '--presence-max-members', '5000',
  '--max-inbound-rate', '100000',
  '--max-idle-interval-ms', '3000',
  '--connection-state-ttl-ms', '10000',
];

const byClient = (a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0);

let srv;
before(async () => {
  srv = await startServer({ config: CONFIG, env: { HERALD_KEY: null }, args: SERVER_ARGS });
});
after(async () => { if (srv) await srv.stop(); });

for (const proto of PROTOCOLS) {
  const B = proto.binary;
  const chan = (p) => uniqueChannel(`pres-${proto.name}-${p}`);
  const rest = (opts = {}) => restClient(srv, { key: ROOT, binary: B, ...opts });

  async function connected(scope, opts = {}) {
    const c = scope.realtime(srv, { key: ROOT, binary: B, ...opts });
    await waitForState(c.connection, 'connected', { what: `${opts.clientId || 'client'} connection` });
    return c;
  }

  /** An observer attached to `name` whose presence events go to an inbox. */
  async function observer(scope, name) {
    const c = await connected(scope, { clientId: 'observer' });
    const channel = c.channels.get(name);
    const inbox = new PresenceInbox();
    await withTimeout(inbox.subscribe(channel), 10000, `attach ${name}`);
    return { client: c, channel, inbox };
  }

  describe(`presence through ably-js over ${proto.name}`, () => {
    rtTest('enter, update and leave reach a second client with ids, identities and data', async (scope) => {
      const name = chan('basic');
      const obs = await observer(scope, name);
      const alice = await connected(scope, { clientId: 'alice' });
      const ch = alice.channels.get(name);
      await ch.presence.enter({ mood: 'happy' });
      const enter = await obs.inbox.waitFor('enter', 'alice');
      assert.equal(enter.connectionId, alice.connection.id);
      assert.deepEqual(enter.data, { mood: 'happy' });
      assert.match(enter.id, new RegExp(`^${alice.connection.id}:\\d+:0$`), `enter id ${enter.id}`);
      assert.equal(typeof enter.timestamp, 'number');

      await ch.presence.update('busy');
      const update = await obs.inbox.waitFor('update', 'alice');
      assert.equal(update.data, 'busy');
      assert.notEqual(update.id, enter.id);

      await ch.presence.leave();
      const leave = await obs.inbox.waitFor('leave', 'alice');
      assert.equal(leave.data, 'busy', 'a LEAVE without data carries the last data');
      assert.deepEqual(obs.inbox.messages.map((m) => `${m.action}:${m.clientId}`),
        ['enter:alice', 'update:alice', 'leave:alice'], 'exactly the three events, in order');
      assert.deepEqual(await obs.channel.presence.get(), [], 'nobody present after the leave');
    });

    rtTest('presence.get() after attach: 0 members, then 1, the same set REST returns', async (scope) => {
      const name = chan('get');
      const late = await connected(scope, { clientId: 'late' });
      assert.deepEqual(await late.channels.get(name).presence.get(), [], 'empty channel');

      const bob = await connected(scope, { clientId: 'bob' });
      await bob.channels.get(name).presence.enter('hi');
      const another = await connected(scope, { clientId: 'another' });
      const members = await another.channels.get(name).presence.get();
      assert.equal(members.length, 1);
      assert.equal(members[0].clientId, 'bob');
      assert.equal(members[0].action, 'present');
      assert.equal(members[0].data, 'hi');
      assert.equal(members[0].connectionId, bob.connection.id);

      const page = await rest().channels.get(name).presence.get();
      assert.equal(page.items.length, 1);
      const [r] = page.items;
      assert.equal(r.action, 'present');
      assert.equal(r.id, members[0].id, 'REST keeps the member\'s original id');
      assert.equal(r.clientId, 'bob');
      assert.equal(r.connectionId, bob.connection.id);
      assert.equal(r.data, 'hi');
      assert.equal(r.timestamp, members[0].timestamp);
    });

    rtTest('channel status: occupancy counts attachments by mode and presence members', async (scope) => {
      const name = chan('occupancy');
      const metrics = async () => (await rest().channels.get(name).status()).status.occupancy.metrics;
      const zero = {
        connections: 0, publishers: 0, subscribers: 0, presenceConnections: 0,
        presenceSubscribers: 0, presenceMembers: 0, objectPublishers: 0, objectSubscribers: 0,
      };
      assert.deepEqual(await metrics(), zero, 'nobody on a fresh channel');

      const alice = await connected(scope, { clientId: 'alice' });
      await alice.channels.get(name).presence.enter('here'); // attaches with the default modes
      const reader = await connected(scope);
      const readerCh = reader.channels.get(name, { modes: ['subscribe'] });
      await withTimeout(readerCh.attach(), 10000, `attach ${name}`);
      // several more listeners, so that attachments sit on both workers
      const leaves = new PresenceInbox();
      for (let i = 0; i < 3; i++) {
        const c = await connected(scope);
        const ch = c.channels.get(name, { modes: ['presence_subscribe'] });
        await withTimeout(i === 0 ? leaves.subscribe(ch) : ch.attach(), 10000, 'attach');
      }
      assert.deepEqual(await metrics(), {
        ...zero, connections: 5, publishers: 1, subscribers: 2, presenceConnections: 1,
        presenceSubscribers: 4, presenceMembers: 1,
      });
      const [listed] = (await rest().request('get', '/channels', 3, { prefix: name, by: 'value' })).items;
      assert.equal(listed.channelId, name);
      assert.equal(listed.status.occupancy.metrics.connections, 5, 'GET /channels by value counts too');

      await withTimeout(readerCh.detach(), 10000, 'detach');
      await closeClient(alice); // CLOSE leaves at once
      await leaves.waitFor('leave', 'alice'); // broadcast once the owner applied it
      assert.deepEqual(await metrics(), { ...zero, connections: 3, presenceSubscribers: 3 });
    });

    rtTest('GET /channels: channels someone is on, merged with channels with history, in pages', async (scope) => {
      const prefix = chan('enum') + '-';
      const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((x) => prefix + x);
      for (const name of [a, c]) await rest().channels.get(name).publish('m', 'history');
      const listener = await connected(scope);
      await withTimeout(listener.channels.get(b).attach(), 10000, 'attach b');
      const alice = await connected(scope, { clientId: 'alice' });
      await alice.channels.get(d).presence.enter(); // an attachment and a member
      await alice.channels.get(a).attach(); // active and with history: listed once
      const pages = [];
      let page = await rest().request('get', '/channels', 3, { prefix, limit: 2, by: 'id' });
      for (;;) {
        pages.push(page.items);
        if (!page.hasNext()) break;
        page = await page.next();
      }
      assert.deepEqual(pages, [[a, b], [c, d]], 'sorted, each once, two per page');
      assert.ok(!pages.flat().includes(e), 'a channel nobody is on and without history is not listed');
    });

    rtTest('enterClient for several clientIds; REST filters by clientId and connectionId', async (scope) => {
      const name = chan('clients');
      const obs = await observer(scope, name);
      const keyClient = await connected(scope);
      const other = await connected(scope, { clientId: 'zed' });
      const ch = keyClient.channels.get(name);
      await Promise.all(['c1', 'c2', 'c3'].map((id) => ch.presence.enterClient(id, `data-${id}`)));
      await other.channels.get(name).presence.enter();
      await obs.inbox.waitUntil((ms) => ms.length >= 4, 10000, '4 enters');
      const all = (await obs.channel.presence.get()).sort(byClient);
      assert.deepEqual(all.map((m) => m.clientId), ['c1', 'c2', 'c3', 'zed']);

      const restCh = rest().channels.get(name);
      const c2 = await restCh.presence.get({ clientId: 'c2' });
      assert.deepEqual(c2.items.map((m) => [m.clientId, m.data]), [['c2', 'data-c2']]);
      const ofKey = await restCh.presence.get({ connectionId: keyClient.connection.id });
      assert.deepEqual(ofKey.items.map((m) => m.clientId).sort(), ['c1', 'c2', 'c3']);

      await ch.presence.leaveClient('c2');
      await obs.inbox.waitFor('leave', 'c2');
      const after = (await restCh.presence.get()).items.map((m) => m.clientId).sort();
      assert.deepEqual(after, ['c1', 'c3', 'zed']);
    });

    rtTest(`${BIG} members: get() through a multi-page SYNC, REST in pages of 1000`, async (scope) => {
      const name = chan('big');
      const owner = await connected(scope);
      const ch = owner.channels.get(name);
      await ch.attach();
      const ids = Array.from({ length: BIG }, (_, i) => `member-${String(i).padStart(4, '0')}`);
      await Promise.all(ids.map((id) => ch.presence.enterClient(id, { i: id })));

      const late = await connected(scope, { clientId: 'late' });
      const members = await withTimeout(late.channels.get(name).presence.get(), 20000, 'presence.get of a big set');
      assert.equal(members.length, BIG);
      assert.deepEqual(members.map((m) => m.clientId).sort(), ids);
      assert.ok(members.every((m) => m.connectionId === owner.connection.id && m.data.i === m.clientId));

      const first = await rest().channels.get(name).presence.get({ limit: 1000 });
      assert.equal(first.items.length, 1000);
      assert.ok(first.hasNext(), 'a next page');
      const second = await first.next();
      assert.equal(second.items.length, BIG - 1000);
      assert.ok(second.isLast());
      const seen = [...first.items, ...second.items].map((m) => m.clientId);
      assert.equal(new Set(seen).size, BIG, 'pages neither overlap nor skip');
    });

    rtTest('data of every kind crosses formats: string, JSON object, binary', async (scope) => {
      const name = chan('data');
      const obs = await observer(scope, name);
      const writer = scope.realtime(srv, { key: ROOT, binary: !B });
      await waitForState(writer.connection, 'connected');
      const ch = writer.channels.get(name);
      const bytes = Buffer.from([0, 1, 2, 250, 255]);
      await ch.presence.enterClient('s', 'text');
      await ch.presence.enterClient('j', { nested: [1, 2, { x: true }] });
      await ch.presence.enterClient('b', bytes);
      await obs.inbox.waitUntil((ms) => ms.length >= 3, 10000, '3 enters');
      const got = Object.fromEntries(obs.inbox.messages.map((m) => [m.clientId, m.data]));
      assert.equal(got.s, 'text');
      assert.deepEqual(got.j, { nested: [1, 2, { x: true }] });
      assert.ok(Buffer.isBuffer(got.b) || got.b instanceof ArrayBuffer || ArrayBuffer.isView(got.b), 'binary stays binary');
      assert.deepEqual(Buffer.from(got.b), bytes);
      const synced = Object.fromEntries((await obs.channel.presence.get()).map((m) => [m.clientId, m.data]));
      assert.deepEqual(Buffer.from(synced.b), bytes, 'binary in SYNC');
      assert.deepEqual(synced.j, { nested: [1, 2, { x: true }] });
    });

    rtTest('detach and close leave at once; an abrupt disconnect leaves after the grace period', async (scope, t) => {
      const name = chan('leaves');
      const obs = await observer(scope, name);

      const detacher = await connected(scope, { clientId: 'detacher' });
      const dch = detacher.channels.get(name);
      await dch.presence.enter();
      await obs.inbox.waitFor('enter', 'detacher');
      let t0 = Date.now();
      await dch.detach();
      await obs.inbox.waitFor('leave', 'detacher', GRACE_MS - 200);
      assert.ok(Date.now() - t0 < GRACE_MS, 'DETACH leaves before the grace period');

      const closer = await connected(scope, { clientId: 'closer' });
      await closer.channels.get(name).presence.enter();
      await obs.inbox.waitFor('enter', 'closer');
      t0 = Date.now();
      closer.close();
      await obs.inbox.waitFor('leave', 'closer', GRACE_MS - 200);

      // the dropper reaches the server through a proxy that then refuses
      // it, so it cannot come back
      const proxy = await startTcpProxy(srv.port);
      t.after(() => proxy.close());
      const dropper = scope.realtime(proxy, { key: ROOT, clientId: 'dropper', binary: B });
      await waitForState(dropper.connection, 'connected');
      const pch = dropper.channels.get(name);
      await pch.presence.enter('still here');
      await obs.inbox.waitFor('enter', 'dropper');
      const dropperId = dropper.connection.id;
      proxy.setUp(false);
      t0 = Date.now();
      proxy.dropAll();
      await sleep(GRACE_MS / 3);
      const during = await rest().channels.get(name).presence.get({ clientId: 'dropper' });
      assert.equal(during.items.length, 1, 'still a member during the grace period (REST agrees)');
      const leave = await obs.inbox.waitFor('leave', 'dropper', GRACE_MS + 5000);
      const took = Date.now() - t0;
      assert.ok(took >= GRACE_MS - 100, `LEAVE after the grace period (${took} ms)`);
      assert.ok(took < GRACE_MS + 1000, `LEAVE soon after the grace period (${took} ms)`);
      assert.equal(leave.data, 'still here', 'synthesized LEAVE carries the last data');
      assert.equal(leave.connectionId, dropperId);
      assert.ok(!leave.id.startsWith(leave.connectionId), `synthesized id ${leave.id}`);
      assert.deepEqual((await rest().channels.get(name).presence.get()).items, []);
      process.stderr.write(`presence: abrupt disconnect -> LEAVE at the observer in ${took} ms (grace ${GRACE_MS} ms)\n`);
    });

    rtTest('a client that resumes within the grace period keeps its membership without churn', async (scope) => {
      const name = chan('resume');
      const obs = await observer(scope, name);
      const alice = await connected(scope, { clientId: 'alice' });
      const ch = alice.channels.get(name);
      await ch.presence.enter('x');
      await obs.inbox.waitFor('enter', 'alice');
      const id = alice.connection.id;
      killTransport(alice);
      await waitForState(alice.connection, 'disconnected', { what: 'alice after the kill' });
      await waitForState(alice.connection, 'connected', { what: 'alice resumed' });
      assert.equal(alice.connection.id, id, 'resumed, same connection');
      await waitForState(ch, 'attached');
      // absence of LEAVE can only be seen by waiting past the grace period
      await sleep(GRACE_MS + 500);
      assert.deepEqual(obs.inbox.messages.map((m) => `${m.action}:${m.clientId}`), ['enter:alice'],
        'no LEAVE, no second ENTER');
      const members = await obs.channel.presence.get();
      assert.deepEqual(members.map((m) => m.clientId), ['alice']);
    });

    rtTest('presence history: ENTER, UPDATE and LEAVE in pages, newest first', async (scope) => {
      const name = chan('hist');
      const c = await connected(scope, { clientId: 'hist' });
      const ch = c.channels.get(name);
      const obs = await observer(scope, name);
      await ch.presence.enter('e');
      await ch.presence.update('u1');
      await ch.presence.update('u2');
      await ch.presence.leave();
      await obs.inbox.waitFor('leave', 'hist');
      const p1 = await rest().channels.get(name).presence.history({ limit: 2 });
      assert.deepEqual(p1.items.map((m) => [m.action, m.data]), [['leave', 'u2'], ['update', 'u2']]);
      const p2 = await p1.next();
      assert.deepEqual(p2.items.map((m) => [m.action, m.data]), [['update', 'u1'], ['enter', 'e']]);
      assert.ok(p2.isLast() || (await p2.next()).items.length === 0);
      const fwd = await rest().channels.get(name).presence.history({ direction: 'forwards' });
      assert.deepEqual(fwd.items.map((m) => m.action), ['enter', 'update', 'update', 'leave']);
      assert.ok(fwd.items.every((m) => m.clientId === 'hist' && m.connectionId === c.connection.id));
    });

    rtTest('the member limit: entering beyond maxMembers is refused with 91003', async (scope) => {
      const c = scope.realtime(srv, { key: SMALL_ROOT, binary: B });
      await waitForState(c.connection, 'connected');
      const ch = c.channels.get(chan('limit'));
      for (let i = 0; i < SMALL_LIMIT; i++) await ch.presence.enterClient(`m${i}`);
      await assert.rejects(ch.presence.enterClient('one-too-many'), (e) => {
        assert.equal(e.code, 91003, `${e.code}: ${e.message}`);
        return true;
      });
      await ch.presence.updateClient('m0', 'updates still work');
      await ch.presence.leaveClient('m1');
      await ch.presence.enterClient('after-a-leave');
      assert.equal((await ch.presence.get()).length, SMALL_LIMIT);
    });

    rtTest('without the presence capability, enter is refused with 40160', async (scope) => {
      const c = scope.realtime(srv, { key: NO_PRESENCE, clientId: 'nope', binary: B });
      await waitForState(c.connection, 'connected');
      const ch = c.channels.get(chan('nocap'));
      await ch.attach();
      await assert.rejects(ch.presence.enter(), (e) => {
        assert.equal(e.code, 40160, `${e.code}: ${e.message}`);
        return true;
      });
    });
  });
}

describe('presence fixtures of POST /apps (test-app-setup.json)', () => {
  let sandbox;
  let app;
  before(async () => {
    sandbox = await startServer({ args: ['--sandbox'] });
    const res = await request(sandbox.url, 'POST', '/apps', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(testAppSetupPostApps()),
    });
    assert.equal(res.status, 201, res.raw.toString());
    app = JSON.parse(res.raw.toString());
  });
  after(async () => { if (sandbox) await sandbox.stop(); });

  const CHANNEL = 'persisted:presence_fixtures';
  const fixtures = testAppSetupPostApps().channels[0].presence;

  for (const proto of PROTOCOLS) {
    rtTest(`appear as PRESENT members, decoded by ably-js (${proto.name})`, async () => {
      const key = app.keys[0].keyStr;
      const { cipher } = ablyCommonFixture('test-app-setup.json');
      const client = restClient(sandbox, { key, binary: proto.binary });
      const ch = client.channels.get(CHANNEL, { cipher: { key: cipher.key } });
      const page = await ch.presence.get();
      const got = Object.fromEntries(page.items.map((m) => [m.clientId, m]));
      assert.deepEqual(Object.keys(got).sort(), fixtures.map((f) => f.clientId).sort());
      for (const m of page.items) assert.equal(m.action, 'present');
      assert.equal(got.client_bool.data, 'true');
      assert.equal(got.client_int.data, '24');
      assert.equal(got.client_string.data, 'This is a string clientData payload');
      assert.deepEqual(got.client_decoded.data, { example: { json: 'Object' } });
      assert.deepEqual(got.client_encoded.data, { example: { json: 'Object' } }, 'decrypted with the fixture cipher');
      const filtered = await ch.presence.get({ clientId: 'client_int' });
      assert.deepEqual(filtered.items.map((m) => m.clientId), ['client_int']);
    });
  }

  rtTest('appear as ENTER events in presence history, and to realtime clients', async (scope) => {
    const key = app.keys[0].keyStr;
    const history = await restClient(sandbox, { key }).channels.get(CHANNEL).presence.history();
    assert.equal(history.items.length, fixtures.length);
    assert.ok(history.items.every((m) => m.action === 'enter'));
    const rt = scope.realtime(sandbox, { key });
    await waitForState(rt.connection, 'connected');
    const members = await rt.channels.get(CHANNEL).presence.get();
    assert.equal(members.length, fixtures.length);
  });

  rtTest('raw HTTP: numeric actions and Link headers', async () => {
    const key = app.keys[0].keyStr;
    const res = await request(sandbox.url, 'GET', `/channels/${encodeURIComponent(CHANNEL)}/presence?limit=4`, {
      headers: { authorization: basicAuth(key), accept: 'application/json' },
    });
    assert.equal(res.status, 200);
    const body = JSON.parse(res.raw.toString());
    assert.equal(body.length, 4);
    assert.ok(body.every((m) => m.action === 1 && typeof m.id === 'string' && typeof m.timestamp === 'number'));
    const links = parseLinkHeader(res.headers.get('link'));
    assert.match(links.next, /^\.\/presence\?.*cursor=/, `next link ${links.next}`);
    const next = await request(sandbox.url, 'GET',
      `/channels/${encodeURIComponent(CHANNEL)}/${links.next.slice(2)}`, {
        headers: { authorization: basicAuth(key), accept: 'application/json' },
      });
    const rest2 = JSON.parse(next.raw.toString());
    assert.equal(rest2.length, fixtures.length - 4);
    const all = new Set([...body, ...rest2].map((m) => m.clientId));
    assert.equal(all.size, fixtures.length);
  });
});
