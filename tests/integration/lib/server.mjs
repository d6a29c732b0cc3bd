// Test harness for Herald integration tests.
//
// startServer() spawns $HERALDD on an OS-assigned port with a fresh data
// directory and resolves once the server prints its "listening on" line.
// Every test file starts its own server(s), so files can run in parallel.
//
// Test files should import `test` (and `describe`) from here rather than from
// node:test: the wrapper records failures so that stop() can dump the
// server's stdout/stderr when something went wrong.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import nodeTest from 'node:test';
import msgpackLib from '@ably/msgpack-js';
// ably-js: the version HERALD_ABLY selects (lib/ably.mjs).
import { Ably } from './ably.mjs';

export const msgpack = msgpackLib;
export { Ably };
export const describe = nodeTest.describe;
export const before = nodeTest.before;
export const after = nodeTest.after;

// Default key added through HERALD_KEY (full capability {"*":["*"]}).
// What AddressSanitizer, LeakSanitizer and UBSan print (make sanitize-test):
// any of it in a server's stderr fails the test that stops that server.
const SANITIZER_REPORT = /ERROR: (?:Address|Leak)Sanitizer[^\n]*|runtime error:[^\n]*/;

// Set by make sanitize-test: ASan keeps freed memory in quarantine (up to
// 256 MB), so a bound on the server's RSS measures ASan, not Herald.
export const SANITIZED = process.env.HERALD_SANITIZED === '1';

export const DEFAULT_KEY = 'testapp.root:secretroot';

// make integration-test-tls: HERALD_TEST_TLS_DIR holds cert.pem and key.pem
// (NODE_EXTRA_CA_CERTS names the same cert.pem). Every server then serves
// TLS on a second port, its `url` is https and ably-js clients made by
// restClient() and ClientScope take `sdkTls` (tls: true on that port).
export const TEST_TLS_DIR = process.env.HERALD_TEST_TLS_DIR || null;

