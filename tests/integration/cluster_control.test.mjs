// The control plane across nodes (the Redis engine, issue 19): three nodes
// on one redis-server, in sandbox mode with an admin key.
//  - an app created with POST /apps on A publishes through B and C (after
//    the one pub/sub hop that tells them), and
//    once deleted on C it is gone on A and B (404/40400);
//  - a token revoked on A (POST /keys/:key/revokeTokens) is refused on B
//    and C (40141), while a token of another clientId still works;
//  - a signed TokenRequest used on A is refused on B as a replay (40105),
//    and a fresh one works on B.
// Each would fail if the nodes kept these apart (as separate engines do).
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/cluster_control.test.mjs

import assert from 'node:assert/strict';
import { describe, before, after, Ably, eventually } from './lib/server.mjs';
import { test, startRedis, startCluster, stopCluster } from './lib/redis.mjs';

const ADMIN = 'admin-secret';

async function post(node, path, body, headers = {}) {
  const res = await fetch(`${node.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

const basic = (key) => ({ authorization: `Basic ${Buffer.from(key).toString('base64')}` });

describe('the control plane is cluster-wide', () => {
  let redis;
  let nodes;
  before(async () => {
    redis = await startRedis();
    nodes = await startCluster({ redis: [redis], args: ['--sandbox', '--admin-key', ADMIN] });
  });
  after(async () => {
    if (nodes) await stopCluster(nodes);
    if (redis) await redis.stop();
  });

  test('an app made on A works on B and C; deleted on C, it is gone everywhere', async () => {
    const [a, b, c] = nodes;
    const made = await post(a, '/apps', { keys: [{}] });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const key = made.body.keys[0].keyStr;
    const appId = key.split('.')[0];
    // it reaches the other nodes through Redis pub/sub: one hop after the 201
    for (const node of [b, c]) {
      await eventually(async () => (await post(node, '/channels/made/messages',
        { name: 'x', data: 'elsewhere' }, basic(key))).status === 201,
      { timeoutMs: 3000, what: 'the app working on another node' });
    }
    const del = await fetch(`${c.url}/apps/${appId}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(del.status, 204);
    for (const node of [a, b]) {
      await eventually(async () => {
        const gone = await post(node, '/channels/made/messages', { data: 'gone' }, basic(key));
        return gone.status === 404 && gone.body.error.code === 40400;
      }, { timeoutMs: 3000, what: 'the deleted app gone on another node' });
    }
  });

  test('a token revoked on A is refused on B and C; another clientId is not', async () => {
    const [a, b, c] = nodes;
    const made = await post(a, '/apps', { keys: [{ revocableTokens: true }] });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const key = made.body.keys[0].keyStr;
    const rest = new Ably.Rest({ key, endpoint: '127.0.0.1', port: a.port, tls: false });
    const mallory = await rest.auth.requestToken({ clientId: 'mallory' });
    const alice = await rest.auth.requestToken({ clientId: 'alice' });
    const publishWith = (node, token) => post(node, '/channels/revoked/messages', { data: 'x' },
      { authorization: `Bearer ${Buffer.from(token).toString('base64')}` });
    assert.equal((await publishWith(b, mallory.token)).status, 201);
    const keyName = key.split(':')[0];
    const revoked = await post(a, `/keys/${keyName}/revokeTokens`, { targets: ['clientId:mallory'] }, basic(key));
    assert.equal(revoked.status, 201, JSON.stringify(revoked.body));
    for (const node of [b, c]) {
      await eventually(async () => {
        const r = await publishWith(node, mallory.token);
        return r.status === 401 && r.body.error.code === 40141;
      }, { timeoutMs: 3000, what: 'the revocation on another node' });
      assert.equal((await publishWith(node, alice.token)).status, 201);
    }
  });

  test('a signed TokenRequest used on A is a replay on B; a fresh one works on B', async () => {
    const [a, b] = nodes;
    const rest = new Ably.Rest({ key: nodes[0].key, endpoint: '127.0.0.1', port: a.port, tls: false });
    const keyName = nodes[0].key.split(':')[0];
    const tr = await rest.auth.createTokenRequest();
    const first = await post(a, `/keys/${keyName}/requestToken`, tr);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const replay = await post(b, `/keys/${keyName}/requestToken`, tr);
    assert.equal(replay.status, 401, JSON.stringify(replay.body));
    assert.equal(replay.body.error.code, 40105);
    const fresh = await post(b, `/keys/${keyName}/requestToken`, await rest.auth.createTokenRequest());
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
  });
});
