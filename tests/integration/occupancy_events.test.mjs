// [meta]occupancy events (the occupancy channel param, realtime.md 5.3) as
// the official ably-js SDK receives them, on JSON and msgpack:
//  - an attachment with params {occupancy: 'metrics'} gets a MESSAGE named
//    [meta]occupancy whose data.metrics counts the channel's attachments by
//    mode and its members, when they change: its own arrival, another
//    client's attach, presence enter, detach;
//  - attachments without the param never get one;
//  - events are rate-limited (--occupancy-interval-ms): within the interval a
//    change waits and is folded into the next event, except the arrival of
//    another subscriber that takes events, which gets one at once;
//  - credentials without channel-metadata get no events;
//  - GET /channels/<name>?occupancy=metrics answers the same metrics.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/occupancy_events.test.mjs

import assert from 'node:assert/strict';
import { describe, before, after, startServer, uniqueChannel } from './lib/server.mjs';
import { rtTest, Inbox, PROTOCOLS, withTimeout } from './lib/realtime.mjs';

const OCCUPANCY = { params: { occupancy: 'metrics' } };
const metricsOf = (m) => m.data.metrics;

/** A client attached to `name` (with `options`) collecting every message on it. */
async function listener(scope, srv, name, options, opts = {}) {
  const client = await scope.connected(srv, opts);
  const channel = client.channels.get(name, options);
  const inbox = new Inbox();
  await withTimeout(inbox.subscribe(channel), 10000, `subscribe ${name}`);
  return { client, channel, inbox };
}

/** Waits for a [meta]occupancy event whose metrics include `want`. */
async function eventWith(inbox, want, what) {
  const matches = (m) => m.name === '[meta]occupancy' &&
    Object.entries(want).every(([k, v]) => metricsOf(m)[k] === v);
  await inbox.waitUntil((ms) => ms.some(matches), 10000, what);
  return inbox.messages.find(matches);
}

describe('[meta]occupancy events', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--occupancy-interval-ms', '200'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  for (const { name: proto, binary } of PROTOCOLS) {
    rtTest(`${proto}: events follow attaches, presence and detaches; a subscriber without the param gets none`, async (scope) => {
      const name = uniqueChannel(`occ-events-${proto}`);
      const watcher = await listener(scope, srv, name, OCCUPANCY, { binary });
      const first = await eventWith(watcher.inbox, { connections: 1 }, 'the event of its own arrival');
      assert.deepEqual(metricsOf(first), {
        connections: 1, publishers: 1, subscribers: 1, presenceConnections: 1, presenceSubscribers: 1,
        presenceMembers: 0, objectPublishers: 0, objectSubscribers: 0,
      });
      assert.equal(typeof first.id, 'string');
      assert.equal(typeof first.timestamp, 'number');

      const plain = await listener(scope, srv, name, { modes: ['SUBSCRIBE'] }, { binary, clientId: 'plain' });
      await eventWith(watcher.inbox, { connections: 2, subscribers: 2, publishers: 1 }, 'a plain subscriber attached');
      const member = await scope.connected(srv, { binary, clientId: 'member' });
      const memberCh = member.channels.get(name);
      await withTimeout(memberCh.presence.enter('here'), 10000, 'enter');
      await eventWith(watcher.inbox, { connections: 3, presenceMembers: 1 }, 'a member entered');
      await withTimeout(memberCh.detach(), 10000, 'detach');
      await eventWith(watcher.inbox, { connections: 2, presenceMembers: 0 }, 'the member detached');

      await srv.rest({ binary }).channels.get(name).publish('sentinel', 'x');
      await plain.inbox.waitForName('sentinel');
      assert.deepEqual(plain.inbox.names(), ['sentinel'], 'no [meta]occupancy without the param');
      assert.deepEqual(watcher.channel.params, { occupancy: 'metrics' });

      const rest = await srv.request('GET', `/channels/${encodeURIComponent(name)}?occupancy=metrics`);
      assert.equal(rest.status, 200, rest.raw);
      assert.equal(rest.body.status.occupancy.metrics.connections, 2);
    });
  }

  rtTest('credentials without channel-metadata get no events', async (scope) => {
    const name = uniqueChannel('occ-events-cap');
    const rest = srv.rest();
    const token = await rest.auth.requestToken({ capability: JSON.stringify({ [name]: ['subscribe', 'publish'] }) });
    const limited = await listener(scope, srv, name, OCCUPANCY, { key: undefined, token: token.token });
    assert.deepEqual(limited.channel.params, { occupancy: 'metrics' }, 'the param is accepted');
    const watcher = await listener(scope, srv, name, OCCUPANCY);
    await eventWith(watcher.inbox, { connections: 2 }, 'events reach the key holder');
    await rest.channels.get(name).publish('sentinel', 'x');
    await limited.inbox.waitForName('sentinel');
    assert.deepEqual(limited.inbox.names(), ['sentinel'], 'no event without channel-metadata');
  });
});

describe('[meta]occupancy events are rate-limited', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--occupancy-interval-ms', '600000'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  rtTest('within the interval a change waits; a new subscriber that takes events gets one at once, with the change folded in', async (scope) => {
    const name = uniqueChannel('occ-events-rate');
    const first = await listener(scope, srv, name, OCCUPANCY);
    await eventWith(first.inbox, { connections: 1 }, 'the first event, at once');
    await listener(scope, srv, name, {});
    const second = await listener(scope, srv, name, OCCUPANCY);
    const seen = await eventWith(second.inbox, { connections: 3 }, 'the arrival of a second events subscriber');
    const events = first.inbox.messages.filter((m) => m.name === '[meta]occupancy');
    await first.inbox.waitUntil((ms) => ms.filter((m) => m.name === '[meta]occupancy').length === 2, 10000, 'the second event on the first');
    assert.deepEqual(first.inbox.messages.filter((m) => m.name === '[meta]occupancy').map((m) => metricsOf(m).connections), [1, 3],
      'the plain attach (2) waited and was folded into the next event');
    assert.equal(metricsOf(seen).connections, 3);
    assert.ok(events.length >= 1);
  });
});
