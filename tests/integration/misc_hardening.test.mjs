// Smaller hardening fixes of issue 15 item 8: Link headers of any length,
// GET /channels on workers without channels (UBSan), connection keys
// compared in full, msgpack containers that declare more elements than
// their frame holds, and the sandbox's limit on POST /apps.

import assert from 'node:assert/strict';
import {
  describe, test, before, after, startServer, request, assertAblyError, parseLinkHeader,
} from './lib/server.mjs';
import { open, ACTION } from './lib/wsclient.mjs';

/** UBSan's report line; the sanitize build prints it to stderr and goes on. */
const UBSAN_REPORT = /runtime error:/;

describe('misc hardening', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['--threads', '2'] }); });
  after(async () => { await srv.stop(); });

  test('GET /channels while no worker has a channel: no UBSan report', async () => {
    const res = await request(srv.url, 'GET', '/channels', { key: srv.key });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, []);
    const c = await open(srv);
    c.send({ action: ACTION.ATTACH, channel: 'only-one-worker' });
    await c.next(ACTION.ATTACHED);
    const one = await request(srv.url, 'GET', '/channels?by=id', { key: srv.key });
    assert.deepEqual(one.body, ['only-one-worker']);
    c.terminate();
    assert.doesNotMatch(srv.logs().stderr, UBSAN_REPORT);
  });

  test('a resume with a wrong connection key of the same length is refused', async () => {
    const c1 = await open(srv);
    const key = c1.connectionKey;
    c1.terminate();
    await c1.closed;
    const last = key.at(-1) === 'A' ? 'B' : 'A';
    const wrong = [key.slice(0, -1) + last, key.slice(0, -1), key + 'A'];
    for (const attempt of wrong) {
      const c = await open(srv, { resume: attempt });
      assert.notEqual(c.connectionId, c1.connectionId, `resume with ${attempt}`);
      assert.equal(c.connected.error?.code, 80008, `resume with ${attempt}`);
      c.terminate();
    }
    const resumed = await open(srv, { resume: key });
    assert.equal(resumed.connectionId, c1.connectionId, 'the right key still resumes');
    resumed.terminate();
  });

  // msgpack-c reserves room for what a header declares: billions of
  // elements are ~100 GB, which an ASan build cannot reserve (make
  // sanitize-test runs without allocator_may_return_null). Refused before
  // msgpack-c sees it.
  for (const count of [2 ** 28, 2 ** 32 - 1]) {
    test(`a 500 KB msgpack frame declaring ${count} elements → ERROR 40000; the server keeps serving`, async () => {
      const frame = Buffer.alloc(500 * 1024, 0xc0);
      frame[0] = 0xdd;
      frame.writeUInt32BE(count, 1);
      const c = await open(srv, { format: 'msgpack' });
      c.sendRaw(frame, { binary: true });
      const err = await c.next(ACTION.ERROR);
      assert.equal(err.error.code, 40000);
      await c.closed;
      const after = await open(srv, { format: 'msgpack' });
      assert.equal((await after.ping('alive')).id, 'alive');
      after.terminate();
    });
  }
});

