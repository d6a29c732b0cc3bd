// Token expiry while connected (realtime.md 3.8, issue 20), with the official
// ably-js SDK over JSON and msgpack, tokens of 3 seconds.
//
// At a token's expiry the server sends DISCONNECTED 40142/401 "Token
// expired" and closes the transport; it sends no AUTH of its own ahead of
// expiry. ably-js then renews through whatever it was configured with and
// resumes:
//  - authCallback returning a token string, TokenDetails, a TokenRequest or
//    an Ably JWT; authUrl answering a TokenRequest or a JWT; a key with
//    useTokenAuth (TokenRequests signed locally): the connection comes back
//    with the same connectionId, and messages another client publishes
//    while it renews arrive once each, in order, with those before and
//    after;
//  - a token it cannot renew (a token string, TokenDetails or a JWT, and no
//    key, authCallback or authUrl): its connection reports DISCONNECTED
//    with the server's 40142 first. What follows is ably-js's own doing, and
//    Ably's service gets the same from it: a DISCONNECTED while connected
//    makes it reconnect at once (ConnectionManager.notifyState,
//    retryImmediately); since its errorReason is a token error, startConnect
//    forces a new token (Auth._forceNewToken), which without any means of
//    renewal throws 40171/403 ("no authUrl, authCallback, or key"), and
//    actOnErrorFromAuthorize makes the connection FAILED with that 40171. So
//    the test asserts the 40142 DISCONNECTED came before the FAILED 40171.
//    (Before this change Herald sent an AUTH ahead of expiry, which such a
//    client answers by failing at once with 40171, without ever seeing the
//    server's 40142.)
// Every wait is for an event (state changes, messages); nothing sleeps.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/token_expiry.test.mjs

import assert from 'node:assert/strict';
import { startServer, describe, before, after, uniqueChannel, restClient } from './lib/server.mjs';
import { signTokenRequest, makeJwt, guardedAuthCallback, startAuthUrlServer } from './lib/auth.mjs';
import {
  PROTOCOLS,
  rtTest, Inbox, waitForState, recordStateChanges, describeChanges, describeError,
} from './lib/realtime.mjs';

const KEY = 'expapp.root:secretroot';
const CONFIG = { apps: [{ id: 'expapp', keys: [{ key: KEY, capability: { '*': ['*'] } }] }] };
const TTL_MS = 3000;
const CLIENT_ID = 'expiring';
let srv;
before(async () => { srv = await startServer({ config: CONFIG, env: { HERALD_KEY: null } }); });
after(async () => { if (srv) await srv.stop(); });

const rest = () => restClient(srv, { key: KEY });
const jwt = () => makeJwt({ key: KEY, clientId: CLIENT_ID, ttlSec: TTL_MS / 1000 });
const tokenRequest = () => signTokenRequest(KEY, { ttl: TTL_MS, clientId: CLIENT_ID });
const tokenDetails = () => rest().auth.requestToken({ ttl: TTL_MS, clientId: CLIENT_ID });

/** The ways ably-js can renew: each gives the client options (and a close function for what it started). */
const RENEWABLE = [
  ['authCallback returning a token string', async () => {
    const guard = guardedAuthCallback(async () => (await tokenDetails()).token, { limit: 6 });
    return { opts: { authCallback: guard.authCallback } };
  }],
  ['authCallback returning TokenDetails', async () => {
    const guard = guardedAuthCallback(tokenDetails, { limit: 6 });
    return { opts: { authCallback: guard.authCallback } };
  }],
  ['authCallback returning a TokenRequest', async () => {
    const guard = guardedAuthCallback(tokenRequest, { limit: 6 });
    return { opts: { authCallback: guard.authCallback } };
  }],
  ['authCallback returning an Ably JWT', async () => {
    const guard = guardedAuthCallback(jwt, { limit: 6 });
    return { opts: { authCallback: guard.authCallback } };
  }],
  ['authUrl answering a TokenRequest', async () => {
    const auth = await startAuthUrlServer(() => ({ contentType: 'application/json', body: tokenRequest() }));
    return { opts: { authUrl: auth.url }, close: auth.close };
  }],
  ['authUrl answering an Ably JWT', async () => {
    const auth = await startAuthUrlServer(() => ({ contentType: 'application/jwt', body: jwt() }));
    return { opts: { authUrl: auth.url }, close: auth.close };
  }],
  ['a key with useTokenAuth', async () => ({
    opts: { key: KEY, useTokenAuth: true, clientId: CLIENT_ID, defaultTokenParams: { ttl: TTL_MS } },
  })],
];

