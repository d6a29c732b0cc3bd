// App statistics (issue 22 items 5 and 6; server/channel/stats.h,
// stats_minutes.h, server/rest/rest_stats.c) as ably-js's rest.stats()
// reads them, on JSON and msgpack:
//  - known activity (REST and realtime publishes, a persisted namespace,
//    three connections, one channel) reads back with the same counts in
//    every unit (minute, hour, day, month), the current interval with
//    inProgress;
//  - [meta]stats:minute gets each minute's stats as "update" messages in
//    the current schema;
//  - sandbox fixtures (POST /stats, rest.md 17.3) round-trip with the
//    check values SDK suites use, and page forwards and backwards with
//    Link headers, start/end as interval ids, `by` for `unit`;
//  - bad parameters are 40003, a key without the stats capability 40160,
//    POST /stats outside sandbox mode 40300;
//  - with sqlite, the counts survive a restart.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/stats.test.mjs

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, before, after, startServer, restClient, request, uniqueChannel, assertAblyError, parseLinkHeader } from './lib/server.mjs';
import { rtTest, Inbox, withTimeout } from './lib/realtime.mjs';

const ROOT = 'statsapp.root:secretroot'; // every channel and metachannel
const NO_STATS = 'statsapp.pub:secretpub';
const CONFIG = {
  apps: [{
    id: 'statsapp',
    keys: [
      { key: ROOT, capability: { '*': ['*'], '[meta]*': ['*'] } },
      { key: NO_STATS, capability: { '*': ['publish', 'subscribe'] } },
    ],
    namespaces: [{ id: 'persisted', persisted: true }],
  }],
};
const INTERVAL_MS = 200;
const ARGS = ['--stats-interval-ms', String(INTERVAL_MS)];
const MINUTE_ID = /^\d{4}-\d{2}-\d{2}:\d{2}:\d{2}$/;
const HOUR_ID = /^\d{4}-\d{2}-\d{2}:\d{2}$/;
const UNITS = ['minute', 'hour', 'day', 'month'];
const DATA = 'abcd'; // with name 'n': 5 bytes a message

/** Sums each key of `keys` over the items of a page of Stats. */
function totals(items, keys) {
  return Object.fromEntries(keys.map((k) => [k, items.reduce((sum, s) => sum + (s.entries[k] || 0), 0)]));
}

/** Subscribes a client of key ROOT to [meta]stats:minute. */
async function statsWatcher(scope, srv) {
  const client = await scope.connected(srv, { key: ROOT });
  const inbox = new Inbox();
  await withTimeout(inbox.subscribe(client.channels.get('[meta]stats:minute')), 10000, 'subscribe stats');
  return inbox;
}

/** The first [meta]stats:minute update whose entries satisfy pred. */
async function updateWhere(inbox, pred, what) {
  const msgs = await inbox.waitUntil((ms) => ms.some((m) => pred(m.data.entries)), 10000, what);
  return msgs.find((m) => pred(m.data.entries));
}

/** POSTs fixture records as SDK suites do (rest.request). */
async function postFixtures(rest, records) {
  const res = await rest.request('post', '/stats', 3, {}, records);
  assert.equal(res.statusCode, 201, `POST /stats: ${res.errorMessage}`);
  return res.items;
}

