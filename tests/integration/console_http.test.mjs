// The web console's routes over plain HTTP (rest_console.c): GET /console
// and /console/<file> with their content types, strict
// Content-Security-Policy, caching headers (no-cache + ETag, 304 on a
// match); the files are the repository's server/console/ as built in;
// unknown files and paths that try to leave /console/ are 404 (raw request
// lines: fetch would normalise them); without --console all of it is 404.
// GET /apps, the console's sign-in with the admin key: every app with its
// keys, for the admin key only.
//
// Run: HERALDD=/abs/build/heraldd node --test tests/integration/console_http.test.mjs

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  startServer, test, after, request, rawExchange, parseHttpResponses, assertAblyError, DEFAULT_KEY,
} from './lib/server.mjs';

const ADMIN_KEY = 'console-http-admin-secret';
const SOURCES = new URL('../../server/console/', import.meta.url);

const srv = await startServer({ args: ['--console', '--admin-key', ADMIN_KEY] });
after(() => srv.stop());

const get = (path, opts = {}) => request(srv.url, 'GET', path, { key: null, ...opts });

/** What the server answers to a raw request line's target. */
async function rawGet(server, target) {
  const { data } = await rawExchange(server.port,
    `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  const [res] = parseHttpResponses(data);
  return res;
}

test('GET /console is the page, /console/<file> its files, each with its type, no-cache, an ETag and a strict CSP', async () => {
  for (const [path, file, type] of [
    ['/console', 'index.html', 'text/html; charset=utf-8'],
    ['/console/index.html', 'index.html', 'text/html; charset=utf-8'],
    ['/console/console.js', 'console.js', 'text/javascript; charset=utf-8'],
    ['/console/console.css', 'console.css', 'text/css; charset=utf-8'],
  ]) {
    const res = await get(path);
    assert.equal(res.status, 200, path);
    assert.equal(res.contentType, type, path);
    assert.deepEqual(res.raw, await readFile(new URL(file, SOURCES)), `${path} is server/console/${file} as built in`);
    assert.equal(res.headers.get('cache-control'), 'no-cache', path);
    assert.match(res.headers.get('etag'), /^"[0-9a-f]{16}"$/, path);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/, path);
    assert.match(csp, /script-src 'self';/, path);
    assert.match(csp, /connect-src 'self';/, path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.doesNotMatch(csp, /unsafe|\*|https?:/, `${path}: nothing inline, nothing from elsewhere`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);

    const again = await get(path, { headers: { 'If-None-Match': res.headers.get('etag') } });
    assert.equal(again.status, 304, `${path} revalidated`);
    assert.equal(again.raw.length, 0);
  }
  const other = await get('/console/console.js', { headers: { 'If-None-Match': '"0000000000000000"' } });
  assert.equal(other.status, 200, 'another ETag gets the file');
});

test('the page loads nothing from elsewhere: every script and style is under /console/', async () => {
  const page = (await get('/console')).body;
  const refs = [...page.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
  assert.ok(refs.length >= 2);
  for (const ref of refs) assert.ok(ref.startsWith('/console/') || ref === 'data:,', ref);
});

test('unknown files and paths out of /console/ are 404 with an Ably error', async () => {
  for (const path of ['/console/nope.js', '/console/', '/console/console.js/x', '/console/CONSOLE.JS']) {
    assertAblyError(assert, await get(path), 404, 40400, path);
  }
  for (const target of [
    '/console/../server/router.c',
    '/console/%2e%2e%2fCMakeLists.txt',
    '/console/..%2F..%2FCMakeLists.txt',
    '/console/%2Fetc%2Fpasswd',
    '/console/.%2Fconsole.js',
  ]) {
    const res = await rawGet(srv, target);
    assert.equal(res.status, 404, target);
    assert.equal(JSON.parse(res.body.toString()).error.code, 40400, target);
  }
});

test('without --console, /console and its files are 404', async () => {
  const plain = await startServer();
  try {
    for (const path of ['/console', '/console/console.js', '/console/index.html']) {
      assertAblyError(assert, await request(plain.url, 'GET', path, { key: null }), 404, 40400, path);
    }
  } finally {
    await plain.stop();
  }
});

test('GET /apps lists every app with its keys for the admin key, and for nothing else', async () => {
  const res = await get('/apps', { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
  assert.equal(res.status, 200);
  const app = res.body.find((a) => a.appId === 'testapp');
  assert.ok(app, 'the configured app is listed');
  const key = app.keys.find((k) => k.keyStr === DEFAULT_KEY);
  assert.deepEqual(key, {
    keyName: 'testapp.root', keySecret: 'secretroot', keyStr: DEFAULT_KEY, capability: '{"*":["*"]}',
  });
  for (const opts of [{}, { key: DEFAULT_KEY }, { headers: { Authorization: 'Bearer wrong' } }]) {
    assertAblyError(assert, await get('/apps', opts), 401, 40101, JSON.stringify(opts));
  }
  const sandbox = await startServer({ args: ['--sandbox'] });
  try {
    assertAblyError(assert, await request(sandbox.url, 'GET', '/apps', { key: null }), 401, 40101,
      'not even in sandbox mode');
  } finally {
    await sandbox.stop();
  }
});
