// Webhooks (issue 22 items 1-4; server/channel/webhooks.h, README
// "Webhooks"): a Node HTTP receiver in the test gets what heraldd sends.
//  - the rules API (admin key, POST/GET/DELETE /apps/:app/rules): defaults
//    filled in, errors, a rule stored survives a restart (sqlite);
//  - rules from the config file's app "rules";
//  - channel.message batched (JSON) and single enveloped (msgpack), and
//    non-enveloped (the data as the body, X-Ably-Envelope-* and
//    X-Ably-Message-* headers), each signed (X-Ably-Signature verified with
//    the key's secret); the channel filter;
//  - channel.presence, channel.lifecycle (channel.opened/closed) and
//    channel.occupancy (msgpack);
//  - per-channel order over two interleaved channels;
//  - a receiver failing 3 times then succeeding gets everything at least
//    once, /metrics counts the failures and [meta]log reports them;
//  - a full queue drops its oldest, counted; a deleted app's rules and
//    queues go (the redis engine: cluster_webhooks.test.mjs);
//  - a receiver that hangs holds up neither publishes nor another rule;
//  - kill -9 with undelivered events (sqlite): each is delivered after the
//    restart, in order.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/webhooks.test.mjs

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, before, after, test, startServer, uniqueChannel, eventually, msgpack } from './lib/server.mjs';
import { rtTest, Inbox, withTimeout } from './lib/realtime.mjs';
import { KEY, ADMIN, FAST, receiver, signed, decode, datas, app, rule, publish, admin } from './lib/webhooks.mjs';

