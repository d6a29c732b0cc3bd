// Batch presence, GET /presence: every request and response example of seed
// 002 over raw HTTP (field by field, JSON and msgpack responses), the
// separator, the current BatchResult form (X-Ably-Version >= 3), limits and
// per-channel capabilities; then the seed's request() examples and
// batchPresence() through ably-js over both protocols, with members entered
// over realtime and the test-app-setup.json presence fixtures.

import assert from 'node:assert/strict';
import { startServer, test, describe, before, after, assertAblyError } from './lib/server.mjs';
import { makeJwt, bearer } from './lib/auth.mjs';
import { ClientScope, waitForState } from './lib/realtime.mjs';
import {
  assertErrorInfo, assertFailureItem, assertPartialFailure, assertBatchResult, createTestApp,
  CAPABILITY_MESSAGE, BATCH_ERROR_MESSAGE, BATCH_CONFIG, FULL_KEY, SEED_KEY, LIMITED_KEY,
} from './lib/batch.mjs';

// Who is present where (entered over realtime before the tests).
const MEMBERS = {
  channel0: ['user1', 'user2'],
  channel1: [],
  channel2: ['user2', 'user3'],
  'channel,1': ['user1'],
  'channel,2': ['user3'],
  'allowed:room': ['user3'],
};
const PRESENCE_FIELDS = ['action', 'clientId', 'connectionId', 'data', 'encoding', 'extras', 'id', 'timestamp'];

let srv;
const scope = new ClientScope();
before(async () => {
  srv = await startServer({ config: BATCH_CONFIG, env: { HERALD_KEY: null }, args: ['--sandbox'] });
  for (const clientId of ['user1', 'user2', 'user3']) {
    const client = scope.realtime(srv, { key: FULL_KEY, clientId, label: clientId });
    await waitForState(client.connection, 'connected', { what: `${clientId} connection` });
    for (const [channel, ids] of Object.entries(MEMBERS)) {
      if (ids.includes(clientId)) await client.channels.get(channel).presence.enter(`${clientId} here`);
    }
  }
});
after(async () => {
  await scope.closeAll();
  if (srv) await srv.stop();
});

/** A success item {channel, presence} whose members are exactly MEMBERS[channel], as PresenceMessages. */
function assertPresenceItem(item, channel, what = channel) {
  assert.deepEqual(Object.keys(item).sort(), ['channel', 'presence'], `success item fields ${what}: ${JSON.stringify(item)}`);
  assert.equal(item.channel, channel);
  assert.deepEqual(item.presence.map((m) => m.clientId).sort(), MEMBERS[channel], `members of ${channel}`);
  for (const m of item.presence) {
    for (const k of Object.keys(m)) assert.ok(PRESENCE_FIELDS.includes(k), `PresenceMessage field ${k} (${what})`);
    assert.equal(m.action, 1, 'action PRESENT, a number');
    assert.equal(m.data, `${m.clientId} here`);
    assert.equal(typeof m.id, 'string');
    assert.equal(typeof m.connectionId, 'string');
    assert.equal(typeof m.timestamp, 'number');
  }
}

const FORMATS = ['json', 'msgpack'];

