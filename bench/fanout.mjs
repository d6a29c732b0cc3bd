#!/usr/bin/env node
// bench/fanout.mjs — realtime fan-out benchmark for Herald over raw WebSockets
// (Ably protocol, shared/spec/realtime.md). It starts no server: run heraldd
// yourself, e.g.
//
//   HERALD_KEY=bench.root:secret build/heraldd --port 8080 --storage memory \
//       --max-inbound-rate 100000 &
//   node bench/fanout.mjs --port 8080 --key bench.root:secret \
//       --subscribers 1000 --messages 2000 --rate 200 --format msgpack
//
// What it does:
//  * forks --workers child processes (default: one per 250 subscribers) that
//    open the --subscribers WebSocket connections between them (--connect-
//    concurrency at a time per worker) and ATTACH each one to one channel;
//  * once all are attached, this process opens one publisher connection and
//    sends --messages MESSAGE PMs (one message each) at --rate per second;
//    every message's data is "<send time ms, µs precision> <padding>" (padded
//    to --size bytes), taken from performance.timeOrigin + performance.now(),
//    which is comparable across processes on the same host;
//  * subscribers compute receive time − send time per delivered message into
//    a log histogram (1% buckets); after the last ACK the workers wait until
//    each subscriber got every ACKed message, or until nothing arrived for
//    --drain-ms, and report.
//
// Output: deliveries (expected / received / missing), delivered messages/s
// (from first send to last receive), publish rate achieved, ACK/NACK counts,
// end-to-end latency p50/p90/p99/max, DISCONNECTED/ERROR counts, and the CPU
// time (process.cpuUsage) of the publisher process and of each worker, as a
// share of one core over the run: a process near 100% means the client, not
// the server, may have been the bottleneck — add --workers; the total is
// compared with the host's cores (client and server on one host compete for
// them). CPU is measured
// over the publishing phase only (workers: until their last receive), not
// while connecting.
//
// Note the server's per-connection --max-inbound-rate (default 250/s): a
// higher --rate gets NACK 42911 unless the server allows it. Subscribers
// that fall behind by more than --max-outbound-bytes get DISCONNECTED 80020.
//
// Options: --host (127.0.0.1) --port (required) --key (required)
//   --subscribers (1000) --messages (1000) --rate (100) --format (json|msgpack,
//   default json) --size (64) --channel (bench-<pid>) --workers
//   --connect-concurrency (50) --drain-ms (5000)

import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const require = createRequire(new URL('../tests/package.json', import.meta.url));
const WebSocket = require('ws');
const msgpack = require('@ably/msgpack-js');

const A = { HEARTBEAT: 0, ACK: 1, NACK: 2, CONNECTED: 4, DISCONNECTED: 6, ERROR: 9, ATTACH: 10, ATTACHED: 11, MESSAGE: 15 };
const now = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- shared

function encode(pm, format) { return format === 'msgpack' ? msgpack.encode(pm) : JSON.stringify(pm); }
function decode(data, isBinary) {
  try { return isBinary ? msgpack.decode(data) : JSON.parse(data.toString('utf8')); } catch { return null; }
}

/** Log-bucketed latency histogram, 1% resolution, in microseconds. */
const STEP = Math.log(1.01);
function histAdd(hist, ms) {
  const i = Math.floor(Math.log(Math.max(ms * 1000, 1)) / STEP);
  hist[i] = (hist[i] || 0) + 1;
}
function histMerge(into, from) {
  for (const [i, n] of Object.entries(from)) into[i] = (into[i] || 0) + n;
  return into;
}
function histPercentiles(hist, ps) {
  const keys = Object.keys(hist).map(Number).sort((a, b) => a - b);
  const total = keys.reduce((s, k) => s + hist[k], 0);
  const valueMs = (k) => Math.exp((k + 0.5) * STEP) / 1000;
  const out = {};
  for (const p of ps) {
    let seen = 0;
    const target = Math.ceil((p / 100) * total);
    const k = keys.find((key) => (seen += hist[key]) >= target);
    out[p] = k === undefined ? NaN : valueMs(k);
  }
  out.max = keys.length ? valueMs(keys[keys.length - 1]) : NaN;
  return out;
}