describe('stats of known activity', () => {
  let srv;
  before(async () => { srv = await startServer({ config: CONFIG, env: { HERALD_KEY: null }, args: ARGS }); });
  after(async () => { await srv.stop(); });

  rtTest('counts read back in every unit and protocol, and on [meta]stats:minute', async (scope) => {
    const watcher = await statsWatcher(scope, srv);
    const channelName = uniqueChannel('stats');
    const subscriber = await scope.connected(srv, { key: ROOT });
    const publisher = await scope.connected(srv, { key: ROOT, echoMessages: false });
    const subInbox = new Inbox();
    const pubInbox = new Inbox();
    await subInbox.subscribe(subscriber.channels.get(channelName));
    const pubChannel = publisher.channels.get(channelName);
    await pubInbox.subscribe(pubChannel);

    const rest = restClient(srv, { key: ROOT });
    for (let i = 0; i < 5; i++) await rest.channels.get(channelName).publish('n', DATA);
    for (let i = 0; i < 2; i++) await rest.channels.get(`persisted:${channelName}`).publish('n', DATA);
    for (let i = 0; i < 3; i++) await pubChannel.publish('n', DATA);
    await subInbox.waitForCount(8);
    await pubInbox.waitForCount(5); // the REST ones: its own are not echoed

    const expected = {
      'messages.inbound.rest.messages.count': 7,
      'messages.inbound.rest.messages.data': 35,
      'messages.inbound.realtime.messages.count': 3,
      'messages.inbound.realtime.messages.data': 15,
      'messages.inbound.all.messages.count': 10,
      'messages.outbound.realtime.messages.count': 13,
      'messages.outbound.realtime.messages.data': 65,
      'messages.all.messages.count': 23,
      'messages.persisted.messages.count': 2,
      'messages.persisted.all.data': 10,
      'connections.all.opened': 3,
      'connections.all.peak': 3,
      'channels.opened': 1,
    };
    const keys = Object.keys(expected);
    // the update that has seen it all: every count is a minute's, so wait
    // for the sum over the minutes of the updates' latest values
    const latest = new Map();
    await watcher.waitUntil((ms) => {
      for (const m of ms) latest.set(m.data.intervalId, m.data.entries);
      const sum = totals([...latest.values()].map((entries) => ({ entries })), keys);
      return keys.every((k) => k.endsWith('peak') ? sum[k] >= expected[k] : sum[k] === expected[k]);
    }, 10000, 'an update with every count');
    const update = watcher.messages.at(-1);
    assert.equal(update.name, 'update');
    assert.equal(update.data.appId, 'statsapp');
    assert.equal(update.data.unit, 'minute');
    assert.match(update.data.intervalId, MINUTE_ID);
    assert.equal(update.data.schema, 'https://schemas.ably.com/json/app-stats-0.0.5.json');

    for (const binary of [false, true]) {
      const client = restClient(srv, { key: ROOT, binary });
      for (const unit of UNITS) {
        const page = await client.stats({ unit });
        assert.ok(page.items.length >= 1, `${unit}: some stats`);
        const sum = totals(page.items, keys);
        for (const k of keys) {
          if (k.endsWith('peak')) assert.ok(sum[k] >= expected[k], `${unit} ${k}: ${sum[k]}`);
          else assert.equal(sum[k], expected[k], `${unit} ${k} (binary ${binary})`);
        }
        const current = page.items[0]; // backwards: the newest first
        assert.equal(current.unit, unit);
        assert.equal(current.appId, 'statsapp');
        assert.match(current.intervalId, unit === 'minute' ? MINUTE_ID : HOUR_ID);
        assert.match(current.inProgress, /^\d{4}-\d{2}-\d{2}:\d{2}:\d{2}:\d{2}$/, `${unit} inProgress`);
        assert.ok(current.entries['apiRequests.all.succeeded'] >= 7, `${unit} apiRequests`);
      }
    }
  });
});

