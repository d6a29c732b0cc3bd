// The operator's endpoints (issue 22 item 7; server/rest/rest_metrics.c,
// server/core/metrics.h):
//  - GET /metrics is Prometheus text (format 0.0.4) that
//    parse-prometheus-text-format reads, and only for Authorization:
//    Bearer with --metrics-key or --admin-key (401/40100 otherwise);
//  - its counters follow known activity: connections by transport (open
//    and opened), channels, messages and bytes in by origin and out,
//    REST requests by outcome, and the publish and store latency
//    histograms count every publish;
//  - /healthz answers while the process runs; /readyz answers 200 while
//    the store answers, and 503 while Redis is down (redis engine), whose
//    round trips /metrics counts.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/metrics.test.mjs

import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, before, after, startServer, restClient, request, uniqueChannel, assertAblyError, eventually } from './lib/server.mjs';
import { rtTest, Inbox } from './lib/realtime.mjs';
import { eventSource, streamQuery } from './lib/eventstream.mjs';
import { startRedis } from './lib/redis.mjs';

const METRICS_KEY = 'metrics-secret';
const ADMIN_KEY = 'admin-secret';
const DATA = 'abcd'; // with name 'n': 5 bytes a message

async function scrape(srv, token = METRICS_KEY) {
  const res = await fetch(`${srv.url}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusTextFormat(await res.text());
}

/** The value of metric `name` whose labels include `labels`. */
function value(families, name, labels = {}) {
  const family = families.find((f) => f.name === name);
  assert.ok(family, `metric ${name} exposed`);
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  assert.ok(sample, `${name}${JSON.stringify(labels)} exposed`);
  return family.type === 'HISTOGRAM' ? sample : Number(sample.value);
}

describe('GET /metrics', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--metrics-key', METRICS_KEY, '--admin-key', ADMIN_KEY] });
  });
  after(async () => { await srv.stop(); });

  rtTest('is refused without the metrics or admin key', async () => {
    assertAblyError(assert, await request(srv.url, 'GET', '/metrics'), 401, 40100, 'no credentials');
    assertAblyError(assert, await request(srv.url, 'GET', '/metrics', { headers: { Authorization: 'Bearer nope' } }),
      401, 40100, 'a wrong key');
    assertAblyError(assert, await request(srv.url, 'GET', '/metrics', { key: srv.key }), 401, 40100, 'an app key');
    const families = await scrape(srv, ADMIN_KEY);
    assert.equal(families.find((f) => f.name === 'herald_publish_latency_seconds').type, 'HISTOGRAM');
  });

  rtTest('counts known activity', async (scope) => {
    const before = await scrape(srv);
    const channelName = uniqueChannel('metrics');
    const subscriber = await scope.connected(srv);
    const inbox = new Inbox();
    await inbox.subscribe(subscriber.channels.get(channelName));
    const stream = eventSource(srv, `/sse?${streamQuery({ key: srv.key, channels: uniqueChannel('sse') })}`);
    await stream.opened;
    const rest = restClient(srv);
    for (let i = 0; i < 4; i++) await rest.channels.get(channelName).publish('n', DATA);
    const publisher = await scope.connected(srv, { echoMessages: false });
    const pubChannel = publisher.channels.get(uniqueChannel('quiet'));
    for (let i = 0; i < 3; i++) await pubChannel.publish('n', DATA);
    await inbox.waitForCount(4);
    await assertAblyError(assert, await request(srv.url, 'GET', '/channels/x/messages', { key: 'testapp.root:wrong' }),
      401, 40101, 'a wrong secret');

    // channels open once their owner heard of the attachment (within 100 ms)
    const after = await eventually(async () => {
      const families = await scrape(srv);
      return value(families, 'herald_channels') === 2 && families;
    }, { what: 'two channels open' });
    const grown = (name, labels) => value(after, name, labels) - value(before, name, labels);
    assert.equal(value(after, 'herald_connections', { transport: 'websocket' }), 2);
    assert.equal(value(after, 'herald_connections', { transport: 'sse' }), 1);
    assert.equal(grown('herald_connections_opened_total', { transport: 'websocket' }), 2);
    // the subscriber's and the stream's: a publish attaches nothing
    assert.equal(value(after, 'herald_channels'), 2);
    assert.equal(grown('herald_messages_received_total', { origin: 'rest' }), 4);
    assert.equal(grown('herald_message_bytes_received_total', { origin: 'rest' }), 20);
    assert.equal(grown('herald_messages_received_total', { origin: 'realtime' }), 3);
    assert.equal(grown('herald_message_bytes_received_total', { origin: 'realtime' }), 15);
    assert.equal(grown('herald_messages_sent_total'), 4);
    assert.equal(grown('herald_message_bytes_sent_total'), 20);
    assert.ok(grown('herald_rest_requests_total', { outcome: 'succeeded' }) >= 4);
    assert.equal(grown('herald_rest_requests_total', { outcome: 'refused' }), 1);

    for (const name of ['herald_publish_latency_seconds', 'herald_store_append_latency_seconds']) {
      const h = value(after, name);
      const h0 = value(before, name);
      // every publish (the metachannels' lifecycle events are appends too)
      assert.ok(Number(h.count) - Number(h0.count) >= 7, `${name} count ${h.count}`);
      assert.equal(h.buckets['+Inf'], h.count, `${name}: +Inf holds every observation`);
      const bounds = Object.keys(h.buckets).filter((b) => b !== '+Inf').sort((a, b) => a - b);
      const counts = bounds.map((b) => Number(h.buckets[b]));
      assert.deepEqual(counts, [...counts].sort((a, b) => a - b), `${name}: cumulative buckets`);
      assert.ok(Number(h.sum) > 0, `${name} sum`);
    }
    stream.close();
  });

  rtTest('/healthz and /readyz answer', async () => {
    const health = await request(srv.url, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.body, 'ok\n');
    const ready = await request(srv.url, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body, 'ready\n');
  });
});

describe('GET /readyz with the redis engine', () => {
  let redis;
  let srv;
  before(async () => {
    redis = await startRedis();
    srv = await startServer({ args: ['--engine', 'redis', '--redis', redis.url, '--metrics-key', METRICS_KEY] });
  });
  after(async () => {
    await srv.stop();
    await redis.stop();
  });

  rtTest('is 503 while Redis is down, and counts its round trips', async () => {
    const before = value(await scrape(srv), 'herald_redis_commands_total');
    await restClient(srv).channels.get(uniqueChannel('r')).publish('n', DATA);
    assert.ok(value(await scrape(srv), 'herald_redis_commands_total') > before, 'a publish is a round trip');
    assert.equal((await request(srv.url, 'GET', '/readyz')).status, 200);
    await redis.kill();
    await eventually(async () => (await request(srv.url, 'GET', '/readyz')).status === 503,
      { what: 'readyz 503 without Redis' });
    assert.equal((await request(srv.url, 'GET', '/healthz')).status, 200, 'alive all the same');
    await redis.restart();
    await eventually(async () => (await request(srv.url, 'GET', '/readyz')).status === 200,
      { what: 'readyz 200 with Redis back' });
  });
});