/** A token ably-js cannot renew: only the token itself is given. */
const NON_RENEWABLE = [
  ['a token string', async () => ({ token: (await tokenDetails()).token })],
  ['TokenDetails', async () => ({ tokenDetails: await tokenDetails() })],
  ['an Ably JWT', async () => ({ token: jwt() })],
];

/** The state change that reports the server's expiry, asserted 40142/401. */
function assertExpiry(change, what) {
  assert.ok(change && change.reason, `${what}: a reason on the DISCONNECTED`);
  assert.equal(change.reason.code, 40142, `${what}: ${describeError(change.reason)}`);
  assert.equal(change.reason.statusCode, 401, `${what}: ${describeError(change.reason)}`);
  assert.match(change.reason.message, /token expired/i, what);
}

/** Publishes `names` through REST one after the other (in order). */
async function publishAll(channel, names) {
  for (const name of names) await channel.publish(name, name); // eslint-disable-line no-await-in-loop
}

for (const proto of PROTOCOLS) {
  describe(`token expiry while connected (${proto.name})`, () => {
    for (const [how, make] of RENEWABLE) {
      rtTest(`${how}: DISCONNECTED 40142 at expiry, renewed, resumed on the same connection with no message lost`, async (scope) => {
        const means = await make();
        try {
          const c = scope.realtime(srv, { binary: proto.binary, ...means.opts });
          const changes = recordStateChanges(c.connection);
          await waitForState(c.connection, 'connected', { what: 'first connection' });
          const connectedAt = Date.now();
          const id = c.connection.id;
          const firstToken = c.auth.tokenDetails?.token;
          assert.ok(firstToken, 'connected with a token');
          assert.equal(c.auth.clientId, CLIENT_ID);
          const name = uniqueChannel('expiry');
          const channel = c.channels.get(name);
          const inbox = new Inbox();
          await inbox.subscribe(channel);
          const restChannel = rest().channels.get(name);

          await publishAll(restChannel, ['before-1', 'before-2']);
          await inbox.waitForCount(2);
          const expired = await waitForState(c.connection, 'disconnected',
            { timeoutMs: TTL_MS + 5000, what: 'the expiry' });
          assertExpiry(expired, how);
          assert.ok(Date.now() >= connectedAt + TTL_MS - 1500,
            `disconnected at expiry, not long before: ${Date.now() - connectedAt} ms after connecting`);
          // published while the client renews its token and reconnects
          const during = publishAll(restChannel, ['during-1', 'during-2', 'during-3']);
          const back = await waitForState(c.connection, 'connected', { timeoutMs: 10000, what: 'the resume' });
          assert.equal(back?.reason ?? null, null, `resumed without an error: ${describeError(back?.reason)}`);
          assert.equal(c.connection.id, id, 'the same connection after the renewal');
          await during;
          await publishAll(restChannel, ['after-1', 'after-2']);
          const expected = ['before-1', 'before-2', 'during-1', 'during-2', 'during-3', 'after-1', 'after-2'];
          await inbox.waitForCount(expected.length);
          assert.deepEqual(inbox.names(), expected, 'every message once, in order');
          assert.notEqual(c.auth.tokenDetails?.token, firstToken, 'renewed: another token');
          const disconnects = changes.filter((ch) => ch.current === 'disconnected');
          assert.equal(disconnects.length, 1, `one disconnection, at expiry: ${describeChanges(changes)}`);
          assert.ok(!changes.some((ch) => ['suspended', 'failed'].includes(ch.current)), describeChanges(changes));
          assert.equal(channel.state, 'attached');
        } finally {
          await means.close?.();
        }
      });
    }

    for (const [what, make] of NON_RENEWABLE) {
      rtTest(`only ${what}: the connection sees DISCONNECTED 40142 before ably-js gives up (FAILED 40171)`, async (scope) => {
        const c = scope.realtime(srv, { binary: proto.binary, ...(await make()) });
        const changes = recordStateChanges(c.connection);
        await waitForState(c.connection, 'connected', { what: 'connection' });
        const failed = await waitForState(c.connection, 'failed',
          { timeoutMs: TTL_MS + 5000, failOn: [], what: 'the end of the connection' });
        assert.equal(failed.reason?.code, 40171, `ably-js cannot renew: ${describeError(failed.reason)}`);
        const connected = changes.findIndex((ch) => ch.current === 'connected');
        const expiry = changes.findIndex((ch, i) => i > connected && ch.current === 'disconnected');
        assert.ok(expiry > connected, `a DISCONNECTED after CONNECTED: ${describeChanges(changes)}`);
        assertExpiry(changes[expiry], what);
        assert.ok(expiry < changes.indexOf(failed), `DISCONNECTED 40142 came first: ${describeChanges(changes)}`);
      });
    }
  });
}