/** heraldd's flags for TLS with cert/key files, on a free port beside plaintext. */
export function tlsArgs(dir, { cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem') } = {}) {
  return ['--tls-cert', cert, '--tls-key', key, '--tls-port', '0'];
}

const liveServers = new Set();
const allServers = []; // every server started by this process, in order

/**
 * node:test `test`, but on failure prints the logs of the servers involved:
 * those started during the test (even if already stopped) are dumped at
 * once; servers that are still running are dumped when they are stopped.
 */
export function test(name, opts, fn) {
  if (typeof opts === 'function') { fn = opts; opts = {}; }
  return nodeTest(name, opts, async (t) => {
    const firstNew = allServers.length;
    try {
      return await fn(t);
    } catch (err) {
      for (const s of liveServers) s.noteFailure(name, err);
      for (const s of allServers.slice(firstNew)) if (!s.isRunning()) s.dumpLogs(`test "${name}" failed`);
      throw err;
    }
  });
}

function heraldBinary() {
  const bin = process.env.HERALDD;
  if (!bin) throw new Error('HERALDD is not set: run as HERALDD=/abs/path/build/heraldd node --test tests/integration/');
  return bin;
}

/**
 * Start a server.
 * @param {object} [o]
 * @param {object} [o.config]  JSON config (written to a file and passed with --config)
 * @param {object} [o.env]     extra environment (HERALD_KEY defaults to DEFAULT_KEY; set it to null to omit)
 * @param {string[]} [o.args]  extra command-line arguments
 * @param {boolean} [o.quiet]  do not dump logs when the server exits by itself (expected failures)
 * @param {number} [o.fdLimit] open files limit (soft and hard) to run the server with
 * @returns {Promise<{port:number,url:string,key:string,proc:object,dataDir:string,stop:Function,logs:Function,exited:Promise}>}
 */
export async function startServer({ config, env = {}, args = [], timeoutMs = 15000, quiet = false, fdLimit } = {}) {
  const bin = heraldBinary();
  const dataDir = await mkdtemp(join(tmpdir(), 'herald-it-'));
  const argv = ['--port', '0', '--bind', '127.0.0.1', '--threads', '2', '--storage', 'memory', '--data-dir', dataDir];
  if (config) {
    const cfgPath = join(dataDir, 'herald-test-config.json');
    await writeFile(cfgPath, JSON.stringify(config, null, 2));
    argv.push('--config', cfgPath);
  }
  if (TEST_TLS_DIR && !args.includes('--tls-cert')) argv.push(...tlsArgs(TEST_TLS_DIR));
  argv.push(...args);

  const childEnv = { ...process.env };
  const heraldKey = env.HERALD_KEY === undefined ? DEFAULT_KEY : env.HERALD_KEY;
  // srv.key: the HERALD_KEY, else the first key of the first configured app
  const key = heraldKey || config?.apps?.[0]?.keys?.[0]?.key || null;
  for (const [k, v] of Object.entries(env)) {
    if (v === null || v === undefined) delete childEnv[k]; else childEnv[k] = String(v);
  }
  if (heraldKey) childEnv.HERALD_KEY = heraldKey; else delete childEnv.HERALD_KEY;

  // A shell sets the limit and execs heraldd, which keeps the shell's pid.
  const [cmd, cmdArgs] = fdLimit
    ? ['/bin/sh', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, bin, ...argv]]
    : [bin, argv];
  const proc = spawn(cmd, cmdArgs, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let stopping = false;
  let exitInfo = null;
  const failures = [];
  let srv = null;

  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      if (srv) liveServers.delete(srv);
      if (!stopping && !quiet) {
        dumpLogs(`exited unexpectedly (code=${code} signal=${signal})`);
      }
      resolve(exitInfo);
    });
  });

  let dumped = false;
  function dumpLogs(why = '') {
    if (dumped) return;
    dumped = true;
    process.stderr.write(`\n===== heraldd ${argv.join(' ')} (pid ${proc.pid}) ${why} =====\n` +
      `--- stdout ---\n${stdout.slice(-20000)}\n--- stderr ---\n${stderr.slice(-20000)}\n===== end heraldd =====\n`);
  }

  let tlsPort = null;
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`heraldd did not print "listening on" within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      proc.kill('SIGKILL');
    }, timeoutMs);
    const onData = (chunk) => {
      stdout += chunk.toString();
      const m = stdout.match(/listening on https?:\/\/[^\s]+:(\d+)(?: and https:\/\/[^\s]+:(\d+))?/);
      if (m) {
        if (m[2]) tlsPort = Number(m[2]);
        clearTimeout(timer);
        proc.stdout.off('data', onData);
        proc.stdout.on('data', (c) => { stdout += c.toString(); });
        resolve(Number(m[1]));
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', (c) => { stderr += c.toString(); });
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`heraldd exited before listening (code=${code} signal=${signal})\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  }).catch(async (e) => {
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  });

  // The URL raw requests go to: TLS in make integration-test-tls.
  const url = TEST_TLS_DIR && tlsPort ? `https://127.0.0.1:${tlsPort}` : `http://127.0.0.1:${port}`;
  // ClientOptions that make ably-js use TLS here (restClient, ClientScope).
  const sdkTls = TEST_TLS_DIR && tlsPort ? { tls: true, tlsPort } : null;

  /**
   * Send `signal`, wait for exit. Returns {code, signal, ms}.
   * Dumps logs if any test failed in this process or the exit was not clean;
   * throws when a SIGTERM/SIGINT stop does not end with status 0 (unless
   * expectCleanExit is false).
   */
  async function stop({ signal = 'SIGTERM', timeoutMs: killAfter = 10000, keepData = false, expectCleanExit = true } = {}) {
    stopping = true;
    const t0 = Date.now();
    if (!exitInfo) proc.kill(signal);
    let timer;
    const res = await Promise.race([
      exited,
      new Promise((r) => { timer = setTimeout(() => r(null), killAfter); }),
    ]);
    clearTimeout(timer);
    let info = res;
    if (!info) {
      process.stderr.write(`[herald] server pid ${proc.pid} did not exit within ${killAfter} ms of ${signal}; killing\n`);
      proc.kill('SIGKILL');
      info = await exited;
      info = { ...info, timedOut: true };
    }
    const ms = Date.now() - t0;
    const unclean = info.timedOut || info.code !== 0;
    if (failures.length) dumpLogs(`after failed test(s): ${failures.map((f) => f.name).join('; ')}`);
    else if (unclean) dumpLogs(`unclean exit code=${info.code} signal=${info.signal}`);
    if (!keepData) await rm(dataDir, { recursive: true, force: true });
    // A graceful stop must end cleanly: under the sanitizers a leak report
    // makes the exit status non-zero, and that fails the test that stopped.
    const report = stderr.match(SANITIZER_REPORT);
    if (report) {
      dumpLogs('printed a sanitizer report');
      throw new Error(`heraldd printed a sanitizer report: ${report[0]}`);
    }
    const graceful = signal === 'SIGTERM' || signal === 'SIGINT';
    if (graceful && unclean && expectCleanExit) {
      throw new Error(`heraldd did not exit cleanly after ${signal} (code=${info.code} signal=${info.signal}${info.timedOut ? ', timed out' : ''})`);
    }
    return { ...info, ms };
  }

  srv = {
    port, tlsPort, sdkTls, url, key, proc, dataDir, exited, stop,
    logs: () => ({ stdout, stderr }),
    dumpLogs,
    isRunning: () => exitInfo === null,
    noteFailure: (name, err) => failures.push({ name, err }),
    /** Raw HTTP request; see request(). */
    request: (method, path, opts) => request(url, method, path, { key, ...opts }),
    /** Ably.Rest client pointing at this server. */
    rest: (opts) => restClient(srv, opts),
  };
  liveServers.add(srv);
  allServers.push(srv);
  return srv;
}