describe('webhook rules API', () => {
  let srv, rx;
  before(async () => {
    rx = await receiver();
    srv = await startServer({ config: app(), env: { HERALD_KEY: null }, args: ['--admin-key', ADMIN, ...FAST] });
  });
  after(async () => { await srv?.stop(); await rx?.close(); });

  test('needs the admin key, fills in defaults, lists, gets and deletes', async () => {
    const refused = await srv.request('POST', '/apps/hookapp/rules', { key: KEY, json: rule(rx.url) });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 40160);
    const made = await admin(srv, 'POST', '/apps/hookapp/rules', { source: { type: 'channel.message' }, target: { url: rx.url } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const id = made.body.id;
    assert.ok(id);
    assert.equal(made.body.requestMode, 'single');
    assert.equal(made.body.status, 'enabled');
    assert.equal(made.body.target.format, 'json');
    assert.equal(made.body.target.enveloped, true);
    const list = await admin(srv, 'GET', '/apps/hookapp/rules');
    assert.deepEqual(list.body.map((r) => r.id), [id]);
    assert.equal((await admin(srv, 'GET', `/apps/hookapp/rules/${id}`)).body.id, id);
    assert.equal((await admin(srv, 'DELETE', `/apps/hookapp/rules/${id}`)).status, 204);
    assert.equal((await admin(srv, 'GET', `/apps/hookapp/rules/${id}`)).status, 404);
    assert.deepEqual((await admin(srv, 'GET', '/apps/hookapp/rules')).body, []);
    assert.equal((await admin(srv, 'GET', '/apps/nosuchapp/rules')).status, 404);
  });

  test('refuses bad rules with 40003', async () => {
    const bad = [
      { source: { type: 'channel.nope' }, target: { url: rx.url } },
      { source: { type: 'channel.message', channelFilter: '(' }, target: { url: rx.url } },
      { source: { type: 'channel.message' }, target: { url: 'ftp://x' } },
      { source: { type: 'channel.message' }, target: { url: rx.url, format: 'xml' } },
      { requestMode: 'batch', source: { type: 'channel.message' }, target: { url: rx.url, enveloped: false } },
      { source: { type: 'channel.message' }, target: { url: rx.url, signingKey: 'hookapp.nokey' } },
      { source: { type: 'channel.message' }, target: { url: rx.url, headers: { 'Bad Name': 'x' } } },
    ];
    for (const def of bad) {
      const res = await admin(srv, 'POST', '/apps/hookapp/rules', def);
      assert.equal(res.status, 400, JSON.stringify(def));
      assert.equal(res.body.error.code, 40003, JSON.stringify(def));
    }
    assert.deepEqual((await admin(srv, 'GET', '/apps/hookapp/rules')).body, []);
  });
});

describe('webhook payloads', () => {
  let srv, rx;
  before(async () => {
    rx = await receiver();
    srv = await startServer({
      config: app([
        rule(`${rx.url}/batch`, { id: 'batch', filter: '^batch:' }),
        rule(`${rx.url}/single`, { id: 'single', mode: 'single', format: 'msgpack', filter: '^single:' }),
        rule(`${rx.url}/bare`, { id: 'bare', mode: 'single', enveloped: false, filter: '^bare:' }),
        rule(`${rx.url}/presence`, { id: 'presence', type: 'channel.presence', filter: '^pres:' }),
        rule(`${rx.url}/lifecycle`, { id: 'lifecycle', mode: 'single', type: 'channel.lifecycle', filter: '^life:' }),
        rule(`${rx.url}/occupancy`, { id: 'occupancy', type: 'channel.occupancy', format: 'msgpack', filter: '^life:' }),
      ]),
      env: { HERALD_KEY: null },
      args: FAST,
    });
  });
  after(async () => { await srv?.stop(); await rx?.close(); });
  const at = (path) => rx.requests.filter((r) => r.path === path);

  test('channel.message, batched: items as Ably sends them, signed, filtered', async () => {
    const ch = uniqueChannel('batch:');
    await publish(srv, ch, 'one');
    await publish(srv, ch, { two: 2 });
    await publish(srv, uniqueChannel('other:'), 'not mine');
    await eventually(() => datas(at('/batch')).length === 2, { what: 'two messages delivered' });
    for (const r of at('/batch')) {
      signed(r);
      assert.equal(r.headers['x-ably-version'], '1.2');
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['x-test'], 'yes');
      for (const item of decode(r).items) {
        assert.equal(item.webhookId, 'batch');
        assert.equal(item.source, 'channel.message');
        assert.equal(item.name, 'channel.message');
        assert.equal(typeof item.serial, 'string');
        assert.equal(typeof item.timestamp, 'number');
        assert.equal(item.data.channelId, ch);
        assert.equal(item.data.site, 'herald');
        assert.equal(item.data.messages[0].name, 'ev');
        assert.ok(item.data.messages[0].id);
      }
    }
    const got = datas(at('/batch')).map((d) => d.data);
    assert.equal(got[0], 'one');
    assert.deepEqual(JSON.parse(got[1]), { two: 2 }, 'JSON data stays encoded as json, as in history');
  });

  test('channel.message, single enveloped in msgpack', async () => {
    const ch = uniqueChannel('single:');
    await publish(srv, ch, 'hello');
    await eventually(() => at('/single').length === 1, { what: 'single request' });
    const r = at('/single')[0];
    signed(r);
    assert.equal(r.headers['content-type'], 'application/x-msgpack');
    const body = decode(r);
    assert.equal(body.source, 'channel.message');
    assert.equal(body.appId, 'hookapp');
    assert.equal(body.channel, ch);
    assert.equal(body.ruleId, 'single');
    assert.equal(body.site, 'herald');
    assert.equal(body.messages[0].data, 'hello');
  });

  test('channel.message, non-enveloped: the data is the body, the rest in headers', async () => {
    const ch = uniqueChannel('bare:');
    await publish(srv, ch, 'raw payload', 'greeting');
    await eventually(() => at('/bare').length === 1, { what: 'bare request' });
    const r = at('/bare')[0];
    signed(r);
    assert.equal(r.body.toString(), 'raw payload');
    assert.equal(r.headers['x-ably-envelope-channel'], ch);
    assert.equal(r.headers['x-ably-envelope-appid'], 'hookapp');
    assert.equal(r.headers['x-ably-envelope-ruleid'], 'bare');
    assert.equal(r.headers['x-ably-envelope-source'], 'channel.message');
    assert.equal(r.headers['x-ably-message-name'], 'greeting');
    assert.ok(r.headers['x-ably-message-id']);
    assert.ok(Number(r.headers['x-ably-message-timestamp']) > 0);
  });

  rtTest('channel.presence, channel.lifecycle and channel.occupancy', async (scope) => {
    const pres = uniqueChannel('pres:');
    const life = uniqueChannel('life:');
    const client = await scope.connected(srv, { key: KEY, clientId: 'alice' });
    await client.channels.get(pres).presence.enter('here');
    await eventually(() => at('/presence').length >= 1, { what: 'presence event' });
    const item = decode(at('/presence')[0]).items[0];
    signed(at('/presence')[0]);
    assert.equal(item.source, 'channel.presence');
    assert.equal(item.name, 'presence.message');
    assert.equal(item.data.channelId, pres);
    assert.equal(item.data.presence[0].clientId, 'alice');
    assert.equal(item.data.presence[0].data, 'here');
    assert.equal(item.data.presence[0].action, 2, 'enter');

    const channel = client.channels.get(life);
    await channel.attach();
    await eventually(() => at('/lifecycle').length >= 1, { what: 'channel.opened' });
    await channel.detach();
    await eventually(() => at('/lifecycle').length >= 2, { what: 'channel.closed' });
    const [opened, closed] = at('/lifecycle').map(decode);
    assert.equal(opened.source, 'channel.lifecycle');
    assert.equal(opened.name, 'channel.opened');
    assert.equal(opened.channel, life);
    assert.equal(opened.status.isActive, true);
    assert.equal(closed.name, 'channel.closed');
    assert.equal(closed.status.isActive, false);
    await eventually(() => at('/occupancy').flatMap((r) => decode(r).items)
      .some((i) => i.data.status.occupancy.metrics.connections === 0), { what: 'occupancy back to none' });
    const items = at('/occupancy').flatMap((r) => decode(r).items);
    assert.ok(items.some((i) => i.data.status.occupancy.metrics.connections === 1), 'one attachment counted');
    for (const i of items) {
      signed(at('/occupancy')[0]);
      assert.equal(i.source, 'channel.occupancy');
      assert.equal(i.name, 'channel.occupancy');
      assert.equal(i.data.channelId, life);
    }
  });

  test('events of one channel arrive in order', async () => {
    const a = uniqueChannel('batch:a');
    const b = uniqueChannel('batch:b');
    for (let i = 0; i < 30; i++) {
      await publish(srv, a, `a${i}`);
      await publish(srv, b, `b${i}`);
    }
    const of = (ch) => datas(at('/batch')).filter((d) => d.channel === ch).map((d) => d.data);
    await eventually(() => of(a).length === 30 && of(b).length === 30, { what: 'sixty messages' });
    assert.deepEqual(of(a), Array.from({ length: 30 }, (_, i) => `a${i}`));
    assert.deepEqual(of(b), Array.from({ length: 30 }, (_, i) => `b${i}`));
  });
});

