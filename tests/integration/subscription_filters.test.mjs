// Subscription filters (issue 20 item 5; ably.com/docs/pub-sub/advanced
// #subscription-filters) through the official ably-js SDK, over JSON and
// msgpack: channels.getDerived(name, {filter}) attaches
// "[filter=<base64 expression>]name", which receives only the messages of
// `name` the expression matches.
//  - filters on name, clientId, extras.headers (strings, numbers,
//    booleans) and with && || ! and parentheses, over one publish of many
//    messages and over separate publishes: each matching message arrives
//    once and in order, the others never (a later matching message arrives
//    and nothing else came before it); an unfiltered subscriber of the same
//    channel gets everything;
//  - a filtered and an unfiltered attachment of one connection;
//  - rewind and resume deliver only the matching messages of the backlog;
//  - subscribe-only: publish and presence enter are refused (40160) and
//    the attachment keeps working;
//  - an invalid expression (syntax, unknown field, literal, too long, too
//    deep, bad base64) is refused on ATTACH with 40010/400 while the
//    connection and its other channels keep working;
//  - capabilities: "[filter]<name>" or "[*]<name>" allow it, "*" does not;
//  - on the wire (raw WebSocket, JSON): ATTACHED names the filtered channel
//    and grants subscribe only, without presence; a MESSAGE carries the
//    matching items of a publish under that name, with the publish's ids
//    and channelSerial; presence never reaches it; ERROR and NACK carry
//    Ably errors; REST refuses filtered names (40010);
//  - event streams (GET /event-stream) take filtered channels too, and
//    refuse an invalid expression before the stream starts (400/40010).

import assert from 'node:assert/strict';
import { startServer, describe, before, after, uniqueChannel, test, request } from './lib/server.mjs';
import { PROTOCOLS, rtTest, Inbox, waitForState, withTimeout, killTransport, rawRealtime } from './lib/realtime.mjs';
import { expectAblyError } from './lib/auth.mjs';
import { ACTION, FLAG } from './lib/wsclient.mjs';
import { rawStream, streamQuery } from './lib/eventstream.mjs';

const ROOT = 'filterapp.root:secretroot';           // every channel, qualified or not
const PLAIN = 'filterapp.plain:secretplain';        // "*" only: no filtered channels
const FILTERED = 'filterapp.filtered:secretfilter'; // subscribe through filters only
const CONFIG = {
  apps: [{
    id: 'filterapp',
    keys: [
      { key: ROOT, capability: { '[*]*': ['*'] } },
      { key: PLAIN, capability: { '*': ['*'] } },
      { key: FILTERED, capability: { '[filter]*': ['subscribe'] } },
    ],
  }],
};

// The messages every filter case is published, identified by data; the
// sentinel "end" comes last and matches every filter below.
const MESSAGES = [
  { data: 'a', name: 'ice-cream', clientId: 'alice', extras: { headers: { flavor: 'strawberry', cost: 35, vegan: false } } },
  { data: 'b', name: 'ice-cream', clientId: 'bob', extras: { headers: { flavor: 'chocolate', cost: 60, vegan: true } } },
  { data: 'c', name: 'soup', clientId: 'alice', extras: { headers: { flavor: 'tomato', cost: 12.5, vegan: true } } },
  { data: 'd', name: 'ice-cream', clientId: 'carol', extras: { headers: { flavor: 'strawberry', cost: '35' } } },
  { data: 'e', name: 'ice-cream' },
  { data: 'f', name: 'ice-cream', clientId: 'bob', extras: { headers: { flavor: 'strawberry', cost: 49.9, vegan: true } } },
  { data: 'g', name: 'sorbet', clientId: 'dave', extras: { headers: { flavor: 'chocolate', cost: 0, vegan: false } } },
  { data: 'end', name: 'end', clientId: 'end', extras: { headers: { flavor: 'strawberry', cost: 1, vegan: true, end: true } } },
];

