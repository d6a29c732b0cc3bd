// Credentials never buy more than they are (issue 15, items 1-2):
// - an unsigned requestToken made with a token or JWT gets at most what the
//   presented token has: capability ∩ the token's, the token's clientId
//   (any only for a "*" token), an expiry no later than the token's;
// - DELETE /apps/:id needs the admin key, or in sandbox mode a key of that
//   app with full capability; everything else is 401/40160 and the app stays.

import assert from 'node:assert/strict';
import {
  startServer, test, describe, before, after, request, assertAblyError, uniqueChannel,
} from './lib/server.mjs';
import { signTokenRequest, makeJwt, bearer, splitKey, canonicalCapability } from './lib/auth.mjs';
import { testAppSetupPostApps } from './lib/fixtures.mjs';

const LOBBY = { 'chat:lobby': ['history', 'subscribe'] };
const TOKEN_TTL = 10 * 60 * 1000;
const ADMIN_SECRET = 'herald-admin_Secret-456';

async function createApp(srv, headers = {}) {
  const res = await request(srv.url, 'POST', '/apps', { key: null, json: testAppSetupPostApps(), headers });
  assert.equal(res.status, 201, `POST /apps: ${res.status} ${res.raw}`);
  return res.body;
}

/** A Herald token signed by `key` through a signed TokenRequest. */
async function heraldToken(srv, key, fields) {
  const res = await request(srv.url, 'POST', `/keys/${splitKey(key).keyName}/requestToken`,
    { key: null, json: signTokenRequest(key, fields) });
  assert.equal(res.status, 200, `signed requestToken: ${res.status} ${res.raw}`);
  return res.body;
}

/** An unsigned requestToken for `key` presenting `token` as the credentials. */
function requestWithToken(srv, key, token, fields = {}) {
  const body = { keyName: splitKey(key).keyName, timestamp: Date.now(), ...fields };
  return request(srv.url, 'POST', `/keys/${body.keyName}/requestToken`,
    { key: null, json: body, headers: { Authorization: bearer(token) } });
}

describe('requestToken with token credentials never exceeds the token presented', () => {
  let srv;
  let key; // keys[4] of the test app: full capability, revocable tokens
  const presenters = {};

  before(async () => {
    srv = await startServer({ args: ['--sandbox'] });
    const app = await createApp(srv);
    key = app.keys[4].keyStr;
    const expires = Date.now() + TOKEN_TTL;
    presenters.token = (await heraldToken(srv, key, { capability: LOBBY, clientId: 'carol', ttl: TOKEN_TTL })).token;
    presenters.jwt = makeJwt({ key, capability: LOBBY, clientId: 'carol', exp: Math.floor(expires / 1000) });
  });
  after(async () => { if (srv) await srv.stop(); });

  for (const kind of ['token', 'jwt']) {
    test(`${kind}: nothing asked → the presented capability, clientId and expiry at most`, async () => {
      const res = await requestWithToken(srv, key, presenters[kind]);
      assert.equal(res.status, 200, res.raw.toString());
      assert.equal(res.body.capability, canonicalCapability(LOBBY));
      assert.equal(res.body.clientId, 'carol');
      assert.ok(res.body.expires <= Date.now() + TOKEN_TTL + 1000,
        `expires ${res.body.expires} is no later than the presented token's`);
      assert.ok(res.body.expires > res.body.issued);
    });

    test(`${kind}: a wider capability is cut to the presented one; a disjoint one → 401/40160`, async () => {
      const wide = await requestWithToken(srv, key, presenters[kind], { capability: canonicalCapability({ '*': ['*'] }) });
      assert.equal(wide.status, 200, wide.raw.toString());
      assert.equal(wide.body.capability, canonicalCapability(LOBBY));
      const other = await requestWithToken(srv, key, presenters[kind], { capability: canonicalCapability({ other: ['publish'] }) });
      assertAblyError(assert, other, 401, 40160, 'disjoint capability');
    });

    test(`${kind}: another clientId or "*" → 401/40102; its own clientId → 200`, async () => {
      for (const clientId of ['*', 'mallory']) {
        const res = await requestWithToken(srv, key, presenters[kind], { clientId });
        assertAblyError(assert, res, 401, 40102, `clientId ${clientId}`);
      }
      const own = await requestWithToken(srv, key, presenters[kind], { clientId: 'carol' });
      assert.equal(own.status, 200, own.raw.toString());
      assert.equal(own.body.clientId, 'carol');
    });

    test(`${kind}: an explicit ttl beyond the presented token's life → 400/40003; within it → exactly that ttl`, async () => {
      const long = await requestWithToken(srv, key, presenters[kind], { ttl: 60 * 60 * 1000 });
      assertAblyError(assert, long, 400, 40003, 'ttl beyond the presented token');
      const short = await requestWithToken(srv, key, presenters[kind], { ttl: 60 * 1000 });
      assert.equal(short.status, 200, short.raw.toString());
      assert.equal(short.body.expires - short.body.issued, 60 * 1000);
    });
  }

  test('the minted token is as weak as its parent: other channels are denied', async () => {
    const child = (await requestWithToken(srv, key, presenters.token)).body.token;
    const res = await request(srv.url, 'POST', `/channels/${uniqueChannel('x')}/messages`,
      { key: null, json: { data: 'd' }, headers: { Authorization: bearer(child) } });
    assertAblyError(assert, res, 401, 40160, 'publish with the child token');
  });

  test('revoking clientId:carol also revokes the tokens carol minted', async () => {
    const child = (await requestWithToken(srv, key, presenters.token, { capability: canonicalCapability({ '*': ['*'] }) })).body.token;
    const history = (token) => request(srv.url, 'GET', '/channels/chat:lobby/messages',
      { key: null, headers: { Authorization: bearer(token) } });
    assert.equal((await history(child)).status, 200, 'child token works before the revocation');
    const rev = await request(srv.url, 'POST', `/keys/${splitKey(key).keyName}/revokeTokens`,
      { key, json: { targets: ['clientId:carol'] } });
    assert.equal(rev.status, 201, rev.raw.toString());
    assertAblyError(assert, await history(child), 401, 40141, 'child token after revoking clientId:carol');
  });

  test('a wildcard token may name any clientId; an anonymous one none', async () => {
    const full = splitKey(key);
    const wildcard = (await heraldToken(srv, key, { clientId: '*', ttl: TOKEN_TTL })).token;
    const named = await requestWithToken(srv, key, wildcard, { clientId: 'bob' });
    assert.equal(named.status, 200, named.raw.toString());
    assert.equal(named.body.clientId, 'bob');
    const anonymous = (await heraldToken(srv, key, { ttl: TOKEN_TTL })).token;
    assertAblyError(assert, await requestWithToken(srv, key, anonymous, { clientId: 'bob' }), 401, 40102, 'anonymous → bob');
    const plain = await requestWithToken(srv, key, anonymous);
    assert.equal(plain.status, 200, plain.raw.toString());
    assert.equal(plain.body.clientId, undefined);
    assert.equal(plain.body.keyName, full.keyName);
  });
});

