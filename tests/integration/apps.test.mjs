// The test-provisioning API (rest.md §17): POST /apps with ably-common's
// test-app-setup.json body, the keys it returns used through ably-js,
// DELETE /apps/{id}, admin protection outside sandbox mode, and persistence
// of created apps across a restart with SQLite storage.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startServer, test, describe, before, after, uniqueChannel, request, assertAblyError, basicAuth, Ably,
} from './lib/server.mjs';
import { PROTOCOLS } from './lib/realtime.mjs';
import {
  canonicalCapability, expectAblyError, signTokenRequest, guardedAuthCallback,
} from './lib/auth.mjs';
import { testAppSetupPostApps } from './lib/fixtures.mjs';

const ADMIN_SECRET = 'herald-admin_Secret-123';

function client(srv, key, binary = false, opts = {}) {
  return new Ably.Rest({
    key, endpoint: '127.0.0.1', port: srv.port, tls: false, useBinaryProtocol: binary,
    httpRequestTimeout: 10000, logLevel: 0, ...opts,
  });
}

const postApps = (srv, body, opts = {}) => request(srv.url, 'POST', '/apps', { key: null, json: body, ...opts });

/** POST /apps and checks the basic success shape; returns the body. */
async function createApp(srv, body = testAppSetupPostApps(), opts = {}) {
  const res = await postApps(srv, body, opts);
  assert.ok(res.status >= 200 && res.status < 300, `POST /apps: ${res.status} ${res.raw.toString().slice(0, 500)}`);
  assert.equal(res.status, 201);
  assert.equal(res.contentType, 'application/json');
  return res.body;
}

/** Checks a key record (rest.md §17.1) and returns it. */
function checkKey(app, k, requested, i) {
  const ctx = `keys[${i}] ${JSON.stringify(k)}`;
  for (const f of ['id', 'value', 'keyName', 'keySecret', 'keyStr', 'capability']) {
    assert.equal(typeof k[f], 'string', `${f} is a string: ${ctx}`);
    assert.ok(k[f].length > 0, `${f} non-empty: ${ctx}`);
  }
  assert.equal(k.keyName, `${app.appId}.${k.id}`, `keyName = appId.id: ${ctx}`);
  assert.equal(k.keySecret, k.value, `keySecret = value: ${ctx}`);
  assert.equal(k.keyStr, `${k.keyName}:${k.keySecret}`, `keyStr: ${ctx}`);
  // the SDK's key syntax
  assert.match(k.keyStr, /^([^:\s]+):([^:.\s]+)$/, `keyStr matches the ably-js key pattern: ${ctx}`);
  assert.match(k.id, /^[A-Za-z0-9_-]+$/, `key id alphabet: ${ctx}`);
  const expectedCap = requested.capability ? canonicalCapability(requested.capability) : '{"*":["*"]}';
  assert.equal(k.capability, expectedCap, `canonical capability: ${ctx}`);
  assert.equal(k.revocableTokens, requested.revocableTokens === true, `revocableTokens: ${ctx}`);
  return k;
}

