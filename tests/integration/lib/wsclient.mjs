// A small raw Ably-protocol WebSocket client for Herald's integration tests.
//
// connect(srv, params) opens ws://127.0.0.1:<port>/?<params> (defaults: the
// server's key, v=6, format=json) and resolves once the socket is open, with
// a client object:
//   send(pm)                 encode per the connection's format (JSON text
//                            frame, or msgpack binary frame) and send;
//                            the returned promise resolves once written
//   sendRaw(data, opts)      send anything (ws send options: binary, fin)
//   next(match, timeoutMs)   the next received PM matching `match` (action
//                            number, object of expected field values, or
//                            predicate); unmatched PMs stay queued for later
//                            next()/take() calls. Rejects on timeout or when
//                            the socket closes without a match.
//   take(match)              the first queued match, synchronously (or undefined)
//   received                 every PM received, in order (never consumed)
//   closed                   promise of {code, reason} when the socket closes
//   isOpen()                 the socket is open
//   ping(id)                 HEARTBEAT with id, resolves with the echo
//   close() / terminate()    polite close handshake / abrupt socket destroy
// Received frames are decoded by their own frame type (text: JSON, binary:
// msgpack) so tests can assert that the type matches the format: every
// decoded PM carries pm[FRAME] = {binary, bytes}; a frame that fails to
// decode is queued as {undecodable: <error message>}.
//
// open(srv, params) = connect + wait for the first frame, which must be
// CONNECTED; sets client.connectionId / connectionKey / connected (the PM).

import WebSocket from 'ws';
import { msgpack } from './server.mjs';

export { WebSocket };

export const ACTION = Object.freeze({
  HEARTBEAT: 0, ACK: 1, NACK: 2, CONNECT: 3, CONNECTED: 4, DISCONNECT: 5, DISCONNECTED: 6,
  CLOSE: 7, CLOSED: 8, ERROR: 9, ATTACH: 10, ATTACHED: 11, DETACH: 12, DETACHED: 13,
  PRESENCE: 14, MESSAGE: 15, SYNC: 16, AUTH: 17,
});

export const FLAG = Object.freeze({
  HAS_PRESENCE: 1, HAS_BACKLOG: 2, RESUMED: 4,
  PRESENCE: 65536, PUBLISH: 131072, SUBSCRIBE: 262144, PRESENCE_SUBSCRIBE: 524288,
  ANNOTATION_PUBLISH: 2097152, ANNOTATION_SUBSCRIBE: 4194304,
  OBJECT_SUBSCRIBE: 16777216, OBJECT_PUBLISH: 33554432,
  MODE_MASK: 0x36F0000,
  DEFAULT_MODES: 3080192,
});

/** Symbol under which every received PM keeps {binary, bytes} of its frame. */
export const FRAME = Symbol('frame');

/** ws:// URL for `srv` with query params; defaults key/v/format, `null` drops one. */
export function wsUrl(srv, params = {}) {
  const all = { key: srv.key, format: 'json', v: '6', ...params };
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(all)) if (v !== null && v !== undefined) qs.append(k, String(v));
  return `ws://127.0.0.1:${srv.port}/?${qs}`;
}

/** Encode a PM for `format` ('json' → string, 'msgpack' → Buffer). */
export function encodePm(pm, format) {
  return format === 'msgpack' ? msgpack.encode(pm) : JSON.stringify(pm);
}

function decodeFrame(data, isBinary) {
  const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data);
  let pm;
  try {
    pm = isBinary ? msgpack.decode(buf) : JSON.parse(buf.toString('utf8'));
  } catch (e) {
    pm = { undecodable: e.message };
  }
  if (pm === null || typeof pm !== 'object') pm = { undecodable: `not a map: ${JSON.stringify(pm)}` };
  Object.defineProperty(pm, FRAME, { value: { binary: isBinary, bytes: buf.length }, enumerable: false });
  return pm;
}

function matcher(match) {
  if (typeof match === 'function') return match;
  if (typeof match === 'number') return (pm) => pm.action === match;
  if (match && typeof match === 'object') {
    return (pm) => Object.entries(match).every(([k, v]) => pm[k] === v);
  }
  return () => true;
}

