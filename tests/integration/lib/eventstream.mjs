// Event-stream clients for Herald's SSE and plain event-stream endpoints
// (shared/spec/realtime.md §8): the `eventsource` package (the EventSource
// a browser has), and a raw TCP reader that records every byte and event
// in order, for what EventSource hides (comments, ids, the stream's end).

import net from 'node:net';
import { EventSource } from 'eventsource';

/** Query string of a stream request: v=1.2 plus params (null: left out, v too). */
export function streamQuery(params) {
  const q = new URLSearchParams({ v: '1.2' });
  for (const [k, v] of Object.entries(params)) {
    if (v === null) q.delete(k);
    else if (v !== undefined) q.set(k, String(v));
  }
  return q.toString();
}

/** Resolves when pred(list) holds, checking on every push; rejects after timeoutMs. */
function waiter(list, what) {
  const waiting = new Set();
  return {
    push(item) {
      list.push(item);
      for (const w of waiting) if (w.pred(list)) { waiting.delete(w); clearTimeout(w.timer); w.resolve(list); }
    },
    wait(pred, timeoutMs = 5000, detail = '') {
      if (pred(list)) return Promise.resolve(list);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => {
          waiting.delete(w);
          reject(new Error(`${what}${detail ? ` (${detail})` : ''}: not within ${timeoutMs} ms; have ${JSON.stringify(list).slice(-1500)}`));
        }, timeoutMs);
        waiting.add(w);
      });
    },
  };
}

/**
 * An EventSource on `path` (e.g. '/sse?...'). Records message events
 * ({data, id, type}) and server error events (MessageEvents of type
 * 'error'); connection errors (no data) are counted apart. `headers` go on
 * every request it makes.
 */
export function eventSource(srv, path, { headers = {} } = {}) {
  const messages = [];
  const serverErrors = [];
  const es = new EventSource(srv.url + path, {
    fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, ...headers } }),
  });
  const got = waiter(messages, 'message events');
  const errs = waiter(serverErrors, 'error events');
  let connectionErrors = 0;
  const opened = new Promise((resolve, reject) => {
    es.onopen = resolve;
    es.addEventListener('error', (e) => {
      if (e.data !== undefined) errs.push(JSON.parse(e.data));
      else { connectionErrors += 1; if (es.readyState === EventSource.CLOSED) reject(new Error(`EventSource failed: ${e.message ?? e.code ?? ''}`)); }
    });
  });
  es.addEventListener('message', (e) => got.push({ type: e.type, data: e.data, id: e.lastEventId }));
  return {
    es, messages, serverErrors, opened,
    get connectionErrors() { return connectionErrors; },
    /** Waits for n message events in all. */
    waitFor: (n, timeoutMs, what) => got.wait((l) => l.length >= n, timeoutMs, what),
    waitError: (timeoutMs) => errs.wait((l) => l.length >= 1, timeoutMs),
    close: () => es.close(),
  };
}

/** Parses complete SSE blocks of text: [{event, data, id, comments}], the rest. */
export function parseSse(text) {
  const blocks = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\n\n');
    if (end < 0) break;
    const block = { event: undefined, data: undefined, id: undefined, comments: [] };
    for (const line of rest.slice(0, end).split('\n')) {
      if (line.startsWith(':')) { block.comments.push(line.slice(1)); continue; }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') block.data = block.data === undefined ? value : `${block.data}\n${value}`;
      else if (field === 'event' || field === 'id') block[field] = value;
    }
    blocks.push(block);
    rest = rest.slice(end + 2);
  }
  return { blocks, rest };
}

/**
 * A raw GET of `path` on its own TCP connection. `format`: 'sse' (events
 * are SSE blocks) or 'ndjson' (events are parsed lines; a blank line is
 * {keepalive: true}). Resolves once the response head is in:
 * {status, headers, head, body (bytes so far, for an error response),
 *  events, next(pred), closed, socket, destroy()}.
 */
export function rawStream(srv, path, { headers = {}, format = 'sse', timeoutMs = 5000 } = {}) {
  const sock = net.connect(srv.port, '127.0.0.1');
  const events = [];
  const ev = waiter(events, `events of ${path}`);
  let buf = Buffer.alloc(0);
  let text = '';
  let head = null;
  let endedResolve;
  const closed = new Promise((r) => { endedResolve = r; });
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}\r\n`));
  const stream = {
    events, closed, socket: sock, text: () => text,
    next: (pred, ms = 5000, what = '') => ev.wait((l) => l.some(pred), ms, what).then((l) => l.find(pred)),
    count: (pred, n, ms = 5000, what = '') => ev.wait((l) => l.filter(pred).length >= n, ms, what).then((l) => l.filter(pred)),
    destroy: () => sock.destroy(),
  };
  const onBody = () => {
    if (format === 'sse') {
      const { blocks, rest } = parseSse(text);
      text = rest;
      for (const b of blocks) ev.push(b);
    } else {
      let nl;
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        ev.push(line === '' ? { keepalive: true } : JSON.parse(line));
      }
    }
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no response head for ${path} within ${timeoutMs} ms`)); }, timeoutMs);
    sock.on('data', (d) => {
      if (head) { text += d.toString('utf8'); onBody(); return; }
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = buf.slice(0, end).toString('latin1').split('\r\n');
      head = { status: Number(lines[0].split(' ')[1]), headers: {} };
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        head.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      clearTimeout(timer);
      const body = buf.slice(end + 4);
      Object.assign(stream, head, { head: lines.join('\n'), body });
      if (head.status === 200) { text = body.toString('utf8'); onBody(); }
      resolve(stream);
    });
    sock.on('close', () => { clearTimeout(timer); endedResolve(); if (!head) reject(new Error(`${path}: closed before a response head`)); });
    sock.on('error', () => {});
  });
}
