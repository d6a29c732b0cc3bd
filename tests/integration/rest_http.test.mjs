// REST foundation over raw HTTP: wire formats, envelope, Link headers,
// enumeration, CORS, idempotency rules and every error path.
//
// Tests in this file run sequentially (node:test default inside a file); the
// last tests check that the server survived all the error cases.

import assert from 'node:assert/strict';
import {
  startServer, test, describe, before, after, uniqueChannel, sleep, msgpack,
  assertAblyError, basicAuth, rawExchange, parseHttpResponses, parseLinkHeader,
} from './lib/server.mjs';

const FULL_KEY = 'testapp.full:secretfull';
const PUB_KEY = 'testapp.pub:secretpub';
const CONFIG = {
  apps: [{
    id: 'testapp',
    keys: [
      { key: FULL_KEY, capability: { '*': ['*'] } },
      { key: PUB_KEY, capability: '{"pubonly:*":["publish"]}' },
    ],
    namespaces: [{ id: 'persisted', persisted: true }],
  }],
};

let srv;
before(async () => { srv = await startServer({ config: CONFIG, env: { HERALD_KEY: null } }); });
after(async () => { if (srv) await srv.stop(); });

const req = (method, path, opts = {}) => srv.request(method, path, { key: FULL_KEY, ...opts });
const msgsPath = (name, qs = '') => `/channels/${encodeURIComponent(name)}/messages${qs ? '?' + qs : ''}`;
const chan = (p) => uniqueChannel(`http-${p}`);

async function publish(name, body, opts = {}) {
  const res = await req('POST', msgsPath(name), { json: body, ...opts });
  assert.equal(res.status, 201, `publish to ${name}: ${res.status} ${res.raw}`);
  return res.body;
}

async function history(name, qs = '', opts = {}) {
  const res = await req('GET', msgsPath(name, qs), opts);
  assert.equal(res.status, 200, `history of ${name}?${qs} (accept ${opts.accept || 'default'}): ${res.status} ${res.contentType} ${res.raw}`);
  return res;
}

function assertNoNulls(value, where) {
  const walk = (v, p) => {
    assert.notEqual(v, null, `null emitted at ${where}${p}`);
    if (typeof v === 'object' && !Buffer.isBuffer(v)) for (const [k, x] of Object.entries(v)) walk(x, `${p}.${k}`);
  };
  walk(value, '');
}

// ---------------------------------------------------------------- time

describe('GET /time', () => {
  test('JSON: array with one integer ms timestamp, no auth needed', async () => {
    const t0 = Date.now();
    const res = await srv.request('GET', '/time', { key: null });
    assert.equal(res.status, 200);
    assert.equal(res.contentType, 'application/json');
    assert.ok(Array.isArray(res.body) && res.body.length === 1, `body ${res.raw}`);
    assert.ok(Number.isInteger(res.body[0]));
    assert.ok(Math.abs(res.body[0] - t0) < 5000, `time ${res.body[0]} vs ${t0}`);
  });

  test('msgpack: array with one integer when msgpack is accepted', async () => {
    const res = await srv.request('GET', '/time', { key: null, accept: 'msgpack' });
    assert.equal(res.status, 200);
    assert.equal(res.contentType, 'application/x-msgpack');
    assert.ok(Array.isArray(res.body) && res.body.length === 1, `body ${res.raw.toString('hex')}`);
    assert.ok(Math.abs(res.body[0] - Date.now()) < 5000);
  });
});

// ---------------------------------------------------------------- publish/history

