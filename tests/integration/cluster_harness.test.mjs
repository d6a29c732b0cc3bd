// Self-check of lib/redis.mjs: a redis-server starts on a free port, answers
// redis-cli, keeps what its AOF holds across stop/kill + restart on the same
// port and directory, and refuses connections while it is down.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { describe } from './lib/server.mjs';
import { test, startRedis } from './lib/redis.mjs';

const skip = existsSync('/usr/bin/redis-server') ? false : 'no /usr/bin/redis-server';

function refused(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', (e) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('lib/redis.mjs', { skip }, () => {
  test('start, cli, pause/restart and kill/restart keep AOF data on the same port; stop removes the dir', async () => {
    const r = await startRedis();
    const { port, dir } = r;
    try {
      assert.equal(r.url, `redis://127.0.0.1:${port}`);
      assert.equal((await r.cli('PING')).trim(), 'PONG');
      assert.equal((await r.cli('CONFIG', 'GET', 'appendfsync')).split('\n')[1], 'always');
      await r.cli('SET', 'h:selfcheck', 'one');
      await r.cli('XADD', 'h:m:app\nchan', '*', 'f', 'v');

      await r.pause();
      assert.equal(r.isRunning(), false);
      assert.ok(await refused(port), 'nothing listens while it is down');
      await r.restart();
      assert.equal(r.port, port, 'same port after restart');
      assert.equal((await r.cli('GET', 'h:selfcheck')).trim(), 'one', 'AOF data survives SIGTERM + restart');

      await r.cli('SET', 'h:selfcheck', 'two');
      await r.kill();
      assert.ok(await refused(port));
      await r.restart();
      assert.equal((await r.cli('GET', 'h:selfcheck')).trim(), 'two', 'appendfsync always: data survives SIGKILL');
      assert.deepEqual(await r.scan('h:m:*'), ['h:m:app\nchan'], 'scan returns keys holding a newline whole');
      assert.equal(await r.command('GET', 'h:selfcheck'), 'two');
      assert.equal((await r.cli('XLEN', 'h:m:app\nchan')).trim(), '1');
    } finally {
      await r.stop();
    }
    assert.equal(existsSync(dir), false, 'stop() removes the directory');
    assert.ok(await refused(port));
  });
});
