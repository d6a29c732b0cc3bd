// Redis and multi-node helpers for Herald's cluster tests (the Redis engine,
// issue 19).
//
// startRedis() spawns /usr/bin/redis-server on an OS-assigned port with its
// own directory (AOF on, no RDB snapshots) and resolves once it answers PING.
// It can be stopped (SIGTERM), killed (SIGKILL) and restarted on the same
// port and directory, so what the AOF holds survives a restart.
//
// startCluster() starts N heraldd nodes sharing the given Redis servers.
//
// Test files should import `test` from here: on failure it prints the logs
// of the redis-servers involved as well as those of the heraldd nodes
// (lib/server.mjs's `test` does the latter).

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { promisify } from 'node:util';
import { test as serverTest, startServer, before, after } from './server.mjs';
import { waitForState, rejection, withClientScope } from './realtime.mjs';

export { waitForState, rejection };

const execFileP = promisify(execFile);
const REDIS_SERVER = process.env.HERALD_REDIS_SERVER || '/usr/bin/redis-server';
const REDIS_CLI = process.env.HERALD_REDIS_CLI || '/usr/bin/redis-cli';

const liveRedis = new Set();
const allRedis = [];

/**
 * `test()` of lib/server.mjs that also dumps the logs of the redis-servers
 * involved when the test fails: those started during the test (even if
 * already stopped) at once, the ones still running when they are stopped.
 */
export function test(name, opts, fn) {
  if (typeof opts === 'function') { fn = opts; opts = {}; }
  return serverTest(name, opts, async (t) => {
    const firstNew = allRedis.length;
    try {
      return await fn(t);
    } catch (err) {
      for (const r of liveRedis) r.noteFailure(name);
      for (const r of allRedis.slice(firstNew)) if (!r.isRunning()) r.dumpLogs(`test "${name}" failed`);
      throw err;
    }
  });
}

/**
 * lib/realtime.mjs's rtTest (the body gets a ClientScope whose ably-js
 * clients are closed afterwards and whose logs are printed on failure), on
 * this file's `test` (redis-server logs too).
 */
export function rtTest(name, opts, fn) {
  if (typeof opts === 'function') { fn = opts; opts = {}; }
  return test(name, opts, withClientScope(name, fn));
}

/**
 * A redis-server and `nodes` heraldd nodes (with `args`) for the enclosing
 * describe() or file (with `config`, as startServer takes it, if given),
 * started by its before() and stopped by its after();
 * the returned object's redis and nodes are filled in then, and ready(nodes)
 * is called (a file's before() hooks do not wait for each other).
 */
export function useCluster({ nodes = 3, args = [], config, ready = () => {} } = {}) {
  const cluster = { redis: null, nodes: [] };
  before(async () => {
    cluster.redis = await startRedis();
    cluster.nodes = await startCluster({ nodes, redis: [cluster.redis], args, config });
    ready(cluster.nodes);
  });
  after(async () => {
    try {
      await stopCluster(cluster.nodes);
    } finally {
      if (cluster.redis) await cluster.redis.stop();
    }
  });
  return cluster;
}

