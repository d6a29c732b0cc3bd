// REST foundation through the official ably-js SDK (Ably.Rest), for both the
// JSON and the MessagePack protocol.

import assert from 'node:assert/strict';
import { messagesEncodingFixtures } from './lib/fixtures.mjs';
import {
  startServer, test, describe, before, after, uniqueChannel, sleep, request,
} from './lib/server.mjs';
import { PROTOCOLS } from './lib/realtime.mjs';

const FULL_KEY = 'testapp.full:secretfull';
const PUB_KEY = 'testapp.pub:secretpub';
const CONFIG = {
  apps: [{
    id: 'testapp',
    keys: [
      { key: FULL_KEY, capability: { '*': ['*'] } },
      // capability given as JSON text on purpose
      { key: PUB_KEY, capability: '{"pubonly:*":["publish"]}' },
    ],
    namespaces: [{ id: 'persisted', persisted: true }],
  }],
};

const fixtures = messagesEncodingFixtures();

let srv;
before(async () => { srv = await startServer({ config: CONFIG, env: { HERALD_KEY: null } }); });
after(async () => { if (srv) await srv.stop(); });

async function allHistory(channel, params) {
  const items = [];
  let page = await channel.history(params);
  while (page) {
    items.push(...page.items);
    page = await page.next();
  }
  return items;
}