describe('POST /apps in sandbox mode with test-app-setup.json', () => {
  let srv;
  let app;
  const body = testAppSetupPostApps();

  before(async () => {
    srv = await startServer({ args: ['--sandbox'] });
    app = await createApp(srv, body);
  });
  after(async () => { if (srv) await srv.stop(); });

  test('201 with as many keys and namespaces as requested, well-formed key records', () => {
    assert.equal(typeof app.appId, 'string');
    assert.match(app.appId, /^[A-Za-z0-9_-]+$/, 'appId alphabet (no "." or ":")');
    assert.equal(typeof app.id, 'string');
    assert.ok(Array.isArray(app.keys), 'keys array');
    assert.equal(app.keys.length, body.keys.length, 'one key per requested key');
    assert.ok(Array.isArray(app.namespaces), 'namespaces array');
    assert.equal(app.namespaces.length, body.namespaces.length, 'one namespace per requested namespace');
    assert.deepEqual(app.namespaces.map((n) => n.id), body.namespaces.map((n) => n.id));
    app.keys.forEach((k, i) => checkKey(app, k, body.keys[i], i));
    assert.equal(new Set(app.keys.map((k) => k.keyName)).size, app.keys.length, 'distinct key names');
    assert.equal(new Set(app.keys.map((k) => k.keySecret)).size, app.keys.length, 'distinct secrets');
    // spot-check the canonical forms literally
    assert.equal(app.keys[0].capability, '{"*":["*"]}');
    assert.equal(app.keys[1].capability,
      '{"canpublish:*":["publish"],"canpublish:andpresence":["presence","publish"],"cansubscribe:*":["subscribe"],' +
      '"pushenabled:*":["publish","push-subscribe","subscribe"],"pushenabled:admin:*":["publish","push-admin","subscribe"]}');
    assert.equal(app.keys[3].capability, '{"*":["subscribe"]}');
    assert.equal(app.keys[4].revocableTokens, true);
    assert.equal(app.keys[5].capability, '{"[*]*":["*"]}');
  });

  test('the response names this server: endpoint, port, tls', () => {
    assert.equal(typeof app.endpoint, 'string');
    assert.ok(['127.0.0.1', 'localhost'].includes(app.endpoint), `endpoint ${app.endpoint}`);
    assert.equal(app.port, srv.port);
    assert.equal(app.tls, false);
  });

  test('each POST /apps creates a distinct app', async () => {
    const second = await createApp(srv, { keys: [{}] });
    assert.notEqual(second.appId, app.appId);
    assert.equal(second.keys.length, 1);
    assert.equal(second.keys[0].capability, '{"*":["*"]}');
    assert.deepEqual(second.namespaces || [], []);
  });

  test('a msgpack request body is accepted', async () => {
    const res = await request(srv.url, 'POST', '/apps', { key: null, msgpack: { keys: [{}, { capability: '{"b":["subscribe","publish"],"a":["history"]}' }] } });
    assert.equal(res.status, 201, res.raw.toString('utf8').slice(0, 300));
    assert.equal(res.body.keys.length, 2);
    assert.equal(res.body.keys[1].capability, '{"a":["history"],"b":["publish","subscribe"]}');
  });

  test('an invalid key capability is refused with 400', async () => {
    const res = await postApps(srv, { keys: [{ capability: '{"x":["publish_"]}' }] });
    assertAblyError(assert, res, 400, 40000, 'invalid capability');
  });

  for (const proto of PROTOCOLS) {
    test(`the returned keys work at once with ably-js over ${proto.name}`, async () => {
      const c = (i) => client(srv, app.keys[i].keyStr, proto.binary);
      const u = (p) => uniqueChannel(`apps-${proto.name}-${p}`);
      const roundTrip = async (i, name) => {
        const ch = c(i).channels.get(name);
        await ch.publish('e', `k${i}`);
        const page = await ch.history();
        assert.deepEqual(page.items.map((m) => m.data), [`k${i}`], `key ${i} on ${name}`);
      };
      // keys[0]: {"*":["*"]}
      await roundTrip(0, u('any'));
      await roundTrip(0, `persisted:${u('p')}`);
      // keys[1]: namespaced publish/subscribe only
      await c(1).channels.get(`canpublish:${u('x')}`).publish('e', 'd');
      await expectAblyError(assert, c(1).channels.get(`canpublish:${u('x')}`).history(), 401, 40160, 'keys[1] history');
      await expectAblyError(assert, c(1).channels.get(`cansubscribe:${u('x')}`).publish('e', 'd'), 401, 40160, 'keys[1] publish cansubscribe');
      await expectAblyError(assert, c(1).channels.get(u('plain')).publish('e', 'd'), 401, 40160, 'keys[1] publish elsewhere');
      await c(1).channels.get(`pushenabled:${u('x')}`).publish('e', 'd');
      // keys[2]: per-channel
      const ch6 = `channel6`;
      await c(2).channels.get(ch6).publish('e', `k2-${proto.name}`);
      const h6 = await c(2).channels.get(ch6).history();
      assert.ok(h6.items.some((m) => m.data === `k2-${proto.name}`), 'channel6 ["*"] allows history');
      await c(2).channels.get('channel0').publish('e', 'd');
      await expectAblyError(assert, c(2).channels.get('channel0').history(), 401, 40160, 'keys[2] channel0 history');
      await expectAblyError(assert, c(2).channels.get('channel3').publish('e', 'd'), 401, 40160, 'keys[2] channel3 publish');
      await expectAblyError(assert, c(2).channels.get('channel7').publish('e', 'd'), 401, 40160, 'keys[2] channel7');
      assert.equal((await c(2).channels.get(ch6).status()).channelId, ch6, 'channel6 ["*"] allows status');
      await expectAblyError(assert, c(2).channels.get('channel2').status(), 401, 40160, 'keys[2] channel2 status');
      // keys[3]: subscribe only
      await expectAblyError(assert, c(3).channels.get(u('s')).publish('e', 'd'), 401, 40160, 'keys[3] publish');
      await expectAblyError(assert, c(3).channels.get(u('s')).history(), 401, 40160, 'keys[3] history');
      // keys[4]: revocable, full capability
      await roundTrip(4, u('rev'));
      // keys[5]: [*]*
      await roundTrip(5, u('all'));
      // data published with one key is visible with another key of the app
      const shared = u('shared');
      await c(0).channels.get(shared).publish('from0', 'x');
      const seen = await c(5).channels.get(shared).history();
      assert.deepEqual(seen.items.map((m) => m.name), ['from0']);
    });
  }

  test('a token from each key carries the key record capability text', async () => {
    for (const [i, k] of app.keys.entries()) {
      const td = await client(srv, k.keyStr).auth.requestToken();
      assert.equal(td.keyName, k.keyName, `keys[${i}]`);
      assert.equal(td.capability, k.capability, `keys[${i}] token capability equals the key record`);
      assert.equal(td.expires - td.issued, 3600000);
      assert.deepEqual(JSON.parse(td.capability), JSON.parse(k.capability));
    }
    // and the tokens work: keys[2]'s token on channel6
    const issuer = client(srv, app.keys[2].keyStr);
    const guard = guardedAuthCallback((params) => issuer.auth.createTokenRequest(params));
    const tok = new Ably.Rest({ authCallback: guard.authCallback, endpoint: '127.0.0.1', port: srv.port, tls: false, logLevel: 0 });
    await tok.channels.get('channel6').publish('tok', 'd');
    await expectAblyError(assert, tok.channels.get('channel3').publish('tok', 'd'), 401, 40160, 'token keys[2] channel3');
  });

  test('revokeTokens works with the revocableTokens key and not with the others', async () => {
    const res = await client(srv, app.keys[4].keyStr).auth.revokeTokens([{ type: 'clientId', value: 'nobody' }]);
    assert.equal(res.successCount, 1);
    await expectAblyError(assert, client(srv, app.keys[0].keyStr).auth.revokeTokens([{ type: 'clientId', value: 'x' }]), 401, 40163, 'keys[0]');
  });
});