/** A TCP port the OS considers free right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves with true once redis on `port` answers PING with +PONG (false on error/timeout of that try). */
function pingOnce(port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    const done = (v) => { clearTimeout(timer); sock.destroy(); resolve(v); };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

/**
 * Start a redis-server.
 * @param {object} [o]
 * @param {string} [o.appendfsync]  'always' | 'everysec' | 'no'
 * @param {number} [o.timeoutMs]    how long it may take to answer PING
 * @returns {Promise<{port:number,url:string,dir:string,proc:object,stop:Function,kill:Function,restart:Function,cli:Function,logs:Function,isRunning:Function}>}
 */
export async function startRedis({ appendfsync = 'always', timeoutMs = 10000 } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'herald-redis-'));
  let port = await freePort();
  let proc = null;
  let exitInfo = null;
  let exited = null;
  let stopping = false;
  let log = '';
  let dumped = false;
  const failures = [];
  const argv = () => [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes',
    '--appendfsync', appendfsync, '--dir', dir, '--daemonize', 'no', '--protected-mode', 'no',
  ];

  function dumpLogs(why = '') {
    if (dumped) return;
    dumped = true;
    process.stderr.write(`\n===== redis-server ${argv().join(' ')} (pid ${proc && proc.pid}) ${why} =====\n` +
      `${log.slice(-20000)}\n===== end redis-server =====\n`);
  }

  async function launch() {
    stopping = false;
    exitInfo = null;
    const p = spawn(REDIS_SERVER, argv(), { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    log += `--- started pid ${p.pid} at ${new Date().toISOString()} ---\n`;
    p.stdout.on('data', (c) => { log += c.toString(); });
    p.stderr.on('data', (c) => { log += c.toString(); });
    exited = new Promise((resolve) => {
      p.on('exit', (code, signal) => {
        exitInfo = { code, signal };
        log += `--- pid ${p.pid} exited code=${code} signal=${signal} ---\n`;
        if (!stopping) dumpLogs(`exited unexpectedly (code=${code} signal=${signal})`);
        resolve(exitInfo);
      });
    });
    const spawnError = new Promise((_, reject) => p.on('error', reject));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exitInfo) throw new Error(`redis-server exited before answering PING (code=${exitInfo.code} signal=${exitInfo.signal})\n${log}`);
      // eslint-disable-next-line no-await-in-loop
      const ok = await Promise.race([pingOnce(port), spawnError]);
      if (ok) break;
      if (Date.now() > deadline) {
        p.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms\n${log}`);
      }
      // eslint-disable-next-line no-await-in-loop
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function waitExit(signal, killAfter) {
    stopping = true;
    if (!exitInfo) proc.kill(signal);
    let timer;
    const res = await Promise.race([exited, new Promise((r) => { timer = setTimeout(() => r(null), killAfter); })]);
    clearTimeout(timer);
    if (res) return res;
    process.stderr.write(`[redis] pid ${proc.pid} did not exit within ${killAfter} ms of ${signal}; killing\n`);
    proc.kill('SIGKILL');
    return exited;
  }

  try {
    await launch();
  } catch (e) {
    // a port taken between freePort() and the bind: one more try on another port
    if (/Address already in use/.test(log)) {
      port = await freePort();
      await launch();
    } else {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  const r = {
    get port() { return port; },
    get url() { return `redis://127.0.0.1:${port}`; },
    dir,
    get proc() { return proc; },
    logs: () => log,
    dumpLogs,
    isRunning: () => exitInfo === null,
    noteFailure: (name) => failures.push(name),
    /** SIGTERM (pauses the server: it may come back with restart()); resolves with {code, signal}. */
    async pause({ timeoutMs: killAfter = 10000 } = {}) {
      return waitExit('SIGTERM', killAfter);
    },
    /** SIGKILL, no AOF flush beyond what appendfsync already wrote; restart() works afterwards. */
    async kill() {
      return waitExit('SIGKILL', 5000);
    },
    /** Starts again on the same port and directory (the AOF is reloaded). */
    async restart() {
      if (!exitInfo) await waitExit('SIGTERM', 10000);
      await launch();
    },
    /** SIGTERM, wait, remove the directory. Dumps the log if a test failed while it ran. */
    async stop({ keepDir = false } = {}) {
      const info = await waitExit('SIGTERM', 10000);
      liveRedis.delete(r);
      if (failures.length) dumpLogs(`after failed test(s): ${failures.join('; ')}`);
      if (!keepDir) await rm(dir, { recursive: true, force: true });
      return info;
    },
    /** redis-cli -p <port> ...args; resolves with its stdout. */
    async cli(...args) {
      const { stdout } = await execFileP(REDIS_CLI, ['-p', String(port), ...args], { maxBuffer: 64 * 1024 * 1024 });
      return stdout;
    },
    /** One command over a fresh RESP connection; resolves with the parsed reply (bulk strings as Buffers' utf8 text). */
    command: (...args) => respCommand(port, args),
    /**
     * Every key matching `pattern` (SCAN ... MATCH), exact: keys may hold a
     * newline (h:m:<app>\n<channel>), which redis-cli --scan output cannot show apart.
     */
    async scan(pattern) {
      const keys = [];
      let cursor = '0';
      do {
        // eslint-disable-next-line no-await-in-loop
        const [next, batch] = await respCommand(port, ['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000']);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
      return [...new Set(keys)];
    },
  };
  liveRedis.add(r);
  allRedis.push(r);
  return r;
}

/** Parses one RESP reply at buf[off]; returns [value, nextOffset] or null if incomplete. */
function parseResp(buf, off = 0) {
  const le = buf.indexOf('\r\n', off, 'latin1');
  if (le < 0) return null;
  const type = String.fromCharCode(buf[off]);
  const line = buf.toString('utf8', off + 1, le);
  const after = le + 2;
  switch (type) {
    case '+': return [line, after];
    case '-': return [new Error(line), after];
    case ':': return [Number(line), after];
    case '$': {
      const n = Number(line);
      if (n < 0) return [null, after];
      if (buf.length < after + n + 2) return null;
      return [buf.toString('utf8', after, after + n), after + n + 2];
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return [null, after];
      const items = [];
      let p = after;
      for (let i = 0; i < n; i++) {
        const r = parseResp(buf, p);
        if (!r) return null;
        items.push(r[0]);
        p = r[1];
      }
      return [items, p];
    }
    default: throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/** Sends one command to redis on `port`, resolves with its reply (an error reply rejects). */
export function respCommand(port, args, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const finish = (fn, v) => { clearTimeout(timer); sock.destroy(); fn(v); };
    const timer = setTimeout(() => finish(reject, new Error(`redis ${args[0]}: no reply within ${timeoutMs} ms`)), timeoutMs);
    sock.on('connect', () => {
      const parts = [`*${args.length}\r\n`];
      for (const a of args) {
        const b = Buffer.from(String(a));
        parts.push(`$${b.length}\r\n`, b, '\r\n');
      }
      sock.write(Buffer.concat(parts.map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(x)))));
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parseResp(buf);
      if (!r) return;
      if (r[0] instanceof Error) finish(reject, r[0]); else finish(resolve, r[0]);
    });
    sock.on('error', (e) => finish(reject, e));
    sock.on('close', () => finish(reject, new Error(`redis ${args[0]}: connection closed without a reply`)));
  });
}

