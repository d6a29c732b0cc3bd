// Webhooks with several heraldd nodes on one Redis (issue 22 items 3-4;
// server/store/redis_outbox.h): a publish's webhook events are kept in
// Redis's outbox by the publish script itself, before the publish is
// acknowledged, and one node at a time (the outbox lease's holder)
// delivers them.
//  - a rule made through the API on node A is node B's too (and a rule
//    deleted on B goes on A); messages published alternately on A and B
//    on two channels reach the receiver exactly once each, in each
//    channel's order, signed; presence changes made on B too; the outbox
//    is empty once they are delivered;
//  - kill -9 of the delivering node while its receiver fails: a node
//    started afterwards takes the lease over once it expires and delivers
//    every acknowledged event, in order.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster_webhooks.test.mjs

import assert from 'node:assert/strict';
import { describe, uniqueChannel, eventually } from './lib/server.mjs';
import { rtTest, test, useCluster, startRedis, startCluster, stopCluster, respCommand } from './lib/redis.mjs';
import { KEY, ADMIN, FAST, receiver, signed, decode, datas, app, rule, publish, admin } from './lib/webhooks.mjs';

const NODE_TIMEOUT_MS = 1500; // the outbox lease lasts this long
const ARGS = ['--admin-key', ADMIN, '--node-timeout-ms', String(NODE_TIMEOUT_MS), ...FAST];

const outboxLength = (redis) => respCommand(redis.port, ['XLEN', 'h:wq']);

async function ruleIds(node) {
  const res = await admin(node, 'GET', '/apps/hookapp/rules');
  assert.equal(res.status, 200);
  return res.body.map((r) => r.id);
}

describe('webhooks across nodes', () => {
  let A;
  let B;
  let rx;
  const cluster = useCluster({ nodes: 2, args: ARGS, config: app(), ready: (nodes) => { [A, B] = nodes; } });

  rtTest('a rule made on one node is every node\'s; each event is delivered once, in its channel\'s order', async (scope) => {
    rx = await receiver();
    try {
      const made = await admin(A, 'POST', '/apps/hookapp/rules', rule(rx.url, { id: 'everywhere', filter: '^hook' }));
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const presence = await admin(A, 'POST', '/apps/hookapp/rules', rule(`${rx.url}/presence`, { id: 'members', type: 'channel.presence', filter: '^hookpres' }));
      assert.equal(presence.status, 201);
      await eventually(async () => (await ruleIds(B)).length === 2, { what: 'B knows A\'s rules' });

      const channels = [uniqueChannel('hook:one'), uniqueChannel('hook:two')];
      const sent = { [channels[0]]: [], [channels[1]]: [] };
      for (let i = 0; i < 24; i++) {
        const channel = channels[i % 2];
        const data = `m${i}`;
        // eslint-disable-next-line no-await-in-loop
        await publish(i % 4 < 2 ? A : B, channel, data);
        sent[channel].push(data);
      }
      const client = await scope.connected(B, { key: KEY, clientId: 'bea' });
      const pres = uniqueChannel('hookpres');
      await client.channels.get(pres).presence.enter('on B');

      const messages = () => datas(rx.requests.filter((r) => r.path === '/'));
      await eventually(() => messages().length >= 24, { what: 'every message delivered' });
      await eventually(() => rx.requests.some((r) => r.path === '/presence'), { what: 'the presence change delivered' });
      for (const channel of channels) {
        assert.deepEqual(messages().filter((d) => d.channel === channel).map((d) => d.data), sent[channel],
          `${channel}: each message once, in publish order`);
      }
      for (const r of rx.requests) signed(r);
      const [entered] = decode(rx.requests.find((r) => r.path === '/presence')).items;
      assert.equal(entered.data.channelId, pres);
      assert.equal(entered.data.presence[0].clientId, 'bea');
      assert.equal(entered.data.presence[0].data, 'on B');
      await client.channels.get(pres).presence.leave();
      await eventually(() => rx.requests.filter((r) => r.path === '/presence').length >= 2, { what: 'the leave delivered' });
      await eventually(async () => (await outboxLength(cluster.redis)) === 0, { what: 'the outbox emptied' });
      assert.equal(messages().length, 24, 'nothing delivered twice');
    } finally {
      for (const id of ['everywhere', 'members']) await admin(A, 'DELETE', `/apps/hookapp/rules/${id}`);
      await rx.close();
    }
  });

  test('a rule deleted on one node goes on every node', async () => {
    const gone = await receiver();
    const kept = await receiver();
    try {
      assert.equal((await admin(A, 'POST', '/apps/hookapp/rules', rule(gone.url, { id: 'short-lived', filter: '^hookdel' }))).status, 201);
      await eventually(async () => (await ruleIds(B)).includes('short-lived'), { what: 'B knows the rule' });
      assert.equal((await admin(B, 'DELETE', '/apps/hookapp/rules/short-lived')).status, 204);
      await eventually(async () => !(await ruleIds(A)).includes('short-lived'), { what: 'A forgot the rule' });
      assert.equal((await admin(B, 'POST', '/apps/hookapp/rules', rule(kept.url, { id: 'witness', filter: '^hookdel' }))).status, 201);
      await eventually(async () => (await ruleIds(A)).includes('witness'), { what: 'A knows the witness' });
      const channel = uniqueChannel('hookdel');
      await publish(A, channel, 'after the delete');
      await eventually(() => datas(kept.requests).length === 1, { what: 'the witness rule delivered' });
      await eventually(async () => (await outboxLength(cluster.redis)) === 0, { what: 'the outbox emptied' });
      assert.equal(gone.requests.length, 0, 'the deleted rule took no event');
    } finally {
      await gone.close();
      await kept.close();
    }
  });
});

describe('webhooks when the delivering node dies', () => {
  test('kill -9 with undelivered events: the next node delivers every acknowledged one, in order', async () => {
    const redis = await startRedis();
    let failing = true;
    const rx = await receiver(() => (failing ? 500 : 200));
    let nodes = [];
    try {
      nodes = await startCluster({ nodes: 1, redis: [redis], args: ARGS, config: app() });
      const [A] = nodes;
      assert.equal((await admin(A, 'POST', '/apps/hookapp/rules', rule(rx.url, { id: 'survivor' }))).status, 201);
      const channel = uniqueChannel('hook:crash');
      const sent = [];
      for (let i = 0; i < 10; i++) {
        // eslint-disable-next-line no-await-in-loop
        await publish(A, channel, `c${i}`);
        sent.push(`c${i}`);
      }
      await eventually(() => rx.requests.length >= 2, { what: 'A delivering, and failing' });
      await A.stop({ signal: 'SIGKILL' });
      assert.equal(await outboxLength(redis), 10, 'every acknowledged event is in the outbox');
      failing = false;
      const seen = rx.requests.length;
      nodes = await startCluster({ nodes: 1, redis: [redis], args: ARGS, config: app() });
      await eventually(() => new Set(datas(rx.requests.slice(seen)).map((d) => d.data)).size === 10,
        { what: 'every event delivered by the new node', timeoutMs: 10 * NODE_TIMEOUT_MS });
      assert.deepEqual([...new Set(datas(rx.requests.slice(seen)).map((d) => d.data))], sent, 'in publish order');
      await eventually(async () => (await outboxLength(redis)) === 0, { what: 'the outbox emptied' });
    } finally {
      await stopCluster(nodes);
      await rx.close();
      await redis.stop();
    }
  });
});
