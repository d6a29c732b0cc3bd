// libherald and its CLI `herald` (build/herald, beside $HERALDD) against
// the real heraldd, interoperating with ably-js both ways: messages
// published by herald (plain, JSON, binary, encrypted; JSON and msgpack)
// read identically by ably-js, and the reverse; `herald subscribe`
// receiving messages published meanwhile and ending cleanly on SIGINT;
// each other command's exit status and output; errors with the Ably code.
//
// Run: HERALDD=/abs/build/heraldd node --test tests/integration/libherald_cli.test.mjs

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { startServer, test, before, after, uniqueChannel, Ably } from './lib/server.mjs';

const HERALD = join(dirname(process.env.HERALDD ?? ''), 'herald');
const CIPHER_KEY = 'WUP6u0K7MXI5Zeo0VppPwg==';
let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

/** Runs herald with args; resolves {code, stdout, stderr}. */
function herald(args, { env = {}, server = srv } = {}) {
  return new Promise((resolve, reject) => {
    const environment = { ...process.env, HERALD_KEY: server.key, ...env };
    if (environment.HERALD_KEY === undefined) delete environment.HERALD_KEY;
    const p = spawn(HERALD, ['--port', String(server.port), ...args], { env: environment });
    let stdout = '', stderr = '';
    p.stdout.on('data', (c) => { stdout += c; });
    p.stderr.on('data', (c) => { stderr += c; });
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(args) {
  const r = await herald(args);
  assert.equal(r.code, 0, `herald ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const lines = (s) => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

for (const protocol of ['json', 'msgpack']) {
  test(`herald publishes (${protocol}), ably-js reads: string, JSON, binary, encrypted`, async () => {
    const ch = uniqueChannel(`to-js-${protocol}`);
    await ok(['--protocol', protocol, 'publish', ch, 's', 'héllo', '--client-id', 'x']);
    await ok(['--protocol', protocol, 'publish', ch, 'j', '{"a":[1,true]}', '--type', 'json']);
    await ok(['--protocol', protocol, 'publish', ch, 'b', Buffer.from([0, 1, 255]).toString('base64'), '--type', 'base64']);
    await ok(['--protocol', protocol, 'publish', ch, 'e', 'secret', '--cipher-key', CIPHER_KEY]);
    const rest = srv.rest({ useBinaryProtocol: protocol === 'msgpack' });
    const key = Buffer.from(CIPHER_KEY, 'base64');
    const page = await rest.channels.get(ch, { cipher: { key } }).history({ direction: 'forwards' });
    const [s, j, b, e] = page.items;
    assert.equal(s.data, 'héllo');
    assert.equal(s.clientId, 'x');
    assert.deepEqual(j.data, { a: [1, true] });
    assert.ok(Buffer.isBuffer(b.data) || b.data instanceof Uint8Array);
    assert.deepEqual([...b.data], [0, 1, 255]);
    assert.equal(e.data, 'secret');
  });

  test(`ably-js publishes (${protocol}), herald reads the same`, async () => {
    const ch = uniqueChannel(`from-js-${protocol}`);
    const key = Buffer.from(CIPHER_KEY, 'base64');
    const rest = srv.rest({ useBinaryProtocol: protocol === 'msgpack' });
    await rest.channels.get(ch).publish([
      { name: 's', data: 'text' }, { name: 'j', data: { k: 'v' } },
      { name: 'b', data: Buffer.from([9, 8, 7]) }]);
    await rest.channels.get(ch, { cipher: { key } }).publish('e', { hidden: 1 });
    const got = lines(await ok(['--protocol', protocol, '--json', 'history', ch, '--forwards', '--cipher-key', CIPHER_KEY]));
    assert.deepEqual(got.map((m) => m.name), ['s', 'j', 'b', 'e']);
    assert.equal(got[0].data, 'text');
    assert.deepEqual(got[1].data, { k: 'v' });
    assert.equal(got[2].encoding, 'base64');
    assert.deepEqual([...Buffer.from(got[2].data, 'base64')], [9, 8, 7]);
    assert.deepEqual(got[3].data, { hidden: 1 });
    const plain = lines(await ok(['--json', 'history', ch, '--limit', '1']));
    assert.equal(plain[0].encoding, 'json/utf-8/cipher+aes-128-cbc/base64', 'without the key the cipher step stays');
  });
}

test('herald subscribe prints messages published meanwhile, ends cleanly on SIGINT', async () => {
  const ch = uniqueChannel('sub');
  const p = spawn(HERALD, ['--port', String(srv.port), '--json', 'subscribe', ch],
    { env: { ...process.env, HERALD_KEY: srv.key } });
  let stdout = '', stderr = '';
  p.stdout.on('data', (c) => { stdout += c; });
  const exited = new Promise((r) => p.on('exit', (code, signal) => r({ code, signal })));
  await new Promise((resolve) => p.stderr.on('data', (c) => {
    stderr += c;
    if (stderr.includes('subscribed')) resolve();
  }));
  await srv.rest().channels.get(ch).publish('one', 'first');
  await ok(['publish', ch, 'two', 'second']);
  while (lines(stdout).length < 2) await new Promise((r) => p.stdout.once('data', r));
  assert.deepEqual(lines(stdout).map((m) => [m.channel, m.name, m.data]), [[ch, 'one', 'first'], [ch, 'two', 'second']]);
  p.kill('SIGINT');
  assert.deepEqual(await exited, { code: 0, signal: null });
});

test('herald subscribe --count ends after that many messages', async () => {
  const ch = uniqueChannel('count');
  const run = herald(['subscribe', ch, '--count', '1']);
  // the stream is open once the server counts a subscriber
  const rest = srv.rest();
  for (let i = 0; i < 200; i++) {
    const r = await rest.request('get', `/channels/${ch}`, 3, {}, null, {});
    if (r.items[0]?.status?.occupancy?.metrics?.subscribers > 0) break;
    await new Promise((res) => setTimeout(res, 25));
  }
  await rest.channels.get(ch).publish('only', 'once');
  const r = await run;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /only: once/);
});

test('herald time, token, token --request, stats, channels, presence, batch-publish', async () => {
  assert.match(await ok(['time']), /^\d{13}\n$/);
  const td = JSON.parse(await ok(['--json', 'token', '--client-id', 'cli', '--ttl', '60000']));
  assert.equal(td.clientId, 'cli');
  const tr = JSON.parse(await ok(['token', '--request', '--client-id', 'cli']));
  assert.ok(tr.mac && tr.nonce && tr.keyName);
  // ably-js exchanges the CLI's signed TokenRequest: heraldd verifies its MAC
  const exchanged = await new Ably.Rest({ authCallback: (_, cb) => cb(null, tr), endpoint: '127.0.0.1', port: srv.port, tls: false })
    .auth.requestToken();
  assert.equal(exchanged.clientId, 'cli');
  // a token from the CLI publishes
  const ch = uniqueChannel('cmds');
  const r = await herald(['--token', td.token, 'publish', ch, 'n', 'by token'], { env: { HERALD_KEY: '' } });
  assert.equal(r.code, 0, r.stderr);
  const st = await ok(['stats', '--limit', '1']);
  assert.ok(st.trim() === '' || JSON.parse(st.trim().split('\n')[0]).intervalId);
  assert.match(await ok(['channels', '--prefix', ch]), new RegExp(ch));
  assert.equal(await ok(['presence', ch]), '');
  assert.equal(await ok(['presence', ch, '--history']), '');
  const b = await ok(['batch-publish', `${ch}-a,${ch}-b`, 'n', 'd']);
  assert.equal(b.trim().split('\n').length, 2);
  const page = await srv.rest().channels.get(`${ch}-b`).history();
  assert.equal(page.items[0].data, 'd');
});

test('herald apps create: a new app on a sandbox server, whose key then publishes', async () => {
  const sandbox = await startServer({ args: ['--sandbox'], env: { HERALD_KEY: null } });
  try {
    const made = await herald(['apps', 'create'], { server: sandbox, env: { HERALD_KEY: undefined } });
    assert.equal(made.code, 0, made.stderr);
    const key = made.stdout.trim();
    assert.match(key, /^[^.:]+\.[^:]+:.+$/, 'the new app\'s first key');
    const ch = uniqueChannel('cli-app');
    const pub = await herald(['--key', key, 'publish', ch, 'made', 'by the new app'], { server: sandbox });
    assert.equal(pub.code, 0, pub.stderr);
    const rest = new Ably.Rest({ key, endpoint: '127.0.0.1', port: sandbox.port, tls: false });
    const page = await rest.channels.get(ch).history();
    assert.equal(page.items[0].data, 'by the new app');
    const json = await herald(['--json', 'apps', 'create'], { server: sandbox, env: { HERALD_KEY: undefined } });
    assert.ok(JSON.parse(json.stdout).keys[0].keyStr, 'the whole app as JSON');
  } finally {
    await sandbox.stop();
  }
});

test('herald errors: exit status 1 with the Ably code; usage errors 2; --help per command', async () => {
  const bad = await herald(['--key', 'testapp.root:wrong', 'publish', 'x', 'y']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /error 40101 \(401\)/);
  const json = await herald(['--key', 'testapp.root:wrong', '--json', 'history', 'x']);
  assert.equal(JSON.parse(json.stderr).error.code, 40101);
  const down = spawn(HERALD, ['--port', '1', 'time']);
  const code = await new Promise((r) => down.on('exit', r));
  assert.equal(code, 1);
  assert.equal((await herald(['nosuch'])).code, 2);
  assert.equal((await herald(['publish'])).code, 2);
  for (const cmd of ['publish', 'history', 'presence', 'subscribe', 'token', 'stats', 'time', 'channels', 'batch-publish', 'apps']) {
    const h = await herald([cmd, '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, new RegExp(`usage: herald ${cmd}`));
  }
});
