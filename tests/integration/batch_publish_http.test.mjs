// Batch publish, POST /messages, over raw HTTP: every request and response
// example of seed 002 (field by field), the current BatchResult form
// (X-Ably-Version >= 3, rest.md §12.2), the limits (100 distinct channels,
// 2 MiB bodies, atomic specs under the message size limit), per-channel
// capabilities, and whole-request failures, with JSON and msgpack bodies.

import assert from 'node:assert/strict';
import {
  startServer, test, describe, before, after, uniqueChannel, basicAuth,
  assertAblyError, rawExchange, parseHttpResponses,
} from './lib/server.mjs';
import { makeJwt, bearer } from './lib/auth.mjs';
import {
  assertErrorInfo, assertFailureItem, assertPartialFailure, assertBatchResult,
  CAPABILITY_MESSAGE, BATCH_CONFIG, FULL_KEY, SEED_KEY, LIMITED_KEY,
} from './lib/batch.mjs';

const MAX_BODY = 2 * 1024 * 1024;

let srv;
before(async () => { srv = await startServer({ config: BATCH_CONFIG, env: { HERALD_KEY: null } }); });
after(async () => { if (srv) await srv.stop(); });

const FORMATS = [
  { name: 'json', body: (v) => ({ json: v }), accept: 'json' },
  { name: 'msgpack', body: (v) => ({ msgpack: v }), accept: 'msgpack' },
];

async function history(name) {
  const res = await srv.request('GET', `/channels/${encodeURIComponent(name)}/messages?direction=forwards`, { key: FULL_KEY });
  assert.equal(res.status, 200, `history of ${name}: ${res.raw}`);
  return res.body;
}

/** The seed's success item {channel, messageId} and its published messages. */
async function assertPublished(item, channel, datas) {
  assert.deepEqual(Object.keys(item).sort(), ['channel', 'messageId'], `seed success item ${JSON.stringify(item)}`);
  assert.equal(item.channel, channel);
  assert.equal(typeof item.messageId, 'string');
  const mine = (await history(channel)).filter((m) => m.id.startsWith(`${item.messageId}:`));
  assert.deepEqual(mine.map((m) => m.data), datas, `messages of ${item.messageId} on ${channel}`);
  assert.deepEqual(mine.map((m) => m.id), datas.map((_, i) => `${item.messageId}:${i}`));
}