const END = ' || headers.end == `true`';
const CASES = [
  { what: 'on name', filter: 'name == `"ice-cream"`' + END, want: ['a', 'b', 'd', 'e', 'f', 'end'] },
  { what: 'on name, raw string literal', filter: "name != 'ice-cream'", want: ['c', 'g', 'end'] },
  { what: 'on clientId', filter: 'clientId == `"bob"`' + END, want: ['b', 'f', 'end'] },
  { what: 'on a string header', filter: 'headers.flavor == `"chocolate"`' + END, want: ['b', 'g', 'end'] },
  { what: 'on a number header', filter: 'headers.cost < `50`', want: ['a', 'c', 'f', 'g', 'end'] },
  { what: 'on a number header equal to an integer', filter: 'headers.cost == `35.0`' + END, want: ['a', 'end'] },
  { what: 'on a boolean header', filter: 'headers.vegan == `true`', want: ['b', 'c', 'f', 'end'] },
  { what: 'with ! on a boolean header', filter: '!headers.vegan' + END, want: ['a', 'd', 'e', 'g', 'end'] },
  {
    what: 'with && and parentheses (the documented example)',
    filter: '(name == `"ice-cream"` && headers.flavor == `"strawberry"` && headers.cost < `50`)' + END,
    want: ['a', 'f', 'end'],
  },
  {
    what: 'with || && ! and parentheses',
    filter: '(headers.flavor == `"strawberry"` || headers.flavor == `"chocolate"`) && !(clientId == `"bob"`)',
    want: ['a', 'd', 'g', 'end'],
  },
];

let srv;
before(async () => {
  srv = await startServer({ config: CONFIG, env: { HERALD_KEY: null }, args: ['--max-inbound-rate', '100000'] });
});
after(async () => { if (srv) await srv.stop(); });

const datas = (inbox) => inbox.messages.map((m) => m.data);
// A message as published: "a2" is the second publish of "a".
const byData = (d) => MESSAGES.find((m) => m.data === d.replace(/2$/, ''));

