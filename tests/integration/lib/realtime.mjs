// Helpers for realtime integration tests with the official ably-js SDK:
// building Realtime clients against a Herald server, waiting for connection /
// channel states and messages with timeouts, killing a client's transport
// abruptly, a TCP proxy that simulates network outages, and a raw WebSocket
// protocol client.
//
// Every client is created through a ClientScope, which closes it at the end
// of the test (a leaked client keeps `node --test` alive) and keeps the tail
// of its protocol log so a failing test can show what the server sent
// (HERALD_RT_LOG=1 prints every client's full log as it happens).

import net from 'node:net';
import WebSocket from 'ws';
import { Ably, test } from './server.mjs';

const LOG_TAIL = 250; // log lines kept per client
const LOG_LINE_MAX = 600; // characters kept per log line

/** "code/statusCode: message" of an ErrorInfo-like value, for messages. */
export function describeError(e) {
  if (!e) return 'no error';
  return `${e.code}/${e.statusCode}: ${e.message}`;
}

/**
 * Marks a promise as handled, so that a test that fails before awaiting it
 * does not add an unhandled rejection; awaiting it still throws.
 */
export function handled(promise) {
  promise.catch(() => {});
  return promise;
}

/** Rejects with `what` if `promise` does not settle within timeoutMs. */
export function withTimeout(promise, timeoutMs, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
  });
  return handled(Promise.race([promise, timeout]).finally(() => clearTimeout(timer)));
}

/**
 * Next `event` emitted by an ably-js EventEmitter (connection, channel,
 * transport), with a timeout. Resolves with the listener's first argument.
 */
export function nextEvent(emitter, event, timeoutMs = 10000, what = event) {
  let listener;
  const p = new Promise((resolve) => {
    listener = (arg) => resolve(arg);
    emitter.once(event, listener);
  });
  return handled(withTimeout(p, timeoutMs, what).finally(() => emitter.off(event, listener)));
}

/**
 * Waits until a connection or channel is in state `want` (resolves at once,
 * with null, if it already is; else with the state change). Rejects early
 * if it enters one of `failOn` instead, or on timeout.
 */
export function waitForState(target, want, { timeoutMs = 10000, failOn = ['failed'], what = '' } = {}) {
  if (target.state === want) return Promise.resolve(null);
  let onChange;
  const p = new Promise((resolve, reject) => {
    onChange = (change) => {
      if (!change || typeof change !== 'object' || !('current' in change)) return;
      if (change.current === want) resolve(change);
      else if (failOn.includes(change.current)) {
        reject(new Error(`${what || 'target'} went ${change.current} while waiting for ${want}: ${describeError(change.reason)}`));
      }
    };
    target.on(onChange);
  });
  return handled(withTimeout(p, timeoutMs,
    `${what || 'target'} to become ${want} (state now ${target.state}, errorReason ${describeError(target.errorReason)})`)
    .finally(() => target.off(onChange)));
}

/** Records every state change of a connection or channel. */
export function recordStateChanges(target) {
  const changes = [];
  target.on((change) => {
    if (change && typeof change === 'object' && 'current' in change) changes.push(change);
  });
  return changes;
}

/** Short text of recorded state changes, for assertion messages. */
export function describeChanges(changes) {
  return changes.map((c) => `${c.previous}->${c.current}${c.reason ? `(${c.reason.code})` : ''}`).join(', ');
}

/**
 * Collects the messages a channel subscription delivers, and lets a test
 * wait until they satisfy a condition.
 */
export class Inbox {
  constructor() {
    this.messages = [];
    this.waiters = new Set();
  }

  push(msg) {
    this.messages.push(msg);
    for (const w of this.waiters) w.check();
  }

  /** Subscribes to `channel` (attaching it); resolves with the attach state change. */
  subscribe(channel, event) {
    const listener = (m) => this.push(m);
    return event === undefined ? channel.subscribe(listener) : channel.subscribe(event, listener);
  }

  /** Resolves with the messages once pred(messages) is true. */
  waitUntil(pred, timeoutMs = 10000, what = 'messages') {
    let waiter;
    const p = new Promise((resolve) => {
      waiter = { check: () => { if (pred(this.messages)) resolve(this.messages); } };
      this.waiters.add(waiter);
      waiter.check();
    });
    return handled(withTimeout(p, timeoutMs, `${what} (have ${this.messages.length}: ${this.summary()})`)
      .finally(() => this.waiters.delete(waiter)));
  }

  /** Resolves once at least n messages have arrived. */
  waitForCount(n, timeoutMs = 10000) {
    return this.waitUntil((ms) => ms.length >= n, timeoutMs, `${n} messages`);
  }

  /** Resolves with the first message named `name`. */
  async waitForName(name, timeoutMs = 10000) {
    await this.waitUntil((ms) => ms.some((m) => m.name === name), timeoutMs, `a message named ${name}`);
    return this.messages.find((m) => m.name === name);
  }

