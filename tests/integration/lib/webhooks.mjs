// Webhook test helpers: a Node HTTP receiver that records what heraldd
// sends, the test app and its rules, and readers of Ably's payloads
// (used by webhooks.test.mjs and cluster_webhooks.test.mjs).

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { msgpack } from './server.mjs';

export const KEY = 'hookapp.root:secretroot';
export const SECRET = 'secretroot';
export const ADMIN = 'admin-secret';
// Retries and batches fast enough for a test; the defaults are Ably's.
export const FAST = ['--occupancy-interval-ms', '100', '--webhook-retry-min-ms', '50', '--webhook-retry-max-ms', '200', '--webhook-batch-interval-ms', '50'];

/** An HTTP receiver: every request is recorded; `answer(req)` may return a
 * status, or null to never answer (a hanging receiver). */
export async function receiver(answer = () => 200) {
  const requests = [];
  const hanging = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const r = { path: req.url, headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(r);
      const status = answer(r, requests.length);
      if (status === null) { hanging.push(res); return; }
      res.writeHead(status).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url, requests, hanging,
    close: () => { for (const res of hanging) res.destroy(); server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}

export function signed(r) {
  const want = createHmac('sha256', SECRET).update(r.body).digest('base64');
  assert.equal(r.headers['x-ably-key'], 'hookapp.root');
  assert.equal(r.headers['x-ably-signature'], want, 'signature is base64 HMAC-SHA256 of the body');
}

export function decode(r) {
  return r.headers['content-type'] === 'application/x-msgpack' ? msgpack.decode(r.body) : JSON.parse(r.body.toString());
}

/** Every message data a batch or single enveloped request carried, in order. */
export function datas(requests, source = 'channel.message') {
  const out = [];
  for (const r of requests) {
    const body = decode(r);
    const envelopes = body.items ? body.items.map((i) => ({ channel: i.data.channelId, ...i.data })) : [body];
    for (const e of envelopes) {
      if (source === 'channel.message') for (const m of e.messages || []) out.push({ channel: e.channel, data: m.data });
    }
  }
  return out;
}

export function app(rules = []) {
  return { apps: [{ id: 'hookapp', keys: [{ key: KEY, capability: { '*': ['*'] } }], rules }] };
}

export function rule(url, { id, mode = 'batch', type = 'channel.message', filter = '^hook', format = 'json', enveloped = true, sign = true } = {}) {
  return {
    ...(id ? { id } : {}),
    requestMode: mode,
    source: { type, channelFilter: filter },
    target: { url, format, enveloped, headers: { 'X-Test': 'yes' }, ...(sign ? { signingKey: 'hookapp.root' } : {}) },
    status: 'enabled',
  };
}

export async function publish(srv, channel, data, name = 'ev') {
  const res = await srv.request('POST', `/channels/${encodeURIComponent(channel)}/messages`, { key: KEY, json: { name, data } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

export const admin = (srv, method, path, json) => srv.request(method, path, { auth: false, headers: { Authorization: `Bearer ${ADMIN}` }, json });
