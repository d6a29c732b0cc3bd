// Configuration sources, the development key, namespace retention and
// listening on both loopbacks for "localhost".

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, startServer, request, uniqueChannel, eventually } from './lib/server.mjs';
import { eventSource } from './lib/eventstream.mjs';


async function runHelp() {
  const proc = spawn(process.env.HERALDD, ['--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  const code = await new Promise((r) => proc.on('exit', r));
  return { code, out };
}

describe('configuration', () => {
  test('--help lists every documented flag and exits 0', async () => {
    const { code, out } = await runHelp();
    assert.equal(code, 0);
    for (const flag of ['--port', '--bind', '--threads', '--data-dir', '--storage', '--config', '--sandbox'])
      assert.ok(out.includes(flag), `--help mentions ${flag}`);
  });

  test('without any app configured, a development key is created once and reused', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-dev-'));
    const first = await startServer({ env: { HERALD_KEY: null }, args: ['--data-dir', dataDir] });
    const printed = first.logs().stdout.match(/development key: (\S+)/)?.[1];
    assert.ok(printed, 'the key is printed');
    // The printed watch command's stream gets what the printed publish sends.
    const watch = first.logs().stdout.match(/watch: curl -N 'http:\/\/localhost:\d+(\/sse\?[^']+)'/)?.[1];
    assert.ok(watch?.includes(printed), 'the watch command carries the key');
    const stream = eventSource(first, watch);
    await stream.opened;
    const res = await request(first.url, 'POST', '/channels/test/messages',
      { key: printed, json: { name: 'greeting', data: 'hello' } });
    assert.equal(res.status, 201);
    const [event] = await stream.waitFor(1);
    assert.equal(JSON.parse(event.data).data, 'hello');
    stream.close();
    await first.stop();
    assert.equal((await readFile(join(dataDir, 'dev-key'), 'utf8')).trim(), printed);
    const second = await startServer({ env: { HERALD_KEY: null }, args: ['--data-dir', dataDir] });
    assert.equal(second.logs().stdout.match(/development key: (\S+)/)?.[1], printed);
    await second.stop();
  });

  test('HERALD_* environment variables configure and flags override them', async () => {
    const srv = await startServer({ env: { HERALD_MAX_MESSAGE_SIZE: '10' } });
    const small = await request(srv.url, 'POST', '/channels/c/messages', { key: srv.key, json: { data: '0123456789A' } });
    assert.equal(small.status, 413);
    assert.equal(small.body.error.code, 40009);
    await srv.stop();
    const overridden = await startServer({ env: { HERALD_MAX_MESSAGE_SIZE: '10' }, args: ['--max-message-size', '100'] });
    const ok = await request(overridden.url, 'POST', '/channels/c/messages', { key: overridden.key, json: { data: '0123456789A' } });
    assert.equal(ok.status, 201);
    await overridden.stop();
  });

  test('an invalid option value is refused at start with a clear message', async () => {
    const proc = spawn(process.env.HERALDD, ['--threads', 'many'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => { err += d; });
    const code = await new Promise((r) => proc.on('exit', r));
    assert.equal(code, 2);
    assert.match(err, /invalid value 'many' for option threads/);
  });

  // Each out-of-range value, from each source, stops heraldd before it
  // listens, with a message that names the option and its range.
  const OUT_OF_RANGE = [
    ['threads', '4294967297', /option threads: must be 0 to 64/],
    ['threads', '65', /option threads: must be 0 to 64/],
    ['port', '70000', /option port: must be 0 to 65535/],
    ['port', '-1', /option port: must be 0 to 65535/],
    ['token-window-ms', '9223372036854775807', /option token-window-ms: must be 1 to /],
    ['connection-state-ttl-ms', '0', /option connection-state-ttl-ms: must be 1 to /],
    ['max-frame-size', '0', /option max-frame-size: must be 1 to /],
    ['max-body-size', '-5', /option max-body-size: must be 1 to /],
    ['retention-ms', '99999999999999999999', /invalid value '99999999999999999999' for option retention-ms/],
  ];
  const envName = (option) => `HERALD_${option.toUpperCase().replaceAll('-', '_')}`;
  for (const [option, value, message] of OUT_OF_RANGE) {
    const sources = {
      flag: { args: [`--${option}`, value] },
      env: { env: { [envName(option)]: value } },
      file: { config: { [option]: /^-?\d{1,15}$/.test(value) ? Number(value) : value } },
    };
    for (const [source, opts] of Object.entries(sources)) {
      test(`--${option} ${value} (${source}) is refused at start, naming the option`, async () => {
        const srv = startServer({ ...opts, quiet: true });
        const failure = await srv.then(() => null, (e) => e);
        assert.ok(failure, 'heraldd must not start');
        assert.match(failure.message, /exited before listening \(code=2/);
        assert.match(failure.message, message);
      });
    }
  }

  test('integer options at the ends of their ranges start', async () => {
    const srv = await startServer({ args: ['--threads', '64', '--token-window-ms', '3153600000000',
      '--max-inbound-rate', '2147483647', '--max-frame-size', '1073741824', '--idempotency-window-ms', '0',
      '--presence-grace-ms', '0', '--retention-ms', '1'] });
    assert.match(srv.logs().stdout, /\(64 threads/);
    const res = await request(srv.url, 'GET', '/time');
    assert.equal(res.status, 200);
    await srv.stop();
    const low = await startServer({ config: { 'max-message-size': 1, 'max-header-size': 1024 },
      env: { HERALD_PORT: '0', HERALD_PRESENCE_MAX_MEMBERS: '1' } });
    const big = await request(low.url, 'POST', '/channels/c/messages', { key: low.key, json: { data: 'xy' } });
    assert.equal(big.status, 413, 'max-message-size 1 is in force');
    await low.stop();
  });

  test('namespace retention-ms trims history, other namespaces keep theirs', async () => {
    const config = { apps: [{ id: 'retapp', keys: [{ key: 'retapp.k:secret' }],
      namespaces: [{ id: 'short', 'retention-ms': 200 }] }] };
    const srv = await startServer({ config, env: { HERALD_KEY: null } });
    const key = 'retapp.k:secret';
    for (const ch of ['short:a', 'long:a'])
      assert.equal((await request(srv.url, 'POST', `/channels/${ch}/messages`, { key, json: { data: 'x' } })).status, 201);
    await eventually(async () => {
      const res = await request(srv.url, 'GET', '/channels/short:a/messages', { key });
      return res.status === 200 && res.body.length === 0;
    });
    const kept = await request(srv.url, 'GET', '/channels/long:a/messages', { key });
    assert.equal(kept.body.length, 1);
    const active = await request(srv.url, 'GET', '/channels?by=id', { key });
    assert.deepEqual(active.body, ['long:a']);
    await srv.stop();
  });

  test('--bind localhost serves both 127.0.0.1 and ::1', async () => {
    const srv = await startServer({ args: ['--bind', 'localhost'] });
    for (const host of ['127.0.0.1', '[::1]']) {
      const res = await request(`http://${host}:${srv.port}`, 'GET', '/time');
      assert.equal(res.status, 200, `GET /time on ${host}`);
      assert.equal(res.body.length, 1);
    }
    await srv.stop();
  });
});