  names() {
    return this.messages.map((m) => m.name);
  }

  summary(max = 12) {
    const names = this.names();
    const head = names.slice(0, max).join(',');
    return names.length > max ? `${head},... (last ${names[names.length - 1]})` : head;
  }
}

/** Resolves with the error an ably-js promise rejects with; throws if it resolves or does not settle within timeoutMs. */
export async function rejection(promise, timeoutMs = 10000, what = 'operation') {
  const TIMEOUT = Symbol('timeout');
  let timer;
  const outcome = await Promise.race([
    promise.then((value) => ({ value }), (error) => ({ error })),
    new Promise((r) => { timer = setTimeout(() => r(TIMEOUT), timeoutMs); }),
  ]);
  clearTimeout(timer);
  if (outcome === TIMEOUT) throw new Error(`${what}: neither resolved nor rejected within ${timeoutMs} ms`);
  if ('error' in outcome) return outcome.error;
  throw new Error(`${what}: expected a rejection, got ${JSON.stringify(outcome.value)}`);
}

/** Collects a channel's presence events; waits for one by action and clientId. */
export class PresenceInbox extends Inbox {
  subscribe(channel) {
    return channel.presence.subscribe((m) => this.push(m));
  }

  /** The first event with this action and clientId. */
  async waitFor(action, clientId, timeoutMs = 10000) {
    const match = (m) => m.action === action && m.clientId === clientId;
    await this.waitUntil((ms) => ms.some(match), timeoutMs, `presence ${action} of ${clientId}`);
    return this.messages.find(match);
  }

  /** The events other than the 'present' ones of a SYNC. */
  changes() {
    return this.messages.filter((m) => m.action !== 'present');
  }

  summary() {
    return this.messages.map((m) => `${m.action}:${m.clientId}`).join(',');
  }
}

/** The two wire formats every SDK-level test runs on. */
export const PROTOCOLS = [
  { name: 'json', binary: false },
  { name: 'msgpack', binary: true },
];

/** The Node `ws` WebSocket of a connected ably-js client's active transport. */
export function activeWebSocket(client) {
  const protocol = client.connection.connectionManager.activeProtocol;
  const ws = protocol && protocol.getTransport().wsConnection;
  if (!ws || typeof ws.terminate !== 'function') {
    throw new Error(`client has no active Node WebSocket (connection state ${client.connection.state})`);
  }
  return ws;
}

/** Drops a client's transport abruptly (TCP socket destroyed, no DISCONNECT/CLOSE sent). */
export function killTransport(client) {
  activeWebSocket(client).terminate();
}

/**
 * Per-test set of ably-js clients: creates them pointed at a server (or a
 * proxy), records their logs, and closes them all in close().
 */
export class ClientScope {
  constructor() {
    this.clients = [];
  }

  /**
   * A Realtime client. `target` has a `port` (server or proxy); `binary`
   * selects msgpack; other options go to ClientOptions verbatim.
   */
  realtime(target, { binary = false, label, ...opts } = {}) {
    const logs = [];
    const name = label || `client${this.clients.length + 1}`;
    const client = new Ably.Realtime({
      endpoint: '127.0.0.1',
      port: target.port,
      tls: false,
      useBinaryProtocol: binary,
      transports: ['web_socket'],
      disableConnectivityCheck: true,
      logLevel: 4,
      logHandler: (line) => {
        logs.push(`${new Date().toISOString().slice(11, 23)} ${line.length > LOG_LINE_MAX ? line.slice(0, LOG_LINE_MAX) + '…' : line}`);
        if (logs.length > LOG_TAIL) logs.splice(0, logs.length - LOG_TAIL);
        if (process.env.HERALD_RT_LOG) process.stderr.write(`[${name}] ${line}\n`);
      },
      ...target.sdkTls, // make integration-test-tls
      ...opts,
    });
    this.clients.push({ client, name, logs });
    return client;
  }

  /** A client of `target` (its key unless opts name credentials), once connected. */
  async connected(target, opts = {}) {
    const c = this.realtime(target, { key: target.key, ...opts });
    await waitForState(c.connection, 'connected', { what: `${opts.label || opts.clientId || 'client'} connected (:${target.port})` });
    return c;
  }

  /** Closes every client; waits (bounded) for each to reach a final state. */
  async closeAll() {
    await Promise.all(this.clients.map(({ client }) => closeClient(client)));
  }

  dumpLogs(why) {
    for (const { client, name, logs } of this.clients) {
      process.stderr.write(`\n----- ably-js ${name} (connection ${client.connection.id}, state ${client.connection.state}) ${why} -----\n` +
        logs.join('\n') + `\n----- end ${name} -----\n`);
    }
  }
}

