// A REST publish on behalf of a realtime connection (TM2h, the message's
// connectionKey), with the official ably-js SDK on JSON and msgpack: the
// message's connectionId is that connection's, `echoMessages: false` on it
// keeps the message from it while other subscribers get it, and a
// connectionKey that is malformed, stale (the connection closed), of
// another app or of another clientId is refused with 40006/400. With the
// Redis engine, the connection may be on another node than the publish.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/rest_on_behalf.test.mjs

import assert from 'node:assert/strict';
import { describe, before, after, startServer, uniqueChannel, eventually } from './lib/server.mjs';
import { rtTest, Inbox, PROTOCOLS, withTimeout, waitForState, rejection } from './lib/realtime.mjs';
import { startRedis, startCluster, stopCluster } from './lib/redis.mjs';

describe('REST publish on behalf of a realtime connection', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--sandbox'] }); // POST /apps for a second app
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  for (const { name: proto, binary } of PROTOCOLS) {
    rtTest(`${proto}: the message is the connection's: its connectionId, and echoMessages false keeps it from that connection alone`, async (scope) => {
      const name = uniqueChannel(`behalf-${proto}`);
      const quiet = await scope.connected(srv, { binary, echoMessages: false });
      const other = await scope.connected(srv, { binary });
      const quietInbox = new Inbox();
      const otherInbox = new Inbox();
      await quietInbox.subscribe(quiet.channels.get(name));
      await otherInbox.subscribe(other.channels.get(name));
      const rest = srv.rest({ binary }).channels.get(name);
      await rest.publish({ name: 'behalf', data: 'x', connectionKey: quiet.connection.key });
      await rest.publish({ name: 'plain', data: 'y' });
      const got = await otherInbox.waitForName('behalf');
      assert.equal(got.connectionId, quiet.connection.id, 'attributed to the realtime connection');
      await otherInbox.waitForName('plain');
      await quietInbox.waitForName('plain'); // after 'behalf', had it been sent
      assert.deepEqual(quietInbox.names(), ['plain'], 'echoMessages false: not sent back to it');
      const [stored] = (await rest.history({ direction: 'forwards' })).items;
      assert.equal(stored.name, 'behalf');
      assert.equal(stored.connectionId, quiet.connection.id, 'history has the connectionId');
      assert.equal(stored.connectionKey, undefined, 'the key is not stored');
    });

    rtTest(`${proto}: a malformed, stale, other app's or other clientId's connectionKey is 40006`, async (scope) => {
      const name = uniqueChannel(`behalf-bad-${proto}`);
      const rest = srv.rest({ binary }).channels.get(name);
      const alice = await scope.connected(srv, { binary, clientId: 'alice' });
      for (const [what, key] of [['malformed', 'nonsense'], ['wrong secret', `${alice.connection.id}!nottherightsecret`]]) {
        // eslint-disable-next-line no-await-in-loop
        const err = await rejection(rest.publish({ name: 'x', connectionKey: key }), 10000, what);
        assert.equal(err.code, 40006, `${what}: ${err.message}`);
        assert.equal(err.statusCode, 400);
      }
      const asBob = await rejection(rest.publish({ name: 'x', clientId: 'bob', connectionKey: alice.connection.key }), 10000, 'clientId bob for alice');
      assert.equal(asBob.code, 40006, asBob.message);
      await rest.publish({ name: 'ok', clientId: 'alice', connectionKey: alice.connection.key });

      const otherApp = await srv.request('POST', '/apps', { key: null, json: { keys: [{}] } });
      assert.equal(otherApp.status, 201, otherApp.raw);
      const foreign = srv.rest({ binary, key: otherApp.body.keys[0].keyStr }).channels.get(name);
      const err = await rejection(foreign.publish({ name: 'x', connectionKey: alice.connection.key }), 10000, 'another app');
      assert.equal(err.code, 40006, err.message);

      const key = alice.connection.key;
      await withTimeout(alice.channels.get(name).attach(), 10000, 'attach');
      alice.close();
      await waitForState(alice.connection, 'closed', { what: 'closed' });
      // ably-js is closed once it sent CLOSE; the server is done with the
      // connection once its attachment is gone
      await eventually(async () => {
        const res = await srv.request('GET', `/channels/${encodeURIComponent(name)}`);
        return res.status === 200 && res.body.status.occupancy.metrics.connections === 0;
      }, { what: 'the server closed the connection' });
      const stale = await rejection(rest.publish({ name: 'x', connectionKey: key }), 10000, 'closed connection');
      assert.equal(stale.code, 40006, stale.message);
    });
  }
});

describe('REST publish on one node on behalf of a connection on another (Redis engine)', () => {
  let redis;
  let nodes;
  before(async () => {
    redis = await startRedis();
    nodes = await startCluster({ nodes: 2, redis: [redis] });
  });
  after(async () => {
    try {
      if (nodes) await stopCluster(nodes);
    } finally {
      if (redis) await redis.stop();
    }
  });

  rtTest('a publish on B with the key of a connection on A is that connection\'s; a wrong key is 40006', async (scope) => {
    const [A, B] = nodes;
    const name = uniqueChannel('behalf-cluster');
    const quiet = await scope.connected(A, { echoMessages: false, clientId: 'carol' });
    const other = await scope.connected(B, { binary: true });
    const quietInbox = new Inbox();
    const otherInbox = new Inbox();
    await quietInbox.subscribe(quiet.channels.get(name));
    await otherInbox.subscribe(other.channels.get(name));
    const rest = B.rest({ binary: true }).channels.get(name);
    await rest.publish({ name: 'behalf', data: 'x', connectionKey: quiet.connection.key });
    await rest.publish({ name: 'plain', data: 'y' });
    const got = await otherInbox.waitForName('behalf');
    assert.equal(got.connectionId, quiet.connection.id, 'attributed to the connection on A');
    await quietInbox.waitForName('plain');
    assert.deepEqual(quietInbox.names(), ['plain'], 'echoMessages false on A: not sent back');
    const err = await rejection(rest.publish({ name: 'x', connectionKey: `${quiet.connection.id}!wrong` }), 10000, 'a wrong key');
    assert.equal(err.code, 40006, err.message);
    const asBob = await rejection(rest.publish({ name: 'x', clientId: 'bob', connectionKey: quiet.connection.key }), 10000, 'another clientId');
    assert.equal(asBob.code, 40006, asBob.message);
  });
});
