// Batch publish through the official ably-js SDK, over JSON and msgpack:
// the seed's request() examples (translated to promises), batchPublish()
// (as ably-js's own batch tests use it), and batch-published messages
// reaching realtime subscribers and history.

import assert from 'node:assert/strict';
import { startServer, describe, before, after, uniqueChannel } from './lib/server.mjs';
import { expectAblyError } from './lib/auth.mjs';
import { PROTOCOLS, rtTest, Inbox, waitForState, withTimeout } from './lib/realtime.mjs';
import {
  assertErrorInfo, assertFailureItem, assertBatchResult, CAPABILITY_MESSAGE, BATCH_ERROR_MESSAGE,
  BATCH_CONFIG, FULL_KEY, LIMITED_KEY, createTestApp,
} from './lib/batch.mjs';

let srv;
before(async () => { srv = await startServer({ config: BATCH_CONFIG, env: { HERALD_KEY: null }, args: ['--sandbox'] }); });
after(async () => { if (srv) await srv.stop(); });

for (const proto of PROTOCOLS) {
  const rest = (key = FULL_KEY) => srv.rest({ binary: proto.binary, key });
  const chan = (p) => uniqueChannel(`bps-${proto.name}-${p}`);
  const allowed = (p) => `allowed:${chan(p)}`;

  async function datas(name) {
    const page = await rest().channels.get(name).history({ direction: 'forwards' });
    return page.items.map((m) => m.data);
  }

  describe(`batch publish with ably-js over ${proto.name}`, () => {
    // ---- request(), the seed's client examples ----------------------------------

    rtTest('seed request() example: 201, success, items [{channel, messageId}]', async () => {
      const [a, b] = [chan('test1'), chan('test2')];
      const content = { channels: [a, b], messages: { data: 'myData' } };
      const response = await rest().request('post', '/messages', 2, null, content, null);
      assert.equal(response.statusCode, 201);
      assert.equal(response.success, true);
      assert.deepEqual(response.items.map((i) => Object.keys(i).sort()), [['channel', 'messageId'], ['channel', 'messageId']]);
      assert.deepEqual(response.items.map((i) => i.channel), [a, b]);
      assert.deepEqual(await datas(a), ['myData']);
      assert.deepEqual(await datas(b), ['myData']);
    });

    rtTest('request() partial success: 400, errorCode 40020, items[0].batchResponse', async () => {
      const [ok, denied] = [allowed('ok'), chan('denied')];
      const content = { channels: [ok, denied], messages: { data: 'myData' } };
      const response = await rest(LIMITED_KEY).request('post', '/messages', 2, null, content, null);
      assert.equal(response.statusCode, 400);
      assert.equal(response.success, false);
      assert.equal(response.errorCode, 40020);
      assert.equal(response.errorMessage, BATCH_ERROR_MESSAGE);
      const items = response.items[0].batchResponse;
      assert.equal(items.length, 2);
      assert.equal(items[0].channel, ok);
      assert.equal(typeof items[0].messageId, 'string');
      assertFailureItem(assert, items[1], denied, 401, 40160, CAPABILITY_MESSAGE);
      assert.deepEqual(await datas(ok), ['myData']);
    });

    rtTest('request() common-cause failure: 101 channels -> 400/40000, nothing published', async () => {
      const names = Array.from({ length: 101 }, (_, i) => `${chan('many')}-${i}`);
      const response = await rest().request('post', '/messages', 2, null, { channels: names, messages: { data: 'x' } }, null);
      assert.equal(response.statusCode, 400);
      assert.equal(response.success, false);
      assert.equal(response.errorCode, 40000);
      assert.deepEqual(Object.keys(response.items[0]), ['error']);
      assert.deepEqual(await datas(names[0]), []);
    });

    rtTest('request() with version 3: items are BatchResults', async () => {
      const [ok, denied] = [allowed('v3'), chan('v3-denied')];
      const response = await rest(LIMITED_KEY).request('post', '/messages', 3, null,
        [{ channels: [ok, denied], messages: [{ data: 'a' }, { data: 'b' }] }], null);
      assert.equal(response.statusCode, 201);
      assert.equal(response.success, true);
      const [r0, r1] = assertBatchResult(assert, response.items[0], 1, 1);
      assert.equal(r0.serials.length, 2);
      assertFailureItem(assert, r1, denied, 401, 40160, CAPABILITY_MESSAGE);
    });

    // ---- batchPublish() --------------------------------------------------------

    rtTest('batchPublish(specs): one BatchResult per spec, per-channel failures (ably-js batch test)', async () => {
      const [c0, c3, c4, c5] = [allowed('channel0'), chan('channel3'), allowed('channel4'), chan('channel5')];
      const specs = [
        { channels: [c0, c3], messages: [{ data: 'message1' }, { data: 'message2' }] },
        { channels: [c4, c5], messages: [{ data: 'message3' }, { data: 'message4' }] },
      ];
      const results = await rest(LIMITED_KEY).batchPublish(specs);
      assert.equal(results.length, 2);
      for (const [i, [ok, denied]] of [[c0, c3], [c4, c5]].entries()) {
        const [good, bad] = assertBatchResult(assert, results[i], 1, 1, `spec ${i}`);
        assert.equal(good.channel, ok);
        assert.ok(good.messageId.includes(':0'), `messageId ${good.messageId}`);
        assert.equal('error' in good, false);
        assert.equal(good.serials.length, 2);
        assert.equal(bad.channel, denied);
        assert.equal('messageId' in bad, false);
        assertErrorInfo(assert, bad.error, 401, 40160, CAPABILITY_MESSAGE);
      }
      assert.deepEqual(await datas(c0), ['message1', 'message2']);
      assert.deepEqual(await datas(c4), ['message3', 'message4']);
      assert.deepEqual(await datas(c3), []);
    });

    rtTest("ably-js's own batchPublish test, on a test-app-setup.json app with its keys[2]", async () => {
      const keys = await createTestApp(srv);
      const limited = srv.rest({ binary: proto.binary, key: keys[2] });
      const verification = srv.rest({ binary: proto.binary, key: keys[0] });
      const specs = [
        { channels: ['channel0', 'channel3'], messages: [{ data: 'message1' }, { data: 'message2' }] },
        { channels: ['channel4', 'channel5'], messages: [{ data: 'message3' }, { data: 'message4' }] },
      ];
      const batchResults = await limited.batchPublish(specs);
      assert.equal(batchResults.length, specs.length);
      for (const [i, [ok, denied]] of [['channel0', 'channel3'], ['channel4', 'channel5']].entries()) {
        assert.equal(batchResults[i].successCount, 1);
        assert.equal(batchResults[i].failureCount, 1);
        assert.equal(batchResults[i].results.length, 2);
        assert.equal(batchResults[i].results[0].channel, ok);
        assert.ok(batchResults[i].results[0].messageId.includes(':0'));
        assert.equal('error' in batchResults[i].results[0], false);
        assert.equal(batchResults[i].results[1].channel, denied);
        assert.equal('messageId' in batchResults[i].results[1], false);
        assert.equal(batchResults[i].results[1].error.statusCode, 401);
      }
      for (const [name, expected] of [['channel0', ['message1', 'message2']], ['channel4', ['message3', 'message4']]]) {
        const page = await verification.channels.get(name).history({ limit: 2 });
        assert.deepEqual(new Set(page.items.map((m) => m.data)), new Set(expected));
      }
    });

    rtTest('batchPublish(spec): a single BatchResult', async () => {
      const [c0, c3] = [allowed('single0'), chan('single3')];
      const result = await rest(LIMITED_KEY).batchPublish({ channels: [c0, c3], messages: [{ data: 'message1' }, { data: 'message2' }] });
      const [good, bad] = assertBatchResult(assert, result, 1, 1);
      assert.equal(good.channel, c0);
      assert.equal(bad.error.code, 40160);
      assert.deepEqual(await datas(c0), ['message1', 'message2']);
    });

    rtTest('batchPublish() of an invalid request rejects with the error', async () => {
      const names = Array.from({ length: 101 }, (_, i) => `${chan('over')}-${i}`);
      await expectAblyError(assert, rest().batchPublish({ channels: names, messages: { data: 'x' } }), 400, 40000, '101 channels');
    });

    // ---- realtime -----------------------------------------------------------------

    rtTest('batch-published messages reach realtime subscribers and history', async (scope) => {
      const [a, b] = [chan('rt-a'), chan('rt-b')];
      const client = scope.realtime(srv, { key: FULL_KEY, binary: proto.binary });
      await waitForState(client.connection, 'connected', { what: 'subscriber connection' });
      const inboxes = [new Inbox(), new Inbox()];
      await Promise.all([a, b].map((name, i) => withTimeout(inboxes[i].subscribe(client.channels.get(name)), 10000, `attach ${name}`)));
      const [result] = await rest().batchPublish([
        { channels: [a, b], messages: [{ name: 'first', data: 'one' }, { name: 'second', data: { n: 2 } }] },
      ]);
      assertBatchResult(assert, result, 2, 0);
      for (const [i, inbox] of inboxes.entries()) {
        const got = await inbox.waitForCount(2);
        assert.deepEqual(got.map((m) => m.name), ['first', 'second']);
        assert.deepEqual(got.map((m) => m.data), ['one', { n: 2 }]);
        assert.deepEqual(got.map((m) => m.serial), result.results[i].serials);
        assert.deepEqual(got.map((m) => m.id), [`${result.results[i].messageId}:0`, `${result.results[i].messageId}:1`]);
      }
    });
  });
}
