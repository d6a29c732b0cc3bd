// Token revocation reaching live realtime connections (auth.md 12, issue 20),
// with the official ably-js SDK over JSON and msgpack, on a heraldd with two
// worker threads, and across two nodes sharing Redis.
//
//  - rest.auth.revokeTokens() returns what Ably returns: one BatchResult
//    {successCount, failureCount, results}, a result per specifier in order,
//    {target, issuedBefore, appliesAt} for each accepted one and
//    {target, error: {code, statusCode: 400, message}} for an invalid type;
//  - revoking clientId:X disconnects every connection of X's tokens, on
//    whichever worker it lives (six clients, so both workers hold some),
//    with DISCONNECTED 40141/401 "Token revoked", while a client of another
//    clientId stays connected and keeps receiving. (A client holding only
//    its token then goes FAILED 40171, ably-js's own doing as for expiry:
//    token_expiry.test.mjs has the details);
//  - a client with an authCallback renews and resumes the same connection,
//    nothing lost, only once its callback hands it a token issued after
//    issuedBefore: a token issued before is refused (40141 again) and the
//    client stays disconnected until the next one;
//  - allowReauthMargin: the revocation applies --reauth-margin-ms later
//    (2 s here; Ably's 30 s by default), and connections it will reach are
//    asked to renew at once (an AUTH, Ably's hint): an ably-js client
//    renews in-band and is never disconnected, a raw client that ignores
//    the AUTH gets DISCONNECTED 40141 at appliesAt, not before;
//  - a revocation sent to node B disconnects the connection on node A (and
//    B's own), and spares another clientId's on A.
// Tokens here live 30 s, past each test, so that only a revocation ends a
// connection (expiry has its own file, with 3-second tokens).
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/token_revocation.test.mjs

import assert from 'node:assert/strict';
import { startServer, describe, before, after, uniqueChannel, restClient, eventually, sleep } from './lib/server.mjs';
import { guardedAuthCallback } from './lib/auth.mjs';
import {
  PROTOCOLS,
  rtTest, Inbox, waitForState, nextEvent, recordStateChanges, describeChanges, describeError, rawRealtime,
} from './lib/realtime.mjs';
import { rtTest as clusterTest, startRedis, startCluster, stopCluster, teardown } from './lib/redis.mjs';

const REV = 'revapp.rev:secretrev'; // revocableTokens
const CONFIG = { apps: [{ id: 'revapp', keys: [{ key: REV, capability: { '*': ['*'] }, revocableTokens: true }] }] };
const MARGIN_MS = 2000;
const ARGS = ['--reauth-margin-ms', String(MARGIN_MS)];
const TOKEN_TTL_MS = 30000;
const TICK_MS = 1000; // the realtime tick: how late a due revocation may be swept
const ACTION = { DISCONNECTED: 6, ERROR: 9, AUTH: 17, CONNECTED: 4 };

let srv;
before(async () => { srv = await startServer({ config: CONFIG, env: { HERALD_KEY: null }, args: ARGS }); });
after(async () => { if (srv) await srv.stop(); });

let seq = 0;
/** A clientId no other test uses (revocations outlive tests). */
const freshClientId = (what) => `${what}-${process.pid}-${++seq}`;

const rest = (target = srv, binary = false) => restClient(target, { key: REV, binary });
const tokenOf = (clientId, target = srv) => rest(target).auth.requestToken({ clientId, ttl: TOKEN_TTL_MS });

/** Asserts a state change (or a ProtocolMessage's error) reports the revocation. */
function assertRevoked(reason, what) {
  assert.ok(reason, `${what}: a reason`);
  assert.equal(reason.code, 40141, `${what}: ${describeError(reason)}`);
  assert.equal(reason.statusCode, 401, `${what}: ${describeError(reason)}`);
  assert.match(reason.message, /token revoked/i, what);
}

/** Waits until Date.now() has passed `ms` (a few ms at most: tokens issued at the same ms as issuedBefore are not revoked). */
const past = (ms) => eventually(() => Date.now() > ms, { what: `the clock past ${ms}`, intervalMs: 1 });

/** Publishes `names` through REST one after the other (in order). */
async function publishAll(channel, names) {
  for (const name of names) await channel.publish(name, name); // eslint-disable-line no-await-in-loop
}