async function expectAblyError(promise, statusCode, code) {
  let err;
  try {
    const r = await promise;
    assert.fail(`expected error ${statusCode}/${code}, got success ${JSON.stringify(r)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  assert.equal(err.code, code, `error code (${err.message})`);
  assert.equal(err.statusCode, statusCode, `statusCode (${err.message})`);
  return err;
}

for (const proto of PROTOCOLS) {
  describe(`Ably.Rest over ${proto.name}`, () => {
    const rest = (opts = {}) => srv.rest({ binary: proto.binary, key: FULL_KEY, ...opts });
    const chan = (p) => uniqueChannel(`sdk-${proto.name}-${p}`);

    test('time() returns the server time in ms', async () => {
      const before_ = Date.now();
      const t = await rest().time();
      const after_ = Date.now();
      assert.equal(typeof t, 'number');
      assert.ok(Number.isInteger(t), `integer time: ${t}`);
      assert.ok(t >= before_ - 5000 && t <= after_ + 5000, `time ${t} not near local ${before_}..${after_}`);
    });

    test('publish a single message (name + string data) and read it back', async () => {
      const client = rest();
      const ch = client.channels.get(chan('single'));
      const t0 = Date.now();
      const res = await ch.publish('greeting', 'hello world');
      assert.ok(res && Array.isArray(res.serials), `publish result has serials: ${JSON.stringify(res)}`);
      assert.equal(res.serials.length, 1);
      assert.equal(typeof res.serials[0], 'string');
      const page = await ch.history();
      assert.equal(page.items.length, 1);
      const m = page.items[0];
      assert.equal(m.name, 'greeting');
      assert.equal(m.data, 'hello world');
      assert.ok(!m.encoding, `no residual encoding: ${m.encoding}`);
      assert.equal(typeof m.id, 'string');
      assert.match(m.id, /^.+:0$/, 'SDK-generated idempotent id <base>:0 preserved');
      assert.equal(typeof m.timestamp, 'number');
      assert.ok(m.timestamp >= t0 - 5000 && m.timestamp <= Date.now() + 5000, `timestamp ${m.timestamp}`);
      assert.equal(m.serial, res.serials[0], 'history serial equals publish serial');
      assert.equal(m.action, 'message.create');
      assert.equal(page.hasNext(), false);
      assert.equal(page.isLast(), true);
      assert.equal(await page.next(), null);
    });

    test('publish a message object and an array of messages', async () => {
      const client = rest();
      const ch = client.channels.get(chan('array'));
      await ch.publish({ name: 'obj', data: 'o' });
      const res = await ch.publish([
        { name: 'a', data: 'A' },
        { name: 'b', data: 'B' },
        { name: 'c', data: 'C' },
      ]);
      assert.equal(res.serials.length, 3);
      assert.equal(new Set(res.serials).size, 3, 'serials are distinct');
      const page = await ch.history({ direction: 'forwards' });
      assert.deepEqual(page.items.map((m) => m.name), ['obj', 'a', 'b', 'c']);
      assert.deepEqual(page.items.map((m) => m.data), ['o', 'A', 'B', 'C']);
      const arr = page.items.slice(1);
      assert.deepEqual(arr.map((m) => m.serial), res.serials, 'serials in publish order');
      // one publish => one timestamp, and a shared id base with index suffixes
      assert.equal(new Set(arr.map((m) => m.timestamp)).size, 1, 'array publish shares one timestamp');
      const base = arr[0].id.replace(/:0$/, '');
      assert.deepEqual(arr.map((m) => m.id), [`${base}:0`, `${base}:1`, `${base}:2`]);
      // backwards returns newest first, ties broken by serial
      const back = await ch.history();
      assert.deepEqual(back.items.map((m) => m.name), ['c', 'b', 'a', 'obj']);
    });

    test('history paginates in both directions (25 messages, limit 10)', async () => {
      const client = rest();
      const ch = client.channels.get(chan('pages'));
      for (let i = 0; i < 25; i++) await ch.publish(`m${i}`, `d${i}`);

      // backwards (default)
      let page = await ch.history({ limit: 10 });
      assert.deepEqual(page.items.map((m) => m.name), Array.from({ length: 10 }, (_, i) => `m${24 - i}`));
      assert.equal(page.hasNext(), true);
      assert.equal(page.isLast(), false);
      const firstPage = page;
      page = await page.next();
      assert.deepEqual(page.items.map((m) => m.name), Array.from({ length: 10 }, (_, i) => `m${14 - i}`));
      assert.equal(page.hasNext(), true);
      page = await page.next();
      assert.deepEqual(page.items.map((m) => m.name), ['m4', 'm3', 'm2', 'm1', 'm0']);
      assert.equal(page.hasNext(), false);
      assert.equal(page.isLast(), true);
      assert.equal(await page.next(), null);
      // first() goes back to the first page
      const again = await page.first();
      assert.deepEqual(again.items.map((m) => m.name), firstPage.items.map((m) => m.name));

      // forwards
      page = await ch.history({ limit: 10, direction: 'forwards' });
      assert.deepEqual(page.items.map((m) => m.name), Array.from({ length: 10 }, (_, i) => `m${i}`));
      assert.equal(page.hasNext(), true);
      page = await page.next();
      assert.deepEqual(page.items.map((m) => m.name), Array.from({ length: 10 }, (_, i) => `m${10 + i}`));
      page = await page.next();
      assert.deepEqual(page.items.map((m) => m.name), ['m20', 'm21', 'm22', 'm23', 'm24']);
      assert.equal(page.isLast(), true);
      assert.equal(await page.next(), null);

      // exact multiple of limit: last page must not advertise an empty next page
      page = await ch.history({ limit: 5, direction: 'forwards' });
      let pages = 1;
      while (page.hasNext()) { page = await page.next(); pages++; assert.equal(page.items.length, 5); }
      assert.equal(pages, 5);
      assert.equal(page.items[4].name, 'm24');

      // all items, no duplicates, strictly ordered
      const all = await allHistory(ch, { limit: 7 });
      assert.deepEqual(all.map((m) => m.name), Array.from({ length: 25 }, (_, i) => `m${24 - i}`));
    });

    test('history start/end bounds are inclusive', async () => {
      const client = rest();
      const ch = client.channels.get(chan('bounds'));
      for (let i = 0; i < 5; i++) {
        await ch.publish(`b${i}`, `x${i}`);
        await sleep(5);
      }
      const all = (await ch.history({ direction: 'forwards' })).items;
      assert.deepEqual(all.map((m) => m.name), ['b0', 'b1', 'b2', 'b3', 'b4']);
      const ts = all.map((m) => m.timestamp);
      for (let i = 1; i < ts.length; i++) assert.ok(ts[i] > ts[i - 1], `distinct increasing timestamps ${ts}`);

      let page = await ch.history({ start: ts[1], end: ts[3], direction: 'forwards' });
      assert.deepEqual(page.items.map((m) => m.name), ['b1', 'b2', 'b3']);
      page = await ch.history({ start: ts[1], end: ts[3] });
      assert.deepEqual(page.items.map((m) => m.name), ['b3', 'b2', 'b1']);
      page = await ch.history({ start: ts[4] });
      assert.deepEqual(page.items.map((m) => m.name), ['b4']);
      page = await ch.history({ end: ts[0] });
      assert.deepEqual(page.items.map((m) => m.name), ['b0']);
      page = await ch.history({ end: ts[0] - 1 });
      assert.deepEqual(page.items, []);
      // bounds with paging: the next page keeps the bounds
      page = await ch.history({ start: ts[1], end: ts[3], limit: 2, direction: 'forwards' });
      assert.deepEqual(page.items.map((m) => m.name), ['b1', 'b2']);
      assert.equal(page.hasNext(), true);
      page = await page.next();
      assert.deepEqual(page.items.map((m) => m.name), ['b3']);
      assert.equal(page.isLast(), true);
    });

    test('channel.status() returns ChannelDetails', async () => {
      const client = rest();
      const name = chan('status');
      const ch = client.channels.get(name);
      await ch.publish('e', 'd');
      const details = await ch.status();
      assert.equal(details.channelId, name);
      assert.equal(details.status.isActive, true);
      const metrics = details.status.occupancy.metrics;
      for (const f of ['connections', 'presenceConnections', 'presenceMembers', 'presenceSubscribers',
        'publishers', 'subscribers', 'objectPublishers', 'objectSubscribers']) {
        assert.equal(typeof metrics[f], 'number', `metrics.${f} is a number`);
        assert.ok(metrics[f] >= 0);
      }
      // status of a never-used channel also succeeds
      const fresh = await client.channels.get(chan('status-fresh')).status();
      assert.equal(fresh.status.isActive, true);
    });

    test('binary data (Buffer) round trip, also read by the other protocol', async () => {
      const client = rest();
      const name = chan('binary');
      const ch = client.channels.get(name);
      const bytes = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x10, 0x80]);
      await ch.publish('bin', bytes);
      await ch.publish('empty-bin', Buffer.alloc(0));
      for (const readBinary of [proto.binary, !proto.binary]) {
        const reader = srv.rest({ binary: readBinary, key: FULL_KEY });
        const items = (await reader.channels.get(name).history({ direction: 'forwards' })).items;
        assert.equal(items.length, 2);
        const m = items[0];
        assert.ok(Buffer.isBuffer(m.data) || m.data instanceof Uint8Array, `binary data read as bytes (reader binary=${readBinary}): ${typeof m.data} ${JSON.stringify(m.data)}`);
        assert.equal(Buffer.from(m.data).toString('hex'), bytes.toString('hex'));
        assert.ok(!m.encoding, `no residual encoding: ${m.encoding}`);
      }
    });

    test('JSON object and array data round trip', async () => {
      const client = rest();
      const name = chan('jsondata');
      const ch = client.channels.get(name);
      const obj = { foo: 42, bar: ['a', 1.5, { boo: 'ha', t: true, n: null }], s: 'ünïcødé ✓' };
      const arr = [{ x: 1 }, 'y', 3];
      await ch.publish('obj', obj);
      await ch.publish('arr', arr);
      await ch.publish('jsonish-string', '{"foo":42}');
      for (const readBinary of [proto.binary, !proto.binary]) {
        const reader = srv.rest({ binary: readBinary, key: FULL_KEY });
        const items = (await reader.channels.get(name).history({ direction: 'forwards' })).items;
        assert.deepEqual(items[0].data, obj);
        assert.deepEqual(items[1].data, arr);
        assert.equal(items[2].data, '{"foo":42}', 'a JSON-looking string stays a string');
        for (const m of items) assert.ok(!m.encoding, `no residual encoding: ${m.encoding}`);
      }
    });

    test('unicode name and string data round trip', async () => {
      const client = rest();
      const ch = client.channels.get(chan('unicode'));
      await ch.publish('名前 🚀', 'données — 日本語 🎉');
      const m = (await ch.history()).items[0];
      assert.equal(m.name, '名前 🚀');
      assert.equal(m.data, 'données — 日本語 🎉');
    });

    test('idempotent republish with an explicit id stores one message', async () => {
      const client = rest();
      const ch = client.channels.get(chan('idem'));
      const id = `idem-${proto.name}-${Date.now()}`;
      const r1 = await ch.publish({ id, name: 'once', data: 'first' });
      const r2 = await ch.publish({ id, name: 'once', data: 'second' });
      const r3 = await ch.publish({ id, name: 'once', data: 'third' });
      assert.deepEqual(r2.serials, r1.serials, 'duplicate publish returns the original serials');
      assert.deepEqual(r3.serials, r1.serials);
      const items = (await ch.history()).items;
      assert.equal(items.length, 1, `one message stored, got ${items.length}`);
      assert.equal(items[0].id, id);
      assert.equal(items[0].data, 'first');
      // a different id is a different message
      await ch.publish({ id: id + '-other', name: 'twice', data: 'x' });
      assert.equal((await ch.history()).items.length, 2);
    });

    test('idempotent republish of an array with explicit base:index ids', async () => {
      const client = rest();
      const ch = client.channels.get(chan('idem-arr'));
      const base = `arrbase${proto.name}${Date.now()}`;
      const msgs = [0, 1, 2].map((i) => ({ id: `${base}:${i}`, name: `n${i}`, data: `d${i}` }));
      const r1 = await ch.publish(msgs);
      const r2 = await ch.publish(msgs);
      assert.deepEqual(r2.serials, r1.serials);
      const items = (await ch.history({ direction: 'forwards' })).items;
      assert.deepEqual(items.map((m) => m.id), msgs.map((m) => m.id));
    });

    test('publish to a channel without publish capability fails with 401/40160', async () => {
      const client = rest({ key: PUB_KEY });
      await expectAblyError(client.channels.get(chan('forbidden')).publish('e', 'd'), 401, 40160);
      // allowed channel works
      const okName = `pubonly:${chan('ok')}`;
      await client.channels.get(okName).publish('e', 'd');
      // but history needs the history capability
      await expectAblyError(client.channels.get(okName).history(), 401, 40160);
      // the message was stored (read with the full key)
      const items = (await rest().channels.get(okName).history()).items;
      assert.equal(items.length, 1);
      // nothing was stored on the forbidden channel
      // (the forbidden channel name differs each call, so check a fixed one)
      const fixed = chan('forbidden-fixed');
      await expectAblyError(client.channels.get(fixed).publish('e', 'd'), 401, 40160);
      assert.equal((await rest().channels.get(fixed).history()).items.length, 0);
    });

    test('wrong secret and unknown key are rejected', async () => {
      await expectAblyError(rest({ key: 'testapp.full:wrongsecret' }).channels.get(chan('x')).publish('e', 'd'), 401, 40101);
      let err;
      try { await rest({ key: 'testapp.nosuchkey:secret' }).channels.get(chan('x')).history(); } catch (e) { err = e; }
      assert.ok(err, 'unknown key must fail');
      assert.equal(err.statusCode, 401, `unknown key status (${err.message})`);
      assert.ok([40400, 40130, 40101].includes(err.code), `unknown key code ${err.code}`);
    });

    test('clientId round trip (explicit on message and from ClientOptions)', async () => {
      const name = chan('clientid');
      const anon = rest();
      await anon.channels.get(name).publish({ name: 'explicit', data: 'd', clientId: 'alice' });
      const identified = rest({ clientId: 'carol' });
      await identified.channels.get(name).publish('implicit', 'd');
      await identified.channels.get(name).publish({ name: 'same', data: 'd', clientId: 'carol' });
      const items = (await anon.channels.get(name).history({ direction: 'forwards' })).items;
      assert.deepEqual(items.map((m) => [m.name, m.clientId]),
        [['explicit', 'alice'], ['implicit', 'carol'], ['same', 'carol']]);
      // identified client publishing as someone else -> 400/40012
      await expectAblyError(identified.channels.get(name).publish({ name: 'other', data: 'd', clientId: 'dave' }), 400, 40012);
      assert.equal((await anon.channels.get(name).history()).items.length, 3);
    });

    test('extras round trip', async () => {
      const client = rest();
      const ch = client.channels.get(chan('extras'));
      const extras = { headers: { 'some-key': 'some-value', n: '1' }, custom: { nested: [1, 2, { a: 'b' }] } };
      await ch.publish({ name: 'ex', data: 'd', extras });
      for (const readBinary of [proto.binary, !proto.binary]) {
        const reader = srv.rest({ binary: readBinary, key: FULL_KEY });
        const m = (await reader.channels.get(ch.name).history()).items[0];
        assert.deepEqual(m.extras, extras);
      }
    });

    test('message with no data and no name round trips', async () => {
      const client = rest();
      const ch = client.channels.get(chan('nodata'));
      await ch.publish({ name: 'only-name' });
      await ch.publish({ data: 'only-data' });
      const items = (await ch.history({ direction: 'forwards' })).items;
      assert.equal(items.length, 2);
      assert.equal(items[0].name, 'only-name');
      assert.ok(items[0].data === undefined || items[0].data === null, `no data: ${JSON.stringify(items[0].data)}`);
      assert.ok(items[1].name === undefined || items[1].name === null, `no name: ${JSON.stringify(items[1].name)}`);
      assert.equal(items[1].data, 'only-data');
    });

    test('channel names needing percent-encoding work', async () => {
      const client = rest();
      const name = `enc:${chan('a/b c?d#e%f')}`;
      const ch = client.channels.get(name);
      await ch.publish('e', 'd');
      const items = (await ch.history()).items;
      assert.equal(items.length, 1);
      assert.equal((await ch.status()).channelId, name);
    });

    test('messages-encoding.json fixtures posted raw (JSON) decode correctly', async () => {
      const name = chan('fixtures');
      for (const [i, f] of fixtures.entries()) {
        const msg = { name: `fixture-${i}`, data: f.data };
        if (f.encoding) msg.encoding = f.encoding;
        const res = await request(srv.url, 'POST', `/channels/${encodeURIComponent(name)}/messages`, { key: FULL_KEY, json: msg });
        assert.equal(res.status, 201, `raw publish of fixture ${i}: ${res.raw}`);
      }
      const items = (await rest().channels.get(name).history({ direction: 'forwards' })).items;
      assert.equal(items.length, fixtures.length);
      for (const [i, f] of fixtures.entries()) {
        const m = items[i];
        assert.equal(m.name, `fixture-${i}`);
        assert.ok(!m.encoding, `fixture ${i}: no residual encoding (${m.encoding})`);
        switch (f.expectedType) {
          case 'string':
            assert.equal(typeof m.data, 'string', `fixture ${i} type`);
            assert.equal(m.data, f.expectedValue);
            break;
          case 'jsonObject':
            assert.ok(m.data && typeof m.data === 'object' && !Array.isArray(m.data), `fixture ${i} object`);
            assert.deepEqual(m.data, f.expectedValue);
            break;
          case 'jsonArray':
            assert.ok(Array.isArray(m.data), `fixture ${i} array`);
            assert.deepEqual(m.data, f.expectedValue);
            break;
          case 'binary':
            assert.ok(Buffer.isBuffer(m.data) || m.data instanceof Uint8Array, `fixture ${i} binary`);
            assert.equal(Buffer.from(m.data).toString('hex'), f.expectedHexValue);
            break;
          default:
            assert.fail(`unknown expectedType ${f.expectedType}`);
        }
      }
    });

    test('messages-encoding.json fixtures published by the SDK read back identically', async () => {
      const name = chan('fixtures-sdk');
      const ch = rest().channels.get(name);
      const values = fixtures.map((f) => (f.expectedType === 'binary' ? Buffer.from(f.expectedHexValue, 'hex') : f.expectedValue));
      for (const [i, v] of values.entries()) await ch.publish(`f${i}`, v);
      // raw JSON view: the wire form matches the fixture's data/encoding
      const raw = await request(srv.url, 'GET', `/channels/${encodeURIComponent(name)}/messages?direction=forwards`, { key: FULL_KEY, accept: 'json' });
      assert.equal(raw.status, 200);
      assert.equal(raw.body.length, fixtures.length);
      for (const [i, f] of fixtures.entries()) {
        const m = raw.body[i];
        assert.equal(m.encoding ?? null, f.encoding, `fixture ${i} encoding over JSON`);
        if (f.encoding === 'json') assert.deepEqual(JSON.parse(m.data), f.expectedValue);
        else assert.equal(m.data, f.data, `fixture ${i} data over JSON`);
      }
      const items = (await ch.history({ direction: 'forwards' })).items;
      for (const [i, v] of values.entries()) {
        if (Buffer.isBuffer(v)) assert.equal(Buffer.from(items[i].data).toString('hex'), v.toString('hex'));
        else assert.deepEqual(items[i].data, v);
      }
    });

    test('rest.request() enumerates channels', async () => {
      const client = rest();
      const prefix = `enum-${proto.name}-${Date.now()}-`;
      for (const s of ['a', 'b', 'c']) await client.channels.get(prefix + s).publish('e', 'd');
      const res = await client.request('get', '/channels', 3, { prefix, limit: 2 });
      assert.equal(res.statusCode, 200);
      assert.equal(res.success, true);
      const got = [...res.items];
      assert.equal(got.length, 2);
      assert.equal(res.hasNext(), true);
      const next = await res.next();
      got.push(...next.items);
      assert.equal(next.hasNext(), false);
      assert.deepEqual(got.slice().sort(), [prefix + 'a', prefix + 'b', prefix + 'c']);
    });
  });
}