describe('publish and history (JSON)', () => {
  test('curl-style JSON publish, then history with all fields', async () => {
    const name = chan('curl');
    const t0 = Date.now();
    const res = await req('POST', msgsPath(name), {
      body: JSON.stringify({ name: 'greeting', data: 'hello', size: 12345 }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(res.status, 201, `${res.raw}`);
    assert.equal(res.contentType, 'application/json');
    assert.equal(res.body.channel, name);
    assert.equal(typeof res.body.messageId, 'string');
    assert.ok(res.body.messageId.length > 0);
    assert.ok(Array.isArray(res.body.serials) && res.body.serials.length === 1);

    const h = await history(name);
    assert.equal(h.contentType, 'application/json');
    assert.equal(h.body.length, 1);
    const m = h.body[0];
    assertNoNulls(m, 'history item');
    assert.equal(m.name, 'greeting');
    assert.equal(m.data, 'hello');
    assert.equal(m.encoding, undefined);
    assert.equal(m.action, 0);
    assert.equal(m.serial, res.body.serials[0]);
    assert.equal(typeof m.id, 'string');
    assert.match(m.id, /:0$/, `server-assigned id is <base>:0: ${m.id}`);
    assert.ok(m.id === `${res.body.messageId}:0` || m.id === res.body.messageId,
      `id ${m.id} relates to messageId ${res.body.messageId}`);
    assert.ok(Number.isInteger(m.timestamp) && m.timestamp >= t0 - 5000 && m.timestamp <= Date.now() + 5000);
    assert.equal(typeof m.connectionId, 'string', 'REST publish gets a server-generated connectionId');
    assert.equal(m.size, undefined, 'the size field is not stored or echoed');
    assert.doesNotMatch(h.raw.toString(), /null/, 'no null in JSON output');
  });

  test('publish with ?key= query credentials', async () => {
    const name = chan('qkey');
    const res = await srv.request('POST', msgsPath(name, `key=${encodeURIComponent(FULL_KEY)}`), { key: null, json: { name: 'q', data: 'k' } });
    assert.equal(res.status, 201, `${res.raw}`);
    const h = await srv.request('GET', msgsPath(name, `key=${encodeURIComponent(FULL_KEY)}`), { key: null });
    assert.equal(h.status, 200);
    assert.equal(h.body[0].data, 'k');
  });

  test('JSON array publish, all fields round trip, serials in order', async () => {
    const name = chan('fields');
    const body = [
      { name: 'a', data: 'x', clientId: 'cid-1', extras: { headers: { k: 'v' } } },
      { name: 'b', data: { obj: [1, 2, 3] } },
      { name: 'c', data: '3q2+7w==', encoding: 'base64' },
      { name: 'd', data: '{"foo":"bar"}', encoding: 'json/utf-8' },
      { name: 'e' },
    ];
    const r = await publish(name, body);
    assert.equal(r.serials.length, 5);
    const h = await history(name, 'direction=forwards');
    const items = h.body;
    assert.deepEqual(items.map((m) => m.name), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(items.map((m) => m.serial), r.serials);
    assert.equal(items[0].clientId, 'cid-1');
    assert.deepEqual(items[0].extras, { headers: { k: 'v' } });
    assert.equal(items[1].encoding, 'json');
    assert.deepEqual(JSON.parse(items[1].data), { obj: [1, 2, 3] });
    assert.equal(items[2].data, '3q2+7w==');
    assert.equal(items[2].encoding, 'base64');
    // inconsistent encodings are passed through untouched
    assert.equal(items[3].data, '{"foo":"bar"}');
    assert.equal(items[3].encoding, 'json/utf-8');
    assert.equal(items[4].data, undefined);
    assert.equal(items[4].encoding, undefined);
    for (const m of items) assertNoNulls(m, `item ${m.name}`);

    // the same messages over msgpack
    const hm = await history(name, 'direction=forwards', { accept: 'msgpack' });
    assert.equal(hm.contentType, 'application/x-msgpack');
    const mi = hm.body;
    assert.equal(mi.length, 5);
    assert.equal(mi[0].data, 'x');
    assert.deepEqual(mi[0].extras, { headers: { k: 'v' } });
    assert.equal(typeof mi[1].data, 'string');
    assert.equal(mi[1].encoding, 'json');
    assert.ok(Buffer.isBuffer(mi[2].data), 'binary data is msgpack bin');
    assert.equal(mi[2].data.toString('hex'), 'deadbeef');
    assert.equal(mi[2].encoding, undefined, 'base64 transport encoding is removed in msgpack');
    assert.equal(mi[3].data, '{"foo":"bar"}');
    assert.equal(mi[3].encoding, 'json/utf-8');
    assert.equal(mi[0].action, 0);
    assert.ok(Number.isInteger(mi[0].timestamp));
  });

  test('base64 with a residual encoding (utf-8/base64) keeps the prefix', async () => {
    const name = chan('b64chain');
    await publish(name, { data: Buffer.from('héllo').toString('base64'), encoding: 'utf-8/base64' });
    const j = (await history(name)).body[0];
    assert.equal(j.encoding, 'utf-8/base64');
    assert.equal(Buffer.from(j.data, 'base64').toString(), 'héllo');
    const m = (await history(name, '', { accept: 'msgpack' })).body[0];
    assert.equal(m.encoding, 'utf-8');
    assert.ok(Buffer.isBuffer(m.data));
    assert.equal(m.data.toString(), 'héllo');
  });

  test('percent-encoded channel names are decoded per segment', async () => {
    const name = `${chan('pct')}/sub dir`;
    await publish(name, { name: 'x', data: 'y' });
    const h = await history(name);
    assert.equal(h.body.length, 1);
    const d = await req('GET', `/channels/${encodeURIComponent(name)}`);
    assert.equal(d.status, 200);
    assert.equal(d.body.channelId, name);
  });

  test('channel qualifier [?params] addresses the unqualified channel', async () => {
    const base = chan('qual');
    await publish(base, { name: 'q', data: 'v' });
    const h = await history(`[?rewind=1]${base}`);
    assert.deepEqual(h.body.map((m) => m.name), ['q']);
    const d = await req('GET', `/channels/${encodeURIComponent(`[?rewind=1]${base}`)}`);
    assert.equal(d.status, 200);
    assert.equal(d.body.channelId, `[?rewind=1]${base}`);
  });

  test('body without Content-Type is treated as JSON', async () => {
    const name = chan('noctype');
    const body = JSON.stringify({ name: 'n', data: 'no content type' });
    const raw = `POST ${msgsPath(name)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basicAuth(FULL_KEY)}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
    const { data } = await rawExchange(srv.port, raw);
    const [res] = parseHttpResponses(data);
    assert.equal(res?.status, 201, `got ${data.toString()}`);
    assert.equal((await history(name)).body[0].data, 'no content type');
  });
});

describe('MessagePack bodies', () => {
  test('msgpack publish (str and bin data) and msgpack response', async () => {
    const name = chan('mp');
    const res = await req('POST', msgsPath(name), {
      msgpack: [
        { name: 'text', data: 'hello mp' },
        { name: 'bytes', data: Buffer.from([0, 1, 2, 0xff]) },
        { name: 'map', data: { k: [1, 'two'] } },
        { name: 'ext', data: 's', extras: { headers: { h: '1' } }, clientId: 'mpclient' },
      ],
      accept: 'msgpack',
    });
    assert.equal(res.status, 201, `${res.raw.toString('hex')}`);
    assert.equal(res.contentType, 'application/x-msgpack');
    assert.equal(res.body.channel, name);
    assert.equal(typeof res.body.messageId, 'string');
    assert.equal(res.body.serials.length, 4);

    const hm = (await history(name, 'direction=forwards', { accept: 'msgpack' })).body;
    assert.equal(hm[0].data, 'hello mp');
    assert.ok(Buffer.isBuffer(hm[1].data));
    assert.equal(hm[1].data.toString('hex'), '000102ff');
    assert.equal(hm[1].encoding, undefined);
    assert.equal(hm[2].encoding, 'json');
    assert.deepEqual(JSON.parse(hm[2].data), { k: [1, 'two'] });
    assert.deepEqual(hm[3].extras, { headers: { h: '1' } });
    assert.equal(hm[3].clientId, 'mpclient');
    assert.deepEqual(hm.map((m) => m.serial), res.body.serials);

    const hj = (await history(name, 'direction=forwards')).body;
    assert.equal(hj[1].data, Buffer.from([0, 1, 2, 0xff]).toString('base64'));
    assert.equal(hj[1].encoding, 'base64');
    assert.equal(hj[0].data, 'hello mp');
  });

  test('msgpack publish of a single message map (not array)', async () => {
    const name = chan('mp1');
    const res = await req('POST', msgsPath(name), { msgpack: { name: 'solo', data: 'x' } });
    assert.equal(res.status, 201, `${res.raw}`);
    // no Accept header (fetch sends */*) -> JSON response
    assert.equal(res.contentType, 'application/json');
    assert.equal(res.body.serials.length, 1);
    assert.equal((await history(name)).body[0].name, 'solo');
  });

  test('msgpack: every value family parses; unknown fields are ignored', async () => {
    const name = chan('mpfam');
    const unknown = {
      u64: 1700000000000, neg: -5, i32: -70000, f64: 1.5, nil: null, t: true, f: false,
      arr: [1, 'two', Buffer.from([3])], map: { nested: { deeper: [] } }, long: 'z'.repeat(300),
    };
    const res = await req('POST', msgsPath(name), {
      msgpack: { name: 'fam', data: 's'.repeat(70000 / 2), size: 123, timestamp: 1700000000000, unknownField: unknown },
    });
    assert.equal(res.status, 201, `${res.raw}`);
    const jres = await req('POST', msgsPath(name), { json: { name: 'famjson', data: 'd', unknownField: unknown, size: 1 } });
    assert.equal(jres.status, 201, `${jres.raw}`);
    const h = (await history(name, 'direction=forwards', { accept: 'msgpack' })).body;
    assert.deepEqual(h.map((m) => m.name), ['fam', 'famjson']);
    assert.equal(h[0].data.length, 35000);
    for (const m of h) {
      assert.equal(m.unknownField, undefined, 'unknown fields are not stored');
      assert.equal(m.size, undefined, 'size is not echoed');
      assert.ok(Number.isInteger(m.timestamp));
    }
  });

  test('msgpack error bodies', async () => {
    const res = await req('GET', msgsPath(chan('mperr'), 'limit=0'), { accept: 'msgpack' });
    assertAblyError(assert, res, 400, 40003, 'msgpack error body');
    assert.equal(res.contentType, 'application/x-msgpack');
  });
});

// ---------------------------------------------------------------- envelope

describe('envelope parameter', () => {
  for (const fmt of ['json', 'msgpack']) {
    test(`envelope=${fmt} wraps status, body and link header`, async () => {
      const name = chan(`env-${fmt}`);
      await publish(name, [{ name: '1' }, { name: '2' }, { name: '3' }]);
      const res = await req('GET', msgsPath(name, `limit=2&envelope=${fmt}`));
      assert.equal(res.status, 200);
      assert.equal(res.contentType, fmt === 'json' ? 'application/json' : 'application/x-msgpack');
      const env = res.body;
      assert.equal(env.statusCode, 200);
      assert.ok(Array.isArray(env.response));
      assert.deepEqual(env.response.map((m) => m.name), ['3', '2']);
      assert.ok(env.headers && typeof env.headers === 'object');
      const link = env.headers.link;
      assert.equal(typeof link, 'string', `headers.link present: ${JSON.stringify(env.headers)}`);
      const rels = parseLinkHeader(link);
      assert.ok(rels.next, `next rel in ${link}`);
      // follow the enveloped next link
      const q = rels.next.match(/^\.\/messages\?(.*)$/)[1];
      const res2 = await req('GET', `${msgsPath(name)}?${q}&envelope=${fmt}`);
      assert.equal(res2.body.statusCode, 200);
      assert.deepEqual(res2.body.response.map((m) => m.name), ['1']);
      assert.ok(!res2.body.headers?.link || !parseLinkHeader(res2.body.headers.link).next, 'no next on last page');
    });

    test(`envelope=${fmt} carries errors with HTTP 200`, async () => {
      const res = await req('GET', msgsPath(chan('enverr'), `limit=0&envelope=${fmt}`));
      assert.equal(res.status, 200);
      assert.equal(res.contentType, fmt === 'json' ? 'application/json' : 'application/x-msgpack');
      assert.equal(res.body.statusCode, 400);
      assert.equal(res.body.response.error.code, 40003);
      assert.equal(res.body.response.error.statusCode, 400);
      assert.equal(typeof res.body.response.error.message, 'string');
      assert.equal(String(res.body.headers['x-ably-errorcode']), '40003');
      assert.equal(typeof res.body.headers['x-ably-errormessage'], 'string');

      const unauth = await srv.request('GET', msgsPath(chan('enverr'), `envelope=${fmt}`), { key: null });
      assert.equal(unauth.status, 200);
      assert.equal(unauth.body.statusCode, 401);
      assert.equal(unauth.body.response.error.code, 40101);
    });

    test(`channel status with envelope=${fmt}`, async () => {
      const name = chan(`envstatus-${fmt}`);
      const res = await req('GET', `/channels/${encodeURIComponent(name)}?envelope=${fmt}`,
        { headers: { 'Content-Type': fmt === 'json' ? 'application/json' : 'application/x-msgpack' } });
      assert.equal(res.status, 200);
      assert.equal(res.body.statusCode, 200);
      assert.equal(res.body.response.channelId, name);
      assert.equal(res.body.response.status.isActive, true);
    });
  }
});

// ---------------------------------------------------------------- Link headers

describe('Link headers', () => {
  test('relative ./messages links with first/current/next; following next until none', async () => {
    const name = chan('links');
    for (let i = 0; i < 7; i++) await publish(name, { name: `m${i}` });
    const first = await history(name, 'limit=3');
    const linkHeader = first.headers.get('link');
    assert.ok(linkHeader, 'Link header present on a paginated response');
    const rels = parseLinkHeader(linkHeader);
    for (const r of ['first', 'current', 'next']) {
      assert.ok(rels[r], `rel=${r} in ${linkHeader}`);
      assert.match(rels[r], /^\.\/messages\?.+$/, `relative link for ${r}: ${rels[r]}`);
    }
    assert.doesNotMatch(linkHeader, /<\/channels/, 'no absolute paths');
    // the next link carries the complete query state
    const nextQ = new URLSearchParams(rels.next.split('?')[1]);
    assert.equal(nextQ.get('limit'), '3');

    const names = first.body.map((m) => m.name);
    let rel = rels;
    let pages = 1;
    while (rel.next) {
      const q = rel.next.split('?')[1];
      const res = await history(name, q);
      names.push(...res.body.map((m) => m.name));
      rel = parseLinkHeader(res.headers.get('link'));
      pages++;
      assert.ok(pages < 10, 'pagination terminates');
      if (!rel.next) assert.ok(res.body.length > 0, 'the last page is not empty');
    }
    assert.equal(pages, 3);
    assert.deepEqual(names, ['m6', 'm5', 'm4', 'm3', 'm2', 'm1', 'm0']);

    // first is repeatable, even after new messages arrive
    const again = await history(name, rels.first.split('?')[1]);
    assert.deepEqual(again.body.map((m) => m.name), ['m6', 'm5', 'm4']);
    await sleep(5);
    await publish(name, { name: 'm7' });
    const again2 = await history(name, rels.first.split('?')[1]);
    assert.deepEqual(again2.body.map((m) => m.name), ['m6', 'm5', 'm4'], 'first link pins end=');
    const cur = await history(name, rels.current.split('?')[1]);
    assert.deepEqual(cur.body.map((m) => m.name), ['m6', 'm5', 'm4']);
  });

  test('exact page boundary: no next link when no further items', async () => {
    const name = chan('links-exact');
    await publish(name, [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }]);
    const p1 = await history(name, 'limit=2&direction=forwards');
    const r1 = parseLinkHeader(p1.headers.get('link'));
    assert.ok(r1.next);
    const p2 = await history(name, r1.next.split('?')[1]);
    assert.deepEqual(p2.body.map((m) => m.name), ['c', 'd']);
    const r2 = parseLinkHeader(p2.headers.get('link'));
    assert.equal(r2.next, undefined, `no next on the final page: ${p2.headers.get('link')}`);
  });

  test('empty history: 200 with []', async () => {
    const res = await history(chan('empty'));
    assert.deepEqual(res.body, []);
    const rels = parseLinkHeader(res.headers.get('link'));
    assert.equal(rels.next, undefined);
  });
});

// ---------------------------------------------------------------- channel details and enumeration

describe('channels', () => {
  test('GET /channels/{id} returns ChannelDetails', async () => {
    const name = chan('details');
    await publish(name, { name: 'x' });
    const res = await req('GET', `/channels/${encodeURIComponent(name)}`);
    assert.equal(res.status, 200);
    assert.equal(res.contentType, 'application/json');
    assert.equal(res.body.channelId, name);
    assert.equal(res.body.status.isActive, true);
    const metrics = res.body.status.occupancy.metrics;
    for (const f of ['connections', 'presenceConnections', 'presenceMembers', 'presenceSubscribers',
      'publishers', 'subscribers', 'objectPublishers', 'objectSubscribers']) {
      assert.ok(Number.isInteger(metrics[f]) && metrics[f] >= 0, `metrics.${f}: ${metrics[f]}`);
    }
    const mp = await req('GET', `/channels/${encodeURIComponent(name)}`, { accept: 'msgpack' });
    assert.equal(mp.contentType, 'application/x-msgpack');
    assert.equal(mp.body.channelId, name);
  });

  test('GET /channels enumeration with prefix, by=id, paging via Link', async () => {
    const prefix = `enum${Date.now()}-`;
    const names = ['a', 'b', 'c', 'd', 'e'].map((s) => prefix + s);
    for (const n of names) await publish(n, { name: 'x' });
    await publish(`other${Date.now()}`, { name: 'x' });

    const collected = [];
    let res = await req('GET', `/channels?prefix=${encodeURIComponent(prefix)}&limit=2&by=id`);
    let pages = 0;
    for (;;) {
      assert.equal(res.status, 200, `${res.raw}`);
      assert.ok(Array.isArray(res.body));
      assert.ok(res.body.length <= 2, 'limit respected');
      for (const c of res.body) assert.equal(typeof c, 'string', `by=id gives strings: ${JSON.stringify(c)}`);
      collected.push(...res.body);
      pages++;
      assert.ok(pages < 10, 'enumeration terminates');
      const rels = parseLinkHeader(res.headers.get('link'));
      if (!rels.next) break;
      assert.match(rels.next, /^\.\/channels\?/, `link segment channels: ${rels.next}`);
      res = await req('GET', `/channels?${rels.next.split('?')[1]}`);
    }
    assert.ok(pages >= 3, `5 channels with limit 2 need >= 3 pages, got ${pages}`);
    assert.deepEqual(collected.slice().sort(), names, 'each prefixed channel exactly once');
  });

  test('GET /channels by=value returns ChannelDetails', async () => {
    const prefix = `enumv${Date.now()}-`;
    await publish(prefix + 'one', { name: 'x' });
    const res = await req('GET', `/channels?prefix=${encodeURIComponent(prefix)}&by=value`);
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 1);
    assert.equal(res.body[0].channelId, prefix + 'one');
    assert.equal(res.body[0].status.isActive, true);
  });

  test('GET /channels default by depends on X-Ably-Version', async () => {
    const prefix = `enumd${Date.now()}-`;
    await publish(prefix + 'one', { name: 'x' });
    const v3 = await req('GET', `/channels?prefix=${encodeURIComponent(prefix)}`, { headers: { 'X-Ably-Version': '3' } });
    assert.deepEqual(v3.body, [prefix + 'one']);
    const v6 = await req('GET', `/channels?prefix=${encodeURIComponent(prefix)}&v=6`);
    assert.deepEqual(v6.body, [prefix + 'one']);
    const legacy = await req('GET', `/channels?prefix=${encodeURIComponent(prefix)}`);
    assert.equal(legacy.body.length, 1);
    assert.equal(legacy.body[0].channelId, prefix + 'one', 'no version -> by=value');
  });

  test('GET /channels with a bad limit -> 400/40003', async () => {
    assertAblyError(assert, await req('GET', '/channels?limit=0'), 400, 40003);
    assertAblyError(assert, await req('GET', '/channels?limit=1001'), 400, 40003);
  });
});

// ---------------------------------------------------------------- CORS

describe('CORS', () => {
  const origin = 'https://app.example.com';
  const checkCors = (res, what) => {
    assert.equal(res.headers.get('access-control-allow-origin'), origin, `${what}: ACAO`);
    assert.equal(res.headers.get('access-control-allow-credentials'), 'true', `${what}: ACAC`);
  };
  const checkExpose = (res, what) => {
    const expose = (res.headers.get('access-control-expose-headers') || '').toLowerCase();
    for (const h of ['link', 'x-ably-errorcode', 'x-ably-errormessage']) {
      assert.ok(expose.includes(h), `${what}: expose ${h} in "${expose}"`);
    }
  };

  test('preflight OPTIONS on any path, without auth', async () => {
    for (const path of ['/channels/foo/messages', '/time', '/channels', '/whatever/unknown']) {
      const res = await srv.request('OPTIONS', path, {
        key: null,
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization,content-type,accept,x-ably-version,ably-agent,x-ably-clientid,x-ably-lib',
        },
      });
      assert.ok(res.status === 204 || res.status === 200, `${path}: status ${res.status}`);
      checkCors(res, `OPTIONS ${path}`);
      assert.match(res.headers.get('vary') || '', /origin/i);
      const methods = (res.headers.get('access-control-allow-methods') || '').toUpperCase();
      for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) assert.ok(methods.includes(m), `allow-methods ${m}: ${methods}`);
      const allowed = (res.headers.get('access-control-allow-headers') || '').toLowerCase();
      for (const h of ['authorization', 'content-type', 'accept', 'x-ably-version', 'ably-agent', 'x-ably-clientid', 'x-ably-lib']) {
        assert.ok(allowed.includes(h), `allow-headers ${h}: ${allowed}`);
      }
      assert.ok(res.headers.get('access-control-max-age'), 'max-age present');
    }
  });

  test('CORS headers on success responses', async () => {
    const name = chan('cors');
    const pub = await req('POST', msgsPath(name), { json: { name: 'x' }, headers: { Origin: origin } });
    assert.equal(pub.status, 201);
    checkCors(pub, 'publish');
    checkExpose(pub, 'publish');
    const h = await req('GET', msgsPath(name), { headers: { Origin: origin } });
    checkCors(h, 'history');
    checkExpose(h, 'history');
  });

  test('CORS headers on error responses', async () => {
    const res = await srv.request('GET', msgsPath(chan('cors')), { key: null, headers: { Origin: origin } });
    assertAblyError(assert, res, 401, 40101);
    checkCors(res, 'error');
    checkExpose(res, 'error');
    const nf = await req('GET', '/nope', { headers: { Origin: origin } });
    assert.equal(nf.status, 404);
    checkCors(nf, '404');
  });
});

// ---------------------------------------------------------------- idempotency

describe('idempotent publishing', () => {
  test('multi-message ids base:0, base:1 are accepted and preserved', async () => {
    const name = chan('idem-ok');
    const base = `b${Date.now()}`;
    const r = await publish(name, [{ id: `${base}:0`, data: 'x' }, { id: `${base}:1`, data: 'y' }]);
    assert.equal(r.serials.length, 2);
    const h = (await history(name, 'direction=forwards')).body;
    assert.deepEqual(h.map((m) => m.id), [`${base}:0`, `${base}:1`]);
  });

  test('base containing colons: index parsed after the last colon', async () => {
    const name = chan('idem-colon');
    const base = `x:y:${Date.now()}`;
    await publish(name, [{ id: `${base}:0`, data: 'x' }, { id: `${base}:1`, data: 'y' }]);
    const h = (await history(name, 'direction=forwards')).body;
    assert.deepEqual(h.map((m) => m.id), [`${base}:0`, `${base}:1`]);
  });

  test('bad multi-message ids -> 400/40031 and nothing stored', async () => {
    const name = chan('idem-bad');
    const cases = {
      mixed: [{ id: 'm:0', data: 'x' }, { data: 'y' }],
      'mixed-other-order': [{ data: 'x' }, { id: 'm:1', data: 'y' }],
      'wrong-index': [{ id: 'w:0', data: 'x' }, { id: 'w:2', data: 'y' }],
      'starts-at-1': [{ id: 's:1', data: 'x' }, { id: 's:2', data: 'y' }],
      'different-bases': [{ id: 'a:0', data: 'x' }, { id: 'b:1', data: 'y' }],
      'no-index': [{ id: 'plain', data: 'x' }, { id: 'plain2', data: 'y' }],
      'non-numeric-index': [{ id: 'n:zero', data: 'x' }, { id: 'n:one', data: 'y' }],
    };
    for (const [what, body] of Object.entries(cases)) {
      assertAblyError(assert, await req('POST', msgsPath(name), { json: body }), 400, 40031, what);
    }
    assert.deepEqual((await history(name)).body, [], 'failed publishes store nothing');
  });

  test('empty-string id -> 400/40031', async () => {
    const name = chan('idem-empty');
    assertAblyError(assert, await req('POST', msgsPath(name), { json: { id: '', data: 'x' } }), 400, 40031, 'single');
    assertAblyError(assert, await req('POST', msgsPath(name), { json: [{ id: '', data: 'x' }, { id: '', data: 'y' }] }), 400, 40031, 'array');
    assert.deepEqual((await history(name)).body, []);
  });

  test('single message with an arbitrary id is accepted as is', async () => {
    const name = chan('idem-single');
    await publish(name, { id: 'no-colon-id', data: 'x' });
    assert.equal((await history(name)).body[0].id, 'no-colon-id');
  });

  test('duplicate publish returns the original messageId and serials and stores nothing', async () => {
    const name = chan('idem-dup');
    const id = `dup-${Date.now()}`;
    const r1 = await publish(name, { id, name: 'n', data: 'first' });
    const r2 = await publish(name, { id, name: 'n', data: 'second' });
    assert.deepEqual(r2.serials, r1.serials);
    assert.equal(r2.messageId, r1.messageId);
    const h = (await history(name)).body;
    assert.equal(h.length, 1);
    assert.equal(h[0].data, 'first');

    const base = `dupa-${Date.now()}`;
    const arr = [{ id: `${base}:0`, data: '1' }, { id: `${base}:1`, data: '2' }];
    const a1 = await publish(name, arr);
    const a2 = await publish(name, arr, { msgpack: arr, json: undefined });
    assert.deepEqual(a2.serials, a1.serials, 'dedup also across wire formats');
    assert.equal((await history(name)).body.length, 3);
  });

  test('idempotency is scoped per channel', async () => {
    const id = `scoped-${Date.now()}`;
    const c1 = chan('idem-scope1');
    const c2 = chan('idem-scope2');
    const r1 = await publish(c1, { id, data: 'x' });
    const r2 = await publish(c2, { id, data: 'x' });
    assert.notDeepEqual(r2.serials, r1.serials);
    assert.equal((await history(c2)).body.length, 1);
  });
});

// ---------------------------------------------------------------- errors

describe('error cases', () => {
  test('malformed JSON -> 400/40001', async () => {
    const name = chan('err');
    for (const body of ['{"name":', 'not json', '{"name":"x",}', '']) {
      const res = await req('POST', msgsPath(name), { body, headers: { 'Content-Type': 'application/json' } });
      assertAblyError(assert, res, 400, 40001, `body ${JSON.stringify(body)}`);
    }
  });

  test('body of the wrong shape -> 400/40001', async () => {
    const name = chan('err');
    for (const body of ['"a string"', '42', 'null', '[1,2]', '["x"]', 'true']) {
      const res = await req('POST', msgsPath(name), { body, headers: { 'Content-Type': 'application/json' } });
      assertAblyError(assert, res, 400, 40001, `body ${body}`);
    }
  });

  test('non-string name/id/clientId/encoding -> 400', async () => {
    const name = chan('err');
    for (const body of [{ name: 5, data: 'x' }, { id: 5, data: 'x' }, { encoding: 5, data: 'x' }, { clientId: 5, data: 'x' }]) {
      const res = await req('POST', msgsPath(name), { json: body });
      const e = assertAblyError(assert, res, 400, undefined, JSON.stringify(body));
      assert.ok([40001, 40012, 40013, 40031].includes(e.code), `code ${e.code} for ${JSON.stringify(body)}`);
    }
    assert.deepEqual((await history(name)).body, []);
  });

  test('extras not an object -> 400', async () => {
    const res = await req('POST', msgsPath(chan('err')), { json: { data: 'x', extras: 'nope' } });
    const e = assertAblyError(assert, res, 400);
    assert.ok([40001, 40032].includes(e.code), `code ${e.code}`);
  });

  test('malformed msgpack -> 400/40001', async () => {
    const name = chan('err');
    const bodies = {
      'reserved byte 0xc1': Buffer.from([0xc1]),
      'truncated map': Buffer.from([0x82, 0xa1, 0x61]),
      'truncated str32': Buffer.from([0x81, 0xa4, 0x64, 0x61, 0x74, 0x61, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]),
    };
    for (const [what, body] of Object.entries(bodies)) {
      const res = await req('POST', msgsPath(name), { body, headers: { 'Content-Type': 'application/x-msgpack' } });
      assertAblyError(assert, res, 400, 40001, what);
    }
    // a msgpack scalar is not a message
    const res = await req('POST', msgsPath(name), { body: msgpack.encode(42), headers: { 'Content-Type': 'application/x-msgpack' } });
    assertAblyError(assert, res, 400, 40001, 'msgpack integer body');
  });

  test('unsupported Content-Type -> 4xx Ably error', async () => {
    const res = await req('POST', msgsPath(chan('err')), { body: '<m name="x"/>', headers: { 'Content-Type': 'application/xml' } });
    assert.ok(res.status === 400 || res.status === 415, `status ${res.status}`);
    assertAblyError(assert, res, res.status);
  });

  test('data as number / boolean -> 400/40013', async () => {
    const name = chan('err');
    for (const data of [42, 1.5, true, false]) {
      assertAblyError(assert, await req('POST', msgsPath(name), { json: { name: 'n', data } }), 400, 40013, `json data ${data}`);
      assertAblyError(assert, await req('POST', msgsPath(name), { msgpack: { name: 'n', data } }), 400, 40013, `msgpack data ${data}`);
    }
    // atomic: one bad message rejects the whole array
    assertAblyError(assert, await req('POST', msgsPath(name), { json: [{ data: 'ok' }, { data: 7 }] }), 400, 40013, 'array');
    assert.deepEqual((await history(name)).body, []);
  });

  test('message size limit: 65536 accepted, 65537 -> 413/40009', async () => {
    const name = chan('size');
    // data only: exactly at the limit
    await publish(name, { data: 'a'.repeat(65536) });
    assertAblyError(assert, await req('POST', msgsPath(name), { json: { data: 'a'.repeat(65537) } }), 413, 40009, 'data 65537');
    // name counts too
    assertAblyError(assert, await req('POST', msgsPath(name), { json: { name: 'n', data: 'a'.repeat(65536) } }), 413, 40009, 'name+data');
    // the limit is per publish: the sum over an array
    assertAblyError(assert, await req('POST', msgsPath(name), { json: [{ data: 'a'.repeat(40000) }, { data: 'b'.repeat(40000) }] }), 413, 40009, 'array sum');
    // binary counts decoded bytes, not base64 text: 60000 bytes = 80000 base64 chars is fine
    await publish(name, { data: Buffer.alloc(60000, 7).toString('base64'), encoding: 'base64' });
    // multi-byte UTF-8: 30000 x 'é' = 60000 bytes ok; 40000 x 'é' = 80000 bytes too large
    await publish(name, { data: 'é'.repeat(30000) });
    assertAblyError(assert, await req('POST', msgsPath(name), { json: { data: 'é'.repeat(40000) } }), 413, 40009, 'utf-8 bytes');
    // msgpack too
    assertAblyError(assert, await req('POST', msgsPath(name), { msgpack: { data: Buffer.alloc(65537) } }), 413, 40009, 'msgpack bin');
    const h = (await history(name, 'limit=10')).body;
    assert.equal(h.length, 3, 'only the accepted publishes were stored');
  });

  test('request body over 2 MiB -> 413 with an Ably error', async () => {
    const body = JSON.stringify({ data: 'x'.repeat(2 * 1024 * 1024 + 100) });
    const raw = Buffer.from(`POST ${msgsPath(chan('big'))} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basicAuth(FULL_KEY)}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const { data } = await rawExchange(srv.port, raw, { untilFn: (b) => parseHttpResponses(b).length > 0, timeoutMs: 10000 });
    const [res] = parseHttpResponses(data);
    assert.ok(res, `got a response: ${data.toString().slice(0, 300)}`);
    assert.equal(res.status, 413);
    assert.equal(res.headers['content-type'], 'application/json');
    const e = JSON.parse(res.body.toString()).error;
    assert.equal(e.statusCode, 413);
    assert.ok([41300, 40009].includes(e.code), `code ${e.code}`);
    assert.equal(res.headers['x-ably-errorcode'], String(e.code));
  });

  test('invalid channel names -> 400/40010', async () => {
    const bad = ['', ':x', '[foo]bar', '[foo', 'a\nb', 'a\rb', '[meta'];
    for (const name of bad) {
      const label = JSON.stringify(name);
      assertAblyError(assert, await req('POST', msgsPath(name), { json: { data: 'x' } }), 400, 40010, `POST ${label}`);
      assertAblyError(assert, await req('GET', msgsPath(name)), 400, 40010, `GET history ${label}`);
      if (name !== '') {
        assertAblyError(assert, await req('GET', `/channels/${encodeURIComponent(name)}`), 400, 40010, `GET details ${label}`);
      }
    }
  });

  test('NUL in a channel name does not alias another channel', async () => {
    const base = chan('nul');
    const name = `${base}\u0000suffix`;
    const res = await req('POST', msgsPath(name), { json: { name: 'n', data: 'in the NUL channel' } });
    if (res.status === 201) {
      assert.equal(res.body.channel, name, 'channel in the publish response is the full name');
      assert.deepEqual((await history(base)).body, [], `publishing to ${JSON.stringify(name)} must not land in ${JSON.stringify(base)}`);
      assert.equal((await history(name)).body.length, 1);
    } else {
      const e = assertAblyError(assert, res, 400, undefined, 'NUL channel name');
      assert.ok([40010, 40000].includes(e.code), `NUL channel name: code ${e.code}`);
    }
  });

  test('invalid UTF-8 in a channel name -> 400, and enumeration still works', async () => {
    for (const [m, p] of [['POST', '/channels/bad%FFname/messages'], ['GET', '/channels/bad%FFname/messages'], ['GET', '/channels/bad%C3name']]) {
      const res = await req(m, p, m === 'POST' ? { json: { data: 'x' } } : {});
      const e = assertAblyError(assert, res, 400, undefined, `${m} ${p}`);
      assert.ok([40010, 40000].includes(e.code), `${m} ${p}: code ${e.code}`);
    }
    const en = await req('GET', '/channels?by=id&limit=1000');
    assert.equal(en.status, 200, `enumeration after invalid names: ${en.status} ${en.raw}`);
    const en2 = await req('GET', '/channels?by=value&limit=1000');
    assert.equal(en2.status, 200, `enumeration by=value after invalid names: ${en2.status} ${en2.raw}`);
  });

  test('NUL inside message string fields round trips or is rejected, never truncated', async () => {
    const name = chan('nulfield');
    const res = await req('POST', msgsPath(name), { body: '{"name":"a\\u0000b","data":"c\\u0000d","clientId":"e\\u0000f"}', headers: { 'Content-Type': 'application/json' } });
    if (res.status === 201) {
      for (const accept of ['json', 'msgpack']) {
        const m = (await history(name, '', { accept })).body[0];
        assert.equal(m.name, 'a\u0000b', `name over ${accept}`);
        assert.equal(m.data, 'c\u0000d', `data over ${accept}`);
        assert.equal(m.clientId, 'e\u0000f', `clientId over ${accept}`);
      }
    } else {
      assertAblyError(assert, res, 400, undefined, 'NUL in string fields');
      assert.deepEqual((await history(name)).body, []);
    }
  });

  test('bad cursor -> 400/40003', async () => {
    const name = chan('cursor');
    await publish(name, { data: 'x' });
    assertAblyError(assert, await req('GET', msgsPath(name, 'cursor=garbage')), 400, 40003, 'history cursor=garbage');
  });

  test('bad limit -> 400/40003', async () => {
    const name = chan('err');
    for (const limit of ['0', '1001', 'abc', '-1', '10abc']) {
      assertAblyError(assert, await req('GET', msgsPath(name, `limit=${limit}`)), 400, 40003, `limit=${limit}`);
    }
    assert.equal((await req('GET', msgsPath(name, 'limit=1000'))).status, 200);
    assert.equal((await req('GET', msgsPath(name, 'limit=1'))).status, 200);
  });

  test('bad direction, start, end -> 400/40003', async () => {
    const name = chan('err');
    assertAblyError(assert, await req('GET', msgsPath(name, 'direction=sideways')), 400, 40003, 'direction');
    assertAblyError(assert, await req('GET', msgsPath(name, 'start=2000&end=1000')), 400, 40003, 'start > end');
    assertAblyError(assert, await req('GET', msgsPath(name, 'start=abc')), 400, 40003, 'start=abc');
    assertAblyError(assert, await req('GET', msgsPath(name, 'end=x1')), 400, 40003, 'end=x1');
    assert.equal((await req('GET', msgsPath(name, 'start=1000&end=1000'))).status, 200, 'start == end is fine');
    assert.equal((await req('GET', msgsPath(name, 'direction=forwards'))).status, 200);
  });

  test('unknown route -> 404/40400', async () => {
    for (const [m, p] of [['GET', '/nope'], ['GET', '/channels/x/nope'], ['POST', '/nope/deeper'], ['GET', '/channels/x/messages/a/b/c/d']]) {
      assertAblyError(assert, await req(m, p), 404, 40400, `${m} ${p}`);
    }
  });

  test('wrong method on a known path -> 405/40500', async () => {
    for (const [m, p] of [['DELETE', '/channels/x/messages'], ['PUT', '/channels/x/messages'], ['POST', '/time'], ['DELETE', '/channels']]) {
      assertAblyError(assert, await req(m, p), 405, 40500, `${m} ${p}`);
    }
  });

  test('authentication failures', async () => {
    const name = chan('auth');
    assertAblyError(assert, await srv.request('GET', msgsPath(name), { key: null }), 401, 40101, 'no credentials GET');
    assertAblyError(assert, await srv.request('POST', msgsPath(name), { key: null, json: { data: 'x' } }), 401, 40101, 'no credentials POST');
    assertAblyError(assert, await srv.request('GET', '/channels', { key: null }), 401, 40101, 'no credentials enumeration');
    assertAblyError(assert, await srv.request('GET', `/channels/${name}`, { key: null }), 401, 40101, 'no credentials status');
    assertAblyError(assert, await srv.request('GET', msgsPath(name), { key: 'testapp.full:wrong' }), 401, 40101, 'wrong secret');
    assertAblyError(assert, await srv.request('GET', msgsPath(name, `key=${encodeURIComponent('testapp.full:wrong')}`), { key: null }), 401, 40101, 'wrong secret ?key=');
    const unknownKey = assertAblyError(assert, await srv.request('GET', msgsPath(name), { key: 'testapp.nokey:secret' }), 401, undefined, 'unknown key');
    assert.ok([40400, 40130, 40101].includes(unknownKey.code), `unknown key code ${unknownKey.code}`);
    assertAblyError(assert, await srv.request('GET', msgsPath(name), { key: 'noapp.nokey:secret' }), 404, 40400, 'unknown app');
    const garbled = await srv.request('GET', msgsPath(name), { key: null, headers: { Authorization: 'Basic !!!notbase64' } });
    assert.ok(garbled.status === 400 || garbled.status === 401, `garbled Basic: ${garbled.status}`);
    assertAblyError(assert, garbled, garbled.status, garbled.status === 400 ? 40005 : undefined, 'garbled Basic');
    const nocolon = await srv.request('GET', msgsPath(name), { key: null, headers: { Authorization: 'Basic ' + Buffer.from('justaname').toString('base64') } });
    assert.ok(nocolon.status === 400 || nocolon.status === 401, `Basic without colon: ${nocolon.status}`);
    assertAblyError(assert, nocolon, nocolon.status);
    const e = assertAblyError(assert, await srv.request('GET', msgsPath(name), { key: null, accept: 'msgpack' }), 401, 40101, 'msgpack 401');
    assert.ok(e.code < 40140 || e.code >= 40150, 'never a token error code for Basic failures');
    assert.deepEqual((await history(name)).body, []);
  });

  test('capability denial -> 401/40160', async () => {
    const name = chan('cap');
    assertAblyError(assert, await req('POST', msgsPath(name), { key: PUB_KEY, json: { data: 'x' } }), 401, 40160, 'publish');
    const ok = `pubonly:${name}`;
    assert.equal((await req('POST', msgsPath(ok), { key: PUB_KEY, json: { data: 'x' } })).status, 201);
    assertAblyError(assert, await req('GET', msgsPath(ok), { key: PUB_KEY }), 401, 40160, 'history');
    assertAblyError(assert, await req('GET', `/channels/${encodeURIComponent(ok)}`, { key: PUB_KEY }), 401, 40160, 'status');
    assertAblyError(assert, await req('GET', '/channels', { key: PUB_KEY }), 401, 40160, 'enumeration');
    assert.deepEqual((await history(name)).body, []);
  });

  test('clientId mismatch with X-Ably-ClientId -> 400/40012', async () => {
    const name = chan('cid');
    const headers = { 'X-Ably-ClientId': Buffer.from('carol').toString('base64') };
    assertAblyError(assert, await req('POST', msgsPath(name), { json: { data: 'x', clientId: 'dave' }, headers }), 400, 40012, 'mismatch');
    assertAblyError(assert, await req('POST', msgsPath(name), { json: { data: 'x', clientId: '*' } }), 400, 40012, 'wildcard clientId on message');
    await publish(name, { data: 'y' }, { headers });
    const h = (await history(name)).body;
    assert.equal(h.length, 1);
    assert.equal(h[0].clientId, 'carol', 'clientId filled from X-Ably-ClientId');
  });

  test('_forceNack=true -> 400/40099', async () => {
    const name = chan('nack');
    assertAblyError(assert, await req('POST', msgsPath(name, '_forceNack=true'), { json: { data: 'x' } }), 400, 40099);
    assert.deepEqual((await history(name)).body, []);
  });

  test('header section over 32 KiB -> 431', async () => {
    const big = 'x'.repeat(40 * 1024);
    const raw = `GET /time HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${big}\r\n\r\n`;
    const { data } = await rawExchange(srv.port, raw, { untilFn: (b) => parseHttpResponses(b).length > 0 });
    const [res] = parseHttpResponses(data);
    assert.ok(res, `a response was sent: ${JSON.stringify(data.toString().slice(0, 200))}`);
    assert.equal(res.status, 431);
  });

  test('many headers adding up over 32 KiB -> 431', async () => {
    let hdrs = '';
    for (let i = 0; i < 400; i++) hdrs += `X-H${i}: ${'y'.repeat(100)}\r\n`;
    const raw = `GET /time HTTP/1.1\r\nHost: 127.0.0.1\r\n${hdrs}\r\n`;
    const { data } = await rawExchange(srv.port, raw, { untilFn: (b) => parseHttpResponses(b).length > 0 });
    const [res] = parseHttpResponses(data);
    assert.ok(res, 'a response was sent');
    assert.equal(res.status, 431);
  });

  test('garbage request line gets a 400 (or a close), not a crash', async () => {
    const { data, why } = await rawExchange(srv.port, 'THIS IS NOT HTTP\r\n\r\n');
    if (data.length) assert.match(data.toString('latin1'), /^HTTP\/1\.1 4\d\d/, `response ${data.toString().slice(0, 100)}`);
    else assert.ok(['end', 'close', 'error'].includes(why), `connection closed, got ${why}`);
  });
});

// ---------------------------------------------------------------- still alive

describe('after the error cases', () => {
  test('the server still answers normally', async () => {
    assert.ok(srv.isRunning(), 'server process still running');
    const t = await srv.request('GET', '/time', { key: null });
    assert.equal(t.status, 200);
    const name = chan('alive');
    await publish(name, { name: 'still', data: 'alive' });
    assert.equal((await history(name)).body[0].data, 'alive');
  });

  test('keep-alive connection with pipelined requests answers in order', async () => {
    const name = chan('pipe');
    const body = JSON.stringify({ name: 'piped', data: 'p' });
    const auth = basicAuth(FULL_KEY);
    const raw =
      `GET /time HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n` +
      `POST ${msgsPath(name)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` +
      `GET ${msgsPath(name)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth}\r\n\r\n` +
      `GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth}\r\n\r\n` +
      `GET /time HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    const { data } = await rawExchange(srv.port, raw, { untilFn: (b) => parseHttpResponses(b).length >= 5 });
    const res = parseHttpResponses(data);
    assert.equal(res.length, 5, `five responses on one connection: ${data.toString().slice(0, 2000)}`);
    assert.deepEqual(res.map((r) => r.status), [200, 201, 200, 404, 200]);
    assert.ok(Array.isArray(JSON.parse(res[0].body.toString())));
    const pub = JSON.parse(res[1].body.toString());
    assert.equal(pub.channel, name);
    const hist = JSON.parse(res[2].body.toString());
    assert.equal(hist.length, 1);
    assert.equal(hist[0].name, 'piped');
    assert.equal(hist[0].serial, pub.serials[0]);
    assert.equal(JSON.parse(res[3].body.toString()).error.code, 40400);
  });

  test('requests split across several TCP writes are reassembled', async () => {
    const name = chan('split');
    const body = JSON.stringify({ name: 'split', data: 's' });
    const raw = `POST ${msgsPath(name)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basicAuth(FULL_KEY)}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
    const net = await import('node:net');
    const data = await new Promise((resolve, reject) => {
      const s = net.connect(srv.port, '127.0.0.1');
      let buf = Buffer.alloc(0);
      s.on('connect', async () => {
        s.setNoDelay(true);
        for (let i = 0; i < raw.length; i += 7) { s.write(raw.slice(i, i + 7)); await sleep(1); }
      });
      s.on('data', (d) => { buf = Buffer.concat([buf, d]); });
      s.on('close', () => resolve(buf));
      s.on('error', reject);
      setTimeout(() => { s.destroy(); resolve(buf); }, 5000);
    });
    const [res] = parseHttpResponses(data);
    assert.equal(res?.status, 201, data.toString());
    assert.equal((await history(name)).body[0].data, 's');
  });

  test('server still running at the end', async () => {
    assert.ok(srv.isRunning());
    assert.equal((await srv.request('GET', '/time', { key: null })).status, 200);
  });
});