/** Closes an ably-js Realtime client and waits until it is closed (or failed). */
export async function closeClient(client) {
  const final = ['closed', 'failed'];
  if (final.includes(client.connection.state)) return;
  const done = new Promise((resolve) => {
    const onChange = (c) => { if (c && final.includes(c.current)) { client.connection.off(onChange); resolve(); } };
    client.connection.on(onChange);
  });
  client.close();
  await withTimeout(done, 5000, 'client close').catch(() => {});
}

/**
 * `test()` of lib/server.mjs whose body gets a ClientScope; the scope's
 * clients are closed afterwards, and their log tails are printed when the
 * test fails.
 */
export function rtTest(name, opts, fn) {
  if (typeof opts === 'function') { fn = opts; opts = {}; }
  return test(name, opts, withClientScope(name, fn));
}

/** The body of test `name` for a runner's test(): fn(scope, t) as rtTest describes. */
export function withClientScope(name, fn) {
  return async (t) => {
    const scope = new ClientScope();
    try {
      return await fn(scope, t);
    } catch (e) {
      scope.dumpLogs(`test "${name}" failed: ${e && e.message}`);
      throw e;
    } finally {
      await scope.closeAll();
    }
  };
}

/**
 * A TCP proxy to 127.0.0.1:targetPort, to simulate network trouble:
 *  - dropAll(): resets every proxied connection (neither side gets a protocol goodbye);
 *  - blackholeAll(): closes the server side of every proxied connection but
 *    leaves the client side open and silent (a half-open connection: the
 *    client only notices through its idle timer);
 *  - cutClientSide(): resets the client side of every proxied connection
 *    but leaves the server side open and silent (the server's transport
 *    looks alive: nothing it writes fails while the socket buffers take it);
 *  - setUp(false): new connections fail until setUp(true).
 */
export async function startTcpProxy(targetPort) {
  const pairs = new Set();
  const held = new Set(); // server sides kept open by cutClientSide()
  let up = true;
  const quietly = (s) => s.on('error', () => {});
  const server = net.createServer((downstream) => {
    quietly(downstream);
    if (!up) { downstream.resetAndDestroy(); return; }
    const upstream = net.connect(targetPort, '127.0.0.1');
    quietly(upstream);
    const pair = { downstream, upstream, holed: false, cut: false };
    pairs.add(pair);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    downstream.on('close', () => { pairs.delete(pair); if (!pair.cut) upstream.destroy(); });
    upstream.on('close', () => { if (!pair.holed) downstream.destroy(); });
  });
  const reset = (s) => {
    if (s.destroyed) return;
    if (s.connecting) s.destroy(); else s.resetAndDestroy();
  };
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    setUp(v) { up = v; },
    dropAll() {
      for (const { downstream, upstream } of pairs) { reset(downstream); reset(upstream); }
    },
    blackholeAll() {
      for (const pair of pairs) {
        if (pair.holed) continue;
        pair.holed = true;
        pair.downstream.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.downstream);
        pair.downstream.pause();
        reset(pair.upstream);
      }
    },
    cutClientSide() {
      for (const pair of pairs) {
        if (pair.holed) continue;
        pair.holed = true;
        pair.cut = true;
        pair.downstream.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.downstream);
        pair.upstream.pause();
        pairs.delete(pair);
        held.add(pair.upstream);
        reset(pair.downstream);
      }
    },
    close() {
      up = false;
      for (const s of held) s.destroy();
      for (const { downstream, upstream } of pairs) { downstream.destroy(); upstream.destroy(); }
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A raw realtime WebSocket client (JSON format): frames are decoded into
 * `frames`; next(pred) waits for a matching frame; `closed` resolves with
 * the close code. `params` are added to the query string.
 */
export function rawRealtime(port, params = {}) {
  const qs = new URLSearchParams({ format: 'json', v: '6', heartbeats: 'true', ...params });
  const ws = new WebSocket(`ws://127.0.0.1:${port}/?${qs}`);
  const frames = [];
  const waiters = new Set();
  ws.on('message', (data, isBinary) => {
    let pm;
    try { pm = JSON.parse(data.toString('utf8')); } catch (e) { pm = { undecodable: e.message, isBinary }; }
    frames.push(pm);
    for (const w of waiters) w(pm);
  });
  ws.on('error', () => {});
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  const opened = handled(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  }));
  return {
    ws,
    frames,
    closed,
    opened,
    send: (pm) => ws.send(JSON.stringify(pm)),
    /** Next frame (from now or already received, if `fromStart`) matching pred. */
    next(pred, timeoutMs = 10000, what = 'frame', { fromStart = true } = {}) {
      if (fromStart) {
        const have = frames.find(pred);
        if (have) return Promise.resolve(have);
      }
      let w;
      const p = new Promise((resolve) => { w = (pm) => { if (pred(pm)) resolve(pm); }; waiters.add(w); });
      return handled(withTimeout(p, timeoutMs, `${what} (frames so far: ${frames.slice(-5).map((f) => JSON.stringify(f).slice(0, 200)).join(' | ')})`)
        .finally(() => waiters.delete(w)));
    },
    close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
    },
  };
}