for (const f of FORMATS) {
  const post = (body, opts = {}) => srv.request('POST', '/messages', { key: FULL_KEY, accept: f.accept, ...f.body(body), ...opts });
  const chan = (p) => uniqueChannel(`bp-${f.name}-${p}`);

  describe(`POST /messages, ${f.name} bodies`, () => {
    // ---- the seed's examples ------------------------------------------------

    test('seed curl example: two channels, one message -> 201 [{channel, messageId}]', async () => {
      const [a, b] = [chan('test1'), chan('test2')];
      const res = await post({ channels: [a, b], messages: { data: 'My test message text' } });
      assert.equal(res.status, 201, `${res.raw}`);
      assert.equal(res.contentType, f.name === 'json' ? 'application/json' : 'application/x-msgpack');
      assert.equal(res.body.length, 2);
      await assertPublished(res.body[0], a, ['My test message text']);
      await assertPublished(res.body[1], b, ['My test message text']);
      assert.notEqual(res.body[0].messageId, res.body[1].messageId, 'each channel publish has its own id');
    });

    test('seed: a single BatchSpec object, a channel name containing a comma', async () => {
      const comma = `${chan('a')}, containing a comma`;
      const other = chan('another');
      const res = await post({ channels: [comma, other], messages: { data: 'My message contents' } });
      assert.equal(res.status, 201, `${res.raw}`);
      assert.deepEqual(res.body.map((i) => i.channel), [comma, other]);
      await assertPublished(res.body[0], comma, ['My message contents']);
      await assertPublished(res.body[1], other, ['My message contents']);
    });

    test('seed: an array of BatchSpecs; channels a string, messages an array; results in request order', async () => {
      const [comma, other, single] = [`${chan('a')}, with comma`, chan('another'), chan('single')];
      const res = await post([
        { channels: [comma, other], messages: { data: 'My message contents' } },
        { channels: single, messages: [{ data: 'My message contents' }, { name: 'an event', data: 'My event message contents' }] },
      ]);
      assert.equal(res.status, 201, `${res.raw}`);
      assert.deepEqual(res.body.map((i) => i.channel), [comma, other, single]);
      await assertPublished(res.body[2], single, ['My message contents', 'My event message contents']);
      const h = await history(single);
      assert.deepEqual(h.map((m) => m.name), [undefined, 'an event']);
      assert.equal(h[0].timestamp, h[1].timestamp, 'a spec is one publish per channel');
    });

    test('seed "Batch responses": success -> 201 with channel0..2 in order', async () => {
      const names = ['channel0', 'channel1', 'channel2'];
      const res = await post({ channels: names, messages: { data: `My test message text ${f.name}` } });
      assert.equal(res.status, 201, `${res.raw}`);
      assert.equal(res.headers.get('x-ably-errorcode'), null);
      assert.equal(res.body.length, 3);
      for (let i = 0; i < 3; i++) {
        const h = await history(names[i]);
        assert.deepEqual(Object.keys(res.body[i]).sort(), ['channel', 'messageId']);
        assert.equal(res.body[i].channel, names[i]);
        assert.ok(h.some((m) => m.id === `${res.body[i].messageId}:0` && m.data === `My test message text ${f.name}`));
      }
    });

    test('seed "Batch responses": common-cause failure (expired token) -> 401 error, nothing published', async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = makeJwt({ key: FULL_KEY, iat: now - 7200, exp: now - 3600 });
      const name = chan('expired');
      const res = await post({ channels: [name], messages: { data: 'x' } },
        { key: null, headers: { Authorization: bearer(expired) } });
      assertAblyError(assert, res, 401, 40142, 'expired token');
      assert.deepEqual(Object.keys(res.body), ['error'], 'no batchResponse on a common-cause failure');
      assertErrorInfo(assert, res.body.error, 401, 40142, 'Token expired');
      assert.equal((await history(name)).length, 0);
    });

    test('seed "Batch responses": partial success -> 400/40020 with batchResponse in request order', async () => {
      const before_ = (await history('channel2')).length;
      const res = await post({ channels: ['channel0', 'channel1', 'channel2'], messages: { data: `partial ${f.name}` } },
        { key: SEED_KEY });
      const items = assertPartialFailure(assert, res, 'seed partial success');
      assert.equal(items.length, 3);
      await assertPublished(items[0], 'channel0', [`partial ${f.name}`]);
      await assertPublished(items[1], 'channel1', [`partial ${f.name}`]);
      assertFailureItem(assert, items[2], 'channel2', 401, 40160, CAPABILITY_MESSAGE);
      assert.equal((await history('channel2')).length, before_, 'nothing published on the failed channel');
    });

    // ---- the current form ---------------------------------------------------

    test('X-Ably-Version 3: 201 with one BatchResult per spec, serials, failures inside', async () => {
      const [ok1, ok2, ok3] = [`allowed:${chan('1')}`, `allowed:${chan('2')}`, `allowed:${chan('3')}`];
      const denied = chan('denied');
      const res = await post([
        { channels: [ok1, denied], messages: [{ data: 'm1' }, { data: 'm2' }] },
        { channels: [ok2, ok3], messages: { name: 'e', data: 'm3' } },
      ], { key: LIMITED_KEY, headers: { 'X-Ably-Version': '3' } });
      assert.equal(res.status, 201, `${res.raw}`);
      assert.equal(res.headers.get('x-ably-errorcode'), null);
      assert.equal(res.body.length, 2);
      const [r0, r1] = [assertBatchResult(assert, res.body[0], 1, 1, 'spec 0'), assertBatchResult(assert, res.body[1], 2, 0, 'spec 1')];
      assert.deepEqual(Object.keys(r0[0]).sort(), ['channel', 'messageId', 'serials']);
      assert.equal(r0[0].channel, ok1);
      assert.match(r0[0].messageId, /:0$/, 'messageId <connectionId>:0, as ably-js tests expect');
      const h = await history(ok1);
      assert.deepEqual(r0[0].serials, h.map((m) => m.serial));
      assert.deepEqual(h.map((m) => m.id), [`${r0[0].messageId}:0`, `${r0[0].messageId}:1`]);
      assertFailureItem(assert, r0[1], denied, 401, 40160, CAPABILITY_MESSAGE);
      assert.deepEqual(r1.map((r) => r.channel), [ok2, ok3]);
      for (const r of r1) assert.equal(r.serials.length, 1);
    });

    test('X-Ably-Version 3 with a single BatchSpec object: still an array of one BatchResult', async () => {
      const res = await post({ channels: chan('one'), messages: { data: 'x' } }, { headers: { 'X-Ably-Version': '3' } });
      assert.equal(res.status, 201);
      assert.equal(res.body.length, 1);
      assertBatchResult(assert, res.body[0], 1, 0);
    });

    test('X-Ably-Version 3 when every publish fails: 201, failures counted', async () => {
      const res = await post({ channels: [chan('x'), chan('y')], messages: { data: 'x' } },
        { key: LIMITED_KEY, headers: { 'X-Ably-Version': '3' } });
      assert.equal(res.status, 201);
      const results = assertBatchResult(assert, res.body[0], 0, 2);
      for (const r of results) assertErrorInfo(assert, r.error, 401, 40160, CAPABILITY_MESSAGE);
    });

    // ---- limits -----------------------------------------------------------------

    test('100 distinct channels are accepted, 101 fail the whole request with 400/40000', async () => {
      const base = chan('limit');
      const names = Array.from({ length: 101 }, (_, i) => `${base}-${i}`);
      const ok = await post({ channels: names.slice(0, 100), messages: { data: 'x' } });
      assert.equal(ok.status, 201, `${ok.raw}`);
      assert.equal(ok.body.length, 100);
      const over = await post({ channels: names, messages: { data: 'y' } });
      assertAblyError(assert, over, 400, 40000, '101 channels');
      assert.equal((await history(names[100])).length, 0, 'nothing published');
      assert.deepEqual((await history(names[1])).map((m) => m.data), ['x']);
    });

    test('a channel in several BatchSpecs counts once toward the limit', async () => {
      const base = chan('dup');
      const names = Array.from({ length: 100 }, (_, i) => `${base}-${i}`);
      const res = await post([
        { channels: names, messages: { data: 'first' } },
        { channels: names.slice(50), messages: { data: 'second' } },
        { channels: names[0], messages: { data: 'third' } },
      ]);
      assert.equal(res.status, 201, `${res.raw}`);
      assert.equal(res.body.length, 151, 'one result per (spec, channel)');
      assert.deepEqual(res.body.map((i) => i.channel), [...names, ...names.slice(50), names[0]]);
      assert.deepEqual((await history(names[0])).map((m) => m.data).sort(), ['first', 'third']);
      assert.deepEqual((await history(names[99])).map((m) => m.data).sort(), ['first', 'second']);
      const over = await post([
        { channels: names, messages: { data: 'x' } },
        { channels: [names[0], `${base}-extra`], messages: { data: 'x' } },
      ]);
      assertAblyError(assert, over, 400, 40000, '100 + 1 across specs');
    });

    test('one oversized BatchSpec among good ones: its channels fail with 40009, atomically; the rest publish', async () => {
      const [good1, big1, big2, good2] = [chan('good1'), chan('big1'), chan('big2'), chan('good2')];
      const res = await post([
        { channels: good1, messages: { data: 'a' } },
        { channels: [big1, big2], messages: [{ data: 'small' }, { data: 'x'.repeat(65536) }] },
        { channels: good2, messages: [{ data: 'b'.repeat(30000) }, { data: 'c'.repeat(30000) }] },
      ]);
      const items = assertPartialFailure(assert, res, 'oversized spec');
      assert.deepEqual(items.map((i) => i.channel), [good1, big1, big2, good2]);
      await assertPublished(items[0], good1, ['a']);
      assertFailureItem(assert, items[1], big1, 413, 40009, undefined, 'oversized 1');
      assertFailureItem(assert, items[2], big2, 413, 40009, undefined, 'oversized 2');
      await assertPublished(items[3], good2, ['b'.repeat(30000), 'c'.repeat(30000)]);
      assert.equal((await history(big1)).length, 0, 'neither message of the oversized spec was published');
      assert.equal((await history(big2)).length, 0);
    });

    test('the size limit applies per spec: split into specs, the same messages publish', async () => {
      const name = chan('split');
      const res = await post([
        { channels: name, messages: { data: 'x'.repeat(40000) } },
        { channels: name, messages: { data: 'y'.repeat(40000) } },
      ]);
      assert.equal(res.status, 201, `${res.raw}`);
      assert.equal((await history(name)).length, 2);
    });

    test('more than 1000 messages in a spec fail the whole request (40034)', async () => {
      const res = await post({ channels: chan('many'), messages: Array.from({ length: 1001 }, () => ({ data: 'x' })) });
      assertAblyError(assert, res, 400, 40034, '1001 messages');
    });

    // ---- per-channel failures -------------------------------------------------------

    test('invalid channel names fail per channel with 40010', async () => {
      const good = chan('good');
      const res = await post({ channels: [good, '[invalid', ''], messages: { data: 'x' } });
      const items = assertPartialFailure(assert, res, 'invalid names');
      await assertPublished(items[0], good, ['x']);
      assertFailureItem(assert, items[1], '[invalid', 400, 40010);
      assertFailureItem(assert, items[2], '', 400, 40010);
    });

    test('a token allowed on some channels only: partial success, never a whole-request failure', async () => {
      const token = makeJwt({ key: FULL_KEY, capability: { 'allowed:*': ['publish'] }, clientId: 'bob' });
      const [ok, no] = [`allowed:${chan('t')}`, chan('t-denied')];
      const res = await post([
        { channels: [no, ok], messages: { data: 'x' } },
        { channels: ok, messages: { data: 'y', clientId: 'eve' } },
      ], { key: null, headers: { Authorization: bearer(token) } });
      const items = assertPartialFailure(assert, res, 'token capability');
      assertFailureItem(assert, items[0], no, 401, 40160, CAPABILITY_MESSAGE);
      await assertPublished(items[1], ok, ['x']);
      assertFailureItem(assert, items[2], ok, 400, 40012, undefined, 'clientId not permitted');
      assert.equal((await history(ok))[0].clientId, 'bob', 'the token clientId is applied');
    });

    // ---- whole-request failures ------------------------------------------------------

    test('no credentials -> 401/40101', async () => {
      assertAblyError(assert, await post({ channels: chan('x'), messages: { data: 'x' } }, { key: null }), 401, 40101);
    });

    test('invalid bodies fail the whole request; nothing is published', async () => {
      const good = chan('untouched');
      const cases = [
        ['an empty array', [], 40001],
        ['a string', 'hello', 40001],
        ['a spec that is not an object', [{ channels: good, messages: { data: 'x' } }, 7], 40001],
        ['channels missing', [{ channels: good, messages: { data: 'x' } }, { messages: { data: 'x' } }], 40001],
        ['channels empty', [{ channels: good, messages: { data: 'x' } }, { channels: [], messages: { data: 'x' } }], 40001],
        ['a channel name not a string', [{ channels: good, messages: { data: 'x' } }, { channels: [good, 3], messages: { data: 'x' } }], 40001],
        ['messages missing', [{ channels: good, messages: { data: 'x' } }, { channels: good }], 40001],
        ['messages empty', [{ channels: good, messages: { data: 'x' } }, { channels: good, messages: [] }], 40001],
        ['a message with data of a bad type', [{ channels: good, messages: { data: 'x' } }, { channels: good, messages: { data: true } }], 40013],
      ];
      for (const [what, body, code] of cases) assertAblyError(assert, await post(body), 400, code, what);
      assert.equal((await history(good)).length, 0);
    });

    test('a body over 2 MiB -> 413; exactly 2 MiB is accepted', async () => {
      const name = chan('size');
      const json = JSON.stringify({ channels: name, messages: { data: 'x' } });
      const exact = json + ' '.repeat(MAX_BODY - json.length);
      const ok = await srv.request('POST', '/messages', { key: FULL_KEY, body: exact, headers: { 'Content-Type': 'application/json' } });
      assert.equal(ok.status, 201, `2 MiB body: ${ok.raw}`);
      const over = Buffer.from(exact + ' ');
      const raw = Buffer.concat([Buffer.from(`POST /messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basicAuth(FULL_KEY)}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${over.length}\r\n\r\n`), over]);
      const { data } = await rawExchange(srv.port, raw, { untilFn: (b) => parseHttpResponses(b).length > 0, timeoutMs: 10000 });
      const [res] = parseHttpResponses(data);
      assert.equal(res.status, 413, `2 MiB + 1 byte: ${data.toString().slice(0, 300)}`);
      assert.equal(JSON.parse(res.body.toString()).error.statusCode, 413);
      assert.equal((await history(name)).length, 1, 'only the 2 MiB request published');
    });

    // ---- publish rules ---------------------------------------------------------------

    test('client-supplied ids: idempotent per channel, a repeated request publishes nothing new', async () => {
      const [a, b] = [chan('idem-a'), chan('idem-b')];
      const body = { channels: [a, b], messages: [{ id: 'fixed:0', data: 'one' }, { id: 'fixed:1', data: 'two' }] };
      const first = await post(body);
      assert.equal(first.status, 201, `${first.raw}`);
      assert.deepEqual(first.body.map((i) => i.messageId), ['fixed', 'fixed']);
      const again = await post(body);
      assert.deepEqual(again.body, first.body);
      assert.deepEqual((await history(a)).map((m) => m.id), ['fixed:0', 'fixed:1']);
      assert.deepEqual((await history(b)).map((m) => m.id), ['fixed:0', 'fixed:1']);
    });
  });
}

test('msgpack: binary data round trips through a batch publish', async () => {
  const name = uniqueChannel('bp-bin');
  const res = await srv.request('POST', '/messages', {
    key: FULL_KEY, accept: 'msgpack', msgpack: [{ channels: [name], messages: { name: 'b', data: Buffer.from([0xde, 0xad, 0xbe, 0xef]) } }],
  });
  assert.equal(res.status, 201, `${res.raw}`);
  const h = await srv.request('GET', `/channels/${name}/messages`, { key: FULL_KEY, accept: 'msgpack' });
  assert.ok(Buffer.isBuffer(h.body[0].data));
  assert.equal(h.body[0].data.toString('hex'), 'deadbeef');
});