for (const proto of PROTOCOLS) {
  const B = proto.binary;
  describe(`revokeTokens reaches live connections (${proto.name})`, () => {
    rtTest('revoke clientId:X → every X connection gets DISCONNECTED 40141; Y stays connected; the result is Ably\'s BatchResult', async (scope) => {
      const X = freshClientId('x');
      const Y = freshClientId('y');
      const xs = [];
      for (let i = 0; i < 6; i++) {
        xs.push(scope.realtime(srv, { binary: B, tokenDetails: await tokenOf(X), label: `x${i}` })); // eslint-disable-line no-await-in-loop
      }
      const y = scope.realtime(srv, { binary: B, tokenDetails: await tokenOf(Y), label: 'y' });
      await Promise.all([...xs, y].map((c, i) => waitForState(c.connection, 'connected', { what: `client ${i}` })));
      const yChanges = recordStateChanges(y.connection);
      const name = uniqueChannel('revoke');
      const yInbox = new Inbox();
      await yInbox.subscribe(y.channels.get(name));
      const xDisconnected = xs.map((c) => waitForState(c.connection, 'disconnected', { what: 'an X client' }));

      const t0 = Date.now();
      const result = await rest(srv, B).auth.revokeTokens([
        { type: 'clientId', value: X },
        { type: 'invalidType', value: 'abc' },
      ]);
      const t1 = Date.now();
      assert.deepEqual(Object.keys(result).sort(), ['failureCount', 'results', 'successCount']);
      assert.equal(result.successCount, 1);
      assert.equal(result.failureCount, 1);
      assert.equal(result.results.length, 2);
      const [ok, bad] = result.results;
      assert.deepEqual(Object.keys(ok).sort(), ['appliesAt', 'issuedBefore', 'target']);
      assert.equal(ok.target, `clientId:${X}`);
      assert.ok(ok.issuedBefore >= t0 - 1000 && ok.issuedBefore <= t1 + 1000, `issuedBefore ${ok.issuedBefore} is now`);
      assert.equal(ok.appliesAt, ok.issuedBefore, 'without allowReauthMargin it applies at once');
      assert.deepEqual(Object.keys(bad).sort(), ['error', 'target']);
      assert.equal(bad.target, 'invalidType:abc');
      assert.equal(bad.error.code, 40000);
      assert.equal(bad.error.statusCode, 400);
      assert.equal(typeof bad.error.message, 'string');

      for (const [i, change] of (await Promise.all(xDisconnected)).entries()) assertRevoked(change.reason, `x${i}`);
      await rest().channels.get(name).publish('after', 'the revocation');
      await yInbox.waitForName('after');
      assert.equal(y.connection.state, 'connected');
      assert.deepEqual(yChanges, [], `Y was never disturbed: ${describeChanges(yChanges)}`);
    });

    rtTest('an authCallback client resumes the same connection only with a token issued after issuedBefore', async (scope) => {
      const X = freshClientId('renewer');
      const first = await tokenOf(X);
      const stale = await tokenOf(X); // issued before issuedBefore as well
      await past(stale.issued + 1);
      const handedOut = [];
      const guard = guardedAuthCallback(async (params, n) => {
        const td = n === 1 ? first : n === 2 ? stale : await tokenOf(X);
        handedOut.push(td.issued);
        return td;
      }, { limit: 6 });
      const c = scope.realtime(srv, { binary: B, authCallback: guard.authCallback, disconnectedRetryTimeout: 500 });
      await waitForState(c.connection, 'connected');
      const id = c.connection.id;
      const changes = recordStateChanges(c.connection);
      const name = uniqueChannel('renew');
      const inbox = new Inbox();
      await inbox.subscribe(c.channels.get(name));
      const restChannel = rest().channels.get(name);
      await publishAll(restChannel, ['before']);
      await inbox.waitForName('before');

      const revoked = waitForState(c.connection, 'disconnected', { what: 'the revocation' });
      const issuedBefore = stale.issued + 1;
      const [res] = (await rest(srv, B).auth.revokeTokens([{ type: 'clientId', value: X }], { issuedBefore })).results;
      assert.equal(res.issuedBefore, issuedBefore, 'the issuedBefore asked for');
      assertRevoked((await revoked).reason, 'the live connection');
      const during = publishAll(restChannel, ['during-1', 'during-2']);
      const back = await waitForState(c.connection, 'connected', { timeoutMs: 10000, what: 'the resume' });
      const callsWhenBack = guard.calls;
      await during;
      await publishAll(restChannel, ['after']);
      await inbox.waitForCount(4);

      assert.equal(back?.reason ?? null, null, `resumed without an error: ${describeError(back?.reason)}`);
      assert.equal(c.connection.id, id, 'the same connection');
      assert.equal(callsWhenBack, 3, 'connected again with the third token, the first issued after issuedBefore');
      assert.ok(handedOut[2] >= issuedBefore, `the token it resumed with was issued after issuedBefore (${handedOut})`);
      const downs = changes.filter((ch) => ch.current === 'disconnected');
      assert.equal(downs.length, 2, `disconnected by the revocation, then refused the stale token: ${describeChanges(changes)}`);
      downs.forEach((ch, i) => assertRevoked(ch.reason, `disconnection ${i + 1}`));
      assert.equal(changes.filter((ch) => ch.current === 'connected').length, 1, `connected once, with the fresh token: ${describeChanges(changes)}`);
      assert.deepEqual(inbox.names(), ['before', 'during-1', 'during-2', 'after'], 'every message once, in order');
    });

    rtTest(`allowReauthMargin: applies ${MARGIN_MS} ms later; ably-js renews in-band on the AUTH hint and stays, a client that does not renew is disconnected at appliesAt`, async (scope, t) => {
      const X = freshClientId('margin');
      const guard = guardedAuthCallback(() => tokenOf(X), { limit: 6 });
      const c = scope.realtime(srv, { binary: B, authCallback: guard.authCallback });
      await waitForState(c.connection, 'connected');
      const id = c.connection.id;
      const firstToken = c.auth.tokenDetails.token;
      const changes = recordStateChanges(c.connection);
      const name = uniqueChannel('margin');
      const inbox = new Inbox();
      await inbox.subscribe(c.channels.get(name));
      const laggardToken = await tokenOf(X);
      const laggard = rawRealtime(srv.port, { access_token: laggardToken.token });
      t.after(() => laggard.close());
      await laggard.next((pm) => pm.action === ACTION.CONNECTED, 5000, 'CONNECTED');
      await past(laggardToken.issued + 1); // both tokens issued before the revocation's issuedBefore (now)

      const renewed = nextEvent(c.connection, 'update', 5000, 'the in-band renewal');
      const [res] = (await rest(srv, B).auth.revokeTokens([{ type: 'clientId', value: X }], { allowReauthMargin: true })).results;
      assert.equal(res.appliesAt - res.issuedBefore, MARGIN_MS, JSON.stringify(res));
      await laggard.next((pm) => pm.action === ACTION.AUTH, 5000, 'the AUTH hint');
      assert.ok(Date.now() < res.appliesAt, 'the hint comes before the revocation applies');
      const update = await renewed;
      assert.equal(update.current, 'connected');
      assert.notEqual(c.auth.tokenDetails.token, firstToken, 'a new token');
      assert.ok(c.auth.tokenDetails.issued >= res.issuedBefore, 'issued after issuedBefore');

      const goodbye = await laggard.next((pm) => pm.action === ACTION.DISCONNECTED, MARGIN_MS + TICK_MS + 3000, 'DISCONNECTED');
      assert.ok(Date.now() >= res.appliesAt, `not before appliesAt (${res.appliesAt - Date.now()} ms early)`);
      assertRevoked(goodbye.error, 'the client that did not renew');
      // The sweep on the other worker passes within a tick; nothing marks a
      // connection it spares.
      await sleep(TICK_MS + 200);
      await rest().channels.get(name).publish('after', 'the margin');
      await inbox.waitForName('after');
      assert.equal(c.connection.id, id);
      assert.equal(c.connection.state, 'connected');
      assert.ok(!changes.some((ch) => ch.current === 'disconnected'), `never disconnected: ${describeChanges(changes)}`);
    });
  });
}