export function basicAuth(key) {
  return 'Basic ' + Buffer.from(key).toString('base64');
}

/**
 * Raw HTTP request with fetch.
 *  opts.key     key for Basic auth (null/false = no credentials)
 *  opts.auth    false to send no Authorization header even if key given
 *  opts.json    value to send as a JSON body
 *  opts.msgpack value to send as a msgpack body
 *  opts.body    raw body (string/Buffer) ; opts.headers extra headers
 *  opts.accept  'json' | 'msgpack' | any string
 *  opts.signal  an AbortSignal (e.g. AbortSignal.timeout(ms))
 * Returns {status, headers (Headers), raw (Buffer), body (decoded per content-type), contentType}.
 */
export async function request(baseUrl, method, path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (opts.key && opts.auth !== false && !hasHeader(headers, 'authorization')) headers.Authorization = basicAuth(opts.key);
  if (opts.accept === 'msgpack') headers.Accept = 'application/x-msgpack';
  else if (opts.accept === 'json') headers.Accept = 'application/json';
  else if (opts.accept) headers.Accept = opts.accept;
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/json';
  } else if (opts.msgpack !== undefined) {
    body = msgpack.encode(opts.msgpack);
    if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/x-msgpack';
  }
  const res = await fetch(baseUrl + path, { method, headers, body, redirect: 'manual', signal: opts.signal });
  const raw = Buffer.from(await res.arrayBuffer());
  const contentType = res.headers.get('content-type');
  let decoded;
  if (raw.length) {
    if (contentType === 'application/x-msgpack') {
      try { decoded = msgpack.decode(raw); } catch (e) { decoded = { __undecodable: e.message }; }
    } else if (contentType === 'application/json') {
      try { decoded = JSON.parse(raw.toString('utf8')); } catch (e) { decoded = { __undecodable: e.message }; }
    } else {
      decoded = raw.toString('utf8');
    }
  }
  return { status: res.status, headers: res.headers, raw, body: decoded, contentType };
}

function hasHeader(h, name) {
  return Object.keys(h).some((k) => k.toLowerCase() === name);
}

/** Create an Ably.Rest client talking to `srv`. */
export function restClient(srv, { binary = false, key = srv.key, ...rest } = {}) {
  return new Ably.Rest({
    key,
    endpoint: '127.0.0.1',
    port: srv.port,
    tls: false,
    useBinaryProtocol: binary,
    httpRequestTimeout: 10000,
    logLevel: 0,
    ...srv.sdkTls,
    ...rest,
  });
}

/**
 * Send `raw` bytes on one TCP connection and collect what comes back until
 * `untilFn(buffer)` is true, the peer closes, or the timeout elapses.
 */
export function rawExchange(port, raw, { untilFn = null, timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: buf, text: buf.toString('latin1'), why });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    sock.on('connect', () => sock.write(raw));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (untilFn && untilFn(buf)) finish('until');
    });
    sock.on('end', () => finish('end'));
    sock.on('close', () => finish('close'));
    // a reset after (or instead of) a response counts as the peer closing
    sock.on('error', () => finish('error'));
  });
}