describe('DELETE /apps/:id needs an administrator', () => {
  const deleteApp = (srv, appId, opts) => request(srv.url, 'DELETE', `/apps/${appId}`, { key: null, ...opts });
  const alive = async (srv, app) => {
    const res = await request(srv.url, 'POST', `/channels/${uniqueChannel('alive')}/messages`,
      { key: app.keys[0].keyStr, json: { data: 'd' } });
    assert.equal(res.status, 201, `the app still works: ${res.status} ${res.raw}`);
  };

  test('outside sandbox mode: only the admin key deletes, not even a full key of the app', async () => {
    const srv = await startServer({ args: ['--admin-key', ADMIN_SECRET] });
    try {
      const admin = { Authorization: `Bearer ${ADMIN_SECRET}` };
      const app = await createApp(srv, admin);
      for (const [what, opts] of [
        ['subscribe-only key', { key: app.keys[3].keyStr }],
        ['full-capability key', { key: app.keys[0].keyStr }],
        ['wrong admin secret', { headers: { Authorization: 'Bearer not-the-admin' } }],
        ['no credentials', {}],
      ]) {
        assertAblyError(assert, await deleteApp(srv, app.appId, opts), 401, 40160, what);
        await alive(srv, app);
      }
      assert.equal((await deleteApp(srv, app.appId, { headers: admin })).status, 204);
      assertAblyError(assert, await deleteApp(srv, app.appId, { headers: admin }), 404, 40400, 'deleted already');
    } finally {
      await srv.stop();
    }
  });

  test('in sandbox mode: a full key of the app deletes; restricted keys, tokens and other apps do not', async () => {
    const srv = await startServer({ args: ['--sandbox'] });
    try {
      const app = await createApp(srv);
      const other = await createApp(srv);
      const token = (await heraldToken(srv, app.keys[0].keyStr, {})).token;
      for (const [what, opts] of [
        ['subscribe-only key', { key: app.keys[3].keyStr }],
        ['channel-limited key', { key: app.keys[2].keyStr }],
        ['token of the full key', { headers: { Authorization: bearer(token) } }],
        ['full key of another app', { key: other.keys[0].keyStr }],
        ['wrong secret', { key: `${app.keys[0].keyName}:wrongsecret` }],
      ]) {
        assertAblyError(assert, await deleteApp(srv, app.appId, opts), 401, 40160, what);
        await alive(srv, app);
      }
      assert.equal((await deleteApp(srv, app.appId, { key: app.keys[0].keyStr })).status, 204);
    } finally {
      await srv.stop();
    }
  });
});
