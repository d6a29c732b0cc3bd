// SQLite engine specifics: background retention trimming keeps the file
// bounded, restart keeps history and idempotency (and, after kill -9,
// changed messages and their versions), and a data directory from a newer
// schema is refused.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, startServer, request, eventually } from './lib/server.mjs';

const KEY = 'sqlapp.k:secret';

function startSqlite(dataDir, config) {
  return startServer({ config, env: { HERALD_KEY: KEY }, args: ['--storage', 'sqlite', '--data-dir', dataDir] });
}

async function dbBytes(dataDir) {
  let total = 0;
  for (const f of ['herald.db', 'herald.db-wal']) {
    try { total += (await stat(join(dataDir, f))).size; } catch { /* absent */ }
  }
  return total;
}


async function publishBurst(srv, channel, count) {
  const data = 'x'.repeat(1000);
  for (let i = 0; i < count; i += 50) {
    await Promise.all(Array.from({ length: 50 }, () =>
      request(srv.url, 'POST', `/channels/${channel}/messages`, { key: KEY, json: { data } })
        .then((r) => assert.equal(r.status, 201))));
  }
}

describe('sqlite engine', () => {
  test('expired history is trimmed in the background and the file stays bounded', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-sqlite-'));
    const config = { apps: [{ id: 'sqlapp', namespaces: [{ id: 'brief', 'retention-ms': 300 }] }] };
    const srv = await startSqlite(dataDir, config);
    const history = async () => (await request(srv.url, 'GET', '/channels/brief:x/messages?limit=1000', { key: KEY })).body;
    await publishBurst(srv, 'brief:x', 3000);
    await eventually(async () => (await history()).length === 0);
    const afterFirst = await dbBytes(dataDir);
    // Two more rounds of the same load: freed pages are reused, so the
    // files do not keep growing with the total published.
    for (let round = 0; round < 2; round++) {
      await publishBurst(srv, 'brief:x', 3000);
      await eventually(async () => (await history()).length === 0);
    }
    const afterThird = await dbBytes(dataDir);
    assert.ok(afterThird < afterFirst * 1.5 + 1_000_000,
      `database grew from ${afterFirst} to ${afterThird} bytes for 3x the messages`);
    const active = await request(srv.url, 'GET', '/channels?by=id', { key: KEY });
    assert.deepEqual(active.body, [], 'no channel with expired history is listed');
    await srv.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('history and idempotency survive a clean restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-sqlite-'));
    const first = await startSqlite(dataDir);
    const sent = await request(first.url, 'POST', '/channels/keep/messages',
      { key: KEY, json: [{ id: 'base:0', name: 'a', data: 'one', extras: { headers: { h: 'v' } } },
                         { id: 'base:1', data: Buffer.from([0, 1, 2]).toString('base64'), encoding: 'base64' }] });
    assert.equal(sent.status, 201);
    await first.stop({ keepData: true });
    const second = await startSqlite(dataDir);
    const items = (await request(second.url, 'GET', '/channels/keep/messages?direction=forwards', { key: KEY })).body;
    assert.deepEqual(items.map((m) => [m.id, m.name, m.data, m.encoding, m.serial]), [
      ['base:0', 'a', 'one', undefined, sent.body.serials[0]],
      ['base:1', undefined, 'AAEC', 'base64', sent.body.serials[1]],
    ]);
    assert.deepEqual(items[0].extras, { headers: { h: 'v' } });
    const again = await request(second.url, 'POST', '/channels/keep/messages',
      { key: KEY, json: [{ id: 'base:0', data: 'changed' }, { id: 'base:1', data: 'changed' }] });
    assert.equal(again.status, 201);
    assert.deepEqual(again.body.serials, sent.body.serials);
    assert.equal((await request(second.url, 'GET', '/channels/keep/messages', { key: KEY })).body.length, 2);
    await second.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a changed message, its versions and an append survive kill -9', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-sqlite-'));
    const config = { apps: [{ id: 'sqlapp', keys: [{ key: KEY }], namespaces: [{ id: 'mutable', mutableMessages: true }] }] };
    const first = await startServer({ config, env: { HERALD_KEY: null }, args: ['--storage', 'sqlite', '--data-dir', dataDir] });
    const path = '/channels/mutable:keep/messages';
    const sent = await request(first.url, 'POST', path, { key: KEY, json: { name: 'n', data: 'one' } });
    const serial = sent.body.serials[0];
    const at = `${path}/${encodeURIComponent(serial)}`;
    const change = (body) => request(first.url, 'PATCH', at, { key: KEY, json: { serial, ...body } });
    const updated = await change({ action: 1, data: 'two', version: { description: 'edit' } });
    assert.equal(updated.status, 200);
    const appended = await change({ action: 5, data: ' three' });
    assert.equal(appended.status, 200);
    await first.stop({ signal: 'SIGKILL', keepData: true, expectCleanExit: false });
    const second = await startServer({ config, env: { HERALD_KEY: null }, args: ['--storage', 'sqlite', '--data-dir', dataDir] });
    const now = (await request(second.url, 'GET', at, { key: KEY })).body;
    assert.equal(now.data, 'two three');
    assert.equal(now.action, 1);
    assert.equal(now.version.serial, appended.body.versionSerial);
    const versions = (await request(second.url, 'GET', `${at}/versions`, { key: KEY })).body;
    assert.deepEqual(versions.map((m) => [m.action, m.data]), [[0, 'one'], [1, 'two']]);
    assert.equal(versions[1].version.description, 'edit');
    const history = (await request(second.url, 'GET', path, { key: KEY })).body;
    assert.deepEqual(history.map((m) => [m.serial, m.data]), [[serial, 'two three']]);
    await second.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('tokens stay valid and revocations stay in force across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-sqlite-'));
    const revocable = 'sqlapp.rev:revsecret';
    const config = { apps: [{ id: 'sqlapp', keys: [{ key: revocable, revocableTokens: true }] }] };
    const first = await startSqlite(dataDir, config);
    const token = async (srv, clientId) => (await request(srv.url, 'POST', '/keys/sqlapp.rev/requestToken',
      { key: revocable, json: { keyName: 'sqlapp.rev', clientId } })).body.token;
    const history = (srv, tok) => fetch(`${srv.url}/channels/t/messages`, { headers: { authorization: `Bearer ${tok}` } });
    const revokedToken = await token(first, 'mallory');
    const keptToken = await token(first, 'alice');
    const revoked = await request(first.url, 'POST', '/keys/sqlapp.rev/revokeTokens',
      { key: revocable, json: { targets: ['clientId:mallory'] } });
    assert.equal(revoked.status, 201);
    assert.equal((await history(first, revokedToken)).status, 401);
    await first.stop({ keepData: true });

    const second = await startSqlite(dataDir, config);
    const rejected = await history(second, revokedToken);
    assert.equal(rejected.status, 401);
    assert.equal((await rejected.json()).error.code, 40141);
    assert.equal((await history(second, keptToken)).status, 200, 'a token issued before the restart still works');
    assert.equal((await history(second, await token(second, 'mallory'))).status, 200, 'revocation is not a ban');
    await second.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a data directory written by a newer schema is refused with a clear message', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-sqlite-'));
    const srv = await startSqlite(dataDir);
    await srv.stop({ keepData: true });
    // PRAGMA user_version lives at offset 60 of the database header.
    const fh = await open(join(dataDir, 'herald.db'), 'r+');
    const version = Buffer.alloc(4);
    version.writeUInt32BE(999);
    await fh.write(version, 0, 4, 60);
    await fh.close();
    const proc = spawn(process.env.HERALDD, ['--port', '0', '--bind', '127.0.0.1', '--storage', 'sqlite', '--data-dir', dataDir],
      { env: { ...process.env, HERALD_KEY: KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const code = await new Promise((r) => proc.on('exit', r));
    assert.equal(code, 1);
    assert.match(stderr, /schema version 999, newer than this heraldd supports/);
    await rm(dataDir, { recursive: true, force: true });
  });
});