for (const proto of PROTOCOLS) {
  const B = proto.binary;
  const chan = (p) => uniqueChannel(`filter-${proto.name}-${p}`);

  async function connected(scope, opts = {}) {
    const c = scope.realtime(srv, { key: ROOT, binary: B, ...opts });
    await waitForState(c.connection, 'connected', { what: 'connection' });
    return c;
  }

  /** Subscribes an inbox to channel (attaching it). */
  async function subscribed(channel) {
    const inbox = new Inbox();
    await withTimeout(inbox.subscribe(channel), 10000, `attach ${channel.name}`);
    return inbox;
  }

  /** Waits for the sentinel, then checks the inbox holds exactly `want`, in order, each with its fields. */
  async function assertExactly(inbox, want, what) {
    await inbox.waitUntil((ms) => ms.some((m) => m.data === 'end'), 10000, `${what}: the sentinel`);
    assert.deepEqual(datas(inbox), want, `${what}: exactly the matching messages, once each, in order`);
    for (const m of inbox.messages) {
      const sent = byData(m.data);
      assert.equal(m.name, sent.name, `${what}: name of ${m.data}`);
      assert.equal(m.clientId, sent.clientId, `${what}: clientId of ${m.data}`);
      assert.deepEqual(m.extras, sent.extras, `${what}: extras of ${m.data}`);
    }
  }

  describe(`subscription filters through ably-js over ${proto.name}`, () => {
    for (const { what, filter, want } of CASES) {
      rtTest(`a filter ${what} delivers exactly the matching messages; an unfiltered subscriber gets all`, async (scope) => {
        const name = chan('case');
        const sub = await connected(scope);
        const filtered = sub.channels.getDerived(name, { filter });
        assert.equal(filtered.name, `[filter=${Buffer.from(filter).toString('base64')}]${name}`, 'the name ably-js attaches');
        const onlyMatching = await subscribed(filtered);
        const all = await subscribed((await connected(scope)).channels.get(name));

        const pub = (await connected(scope)).channels.get(name);
        // One publish of every message but the sentinel (one ProtocolMessage
        // of many), then each again alone, then the sentinel.
        await pub.publish(MESSAGES.slice(0, -1));
        for (const m of MESSAGES.slice(0, -1)) await pub.publish({ ...m, data: `${m.data}2` });
        await pub.publish(MESSAGES[MESSAGES.length - 1]);

        const again = (list) => [...list.filter((d) => d !== 'end'), ...list.filter((d) => d !== 'end').map((d) => `${d}2`), 'end'];
        await assertExactly(onlyMatching, again(want), 'filtered');
        await assertExactly(all, again(MESSAGES.map((m) => m.data)), 'unfiltered');
        // Ids are the ones every subscriber sees.
        const ids = new Map(all.messages.map((m) => [m.data, m.id]));
        for (const m of onlyMatching.messages) assert.equal(m.id, ids.get(m.data), `id of ${m.data}`);
      });
    }

    rtTest('a filtered and an unfiltered attachment on one connection are separate channels', async (scope) => {
      const name = chan('both');
      const c = await connected(scope);
      const plain = c.channels.get(name);
      const derived = c.channels.getDerived(name, { filter: 'headers.vegan == `true`' });
      const all = await subscribed(plain);
      const vegan = await subscribed(derived);
      assert.equal(plain.state, 'attached');
      assert.equal(derived.state, 'attached');
      assert.ok(derived.modes.includes('subscribe') && !derived.modes.includes('publish'), `derived modes ${derived.modes}`);

      for (const m of MESSAGES) await plain.publish(m); // the connection's own, echoed to both
      await assertExactly(vegan, ['b', 'c', 'f', 'end'], 'filtered');
      await assertExactly(all, MESSAGES.map((m) => m.data), 'unfiltered');

      // Detaching the filtered one leaves the plain one attached and fed.
      await derived.detach();
      assert.equal(plain.state, 'attached');
      await plain.publish({ data: 'after', extras: { headers: { vegan: true } } });
      await all.waitUntil((ms) => ms.some((m) => m.data === 'after'), 10000, 'after the detach');
      assert.equal(vegan.messages.length, 4, 'nothing more on the detached filtered channel');
    });

    rtTest('two different filters on one connection each get their own subset', async (scope) => {
      const name = chan('two');
      const c = await connected(scope);
      const cheap = await subscribed(c.channels.getDerived(name, { filter: 'headers.cost < `20`' }));
      const bob = await subscribed(c.channels.getDerived(name, { filter: 'clientId == `"bob"`' + END }));
      const pub = (await connected(scope)).channels.get(name);
      await pub.publish(MESSAGES);
      await assertExactly(cheap, ['c', 'g', 'end'], 'cost < 20');
      await assertExactly(bob, ['b', 'f', 'end'], 'bob');
    });

    rtTest('rewind sends only the matching messages of the backlog, then live ones', async (scope) => {
      const name = chan('rewind');
      const pub = (await connected(scope)).channels.get(name);
      await pub.publish(MESSAGES.slice(0, -1));
      const c = await connected(scope);
      const derived = c.channels.getDerived(name, { filter: 'headers.flavor == `"strawberry"`' }, { params: { rewind: '20' } });
      const inbox = await subscribed(derived);
      await inbox.waitUntil((ms) => ms.length >= 3, 10000, 'the backlog');
      await pub.publish(MESSAGES[MESSAGES.length - 1]);
      await assertExactly(inbox, ['a', 'd', 'f', 'end'], 'rewind');
    });

    rtTest('a resumed filtered attachment gets only the matching messages it missed', async (scope) => {
      const name = chan('resume');
      const c = await connected(scope);
      const inbox = await subscribed(c.channels.getDerived(name, { filter: 'clientId == `"alice"`' + END }));
      const pub = (await connected(scope)).channels.get(name);
      await pub.publish(MESSAGES[0]); // a: before the drop
      await inbox.waitUntil((ms) => ms.length === 1, 10000, 'a');
      const id = c.connection.id;
      killTransport(c);
      await waitForState(c.connection, 'disconnected', { what: 'drop' });
      await pub.publish(MESSAGES.slice(1)); // b..end while away: c and end match
      await waitForState(c.connection, 'connected', { what: 'resume' });
      assert.equal(c.connection.id, id, 'the connection resumed');
      await assertExactly(inbox, ['a', 'c', 'end'], 'resume');
    });

    rtTest('publishing and entering presence on a filtered channel are refused (40160); it keeps receiving', async (scope) => {
      const name = chan('pub');
      const c = await connected(scope, { clientId: 'me' });
      const derived = c.channels.getDerived(name, { filter: 'name == `"keep"`' });
      const inbox = await subscribed(derived);
      const err = await expectAblyError(assert, derived.publish('keep', 'x'), 401, 40160, 'publish on a filtered channel');
      assert.match(err.message, /subscription filter/, err.message);
      const perr = await expectAblyError(assert, derived.presence.enter('here'), 401, 40160, 'presence enter on a filtered channel');
      assert.match(perr.message, /subscription filter/, perr.message);
      assert.equal(derived.state, 'attached', 'a refused publish does not fail the channel');
      assert.equal(c.connection.state, 'connected');
      // Nothing was published by the refused calls: the first message on
      // the channel is the one published next, through the plain channel.
      const plain = c.channels.get(name);
      const all = await subscribed(plain);
      await plain.publish('keep', 'y');
      await inbox.waitUntil((ms) => ms.length >= 1, 10000, 'the later publish');
      await all.waitUntil((ms) => ms.length >= 1, 10000, 'the later publish, unfiltered');
      assert.deepEqual(inbox.messages.map((m) => m.data), ['y']);
      assert.deepEqual(all.messages.map((m) => m.data), ['y']);
      assert.deepEqual(await plain.presence.get(), [], 'nobody entered');
      assert.deepEqual(await derived.presence.get(), [], 'a filtered channel has no presence set');
    });

    const INVALID = [
      { what: 'a syntax error', filter: 'name == ', why: /unexpected end/ },
      { what: 'a single =', filter: 'name = `"x"`', why: /unexpected '='/ },
      { what: 'an unclosed parenthesis', filter: '(name == `"x"`', why: /expected '\)'/ },
      { what: 'an unknown field', filter: 'data == `"x"`', why: /unknown field 'data'/ },
      { what: 'an object literal', filter: 'headers.a == `{"b":1}`', why: /only string, number, boolean and null literals/ },
      { what: 'an invalid JSON literal', filter: 'name == `ice`', why: /invalid JSON literal/ },
      { what: 'a too long expression', filter: `name == \`"${'x'.repeat(1100)}"\``, why: /longer than 1024 bytes/ },
      { what: 'a too deep expression', filter: `${'!'.repeat(40)}name`, why: /nested deeper than 32 levels/ },
    ];
    for (const { what, filter, why } of INVALID) {
      rtTest(`${what} in a filter is refused on ATTACH (40010); the connection and other channels go on`, async (scope) => {
        const name = chan('invalid');
        const c = await connected(scope);
        const plain = c.channels.get(name);
        const all = await subscribed(plain);
        const bad = c.channels.getDerived(name, { filter });
        const err = await expectAblyError(assert, bad.attach(), 400, 40010, `attach with ${what}`);
        assert.match(err.message, /^Invalid filter expression: /, err.message);
        assert.match(err.message, why, err.message);
        assert.equal(bad.state, 'failed');
        assert.equal(c.connection.state, 'connected', 'the connection is not affected');
        await plain.publish('still', 'here');
        await all.waitUntil((ms) => ms.some((m) => m.data === 'here'), 10000, 'the other channel');
        assert.equal(plain.state, 'attached');
      });
    }

    rtTest('a filter qualifier that is not base64 is refused on ATTACH (40010)', async (scope) => {
      const c = await connected(scope);
      const bad = c.channels.get(`[filter=n*me]${chan('b64')}`);
      const err = await expectAblyError(assert, bad.attach(), 400, 40010, 'attach with bad base64');
      assert.match(err.message, /^Invalid filter expression: the filter qualifier is not base64/, err.message);
      assert.equal(c.connection.state, 'connected');
    });

    rtTest('capabilities: "[filter]*" or "[*]*" allow a filtered subscription, "*" alone does not', async (scope) => {
      const name = chan('cap');
      const filter = 'name == `"ok"`';
      const plainKey = await connected(scope, { key: PLAIN });
      const refused = plainKey.channels.getDerived(name, { filter });
      await expectAblyError(assert, refused.attach(), 401, 40160, 'filtered attach with {"*":["*"]}');
      assert.equal(plainKey.connection.state, 'connected');

      const filterKey = await connected(scope, { key: FILTERED });
      const inbox = await subscribed(filterKey.channels.getDerived(name, { filter }));
      await expectAblyError(assert, filterKey.channels.get(name).attach(), 401, 40160, 'plain attach with {"[filter]*":["subscribe"]}');
      const pub = (await connected(scope)).channels.get(name);
      await pub.publish([{ name: 'no', data: 'no' }, { name: 'ok', data: 'ok' }]);
      await inbox.waitUntil((ms) => ms.length >= 1, 10000, 'ok');
      assert.deepEqual(inbox.messages.map((m) => m.data), ['ok']);
    });
  });
}