/** Short printable form of a PM (Buffers shown as hex). */
export function show(pm) {
  return JSON.stringify(pm, (k, v) => (v && v.type === 'Buffer' && Array.isArray(v.data)
    ? `<bin ${Buffer.from(v.data).toString('hex').slice(0, 64)}>` : v)).slice(0, 600);
}

/**
 * Open a WebSocket to `srv` (see wsUrl for params). Resolves once open;
 * rejects if the upgrade is refused (message includes the HTTP status).
 */
export function connect(srv, params = {}, { timeoutMs = 5000 } = {}) {
  const format = params.format === undefined ? 'json' : params.format;
  const url = wsUrl(srv, params);
  const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
  const queue = [];
  const received = [];
  const waiters = new Set();
  let closeInfo = null;

  const closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      closeInfo = { code, reason: reason.toString() };
      for (const w of waiters) w.onClose();
      resolve(closeInfo);
    });
  });

  ws.on('message', (data, isBinary) => {
    const pm = decodeFrame(data, isBinary);
    received.push(pm);
    for (const w of waiters) if (w.test(pm)) { w.resolve(pm); return; }
    queue.push(pm);
  });

  const client = {
    ws, url, format, received, closed,
    isOpen: () => ws.readyState === WebSocket.OPEN,
    send(pm) { return client.sendRaw(encodePm(pm, format), { binary: format === 'msgpack' }); },
    sendRaw(data, opts = {}) {
      return new Promise((resolve) => { ws.send(data, opts, (err) => resolve(err || null)); });
    },
    take(match) {
      const test = matcher(match);
      const i = queue.findIndex(test);
      return i < 0 ? undefined : queue.splice(i, 1)[0];
    },
    next(match, timeoutMs = 5000) {
      const found = client.take(match);
      if (found) return Promise.resolve(found);
      const what = typeof match === 'function' ? 'predicate' : JSON.stringify(match);
      const pending = () => queue.map(show).join('\n  ') || '(none)';
      if (closeInfo) {
        return Promise.reject(new Error(`socket closed (${closeInfo.code}) before a PM matching ${what}; unmatched PMs:\n  ${pending()}`));
      }
      return new Promise((resolve, reject) => {
        const w = {
          test: matcher(match),
          resolve: (pm) => { done(); resolve(pm); },
          onClose: () => { done(); reject(new Error(`socket closed (${closeInfo.code} ${closeInfo.reason}) while waiting for a PM matching ${what}; unmatched PMs:\n  ${pending()}`)); },
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no PM matching ${what} within ${timeoutMs} ms; unmatched PMs:\n  ${pending()}`));
        }, timeoutMs);
        function done() { clearTimeout(timer); waiters.delete(w); }
        waiters.add(w);
      });
    },
    async ping(id = `p${Math.random().toString(36).slice(2, 10)}`, timeoutMs = 5000) {
      client.send({ action: ACTION.HEARTBEAT, id });
      return client.next((pm) => pm.action === ACTION.HEARTBEAT && pm.id === id, timeoutMs);
    },
    close() { ws.close(); return closed; },
    terminate() { ws.terminate(); return closed; },
  };

  return new Promise((resolve, reject) => {
    const fail = (e) => reject(new Error(`WebSocket to ${url} failed: ${e.message}`));
    ws.once('open', () => { ws.off('error', fail); ws.on('error', () => {}); resolve(client); });
    ws.once('error', fail);
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => reject(new Error(`upgrade refused: HTTP ${res.statusCode} ${body.slice(0, 300)}`)));
      res.on('error', () => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
  });
}

/** connect() and wait for the first frame, which must be CONNECTED. */
export async function open(srv, params = {}, opts = {}) {
  const client = await connect(srv, params, opts);
  let first;
  try {
    first = await client.next(() => true, opts.timeoutMs || 5000);
  } catch (e) {
    client.terminate();
    throw e;
  }
  if (first.action !== ACTION.CONNECTED || client.received[0] !== first) {
    client.terminate();
    throw new Error(`expected CONNECTED as the first frame, got ${show(first)}`);
  }
  client.connected = first;
  client.connectionId = first.connectionId;
  client.connectionKey = first.connectionDetails && first.connectionDetails.connectionKey;
  return client;
}