describe('webhook delivery', () => {
  rtTest('a receiver failing 3 times then succeeding gets everything; [meta]log tells', async (scope) => {
    const rx = await receiver((r, n) => (n <= 3 ? 500 : 200));
    const config = app([rule(rx.url, { filter: '^hook' })]);
    config.apps[0].keys[0].capability = { '*': ['*'], '[meta]*': ['subscribe'] };
    const srv = await startServer({ config, env: { HERALD_KEY: null }, args: ['--admin-key', ADMIN, ...FAST] });
    try {
      const client = await scope.connected(srv, { key: KEY });
      const log = new Inbox();
      await withTimeout(log.subscribe(client.channels.get('[meta]log')), 10000, 'subscribe [meta]log');
      const ch = uniqueChannel('hook');
      for (let i = 0; i < 10; i++) await publish(srv, ch, `m${i}`);
      await eventually(() => rx.requests.length > 3 && new Set(datas(rx.requests.slice(3)).map((d) => d.data)).size === 10,
        { what: 'all ten delivered after the failures' });
      const metrics = await srv.request('GET', '/metrics', { auth: false, headers: { Authorization: `Bearer ${ADMIN}` } });
      const value = (name) => Number(metrics.body.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1]);
      assert.equal(value('herald_webhook_failures_total'), 3);
      assert.ok(value('herald_webhook_deliveries_total') >= 10);
      const report = await log.waitForName('webhook.failed');
      assert.match(report.data.error.message, /webhook rule .* answered 500/);
      // the rules API shows each rule's delivery (the console's rules panel)
      const [listed] = (await admin(srv, 'GET', '/apps/hookapp/rules')).body;
      const state = listed.deliveryState;
      assert.equal(state.failedRequests, 3);
      assert.equal(state.failuresInARow, 0, 'delivering again');
      assert.ok(state.delivered >= 10, JSON.stringify(state));
      assert.equal(state.queued, 0);
      assert.ok(state.lastDeliveredAt >= state.lastFailedAt, JSON.stringify(state));
      assert.equal(state.lastError, undefined, 'no error while it delivers');
    } finally {
      await srv.stop();
      await rx.close();
    }
  });

  test('a hanging receiver holds up neither publishes nor another rule', async () => {
    const hung = await receiver(() => null);
    const good = await receiver();
    const srv = await startServer({
      config: app([rule(hung.url, { id: 'hung', mode: 'single' }), rule(good.url, { id: 'good', mode: 'single' })]),
      env: { HERALD_KEY: null }, args: ['--admin-key', ADMIN, ...FAST],
    });
    try {
      const ch = uniqueChannel('hook');
      await publish(srv, ch, 'first');
      await eventually(() => hung.hanging.length === 1, { what: 'the hanging receiver holds a request' });
      const hungState = async () => (await admin(srv, 'GET', '/apps/hookapp/rules/hung')).body.deliveryState;
      for (let i = 0; i < 20; i++) await publish(srv, ch, `m${i}`);
      await eventually(() => datas(good.requests).length === 21, { what: 'the other rule delivered all' });
      assert.equal(hung.requests.length, 1, 'the hanging rule waits for its answer');
      assert.equal(hung.hanging.length, 1, 'still unanswered while every publish completed');
      assert.equal((await hungState()).queued, 21, 'the hanging rule\'s events wait, in flight or queued');
    } finally {
      await srv.stop();
      await hung.close();
      await good.close();
    }
  });

  test('kill -9 with undelivered events: delivered after the restart (sqlite)', async () => {
    let up = false;
    const rx = await receiver(() => (up ? 200 : 503));
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-hooks-'));
    const args = ['--storage', 'sqlite', '--data-dir', dataDir, ...FAST];
    const config = app([rule(rx.url, { id: 'kept', filter: '^hook' }), rule(rx.url, { id: 'bare', mode: 'single', enveloped: false, filter: '^hook' })]);
    try {
      let srv = await startServer({ config, env: { HERALD_KEY: null }, args });
      const ch = uniqueChannel('hook');
      for (let i = 0; i < 5; i++) await publish(srv, ch, `m${i}`);
      await eventually(() => rx.requests.length >= 2, { what: 'the receiver refused a request' });
      await srv.stop({ signal: 'SIGKILL', keepData: true });
      const refused = rx.requests.length;
      up = true;
      srv = await startServer({ config, env: { HERALD_KEY: null }, args });
      try {
        const after = () => rx.requests.slice(refused);
        const want = ['m0', 'm1', 'm2', 'm3', 'm4'];
        await eventually(() => datas(after().filter((r) => r.headers['x-ably-version'])).length >= 5 &&
          after().filter((r) => !r.headers['x-ably-version']).length >= 5, { what: 'every event delivered after the restart' });
        assert.deepEqual(datas(after().filter((r) => r.headers['x-ably-version'])).map((d) => d.data), want, 'batched, in order');
        assert.deepEqual(after().filter((r) => !r.headers['x-ably-version']).map((r) => r.body.toString()), want, 'single, in order');
        for (const r of after()) signed(r);
        // Delivered events are forgotten: none is left to deliver again.
        const kept = () => spawnSync('sqlite3', [join(dataDir, 'herald.db'),
          "SELECT count(*) FROM records WHERE kind = 'webhook-event'"]).stdout.toString().trim();
        await eventually(() => kept() === '0', { what: 'no event record left' });
      } finally {
        await srv.stop();
      }
    } finally {
      await rx.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('a full queue drops its oldest, counted; a deleted app\'s rules go', async () => {
    const rx = await receiver(() => 503);
    const srv = await startServer({ config: app([rule(rx.url, { mode: 'single' })]), env: { HERALD_KEY: null },
      args: ['--admin-key', ADMIN, '--webhook-queue-max', '2', ...FAST] });
    try {
      const ch = uniqueChannel('hook');
      for (let i = 0; i < 6; i++) await publish(srv, ch, `m${i}`);
      const metrics = async () => (await srv.request('GET', '/metrics', { auth: false, headers: { Authorization: `Bearer ${ADMIN}` } })).body;
      const value = (text, name) => Number(text.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1]);
      await eventually(async () => value(await metrics(), 'herald_webhook_dropped_total') >= 3, { what: 'drops counted' });
      const text = await metrics();
      assert.ok(value(text, 'herald_webhook_queued') <= 3, 'at most the queue and one request in flight');
      assert.equal(value(text, 'herald_webhook_queued') + value(text, 'herald_webhook_dropped_total'), 6, 'every event queued or dropped');
      // Deleting the app takes its rules and their queues with it.
      assert.equal((await admin(srv, 'DELETE', '/apps/hookapp')).status, 204);
      await eventually(async () => value(await metrics(), 'herald_webhook_queued') === 0, { what: 'the app\'s queue gone' });
    } finally {
      await srv.stop();
      await rx.close();
    }
  });

  test('a rule made through the API outlives a restart (sqlite)', async () => {
    const rx = await receiver();
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-hooks-'));
    const args = ['--storage', 'sqlite', '--data-dir', dataDir, '--admin-key', ADMIN, ...FAST];
    try {
      let srv = await startServer({ config: app(), env: { HERALD_KEY: null }, args });
      const made = await admin(srv, 'POST', '/apps/hookapp/rules', rule(rx.url, { id: 'kept' }));
      assert.equal(made.status, 201);
      await srv.stop();
      srv = await startServer({ config: app(), env: { HERALD_KEY: null }, args });
      try {
        assert.deepEqual((await admin(srv, 'GET', '/apps/hookapp/rules')).body.map((r) => r.id), ['kept']);
        const ch = uniqueChannel('hook');
        await publish(srv, ch, 'after restart');
        await eventually(() => datas(rx.requests).some((d) => d.data === 'after restart'), { what: 'delivered' });
      } finally {
        await srv.stop();
      }
    } finally {
      await rx.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