describe('subscription filters on the wire', () => {
  const filtered = (expr, name) => `[filter=${Buffer.from(expr).toString('base64')}]${name}`;

  async function raw(params = {}) {
    const c = rawRealtime(srv.port, { key: ROOT, ...params });
    await c.next((pm) => pm.action === ACTION.CONNECTED, 10000, 'CONNECTED');
    return c;
  }

  rtTest('ATTACHED, MESSAGE, presence, ERROR and NACK of a filtered channel', async (scope) => {
    const name = uniqueChannel('filter-raw');
    const derived = filtered('headers.pick == `true`', name);
    // A member on the channel: a plain ATTACHED promises a SYNC, a filtered one not.
    const member = scope.realtime(srv, { key: ROOT, clientId: 'member' });
    await member.channels.get(name).presence.enter('here');

    const c = await raw();
    try {
      c.send({ action: ACTION.ATTACH, channel: derived });
      const attached = await c.next((pm) => pm.action === ACTION.ATTACHED, 10000, 'filtered ATTACHED');
      assert.equal(attached.channel, derived, 'ATTACHED names the channel as attached');
      assert.equal(attached.flags & (FLAG.SUBSCRIBE | FLAG.PUBLISH | FLAG.PRESENCE | FLAG.PRESENCE_SUBSCRIBE), FLAG.SUBSCRIBE,
        `subscribe only: flags ${attached.flags}`);
      assert.equal(attached.flags & FLAG.HAS_PRESENCE, 0, 'no presence on a filtered channel');
      c.send({ action: ACTION.ATTACH, channel: name });
      const plain = await c.next((pm) => pm.action === ACTION.ATTACHED && pm.channel === name, 10000, 'plain ATTACHED');
      assert.ok(plain.flags & FLAG.HAS_PRESENCE, 'the plain channel has a member');

      // One publish of four messages, two of which match.
      const res = await request(srv.url, 'POST', `/channels/${encodeURIComponent(name)}/messages`, {
        key: ROOT,
        json: [
          { name: 'n1', data: '1' },
          { name: 'y1', data: '2', extras: { headers: { pick: true } } },
          { name: 'n2', data: '3', extras: { headers: { pick: 'true' } } },
          { name: 'y2', data: '4', extras: { headers: { pick: true } } },
        ],
      });
      assert.equal(res.status, 201, res.raw.toString());
      const all = await c.next((pm) => pm.action === ACTION.MESSAGE && pm.channel === name, 10000, 'plain MESSAGE');
      const some = await c.next((pm) => pm.action === ACTION.MESSAGE && pm.channel === derived, 10000, 'filtered MESSAGE');
      assert.deepEqual(all.messages.map((m) => m.name), ['n1', 'y1', 'n2', 'y2']);
      assert.deepEqual(some.messages.map((m) => m.name), ['y1', 'y2'], 'the matching items of the publish');
      assert.equal(some.channelSerial, all.channelSerial, "the publish's position");
      assert.equal(some.id, all.id);
      assert.deepEqual(some.messages.map((m) => m.id), [all.messages[1].id, all.messages[3].id], "the items' ids");

      // Presence changes reach the plain channel only: after the member
      // leaves, a later matching message is the next frame of the filtered one.
      await member.channels.get(name).presence.leave();
      await c.next((pm) => pm.action === ACTION.PRESENCE && pm.channel === name, 10000, 'plain PRESENCE');
      await request(srv.url, 'POST', `/channels/${encodeURIComponent(name)}/messages`, {
        key: ROOT, json: { name: 'y3', extras: { headers: { pick: true } } },
      });
      await c.next((pm) => pm.action === ACTION.MESSAGE && pm.channel === derived && pm.messages[0].name === 'y3', 10000, 'y3');
      const onDerived = c.frames.filter((pm) => pm.channel === derived).map((pm) => pm.action);
      assert.deepEqual(onDerived, [ACTION.ATTACHED, ACTION.MESSAGE, ACTION.MESSAGE], 'nothing but messages on the filtered channel');

      c.send({ action: ACTION.MESSAGE, channel: derived, msgSerial: 0, messages: [{ name: 'x' }] });
      const nack = await c.next((pm) => pm.action === ACTION.NACK, 10000, 'NACK');
      assert.equal(nack.msgSerial, 0);
      assert.equal(nack.error.code, 40160);
      assert.equal(nack.error.statusCode, 401);
      assert.match(nack.error.message, /subscription filter/);

      const bad = filtered('name ==', name);
      c.send({ action: ACTION.ATTACH, channel: bad });
      const error = await c.next((pm) => pm.action === ACTION.ERROR, 10000, 'ERROR');
      assert.equal(error.channel, bad);
      assert.equal(error.error.code, 40010);
      assert.equal(error.error.statusCode, 400);
      assert.match(error.error.message, /^Invalid filter expression: unexpected end at character 8$/);
    } finally {
      c.close();
    }
  });

  test('REST refuses a filtered channel name (40010)', async () => {
    const name = filtered('name == `"x"`', uniqueChannel('filter-rest'));
    for (const [method, path, json] of [
      ['POST', 'messages', { name: 'x' }],
      ['GET', 'messages'],
      ['GET', 'presence'],
    ]) {
      const res = await request(srv.url, method, `/channels/${encodeURIComponent(name)}/${path}`, { key: ROOT, json });
      assert.equal(res.status, 400, `${method} ${path}: ${res.raw}`);
      assert.equal(res.body.error.code, 40010, `${method} ${path}`);
      assert.match(res.body.error.message, /subscription filter qualifier is for realtime subscriptions only/);
    }
  });

  test('an event stream of a filtered channel carries only the matching messages', async () => {
    const name = uniqueChannel('filter-stream');
    const derived = filtered('headers.n >= `2`', name);
    const stream = await rawStream(srv, `/event-stream?${streamQuery({ channels: derived, key: ROOT })}`, { format: 'json' });
    try {
      assert.equal(stream.status, 200, stream.head);
      // The stream writes its id alone once it is attached.
      await stream.next((e) => e.id !== undefined && e.event === undefined, 5000, 'the attached id');
      const publish = (n) => request(srv.url, 'POST', `/channels/${encodeURIComponent(name)}/messages`, {
        key: ROOT, json: { name: `m${n}`, data: `d${n}`, extras: { headers: { n } } },
      });
      for (const n of [1, 2, 0, 3]) assert.equal((await publish(n)).status, 201);
      const got = await stream.count((e) => e.event === 'message', 2, 5000, 'm2 and m3');
      assert.deepEqual(got.map((e) => e.data.name), ['m2', 'm3'], 'the matching messages, in order');
      assert.ok(got.every((e) => e.data.channel === derived), `channel of ${JSON.stringify(got)}`);
    } finally {
      stream.destroy();
    }
  });

  test('an event stream refuses an invalid filter expression (400/40010)', async () => {
    const bad = filtered('headers.n >=', uniqueChannel('filter-stream-bad'));
    const res = await request(srv.url, 'GET', `/event-stream?${streamQuery({ channels: bad, key: ROOT })}`);
    assert.equal(res.status, 400, res.raw.toString());
    assert.equal(res.body.error.code, 40010);
    assert.match(res.body.error.message, /^Invalid filter expression: unexpected end/);
  });
});