/**
 * Opens one connection, resolves after CONNECTED with {ws, send, connectionId}.
 * `onPm(pm)` sees every later PM.
 */
function openConnection({ host, port, key, format }, onPm) {
  const qs = new URLSearchParams({ key, format, v: '6', heartbeats: 'true', agent: 'herald-bench/1' });
  const ws = new WebSocket(`ws://${host}:${port}/?${qs}`, { perMessageDeflate: false, handshakeTimeout: 20000 });
  const send = (pm) => ws.send(encode(pm, format), { binary: format === 'msgpack' });
  return new Promise((resolve, reject) => {
    let connected = false;
    ws.on('error', (e) => { if (!connected) reject(e); });
    ws.on('close', (code) => { if (!connected) reject(new Error(`closed (${code}) before CONNECTED`)); });
    ws.on('message', (data, isBinary) => {
      const pm = decode(data, isBinary);
      if (!pm) return;
      if (!connected) {
        if (pm.action !== A.CONNECTED) { reject(new Error(`first frame: ${JSON.stringify(pm).slice(0, 300)}`)); ws.terminate(); return; }
        connected = true;
        resolve({ ws, send, connectionId: pm.connectionId });
        return;
      }
      onPm(pm);
    });
  });
}

/** Runs `fn` over items with at most `limit` in flight. */
async function pool(items, limit, fn) {
  let next = 0;
  const run = async () => { while (next < items.length) { const i = next++; await fn(items[i], i); } };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

// ---------------------------------------------------------------- worker

function worker() {
  const subs = [];
  const hist = {};
  const stats = { received: 0, firstRecv: Infinity, lastRecv: 0, disconnected: 0, errors: [] };
  let drain = null;

  function onPm(sub, pm) {
    if (pm.action === A.MESSAGE && pm.channel === sub.channel) {
      const t = now();
      for (const m of pm.messages || []) {
        const sent = parseFloat(typeof m.data === 'string' ? m.data : String(m.data));
        if (Number.isFinite(sent)) histAdd(hist, t - sent);
        sub.count += 1;
        stats.received += 1;
      }
      stats.firstRecv = Math.min(stats.firstRecv, t);
      stats.lastRecv = t;
      if (drain) drain.check();
    } else if (pm.action === A.ATTACHED && pm.channel === sub.channel) {
      sub.attached();
    } else if (pm.action === A.DISCONNECTED) {
      stats.disconnected += 1;
      if (stats.errors.length < 5) stats.errors.push(`DISCONNECTED ${JSON.stringify(pm.error)}`);
    } else if (pm.action === A.ERROR) {
      if (stats.errors.length < 5) stats.errors.push(`ERROR ${JSON.stringify(pm)}`);
      if (pm.channel === sub.channel) sub.attached(new Error(JSON.stringify(pm.error)));
    }
  }

  async function start({ conn, channel, count, concurrency }) {
    await pool(Array.from({ length: count }), concurrency, async () => {
      const sub = { channel, count: 0 };
      const attached = new Promise((resolve, reject) => {
        sub.attached = (err) => (err ? reject(err) : resolve());
      });
      const c = await openConnection(conn, (pm) => onPm(sub, pm));
      sub.ws = c.ws;
      c.send({ action: A.ATTACH, channel, flags: 262144 /* SUBSCRIBE */ });
      await attached;
      subs.push(sub);
    });
  }

  function waitDrained({ expected, idleMs }) {
    return new Promise((resolve) => {
      let idleTimer;
      drain = {
        check() {
          if (subs.every((s) => s.count >= expected)) finish();
        },
      };
      const arm = () => {
        clearTimeout(idleTimer);
        const last = stats.received;
        idleTimer = setTimeout(() => (stats.received === last ? finish() : arm()), idleMs);
      };
      function finish() { clearTimeout(idleTimer); drain = null; resolve(); }
      arm();
      drain.check();
    });
  }

  let go; // start of the measured phase: {cpu, t}
  process.on('message', async (msg) => {
    try {
      if (msg.cmd === 'start') {
        await start(msg);
        process.send({ type: 'ready', connected: subs.length });
      } else if (msg.cmd === 'go') {
        go = { cpu: process.cpuUsage(), t: now() };
      } else if (msg.cmd === 'drain') {
        await waitDrained(msg);
        const cpu = process.cpuUsage(go.cpu);
        const perSub = subs.map((s) => s.count);
        process.send({
          type: 'done', hist, ...stats,
          minPerSub: Math.min(...perSub), maxPerSub: Math.max(...perSub),
          cpuMs: (cpu.user + cpu.system) / 1000, wallMs: Math.max(stats.lastRecv, go.t + 1) - go.t,
        });
        for (const s of subs) s.ws.terminate();
        process.exit(0);
      }
    } catch (e) {
      process.send({ type: 'failed', error: String(e && e.stack || e) });
      process.exit(1);
    }
  });
}

// ---------------------------------------------------------------- main

function parseArgs(argv) {
  const o = {
    host: '127.0.0.1', port: null, key: null, subscribers: 1000, messages: 1000, rate: 100,
    format: 'json', size: 64, channel: `bench-${process.pid}`, workers: null,
    'connect-concurrency': 50, 'drain-ms': 5000,
  };
  const strings = new Set(['host', 'key', 'format', 'channel']);
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in o) || argv[i + 1] === undefined) throw new Error(`unknown option or missing value: ${argv[i]}`);
    o[name] = strings.has(name) ? argv[i + 1] : Number(argv[i + 1]);
    if (!strings.has(name) && !Number.isFinite(o[name])) throw new Error(`--${name} needs a number`);
  }
  if (!o.port || !o.key) throw new Error('--port and --key are required (see the comment at the top of bench/fanout.mjs)');
  if (!['json', 'msgpack'].includes(o.format)) throw new Error('--format is json or msgpack');
  o.workers ??= Math.max(1, Math.ceil(o.subscribers / 250));
  return o;
}