describe('stats fixtures (sandbox)', () => {
  let srv;
  let rest;
  before(async () => {
    srv = await startServer({ config: CONFIG, env: { HERALD_KEY: null }, args: [...ARGS, '--sandbox'] });
    rest = restClient(srv, { key: ROOT });
    const record = (intervalId, count) => ({
      intervalId,
      inbound: { realtime: { messages: { count, data: count * 100 } } },
      outbound: { realtime: { messages: { count: 40, data: 4000 } } },
      persisted: { presence: { count: 20, data: 2000 } },
      connections: { tls: { peak: count / 5, opened: 10 } },
      channels: { peak: 50, opened: 30 },
      apiRequests: { succeeded: 50, failed: 10 },
      tokenRequests: { succeeded: 60, failed: 20 },
    });
    await postFixtures(rest, [
      record('2025-02-03:15:03', 50), record('2025-02-03:15:04', 60), record('2025-02-03:15:05', 70),
      record('2025-02-03:16:10', 10), record('2025-03-01:00:00', 20),
    ]);
  });
  after(async () => { await srv.stop(); });

  for (const binary of [false, true]) {
    const proto = binary ? 'msgpack' : 'json';

    rtTest(`a fixture reads back with the check values of rest.md 17.3 (${proto})`, async () => {
      const client = restClient(srv, { key: ROOT, binary });
      const page = await client.stats({ start: '2025-02-03:15:05', end: '2025-02-03:15:05', unit: 'minute' });
      assert.equal(page.items.length, 1);
      const [s] = page.items;
      assert.equal(s.intervalId, '2025-02-03:15:05');
      assert.equal(s.unit, 'minute');
      assert.equal(s.inProgress, undefined);
      const e = s.entries;
      assert.equal(e['messages.all.messages.count'], 110);
      assert.equal(e['messages.inbound.realtime.all.data'], 7000);
      assert.equal(e['messages.persisted.all.count'], 20);
      assert.equal(e['connections.all.peak'], 14);
      assert.equal(e['channels.opened'], 30);
      assert.equal(e['apiRequests.all.succeeded'], 110);
      assert.equal(e['apiRequests.tokenRequests.failed'], 20);
      assert.equal(e['channels.refused'], undefined);
    });

    rtTest(`an hour rolls its minutes up: sums, and the max of peak (by alias, ${proto})`, async () => {
      const client = restClient(srv, { key: ROOT, binary });
      const page = await client.stats({ start: '2025-02-03:15:05', end: '2025-02-03:15:05', by: 'hour' });
      assert.equal(page.items.length, 1);
      const [s] = page.items;
      assert.equal(s.intervalId, '2025-02-03:15');
      assert.equal(s.unit, 'hour');
      assert.equal(s.entries['messages.inbound.realtime.messages.count'], 180);
      assert.equal(s.entries['messages.outbound.all.all.count'], 120);
      assert.equal(s.entries['connections.all.peak'], 14); // max of 10, 12, 14
      assert.equal(s.entries['connections.all.opened'], 30);
      assert.equal(s.entries['channels.peak'], 50);
    });
  }

  rtTest('minutes page forwards and backwards with Link headers', async () => {
    const query = { start: '2025-02-03:15:03', end: '2025-02-03:15:05', unit: 'minute', limit: 2 };
    const forwards = await rest.stats({ ...query, direction: 'forwards' });
    assert.deepEqual(forwards.items.map((s) => s.intervalId), ['2025-02-03:15:03', '2025-02-03:15:04']);
    assert.ok(forwards.hasNext());
    const forwards2 = await forwards.next();
    assert.deepEqual(forwards2.items.map((s) => s.intervalId), ['2025-02-03:15:05']);
    assert.ok(!forwards2.hasNext());

    const backwards = await rest.stats(query);
    assert.deepEqual(backwards.items.map((s) => s.intervalId), ['2025-02-03:15:05', '2025-02-03:15:04']);
    const backwards2 = await backwards.next();
    assert.deepEqual(backwards2.items.map((s) => s.intervalId), ['2025-02-03:15:03']);
    assert.ok(backwards2.isLast());
    const first = await backwards2.first();
    assert.deepEqual(first.items.map((s) => s.intervalId), ['2025-02-03:15:05', '2025-02-03:15:04']);

    const raw = await request(srv.url, 'GET', '/stats?start=2025-02-03:15:03&end=2025-02-03:15:05&limit=1', { key: ROOT });
    assert.equal(raw.status, 200);
    const links = parseLinkHeader(raw.headers.get('link'));
    assert.match(links.next, /^\.\/stats\?.*cursor=/);
    assert.match(links.first, /^\.\/stats\?/);
  });

  rtTest('days and months, in either direction; epoch ms bounds', async () => {
    const days = await rest.stats({ start: '2025-02', end: '2025-03', unit: 'day', direction: 'forwards' });
    assert.deepEqual(days.items.map((s) => s.intervalId), ['2025-02-03:00', '2025-03-01:00']);
    assert.equal(days.items[0].entries['messages.inbound.realtime.messages.count'], 190);
    const months = await rest.stats({ start: Date.UTC(2025, 0, 1), end: Date.UTC(2025, 3, 1), unit: 'month' });
    assert.deepEqual(months.items.map((s) => s.intervalId), ['2025-03-01:00', '2025-02-01:00']);
    assert.equal(months.items[0].entries['messages.inbound.realtime.messages.count'], 20);
  });

  rtTest('bad parameters are 40003; a key without the stats capability gets 40160', async () => {
    for (const q of ['unit=week', 'start=2025-02-30', 'end=yesterday', 'start=2025-02-03:16&end=2025-02-03:15',
      'limit=0', 'direction=sideways', 'cursor=abc']) {
      const res = await request(srv.url, 'GET', `/stats?${q}`, { key: ROOT });
      assertAblyError(assert, res, 400, 40003, q);
    }
    assertAblyError(assert, await request(srv.url, 'GET', '/stats', { key: NO_STATS }), 401, 40160);
    const bad = await request(srv.url, 'POST', '/stats', { key: ROOT, json: [{ intervalId: '2025-02-03:15' }] });
    assertAblyError(assert, bad, 400, 40001, 'an hour is no fixture minute');
  });
});