for (const accept of FORMATS) {
  const get = (query, opts = {}) => srv.request('GET', `/presence?${query}`, { key: FULL_KEY, accept, ...opts });

  describe(`GET /presence, ${accept} responses`, () => {
    // ---- the seed's examples ------------------------------------------------

    test('seed: channel=channel0,channel1,channel2 -> 200 [{channel, presence}] in request order', async () => {
      const res = await get('channel=channel0,channel1,channel2');
      assert.equal(res.status, 200, `${res.raw}`);
      assert.equal(res.contentType, accept === 'json' ? 'application/json' : 'application/x-msgpack');
      assert.equal(res.headers.get('x-ably-errorcode'), null);
      assert.equal(res.body.length, 3);
      ['channel0', 'channel1', 'channel2'].forEach((c, i) => assertPresenceItem(res.body[i], c));
    });

    test('seed: common-cause failure (expired token) -> 401 error', async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = makeJwt({ key: FULL_KEY, iat: now - 7200, exp: now - 3600 });
      const res = await get('channel=channel0,channel1,channel2', { key: null, headers: { Authorization: bearer(expired) } });
      assertAblyError(assert, res, 401, 40142, 'expired token');
      assert.deepEqual(Object.keys(res.body), ['error']);
      assertErrorInfo(assert, res.body.error, 401, 40142, 'Token expired');
    });

    test('seed: partial success -> 400/40020 with batchResponse in request order', async () => {
      const items = assertPartialFailure(assert, await get('channel=channel0,channel1,channel2', { key: SEED_KEY }), 'seed partial');
      assert.equal(items.length, 3);
      assertPresenceItem(items[0], 'channel0');
      assertPresenceItem(items[1], 'channel1');
      assertFailureItem(assert, items[2], 'channel2', 401, 40160, CAPABILITY_MESSAGE);
    });

    test('seed: names containing commas with separator=! (the intended form of the curl example)', async () => {
      const res = await get(`channel=${encodeURIComponent('channel,1!channel,2')}&separator=!`);
      assert.equal(res.status, 200, `${res.raw}`);
      assertPresenceItem(res.body[0], 'channel,1');
      assertPresenceItem(res.body[1], 'channel,2');
    });

    test('a separator of several characters', async () => {
      const res = await get(`channels=${encodeURIComponent('channel,1::channel2')}&separator=::`);
      assert.equal(res.status, 200, `${res.raw}`);
      assert.deepEqual(res.body.map((i) => i.channel), ['channel,1', 'channel2']);
    });

    test('channels (current) wins over channel (seed)', async () => {
      const res = await get('channels=channel2&channel=channel0');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.map((i) => i.channel), ['channel2']);
    });

    // ---- the current form ---------------------------------------------------

    test('X-Ably-Version 3: 200 with one BatchResult, failures inside', async () => {
      const res = await get('channels=channel0,allowed:room', { key: LIMITED_KEY, headers: { 'X-Ably-Version': '3' } });
      assert.equal(res.status, 200, `${res.raw}`);
      assert.equal(res.headers.get('x-ably-errorcode'), null);
      const [denied, ok] = assertBatchResult(assert, res.body, 1, 1);
      assertFailureItem(assert, denied, 'channel0', 401, 40160, CAPABILITY_MESSAGE);
      assertPresenceItem(ok, 'allowed:room');
    });

    test('X-Ably-Version 3, all succeed', async () => {
      const res = await get('channels=channel0,channel1', { headers: { 'X-Ably-Version': '3' } });
      assert.equal(res.status, 200);
      const [c0, c1] = assertBatchResult(assert, res.body, 2, 0);
      assertPresenceItem(c0, 'channel0');
      assertPresenceItem(c1, 'channel1');
    });

    // ---- limits and failures ------------------------------------------------

    test('101 distinct channels -> 400/40000; a channel listed many times counts once', async () => {
      const names = Array.from({ length: 101 }, (_, i) => `many-${i}`);
      assertAblyError(assert, await get(`channels=${names.join(',')}`), 400, 40000, '101 channels');
      const ok = await get(`channels=${names.slice(0, 100).join(',')}`);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.length, 100);
      const repeated = await get(`channels=${Array(150).fill('channel0').join(',')}`);
      assert.equal(repeated.status, 200, `${repeated.raw.slice(0, 200)}`);
      assert.equal(repeated.body.length, 150);
      assertPresenceItem(repeated.body[149], 'channel0');
    });

    test('no channels -> 400/40000; an empty separator -> 400/40003', async () => {
      assertAblyError(assert, await get(''), 400, 40000, 'no channels');
      assertAblyError(assert, await get('channels='), 400, 40000, 'empty channels');
      assertAblyError(assert, await get('channels=channel0&separator='), 400, 40003, 'empty separator');
    });

    test('no credentials -> 401/40101', async () => {
      assertAblyError(assert, await get('channels=channel0', { key: null }), 401, 40101);
    });

    test('invalid channel names fail per channel with 40010 (an empty name included)', async () => {
      const items = assertPartialFailure(assert, await get(`channels=${encodeURIComponent('channel0,[invalid,,channel2')}`), 'invalid names');
      assertPresenceItem(items[0], 'channel0');
      assertFailureItem(assert, items[1], '[invalid', 400, 40010);
      assertFailureItem(assert, items[2], '', 400, 40010);
      assertPresenceItem(items[3], 'channel2');
    });

    test('a token allowed on some channels only: partial success', async () => {
      const token = makeJwt({ key: FULL_KEY, capability: { channel2: ['subscribe'], channel0: ['publish'] } });
      const items = assertPartialFailure(assert, await get('channels=channel0,channel2', { key: null, headers: { Authorization: bearer(token) } }));
      assertFailureItem(assert, items[0], 'channel0', 401, 40160, CAPABILITY_MESSAGE);
      assertPresenceItem(items[1], 'channel2');
    });
  });
}

