// The ably-js the tests drive is the one HERALD_ABLY selects (lib/ably.mjs),
// checked where it matters: what the SDK puts on the wire. A REST request's
// Ably-Agent header and a Realtime connection's `agent` parameter must name
// the version tests/package-lock.json pins for that choice, so a pass of
// `make integration-test-latest-sdk` that loaded the pinned SDK (or the
// reverse) fails here rather than passing on the wrong client. Both are
// caught by local listeners, not Herald: the check is about the client.
// And the Makefile's SDK_TESTS, the files that pass runs, must list every
// test file that drives ably-js.

import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { WebSocketServer } from 'ws';
import { test, after } from './lib/server.mjs';
import { Ably, ABLY_VERSION, ABLY_PACKAGE, SDK_CHOICE, SDK_DESCRIPTION, lockedVersion } from './lib/ably.mjs';

const expected = lockedVersion(SDK_CHOICE);

// Every request: its Ably-Agent header and URL; GET /time answers as Ably does.
const seen = [];
const server = http.createServer((req, res) => {
  seen.push({ url: req.url, agent: req.headers['ably-agent'] });
  res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify([Date.now()]));
});
const wss = new WebSocketServer({ server });
wss.on('connection', (ws, req) => {
  seen.push({ url: req.url, agent: new URL(req.url, 'http://x').searchParams.get('agent') });
  ws.close();
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
after(() => new Promise((resolve) => { wss.close(); server.closeAllConnections(); server.close(resolve); }));

/** The ably-js version an agent string names ("ably-js/2.28.0 nodejs/20.1.0" -> "2.28.0"). */
function agentVersion(agent) {
  const m = /(?:^| )ably-js\/(\S+)/.exec(agent || '');
  return m && m[1];
}

/** [major, minor, patch] of "2.28.0". */
const parts = (v) => v.split('.').map(Number);

test(`the SDK in use is ${SDK_DESCRIPTION}, as package-lock.json pins`, () => {
  assert.ok(expected, `package-lock.json pins ${ABLY_PACKAGE}`);
  assert.equal(ABLY_VERSION, expected);
  // The newest SDK is a 2.x no older than the pinned one.
  const latest = parts(lockedVersion('latest'));
  const pinned = parts(lockedVersion('pinned'));
  assert.equal(latest[0], 2, `ably-latest ${lockedVersion('latest')} is a 2.x`);
  assert.ok(latest[1] > pinned[1] || (latest[1] === pinned[1] && latest[2] >= pinned[2]),
    `ably-latest ${lockedVersion('latest')} is not older than ably ${lockedVersion('pinned')}`);
});

test('a REST request carries Ably-Agent ably-js/<that version>', async () => {
  seen.length = 0;
  const rest = new Ably.Rest({ key: 'app.key:secret', endpoint: '127.0.0.1', port, tls: false, logLevel: 0 });
  const time = await rest.time();
  assert.equal(typeof time, 'number');
  const req = seen.find((r) => r.url.startsWith('/time'));
  assert.ok(req, `GET /time reached the listener: ${JSON.stringify(seen)}`);
  assert.equal(agentVersion(req.agent), expected, `Ably-Agent: ${req.agent}`);
});

test('a Realtime connection carries agent=ably-js/<that version>', async () => {
  seen.length = 0;
  const rt = new Ably.Realtime({
    key: 'app.key:secret', endpoint: '127.0.0.1', port, tls: false, logLevel: 0,
    transports: ['web_socket'], disableConnectivityCheck: true,
  });
  try {
    const deadline = Date.now() + 10000;
    while (!seen.some((r) => r.agent) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const conn = seen.find((r) => r.agent);
    assert.ok(conn, `the WebSocket upgrade reached the listener: ${JSON.stringify(seen)}`);
    assert.equal(agentVersion(conn.agent), expected, `agent: ${conn.agent}`);
  } finally {
    rt.close();
  }
});

// What marks a file as driving ably-js: an Ably.Rest/Realtime of its own,
// lib/server.mjs's rest clients, lib/realtime.mjs's ClientScope clients.
const USES_SDK = /\bAbly\.(?:Rest|Realtime)\b|\brestClient\(|\.rest\(|\.realtime\(|\brtTest\(|\bClientScope\b/;

test('the Makefile\'s SDK_TESTS (or SDK_PINNED_ONLY) lists every test file that drives ably-js', () => {
  const makefile = readFileSync(new URL('../../Makefile', import.meta.url), 'utf8');
  const m = /^SDK_TESTS = ((?:.*\\\n)*.*)$/m.exec(makefile);
  assert.ok(m, 'Makefile defines SDK_TESTS');
  const listed = new Set(m[1].replace(/\\\n/g, ' ').split(/\s+/).filter(Boolean));
  const pinnedOnly = /^SDK_PINNED_ONLY = (.*)$/m.exec(makefile);
  for (const name of pinnedOnly ? pinnedOnly[1].split(/\s+/).filter(Boolean) : []) listed.add(name);
  const dir = new URL('./', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.test.mjs')).map((f) => f.slice(0, -'.test.mjs'.length));
  for (const name of listed) assert.ok(files.includes(name), `SDK_TESTS names ${name}, which has no ${name}.test.mjs`);
  const using = files.filter((f) => USES_SDK.test(readFileSync(new URL(`${f}.test.mjs`, dir), 'utf8')));
  assert.ok(using.length >= 10, `found the SDK files (${using.join(' ')})`);
  const missing = using.filter((f) => !listed.has(f));
  assert.deepEqual(missing, [], `files using ably-js missing from SDK_TESTS: ${missing.join(' ')}`);
});