/** The rest publishes counted in the hours of srv's stats. */
async function restPublishes(srv) {
  const page = await restClient(srv, { key: ROOT }).stats({ unit: 'hour', limit: 10 });
  return totals(page.items, ['messages.inbound.rest.messages.count', 'messages.inbound.rest.messages.data']);
}

describe('stats with sqlite', () => {
  const dirs = [];
  after(async () => { await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))); });
  async function freshDir() {
    dirs.push(await mkdtemp(join(tmpdir(), 'herald-stats-')));
    return dirs.at(-1);
  }
  const start = (dataDir, args = ARGS) => startServer({
    config: CONFIG, env: { HERALD_KEY: null }, args: [...args, '--storage', 'sqlite', '--data-dir', dataDir],
  });

  rtTest('the counts survive a restart', async (scope) => {
    const dataDir = await freshDir();
    const first = await start(dataDir);
    try {
      const watcher = await statsWatcher(scope, first);
      const rest = restClient(first, { key: ROOT });
      const channel = rest.channels.get(uniqueChannel('durable'));
      for (let i = 0; i < 4; i++) await channel.publish('n', DATA);
      // published once its record was written
      await updateWhere(watcher, (e) => e['messages.inbound.rest.messages.count'] === 4, 'an update with 4');
      assertAblyError(assert, await request(first.url, 'POST', '/stats', { key: ROOT, json: [] }), 403, 40300,
        'fixtures outside sandbox mode');
    } finally {
      await scope.closeAll();
      await first.stop({ keepData: true });
    }
    const second = await start(dataDir);
    try {
      const sum = await restPublishes(second);
      assert.equal(sum['messages.inbound.rest.messages.count'], 4);
      assert.equal(sum['messages.inbound.rest.messages.data'], 20);
    } finally {
      await second.stop();
    }
  });

  rtTest('a stop stores the minute so far (the default interval: nothing stored before)', async () => {
    const dataDir = await freshDir();
    const first = await start(dataDir, []);
    try {
      const channel = restClient(first, { key: ROOT }).channels.get(uniqueChannel('stopped'));
      for (let i = 0; i < 3; i++) await channel.publish('n', DATA);
      assert.equal((await restPublishes(first))['messages.inbound.rest.messages.count'], 3, 'counted live');
    } finally {
      await first.stop({ keepData: true });
    }
    const second = await start(dataDir, []);
    try {
      assert.equal((await restPublishes(second))['messages.inbound.rest.messages.count'], 3);
    } finally {
      await second.stop();
    }
  });
});