describe('DELETE /apps/{appId}', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['--sandbox'] }); });
  after(async () => { if (srv) await srv.stop(); });

  test('with keys[0] deletes the app; its keys and tokens are rejected afterwards', async () => {
    const app = await createApp(srv);
    const key0 = app.keys[0].keyStr;
    const key2 = app.keys[2].keyStr;
    const name = uniqueChannel('del');
    assert.equal((await request(srv.url, 'POST', `/channels/${name}/messages`, { key: key0, json: { data: 'd' } })).status, 201);
    const tr = await request(srv.url, 'POST', `/keys/${app.keys[0].keyName}/requestToken`, { key: null, json: signTokenRequest(key0) });
    assert.equal(tr.status, 200, tr.raw.toString());
    const token = tr.body.token;

    const del = await request(srv.url, 'DELETE', `/apps/${app.appId}`, { key: key0 });
    assert.ok(del.status >= 200 && del.status < 300, `DELETE: ${del.status} ${del.raw}`);
    assert.equal(del.status, 204);

    for (const key of [key0, key2]) {
      const res = await request(srv.url, 'GET', `/channels/${name}/messages`, { key });
      assert.ok(res.status === 404 || res.status === 401, `key after delete: ${res.status} ${res.raw}`);
      assertAblyError(assert, res, res.status, res.status === 404 ? 40400 : undefined, 'key of a deleted app');
      assert.ok(res.body.error.code < 40140 || res.body.error.code >= 40150, 'not a token error code for Basic auth');
    }
    const withToken = await request(srv.url, 'GET', `/channels/${name}/messages`, { key: null, headers: { Authorization: `Bearer ${Buffer.from(token).toString('base64')}` } });
    assert.ok(withToken.status === 404 || withToken.status === 401, `token after delete: ${withToken.status} ${withToken.raw}`);
    assertAblyError(assert, withToken, withToken.status, undefined, 'token of a deleted app');
    let sdkErr = null;
    try {
      await client(srv, key0).channels.get(name).publish('e', 'd');
    } catch (e) {
      sdkErr = e;
    }
    assert.ok(sdkErr, 'the SDK publish with a deleted key fails');
    assert.ok([401, 404].includes(sdkErr.statusCode), `SDK error ${sdkErr.statusCode}/${sdkErr.code}: ${sdkErr.message}`);
    if (sdkErr.statusCode === 404) assert.equal(sdkErr.code, 40400);
    // deleting again fails
    const again = await request(srv.url, 'DELETE', `/apps/${app.appId}`, { key: key0 });
    assert.ok(again.status === 404 || again.status === 401, `second DELETE: ${again.status}`);
  });

  test('with a key of another app → 401/40160 and the app survives', async () => {
    const a = await createApp(srv, { keys: [{}] });
    const b = await createApp(srv, { keys: [{}] });
    const res = await request(srv.url, 'DELETE', `/apps/${a.appId}`, { key: b.keys[0].keyStr });
    assertAblyError(assert, res, 401, 40160, 'another app\'s key');
    const wrongSecret = await request(srv.url, 'DELETE', `/apps/${a.appId}`, { key: `${a.keys[0].keyName}:wrongsecret` });
    assertAblyError(assert, wrongSecret, 401, 40160, 'wrong secret');
    const none = await request(srv.url, 'DELETE', `/apps/${a.appId}`, { key: null });
    assertAblyError(assert, none, 401, 40160, 'no credentials');
    const still = await request(srv.url, 'POST', `/channels/${uniqueChannel('alive')}/messages`, { key: a.keys[0].keyStr, json: { data: 'd' } });
    assert.equal(still.status, 201, 'app a still works');
  });
});