describe('revokeTokens across nodes (redis engine)', () => {
  let redis;
  let nodes;
  before(async () => {
    redis = await startRedis();
    nodes = await startCluster({ nodes: 2, redis: [redis], config: CONFIG, env: { HERALD_KEY: null }, args: ARGS });
  });
  after(async () => teardown(null, () => nodes && stopCluster(nodes), () => redis && redis.stop()));

  clusterTest('a revocation sent to node B disconnects X on node A (and on B), and spares Y on A', async (scope) => {
    const [a, b] = nodes;
    const X = freshClientId('cluster-x');
    const Y = freshClientId('cluster-y');
    const xA = [];
    // tokens from either node work on both (signed with the key)
    for (const p of PROTOCOLS) xA.push(scope.realtime(a, { binary: p.binary, label: `x on A (${p.name})`, tokenDetails: await tokenOf(X, b) })); // eslint-disable-line no-await-in-loop
    const xB = scope.realtime(b, { label: 'x on B', tokenDetails: await tokenOf(X, a) });
    const yA = scope.realtime(a, { binary: true, label: 'y on A', tokenDetails: await tokenOf(Y, a) });
    const label = new Map([[xA[0], 'x on A (json)'], [xA[1], 'x on A (msgpack)'], [xB, 'x on B'], [yA, 'y on A']]);
    await Promise.all([...label.keys()].map((c) => waitForState(c.connection, 'connected', { what: label.get(c) })));
    const yChanges = recordStateChanges(yA.connection);
    const name = uniqueChannel('cluster-revoke');
    const yInbox = new Inbox();
    await yInbox.subscribe(yA.channels.get(name));
    const gone = [...xA, xB].map((c) => waitForState(c.connection, 'disconnected', { what: label.get(c) }));

    const result = await rest(b).auth.revokeTokens([{ type: 'clientId', value: X }]);
    assert.equal(result.successCount, 1, JSON.stringify(result));
    for (const [i, change] of (await Promise.all(gone)).entries()) assertRevoked(change.reason, label.get([...xA, xB][i]));
    await rest(b).channels.get(name).publish('after', 'the revocation');
    await yInbox.waitForName('after');
    assert.equal(yA.connection.state, 'connected');
    assert.deepEqual(yChanges, [], `Y was never disturbed: ${describeChanges(yChanges)}`);
  });
});