/** Forks the workers; resolves with handles {child, next(type)}. */
function forkWorkers(n) {
  return Array.from({ length: n }, () => {
    const child = fork(fileURLToPath(import.meta.url), ['--worker'], { stdio: 'inherit' });
    const inbox = [];
    const waiting = [];
    child.on('message', (m) => {
      if (m.type === 'failed') { console.error(`worker ${child.pid} failed:\n${m.error}`); process.exit(1); }
      const w = waiting.shift();
      if (w) w(m); else inbox.push(m);
    });
    child.on('exit', (code) => { if (code) { console.error(`worker ${child.pid} exited with ${code}`); process.exit(1); } });
    return { child, next: () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => waiting.push(r))) };
  });
}

/** Publishes `messages` PMs at `rate`/s; resolves once every one is ACKed/NACKed. */
async function publish(o) {
  const acks = { ack: 0, nack: 0, nackCodes: {} };
  let settled = 0;
  let onSettled;
  const allSettled = new Promise((r) => { onSettled = r; });
  const pub = await openConnection({ ...o }, (pm) => {
    if (pm.action !== A.ACK && pm.action !== A.NACK) return;
    const n = pm.count || 1;
    if (pm.action === A.ACK) acks.ack += n;
    else {
      acks.nack += n;
      const code = pm.error && pm.error.code;
      acks.nackCodes[code] = (acks.nackCodes[code] || 0) + n;
    }
    settled += n;
    if (settled >= o.messages) onSettled();
  });
  const padding = 'x'.repeat(Math.max(0, o.size - 20));
  let sent = 0;
  const t0 = now();
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(o.messages, Math.floor(((now() - t0) * o.rate) / 1000) + 1);
      for (; sent < due; sent++) {
        pub.send({ action: A.MESSAGE, channel: o.channel, msgSerial: sent, messages: [{ name: 'b', data: `${now().toFixed(3)} ${padding}` }] });
      }
      if (sent < o.messages) setTimeout(tick, 1); else resolve();
    };
    tick();
  });
  const lastSend = now();
  await Promise.race([allSettled, new Promise((r) => setTimeout(r, 30000))]);
  pub.ws.terminate();
  return { ...acks, firstSend: t0, lastSend };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  console.log(`fan-out: ${o.subscribers} subscribers in ${o.workers} workers, ${o.messages} messages at ${o.rate}/s, ` +
    `${o.format}, ${o.size} B, channel ${o.channel}, ws://${o.host}:${o.port}`);

  const workers = forkWorkers(o.workers);
  const conn = { host: o.host, port: o.port, key: o.key, format: o.format };
  const tConnect = now();
  workers.forEach((w, i) => {
    const count = Math.floor(o.subscribers / o.workers) + (i < o.subscribers % o.workers ? 1 : 0);
    w.child.send({ cmd: 'start', conn, channel: o.channel, count, concurrency: o['connect-concurrency'] });
  });
  const ready = await Promise.all(workers.map((w) => w.next()));
  const attached = ready.reduce((s, r) => s + r.connected, 0);
  console.log(`attached ${attached} subscribers in ${((now() - tConnect) / 1000).toFixed(1)} s`);

  for (const w of workers) w.child.send({ cmd: 'go' });
  const cpu0 = process.cpuUsage();
  const pub = await publish(o);
  const mainCpu = process.cpuUsage(cpu0);
  const mainWall = now() - pub.firstSend;
  for (const w of workers) w.child.send({ cmd: 'drain', expected: pub.ack, idleMs: o['drain-ms'] });
  const done = await Promise.all(workers.map((w) => w.next()));

  const received = done.reduce((s, d) => s + d.received, 0);
  const expected = pub.ack * attached;
  const lastRecv = Math.max(...done.map((d) => d.lastRecv));
  const spanS = (lastRecv - pub.firstSend) / 1000;
  const lat = histPercentiles(done.reduce((h, d) => histMerge(h, d.hist), {}), [50, 90, 99]);
  const pct = (cpuMs, wallMs) => `${((100 * cpuMs) / wallMs).toFixed(0)}%`;
  const f = (x) => x.toFixed(2);

  console.log(`published: ${o.messages} sent in ${((pub.lastSend - pub.firstSend) / 1000).toFixed(2)} s ` +
    `(${(o.messages / Math.max((pub.lastSend - pub.firstSend) / 1000, 1e-3)).toFixed(0)}/s), ` +
    `ACK ${pub.ack}, NACK ${pub.nack}${pub.nack ? ' ' + JSON.stringify(pub.nackCodes) : ''}`);
  console.log(`delivered: ${received} of ${expected} expected (missing ${expected - received}; ` +
    `per subscriber min ${Math.min(...done.map((d) => d.minPerSub))} max ${Math.max(...done.map((d) => d.maxPerSub))})`);
  console.log(`throughput: ${(received / Math.max(spanS, 1e-3)).toFixed(0)} messages/s delivered over ${spanS.toFixed(2)} s (first send → last receive)`);
  console.log(`latency ms: p50 ${f(lat[50])}  p90 ${f(lat[90])}  p99 ${f(lat[99])}  max ${f(lat.max)}`);
  const disconnected = done.reduce((s, d) => s + d.disconnected, 0);
  const errors = done.flatMap((d) => d.errors);
  if (disconnected || errors.length) console.log(`subscriber problems: ${disconnected} DISCONNECTED; ${errors.slice(0, 5).join('; ')}`);
  const mainCpuMs = (mainCpu.user + mainCpu.system) / 1000;
  const clientCores = mainCpuMs / mainWall + done.reduce((s, d) => s + d.cpuMs / d.wallMs, 0);
  const cores = availableParallelism();
  console.log(`client CPU (share of one core): publisher/main ${pct(mainCpuMs, mainWall)}; ` +
    `workers ${done.map((d) => pct(d.cpuMs, d.wallMs)).join(', ')}` +
    (done.some((d) => d.cpuMs / d.wallMs > 0.8) ? '  (a worker near 100%: the client may be the bottleneck, add --workers)' : ''));
  console.log(`client total: ${clientCores.toFixed(2)} of ${cores} cores on this host` +
    (clientCores > cores / 2 ? '  (the client uses over half the host: run it on another machine to measure the server alone)' : ''));
  process.exit(0);
}

if (process.argv.includes('--worker')) worker();
else main().catch((e) => { console.error(e.message); process.exit(1); });