describe('POST /apps outside sandbox mode', () => {
  test('without --sandbox and without an admin key → 401/40101', async () => {
    const srv = await startServer({});
    try {
      const res = await postApps(srv, testAppSetupPostApps());
      assertAblyError(assert, res, 401, 40101, 'no sandbox, no admin');
    } finally {
      await srv.stop();
    }
  });

  test('--admin-key: Bearer of the admin secret → 201; none or a wrong one → 401/40101', async () => {
    const srv = await startServer({ args: ['--admin-key', ADMIN_SECRET] });
    try {
      assertAblyError(assert, await postApps(srv, { keys: [{}] }), 401, 40101, 'no credentials');
      assertAblyError(assert, await postApps(srv, { keys: [{}] }, { headers: { Authorization: 'Bearer wrong-secret' } }), 401, 40101, 'wrong secret');
      assertAblyError(assert, await postApps(srv, { keys: [{}] }, { headers: { Authorization: basicAuth(srv.key) } }), 401, 40101, 'an app key is not the admin key');
      const app = await createApp(srv, testAppSetupPostApps(), { headers: { Authorization: `Bearer ${ADMIN_SECRET}` } });
      assert.equal(app.keys.length, 6);
      const ch = client(srv, app.keys[0].keyStr).channels.get(uniqueChannel('admin'));
      await ch.publish('e', 'd');
      assert.equal((await ch.history()).items.length, 1);
    } finally {
      await srv.stop();
    }
  });

  test('HERALD_ADMIN_KEY sets the admin secret', async () => {
    const srv = await startServer({ env: { HERALD_ADMIN_KEY: ADMIN_SECRET } });
    try {
      assertAblyError(assert, await postApps(srv, { keys: [{}] }), 401, 40101, 'no credentials');
      const app = await createApp(srv, { keys: [{}] }, { headers: { Authorization: `Bearer ${ADMIN_SECRET}` } });
      assert.equal(app.keys.length, 1);
    } finally {
      await srv.stop();
    }
  });
});

describe('created apps and SQLite storage', () => {
  test('apps persist across a restart with their history; deleted apps stay deleted', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-apps-'));
    const args = ['--sandbox', '--storage', 'sqlite', '--data-dir', dataDir];
    try {
      const first = await startServer({ args });
      const kept = await createApp(first);
      const gone = await createApp(first, { keys: [{}] });
      const keyStr = kept.keys[0].keyStr;
      const name = uniqueChannel('persist');
      const pub = client(first, keyStr).channels.get(name);
      await pub.publish('before-restart', 'durable');
      // keys[2] is restricted: check the capability survives too
      await client(first, kept.keys[2].keyStr).channels.get('channel0').publish('c0', 'd');
      const del = await request(first.url, 'DELETE', `/apps/${gone.appId}`, { key: gone.keys[0].keyStr });
      assert.equal(del.status, 204, del.raw.toString());
      await first.stop({ keepData: true });

      const second = await startServer({ args });
      try {
        const ch = client(second, keyStr).channels.get(name);
        const page = await ch.history();
        assert.deepEqual(page.items.map((m) => [m.name, m.data]), [['before-restart', 'durable']]);
        await ch.publish('after-restart', 'd');
        const k2 = client(second, kept.keys[2].keyStr);
        await expectAblyError(assert, k2.channels.get('channel0').history(), 401, 40160, 'keys[2] capability after restart');
        await expectAblyError(assert, k2.channels.get('channel3').publish('e', 'd'), 401, 40160, 'keys[2] capability after restart');
        const td = await k2.auth.requestToken();
        assert.equal(td.capability, kept.keys[2].capability, 'canonical capability after restart');
        const rev = await client(second, kept.keys[4].keyStr).auth.revokeTokens([{ type: 'clientId', value: 'x' }]);
        assert.equal(rev.successCount, 1, 'revocableTokens kept');
        const dead = await request(second.url, 'GET', `/channels/${name}/messages`, { key: gone.keys[0].keyStr });
        assert.ok(dead.status === 404 || dead.status === 401, `deleted app after restart: ${dead.status} ${dead.raw}`);
        assertAblyError(assert, dead, dead.status, dead.status === 404 ? 40400 : undefined, 'deleted app after restart');
        // new apps get ids distinct from the existing ones
        const fresh = await createApp(second, { keys: [{}] });
        assert.ok(![kept.appId, gone.appId].includes(fresh.appId));
      } finally {
        await second.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