/**
 * Parse a sequence of HTTP/1.1 responses (Content-Length or chunked bodies)
 * from `buf`. Returns [{status, headers: {lower-case name: value}, body: Buffer}].
 * Stops at the first incomplete response.
 */
export function parseHttpResponses(buf) {
  const out = [];
  let off = 0;
  while (off < buf.length) {
    const headEnd = buf.indexOf('\r\n\r\n', off, 'latin1');
    if (headEnd < 0) break;
    const head = buf.slice(off, headEnd).toString('latin1').split('\r\n');
    const m = head[0].match(/^HTTP\/1\.[01] (\d{3})/);
    if (!m) throw new Error('bad status line: ' + JSON.stringify(head[0]));
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) {
        const k = line.slice(0, i).trim().toLowerCase();
        const v = line.slice(i + 1).trim();
        headers[k] = headers[k] !== undefined ? headers[k] + ', ' + v : v;
      }
    }
    let p = headEnd + 4;
    let body;
    if (headers['transfer-encoding'] && /chunked/i.test(headers['transfer-encoding'])) {
      const parts = [];
      for (;;) {
        const le = buf.indexOf('\r\n', p, 'latin1');
        if (le < 0) return out;
        const size = parseInt(buf.slice(p, le).toString('latin1'), 16);
        p = le + 2;
        if (size === 0) {
          const te = buf.indexOf('\r\n', p, 'latin1'); // no trailers expected
          if (te < 0) return out;
          p = te + 2;
          break;
        }
        if (p + size + 2 > buf.length) return out;
        parts.push(buf.slice(p, p + size));
        p += size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      const len = Number(headers['content-length'] || 0);
      if (p + len > buf.length) break;
      body = buf.slice(p, p + len);
      p += len;
    }
    out.push({ status: Number(m[1]), headers, body });
    off = p;
  }
  return out;
}

/**
 * Assert an Ably error response: status, code, body shape, headers.
 * `res` is the result of request().
 */
export function assertAblyError(assert, res, status, code, what = '') {
  const ctx = `${what} -> ${res.status} ${res.contentType} ${res.raw.toString('utf8').slice(0, 300)}`;
  assert.equal(res.status, status, `HTTP status ${ctx}`);
  assert.ok(res.contentType === 'application/json' || res.contentType === 'application/x-msgpack',
    `Content-Type must be exactly application/json or application/x-msgpack: ${ctx}`);
  assert.ok(res.body && typeof res.body === 'object' && res.body.error && typeof res.body.error === 'object',
    `error body {error:{...}} expected: ${ctx}`);
  const e = res.body.error;
  assert.equal(typeof e.message, 'string', `error.message string: ${ctx}`);
  assert.ok(e.message.length > 0, `error.message non-empty: ${ctx}`);
  if (code !== undefined && code !== null) {
    if (Array.isArray(code)) assert.ok(code.includes(e.code), `error.code ${e.code} not in ${code}: ${ctx}`);
    else assert.equal(e.code, code, `error.code: ${ctx}`);
  }
  assert.equal(typeof e.code, 'number', `error.code number: ${ctx}`);
  assert.equal(e.statusCode, status, `error.statusCode: ${ctx}`);
  if (e.href !== undefined) assert.equal(typeof e.href, 'string');
  assert.equal(res.headers.get('x-ably-errorcode'), String(e.code), `X-Ably-Errorcode header: ${ctx}`);
  const em = res.headers.get('x-ably-errormessage');
  assert.ok(typeof em === 'string' && em.length > 0, `X-Ably-Errormessage header present: ${ctx}`);
  return e;
}

/** Unique channel name per call. */
let chanCounter = 0;
export function uniqueChannel(prefix = 'ch') {
  chanCounter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${chanCounter}`;
}

/** Polls fn until it returns a truthy value (returned), or throws after timeoutMs:
 * for conditions no event announces (expiry, background trimming). */
export async function eventually(fn, { timeoutMs = 10000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Parse a Link header value into {rel: url}. Throws on malformed entries. */
export function parseLinkHeader(value) {
  const rels = {};
  if (!value) return rels;
  for (const part of value.split(',')) {
    const m = part.match(/^\s*<(.+)>;\s*rel="(\w+)"$/);
    if (!m) throw new Error('malformed Link entry: ' + JSON.stringify(part));
    rels[m[2]] = m[1];
  }
  return rels;
}