/**
 * Start `nodes` heraldd nodes, each with --engine redis --redis <urls>.
 * `redis`: array of URLs (or of startRedis() results). `args`/`env` go to
 * every node. Nodes start one after the other unless `parallel`.
 * Returns the array of servers (see startServer()).
 */
export async function startCluster({ nodes = 3, redis, args = [], env = {}, config, parallel = false } = {}) {
  if (!redis || !redis.length) throw new Error('startCluster: redis URLs required');
  const urls = redis.map((x) => (typeof x === 'string' ? x : x.url));
  const nodeArgs = ['--engine', 'redis', '--redis', urls.join(','), ...args];
  const start = () => startServer({ args: nodeArgs, env, config });
  const ok = [];
  let failure = null;
  if (parallel) {
    const started = await Promise.allSettled(Array.from({ length: nodes }, start));
    for (const s of started) if (s.status === 'fulfilled') ok.push(s.value); else failure ??= s.reason;
  } else {
    // one after the other: each node sets up the app of HERALD_KEY at startup
    for (let i = 0; i < nodes && !failure; i++) {
      // eslint-disable-next-line no-await-in-loop
      try { ok.push(await start()); } catch (e) { failure = e; }
    }
  }
  if (failure) {
    await Promise.all(ok.map((s) => s.stop({ expectCleanExit: false }).catch(() => {})));
    throw failure;
  }
  return ok;
}

