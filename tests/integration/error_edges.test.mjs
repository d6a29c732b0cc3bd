// Error codes at the edges (issue 20), through the official ably-js SDK and
// raw HTTP:
//  - a realtime connection with a key name no app has (an unknown key of a
//    known app, or an unknown app) fails with 40101/401 "Invalid
//    credentials", as Ably answers it, not 40400, on JSON and msgpack;
//  - a request to /keys/{keyName}/... for a key that does not exist answers
//    404/40400 whatever the method (GET, PUT, DELETE as well as POST), and
//    before it looks at credentials;
//  - a known route with a method it does not take keeps answering
//    405/40500, through rest.request() and raw HTTP, and so does
//    /keys/{keyName}/requestToken for a key that exists.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/error_edges.test.mjs

import assert from 'node:assert/strict';
import {
  startServer, describe, test, before, after, request, assertAblyError, restClient, uniqueChannel,
} from './lib/server.mjs';
import { expectAblyError, signTokenRequest } from './lib/auth.mjs';
import { PROTOCOLS, rtTest, waitForState, recordStateChanges, describeChanges, rawRealtime } from './lib/realtime.mjs';

const KEY = 'edgeapp.root:secretroot';
const KEY_NAME = 'edgeapp.root';
const OTHER = 'edgeapp.other:secretother';
const CONFIG = { apps: [{ id: 'edgeapp', keys: [{ key: KEY }, { key: OTHER, revocableTokens: true }] }] };
const UNKNOWN_KEYS = [
  ['an unknown key of a known app', 'edgeapp.nosuchkey:whatever'],
  ['a key of an unknown app', 'noapp.k:whatever'],
];
let srv;
before(async () => { srv = await startServer({ config: CONFIG, env: { HERALD_KEY: null } }); });
after(async () => { if (srv) await srv.stop(); });

const raw = (method, path, opts = {}) => request(srv.url, method, path, { key: null, ...opts });

/** Asserts what ably-js's rest.request() resolved with: an error response. */
function assertErrorResponse(res, statusCode, code, what) {
  assert.equal(res.success, false, `${what}: not a success`);
  assert.equal(res.statusCode, statusCode, `${what}: statusCode (${res.errorCode}: ${res.errorMessage})`);
  assert.equal(res.errorCode, code, `${what}: errorCode (${res.errorMessage})`);
  assert.ok(res.errorMessage, `${what}: an error message`);
}

for (const proto of PROTOCOLS) {
  describe(`realtime with a key name that does not exist (${proto.name})`, () => {
    for (const [what, key] of UNKNOWN_KEYS) {
      rtTest(`${what}: FAILED with 40101/401 Invalid credentials, no retry`, async (scope) => {
        const c = scope.realtime(srv, { key, binary: proto.binary });
        const changes = recordStateChanges(c.connection);
        const failed = await waitForState(c.connection, 'failed', { failOn: [], what: 'the refused connection' });
        assert.equal(failed.reason?.code, 40101, `code: ${failed.reason?.message}`);
        assert.equal(failed.reason?.statusCode, 401);
        assert.match(failed.reason.message, /^Invalid credentials/);
        assert.equal(changes.filter((ch) => ch.current === 'connecting').length, 1, `one attempt: ${describeChanges(changes)}`);
      });
    }
  });
}

describe('realtime with a key name that does not exist (raw protocol)', () => {
  test('the ERROR carries 40101/401, then the socket closes', async () => {
    const ws = rawRealtime(srv.port, { key: 'edgeapp.nosuchkey:whatever' });
    try {
      const err = await ws.next((pm) => pm.action === 9, 5000, 'ERROR');
      assert.equal(err.error.code, 40101);
      assert.equal(err.error.statusCode, 401);
      await ws.closed;
    } finally {
      ws.close();
    }
  });
});

describe('/keys/{keyName}/... for a key that does not exist', () => {
  test('404/40400 for GET, PUT, DELETE and POST on requestToken and revokeTokens (raw HTTP)', async () => {
    for (const keyName of ['edgeapp.nosuchkey', 'noapp.k']) {
      for (const op of ['requestToken', 'revokeTokens']) {
        for (const method of ['GET', 'PUT', 'DELETE', 'POST']) {
          const res = await raw(method, `/keys/${keyName}/${op}`, method === 'POST' ? { json: {} } : {});
          assertAblyError(assert, res, 404, 40400, `${method} /keys/${keyName}/${op}`);
        }
      }
    }
  });

  test('a signed TokenRequest and a revocation with good credentials of another key: 404/40400', async () => {
    const tr = signTokenRequest('edgeapp.nosuchkey:whatever');
    assertAblyError(assert, await raw('POST', '/keys/edgeapp.nosuchkey/requestToken', { json: tr }), 404, 40400, 'requestToken');
    const revoke = await raw('POST', '/keys/edgeapp.nosuchkey/revokeTokens',
      { key: OTHER, json: { targets: ['clientId:x'] } });
    assertAblyError(assert, revoke, 404, 40400, 'revokeTokens');
  });

  for (const proto of PROTOCOLS) {
    test(`ably-js (${proto.name}): rest.request() GET and POST answer 404/40400; auth.requestToken() rejects with 40400/404`, async () => {
      const rest = restClient(srv, { key: KEY, binary: proto.binary });
      assertErrorResponse(await rest.request('get', '/keys/edgeapp.nosuchkey/requestToken', 3), 404, 40400, 'GET');
      assertErrorResponse(await rest.request('post', '/keys/edgeapp.nosuchkey/requestToken', 3, null, {}), 404, 40400, 'POST');
      assertErrorResponse(await rest.request('delete', '/keys/noapp.k/revokeTokens', 3), 404, 40400, 'DELETE');
      const stranger = restClient(srv, { key: 'edgeapp.nosuchkey:whatever', binary: proto.binary });
      await expectAblyError(assert, stranger.auth.requestToken(), 404, 40400, 'requestToken with an unknown key');
    });
  }
});

describe('a known route with a method it does not take', () => {
  for (const proto of PROTOCOLS) {
    test(`ably-js (${proto.name}): rest.request() answers 405/40500`, async () => {
      const rest = restClient(srv, { key: KEY, binary: proto.binary });
      assertErrorResponse(await rest.request('get', `/keys/${KEY_NAME}/requestToken`, 3), 405, 40500, 'GET requestToken');
      assertErrorResponse(await rest.request('delete', `/keys/${KEY_NAME}/revokeTokens`, 3), 405, 40500, 'DELETE revokeTokens');
      assertErrorResponse(await rest.request('put', `/channels/${uniqueChannel('edge')}/messages`, 3, null, {}), 405, 40500, 'PUT messages');
      assertErrorResponse(await rest.request('delete', '/time', 3), 405, 40500, 'DELETE /time');
    });
  }

  test('raw HTTP: GET and PUT on requestToken of a known key → 405/40500', async () => {
    for (const method of ['GET', 'PUT']) {
      assertAblyError(assert, await raw(method, `/keys/${KEY_NAME}/requestToken`), 405, 40500, method);
    }
  });
});