describe('POST /apps: --max-apps', () => {
  const postApp = (srv) => request(srv.url, 'POST', '/apps', { key: null, json: { keys: [{}] } });
  const canPublish = async (srv, key) =>
    (await request(srv.url, 'POST', '/channels/c/messages', { key, json: { data: 'x' } })).status === 201;

  test('the registry holds at most --max-apps apps; over it → 403/40128, none added', async () => {
    // HERALD_KEY's app is the first of the three.
    const srv = await startServer({ args: ['--sandbox', '--max-apps', '3'] });
    const created = [];
    for (let i = 0; i < 2; i++) {
      const res = await postApp(srv);
      assert.equal(res.status, 201, `app ${i + 1}: ${res.raw}`);
      created.push(res.body);
    }
    const refused = await postApp(srv);
    assertAblyError(assert, refused, 403, 40128, 'a fourth app');
    assert.match(refused.body.error.message, /Maximum number of apps \(3\)/);
    for (const app of created) assert.ok(await canPublish(srv, app.keys[0].keyStr), `${app.appId} still works`);
    const del = await request(srv.url, 'DELETE', `/apps/${created[0].appId}`, { key: created[0].keys[0].keyStr });
    assert.ok(del.status >= 200 && del.status < 300, `DELETE: ${del.status} ${del.raw}`);
    assert.equal((await postApp(srv)).status, 201, 'room again after a DELETE');
    await srv.stop();
  });

  test('stored apps over a lowered --max-apps still load; only new ones are refused', async () => {
    const first = await startServer({ args: ['--sandbox', '--storage', 'sqlite'] });
    const keys = [];
    for (let i = 0; i < 2; i++) keys.push((await postApp(first)).body.keys[0].keyStr);
    await first.stop({ keepData: true });
    const second = await startServer({ args: ['--sandbox', '--storage', 'sqlite', '--data-dir', first.dataDir,
      '--max-apps', '1'] });
    for (const key of keys) assert.ok(await canPublish(second, key), `${key} loaded`);
    assertAblyError(assert, await postApp(second), 403, 40128, 'over the lowered limit');
    await second.stop();
  });
});

// Cursors of GET /channels are channel names; the next engineer's maximum
// channel name length is at least 2000 bytes. Each Link header carries two
// of them (current and next), well past the 1.5 KB it was once cut at.
describe('Link headers with long cursors', () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(async () => { await srv.stop(); });
  const LONG = 1990;
  const names = [0, 1, 2, 3].map((i) => `long${i}-`.padEnd(LONG, 'abcdefghij'));

  /** Follows rel="next" from `path` to the end; the items of every page. */
  async function walk(path) {
    const pages = [];
    for (let next = path; next;) {
      const res = await request(srv.url, 'GET', next, { key: srv.key });
      assert.equal(res.status, 200, `${next.slice(0, 60)}…: ${res.raw.slice(0, 200)}`);
      pages.push(res.body);
      const rel = parseLinkHeader(res.headers.get('link'));
      assert.ok(rel.first && rel.current, 'first and current links are complete');
      const url = rel.next && new URL(rel.next, srv.url + next);
      next = url && url.pathname + url.search;
    }
    return pages;
  }

  test('GET /channels?limit=1 pages through every channel with ~2 KB names', async () => {
    for (const name of names)
      assert.equal((await request(srv.url, 'POST', `/channels/${name}/messages`, { key: srv.key, json: { data: 'x' } })).status, 201);
    const pages = await walk('/channels?limit=1&by=id');
    assert.deepEqual(pages.flat().sort(), [...names].sort());
    assert.equal(pages.length, names.length, 'one channel per page');
    const sorted = [...names].sort();
    const env = await request(srv.url, 'GET', `/channels?limit=1&by=id&envelope=json&cursor=${sorted[1]}`, { key: srv.key });
    const rel = parseLinkHeader(env.body.headers.link);
    assert.ok(rel.current.endsWith(`cursor=${sorted[1]}`), 'enveloped current link is whole');
    assert.ok(rel.next.endsWith(`cursor=${sorted[2]}`), 'enveloped next link is whole');
    assert.equal(env.body.rel.next, rel.next);
  });

  test('history of a ~2 KB channel name pages through every message with limit=1', async () => {
    const channel = names[0];
    for (let i = 1; i < 4; i++)
      await request(srv.url, 'POST', `/channels/${channel}/messages`, { key: srv.key, json: { data: `m${i}` } });
    const pages = await walk(`/channels/${channel}/messages?limit=1`);
    assert.deepEqual(pages.flat().map((m) => m.data), ['m3', 'm2', 'm1', 'x']);
  });
});