/** Stops every node (SIGTERM); the first error, if any, is thrown after all were stopped. */
export async function stopCluster(nodes, opts) {
  const res = await Promise.allSettled(nodes.filter((n) => n.isRunning()).map((n) => n.stop(opts)));
  const bad = res.find((x) => x.status === 'rejected');
  if (bad) throw bad.reason;
}

/** Restarts heraldd node `srv` (same args, new port): stop it, start a fresh one. */
export async function restartNode(srv, { redis, args = [], env = {}, config, signal = 'SIGTERM' } = {}) {
  await srv.stop({ signal });
  const [n] = await startCluster({ nodes: 1, redis, args, env, config });
  return n;
}

/**
 * Waits until an ably-js Realtime connection (or channel) is in `state`.
 * Accepts a client (its connection is used), a connection or a channel.
 */
export function waitForRealtimeState(target, state, opts = {}) {
  const t = target && target.connection && typeof target.connection.on === 'function' ? target.connection : target;
  return waitForState(t, state, opts);
}

// ---------------------------------------------------------------- cluster assertions

/** POST /channels/<channel>/messages on `srv` (raw HTTP, JSON unless opts say otherwise); returns request()'s result. */
export function publishRaw(srv, channel, body, opts = {}) {
  return srv.request('POST', `/channels/${encodeURIComponent(channel)}/messages`, { json: body, ...opts });
}

/**
 * Every page of GET /channels/<channel>/messages?<query>, following the
 * Link rel="next" of each page on the next node of `nodes` in turn (a
 * page link made by one node must work on any other). Returns {items, pages}.
 */
export async function historyAcross(nodes, channel, query = 'direction=forwards&limit=1000', opts = {}) {
  const list = Array.isArray(nodes) ? nodes : [nodes];
  const base = `/channels/${encodeURIComponent(channel)}/messages`;
  const items = [];
  let path = `${base}?${query}`;
  for (let pages = 1; ; pages++) {
    const srv = list[(pages - 1) % list.length];
    // eslint-disable-next-line no-await-in-loop
    const res = await srv.request('GET', path, opts);
    if (res.status !== 200) throw new Error(`GET ${path} on :${srv.port} -> ${res.status} ${res.raw.toString('utf8').slice(0, 300)}`);
    if (!Array.isArray(res.body)) throw new Error(`GET ${path}: not an array: ${res.raw.toString('utf8').slice(0, 300)}`);
    items.push(...res.body);
    const link = res.headers.get('link') || '';
    const next = /<\.\/messages\?([^>]*)>; rel="next"/.exec(link);
    if (!next) return { items, pages };
    if (pages > 10000) throw new Error('history pagination does not end');
    path = `${base}?${next[1]}`;
  }
}

/** Throws unless every serial is a string greater than the one before it. */
export function assertIncreasing(assert, serials, what = 'serials') {
  serials.forEach((s, i) => {
    assert.equal(typeof s, 'string', `${what}: #${i} is a string (${JSON.stringify(s)})`);
    if (i) assert.ok(serials[i - 1] < s, `${what}: #${i} ${s} > #${i - 1} ${serials[i - 1]}`);
  });
}

/**
 * Runs every cleanup step (even after one fails). With `failure` (the
 * test's own error) the steps' errors are only printed, so that they do not
 * hide it; without, the first one is thrown.
 */
export async function teardown(failure, ...steps) {
  const errors = [];
  for (const step of steps) {
    try {
      // eslint-disable-next-line no-await-in-loop
      await step();
    } catch (e) {
      errors.push(e);
    }
  }
  if (!errors.length) return;
  if (failure) {
    for (const e of errors) process.stderr.write(`[cluster] cleanup after a failure also failed: ${e && e.stack}\n`);
    return;
  }
  throw errors[0];
}