// ---- ably-js --------------------------------------------------------------------

for (const proto of [{ name: 'json', binary: false }, { name: 'msgpack', binary: true }]) {
  const rest = (key = FULL_KEY) => srv.rest({ binary: proto.binary, key });

  describe(`batch presence with ably-js over ${proto.name}`, () => {
    test('seed request() example: 200, success, items per channel', async () => {
      const response = await rest().request('GET', '/presence', 2, { channel: 'channel0,channel1,channel2' }, null, {});
      assert.equal(response.statusCode, 200);
      assert.equal(response.success, true);
      assert.equal(response.items.length, 3);
      ['channel0', 'channel1', 'channel2'].forEach((c, i) => assertPresenceItem(response.items[i], c));
    });

    test('seed request() example, partial success: errorCode 40020, items[0].batchResponse', async () => {
      const response = await rest(SEED_KEY).request('GET', '/presence', 2, { channel: 'channel1,channel2' }, null, {});
      assert.equal(response.success, false);
      assert.equal(response.statusCode, 400);
      assert.equal(response.errorCode, 40020);
      assert.equal(response.errorMessage, BATCH_ERROR_MESSAGE);
      const items = response.items[0].batchResponse;
      assertPresenceItem(items[0], 'channel1');
      assertFailureItem(assert, items[1], 'channel2', 401, 40160, CAPABILITY_MESSAGE);
    });

    test('seed request() example, failure: 401 with errorCode and errorMessage', async () => {
      const response = await rest('batchapp.full:wrongsecret').request('GET', '/presence', 2, { channel: 'channel1,channel2' }, null, {});
      assert.equal(response.success, false);
      assert.equal(response.statusCode, 401);
      assert.equal(response.errorCode, 40101);
      assert.equal(typeof response.errorMessage, 'string');
    });

    test('batchPresence(): one BatchResult with the members of each channel', async () => {
      const result = await rest().batchPresence(['channel0', 'channel1', 'channel2']);
      const items = assertBatchResult(assert, result, 3, 0);
      ['channel0', 'channel1', 'channel2'].forEach((c, i) => assertPresenceItem(items[i], c));
    });

    test("ably-js's own batchPresence test, on a test-app-setup.json app with its keys[2]", async () => {
      const keys = await createTestApp(srv);
      const enterer = scope.realtime(srv, { key: keys[0], clientId: 'batchPresenceTest', binary: proto.binary });
      await enterer.channels.get('channel0').presence.enter();
      await enterer.channels.get('channel4').presence.enter();
      const batchResult = await srv.rest({ binary: proto.binary, key: keys[2] }).batchPresence(['channel0', 'channel4']);
      assert.equal(batchResult.successCount, 1);
      assert.equal(batchResult.failureCount, 1);
      assert.equal(batchResult.results[0].channel, 'channel0');
      assert.equal('presence' in batchResult.results[0], false);
      assert.equal(batchResult.results[0].error.statusCode, 401);
      assert.equal(batchResult.results[1].channel, 'channel4');
      assert.equal(batchResult.results[1].presence.length, 1);
      assert.equal(batchResult.results[1].presence[0].clientId, 'batchPresenceTest');
      assert.equal('error' in batchResult.results[1], false);
    });

    test('batchPresence() lists the test-app-setup.json presence fixtures', async () => {
      const keys = await createTestApp(srv);
      const result = await srv.rest({ binary: proto.binary, key: keys[0] }).batchPresence(['persisted:presence_fixtures']);
      const [item] = assertBatchResult(assert, result, 1, 0);
      const byClient = Object.fromEntries(item.presence.map((m) => [m.clientId, m]));
      assert.deepEqual(Object.keys(byClient).sort(),
        ['client_bool', 'client_decoded', 'client_encoded', 'client_int', 'client_json', 'client_string']);
      assert.equal(new Set(item.presence.map((m) => m.connectionId)).size, 1, 'fixtures share one connectionId');
      assert.equal(byClient.client_bool.data, 'true');
      assert.equal(byClient.client_decoded.encoding, 'json');
      for (const m of item.presence) assert.equal(m.action, 1);
    });
  });
}
