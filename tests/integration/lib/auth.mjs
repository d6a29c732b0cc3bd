// Auth helpers for the integration tests: TokenRequest signing (auth.md §5),
// Ably JWT building (auth.md §8), canonical capabilities (auth.md §9.4), a tiny
// authUrl server and polling.
//
// Everything here is written from the spec, independently of the server.

import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

/** Splits "appId.keyId:secret" into its parts. */
export function splitKey(key) {
  const i = key.indexOf(':');
  const keyName = key.slice(0, i);
  return { keyName, keySecret: key.slice(i + 1), appId: keyName.split('.')[0] };
}

/** A 16-digit nonce like ably-js makes, with some extra randomness. */
export function nonce() {
  return randomBytes(12).toString('hex');
}

/**
 * Signs a TokenRequest per auth.md §5. `fields` holds keyName (taken from
 * `key` if absent), ttl, capability (string, used verbatim; objects are
 * canonicalised first), clientId, timestamp (default now), nonce (default
 * random). Fields that are undefined are left out of the request.
 * Returns the request object including `mac`.
 */
export function signTokenRequest(key, fields = {}) {
  const { keyName, keySecret } = splitKey(key);
  const req = { keyName, timestamp: Date.now(), nonce: nonce(), ...fields };
  if (req.capability !== undefined && typeof req.capability !== 'string') req.capability = canonicalCapability(req.capability);
  for (const k of Object.keys(req)) if (req[k] === undefined) delete req[k];
  req.mac = tokenRequestMac(req, keySecret);
  return req;
}

/** The MAC of a TokenRequest (auth.md §5). */
export function tokenRequestMac(req, keySecret) {
  const s = (v) => (v === undefined || v === null ? '' : String(v));
  const text = [req.keyName, req.ttl, req.capability, req.clientId, req.timestamp, req.nonce].map(s).join('\n') + '\n';
  return createHmac('sha256', Buffer.from(keySecret, 'utf8')).update(Buffer.from(text, 'utf8')).digest('base64');
}

export function base64url(bufOrString) {
  return Buffer.from(bufOrString).toString('base64url');
}

/**
 * Builds an Ably JWT (auth.md §8) signed with the key secret.
 *  o.key        "appId.keyId:secret" (kid = keyName unless o.kid is given)
 *  o.kid        override the kid header
 *  o.secret     override the signing secret
 *  o.alg        header alg (default HS256); 'none' produces an unsigned JWT
 *  o.header     extra header members
 *  o.iat, o.exp seconds (default now, now + ttlSec)
 *  o.ttlSec     default 3600
 *  o.capability JSON text or object (omitted when undefined)
 *  o.clientId   x-ably-clientId (omitted when undefined)
 *  o.claims     extra claims
 *  o.omit       claim names to drop (e.g. ['iat'])
 */
export function makeJwt(o) {
  const { keyName, keySecret } = o.key ? splitKey(o.key) : { keyName: undefined, keySecret: undefined };
  const now = Math.floor(Date.now() / 1000);
  const header = { typ: 'JWT', alg: o.alg || 'HS256', kid: o.kid !== undefined ? o.kid : keyName, ...(o.header || {}) };
  if (header.kid === undefined) delete header.kid;
  const claims = {
    iat: o.iat !== undefined ? o.iat : now,
    exp: o.exp !== undefined ? o.exp : now + (o.ttlSec || 3600),
  };
  if (o.capability !== undefined) {
    claims['x-ably-capability'] = typeof o.capability === 'string' ? o.capability : canonicalCapability(o.capability);
  }
  if (o.clientId !== undefined) claims['x-ably-clientId'] = o.clientId;
  Object.assign(claims, o.claims || {});
  for (const k of o.omit || []) delete claims[k];
  const signingInput = base64url(JSON.stringify(header)) + '.' + base64url(JSON.stringify(claims));
  if (header.alg === 'none') return signingInput + '.';
  const secret = o.secret !== undefined ? o.secret : keySecret;
  const sig = createHmac('sha256', Buffer.from(secret, 'utf8')).update(signingInput).digest('base64url');
  return signingInput + '.' + sig;
}

/** Canonical capability text (auth.md §9.4): sorted resources and operations. */
export function canonicalCapability(cap) {
  const obj = typeof cap === 'string' ? JSON.parse(cap) : cap;
  const out = {};
  for (const r of Object.keys(obj).sort()) out[r] = [...obj[r]].sort();
  return JSON.stringify(out);
}

/** Base64 of the UTF-8 token, as ably-js sends it in `Authorization: Bearer`. */
export function bearer(token, { raw = false } = {}) {
  return 'Bearer ' + (raw ? token : Buffer.from(token, 'utf8').toString('base64'));
}

// ---- test-app-setup.json --------------------------------------------------


// ---- authUrl ------------------------------------------------------------------

/**
 * A small HTTP server for authUrl tests. `handler(req, url)` returns
 * {status?, contentType, body} (body string or object → JSON).
 * Resolves to {url, calls: [{method, url, headers}], close()}.
 */
export async function startAuthUrlServer(handler) {
  const calls = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    calls.push({ method: req.method, url, headers: req.headers });
    try {
      const r = await handler(req, url);
      const body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      const headers = { 'Content-Length': Buffer.byteLength(body) };
      if (r.contentType) headers['Content-Type'] = r.contentType;
      res.writeHead(r.status || 200, headers);
      res.end(body);
    } catch (e) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(e && e.stack || e));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/auth`,
    calls,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

/**
 * Awaits `promise`, which must reject with an Ably ErrorInfo of
 * statusCode/code (code may be an array of acceptable codes).
 */
export async function expectAblyError(assert, promise, statusCode, code, what = '') {
  let err;
  try {
    const r = await promise;
    assert.fail(`${what}: expected error ${statusCode}/${code}, got success ${JSON.stringify(r)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  const ctx = `${what} (${err && err.code}/${err && err.statusCode}: ${err && err.message})`;
  if (Array.isArray(code)) assert.ok(code.includes(err.code), `error code ${err.code} not in ${code} ${ctx}`);
  else assert.equal(err.code, code, `error code ${ctx}`);
  assert.equal(err.statusCode, statusCode, `statusCode ${ctx}`);
  return err;
}

/**
 * An authCallback for ably-js that calls `produce(tokenParams, n)` (n = call
 * number, from 1) and hands its result (TokenRequest, TokenDetails, token
 * string or JWT) to the SDK. ably-js retries a request after every 4014x
 * answer with a freshly obtained token, without limit; so after `limit`
 * calls the callback fails instead, which stops such a loop with 40170.
 * Returns {authCallback, calls (getter), results}.
 */
export function guardedAuthCallback(produce, { limit = 5 } = {}) {
  const state = {
    n: 0,
    results: [],
    get calls() { return this.n; },
  };
  state.authCallback = (params, cb) => {
    state.n += 1;
    if (state.n > limit) {
      cb(new Error(`authCallback called ${state.n} times: token renewal loop (server keeps rejecting fresh tokens?)`), null);
      return;
    }
    Promise.resolve()
      .then(() => produce(params, state.n))
      .then((v) => { state.results.push(v); cb(null, v); }, (e) => cb(e, null));
  };
  return state;
}
