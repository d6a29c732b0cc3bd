// The app and shape checks for batch responses (seed 002, rest.md §12–13),
// shared by the batch publish and batch presence tests. Every check compares
// the exact set of fields, so an extra or a missing member fails.

import { request } from './server.mjs';
import { testAppSetupPostApps } from './fixtures.mjs';

/** An app made as ably-js's test suite makes one (POST /apps with test-app-setup.json, on a --sandbox server); returns its keys. */
export async function createTestApp(srv) {
  const res = await request(srv.url, 'POST', '/apps', { key: null, json: testAppSetupPostApps() });
  if (res.status !== 201) throw new Error(`POST /apps: ${res.status} ${res.raw}`);
  return res.body.keys.map((k) => k.keyStr);
}

export const FULL_KEY = 'batchapp.full:secretfull';
// The seed's partial-success examples: allowed on channel0 and channel1 only.
export const SEED_KEY = 'batchapp.seed:secretseed';
// Allowed on the "allowed:" namespace only.
export const LIMITED_KEY = 'batchapp.limited:secretlimited';
export const BATCH_CONFIG = {
  apps: [{
    id: 'batchapp',
    keys: [
      { key: FULL_KEY, capability: { '*': ['*'] } },
      { key: SEED_KEY, capability: { channel0: ['publish', 'subscribe'], channel1: ['publish', 'subscribe'] } },
      { key: LIMITED_KEY, capability: { 'allowed:*': ['publish', 'subscribe'] } },
    ],
  }],
};

/** The ErrorInfo of the seed's examples: {message, statusCode, code} (href optional, rest.md §5). */
export function assertErrorInfo(assert, e, statusCode, code, message, what = '') {
  const ctx = `${what}: ${JSON.stringify(e)}`;
  assert.ok(e && typeof e === 'object', `error object ${ctx}`);
  assert.deepEqual(Object.keys(e).filter((k) => k !== 'href').sort(), ['code', 'message', 'statusCode'], `error fields ${ctx}`);
  assert.equal(e.statusCode, statusCode, `statusCode ${ctx}`);
  assert.equal(e.code, code, `code ${ctx}`);
  if (message !== undefined) assert.equal(e.message, message, `message ${ctx}`);
  else assert.equal(typeof e.message, 'string', `message ${ctx}`);
}

export const CAPABILITY_MESSAGE = 'Given credentials do not have the required capability';
export const BATCH_ERROR_MESSAGE = 'Batched response includes errors';

/** A per-channel failure {channel, error} (no other member). */
export function assertFailureItem(assert, item, channel, statusCode, code, message, what = '') {
  const ctx = `${what}: ${JSON.stringify(item)}`;
  assert.deepEqual(Object.keys(item).sort(), ['channel', 'error'], `failure item fields ${ctx}`);
  assert.equal(item.channel, channel, `channel ${ctx}`);
  assertErrorInfo(assert, item.error, statusCode, code, message, what);
}

/**
 * The seed's partial-failure answer of a raw request: 400, X-Ably-Errorcode
 * 40020, body {error: 40020, batchResponse: [...]}. Returns batchResponse.
 */
export function assertPartialFailure(assert, res, what = '') {
  const ctx = `${what}: ${res.status} ${res.raw.toString('utf8').slice(0, 400)}`;
  assert.equal(res.status, 400, `status ${ctx}`);
  assert.equal(res.headers.get('x-ably-errorcode'), '40020', `X-Ably-Errorcode ${ctx}`);
  assert.equal(res.headers.get('x-ably-errormessage'), BATCH_ERROR_MESSAGE, `X-Ably-Errormessage ${ctx}`);
  assert.deepEqual(Object.keys(res.body).sort(), ['batchResponse', 'error'], `body fields ${ctx}`);
  assertErrorInfo(assert, res.body.error, 400, 40020, BATCH_ERROR_MESSAGE, what);
  assert.ok(Array.isArray(res.body.batchResponse), `batchResponse array ${ctx}`);
  return res.body.batchResponse;
}

/** A BatchResult {successCount, failureCount, results} (rest.md §12.2, §13.2). Returns results. */
export function assertBatchResult(assert, r, successCount, failureCount, what = '') {
  const ctx = `${what}: ${JSON.stringify(r)}`;
  assert.deepEqual(Object.keys(r).sort(), ['failureCount', 'results', 'successCount'], `BatchResult fields ${ctx}`);
  assert.equal(r.successCount, successCount, `successCount ${ctx}`);
  assert.equal(r.failureCount, failureCount, `failureCount ${ctx}`);
  assert.equal(r.results.length, successCount + failureCount, `results ${ctx}`);
  return r.results;
}
