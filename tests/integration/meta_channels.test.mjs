// Metachannels (issue 21 item 4; server/channel/meta_channels.h) as the
// official ably-js SDK sees them, on JSON and msgpack:
//  - [meta]channel.lifecycle: another client's first attach of a channel
//    gives channel.opened, its last detach channel.closed, each with the
//    channel's ChannelDetails (isActive, occupancy metrics); a second
//    attachment opens nothing; the events are in the metachannel's
//    history; GET /channels lists no metachannel; another app's
//    subscriber sees none of them;
//  - [meta]connection.lifecycle: connection.opened / connection.closed
//    (connectionId, clientId, transport, duration) for a WebSocket, a
//    comet and an SSE connection;
//  - [meta]log: a subscriber disconnected for being too slow (80020, which
//    it may never read) is told there with its connectionId;
//  - capabilities: {"*":["*"]} grants no metachannel (attach fails 40160),
//    {"[meta]channel.lifecycle":["subscribe"]} that one only;
//  - publishing (realtime and REST) and entering presence on a
//    metachannel are refused with 40160, even with {"[meta]*":["*"]}.
// The cluster: cluster_meta_channels.test.mjs.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/meta_channels.test.mjs

import assert from 'node:assert/strict';
import { describe, before, after, startServer, uniqueChannel, Ably } from './lib/server.mjs';
import { rtTest, Inbox, PROTOCOLS, withTimeout, rejection, rawRealtime } from './lib/realtime.mjs';
import { eventSource, streamQuery } from './lib/eventstream.mjs';

const ROOT = 'metaapp.root:secretroot'; // every channel and metachannel
const PLAIN = 'metaapp.plain:secretplain'; // {"*":["*"]}: no metachannel
const LIFECYCLE_ONLY = 'metaapp.life:secretlife';
const OTHER = 'otherapp.root:secretother'; // another app's
const CONFIG = {
  apps: [
    {
      id: 'metaapp',
      keys: [
        { key: ROOT, capability: { '*': ['*'], '[meta]*': ['*'] } },
        { key: PLAIN, capability: { '*': ['*'] } },
        { key: LIFECYCLE_ONLY, capability: { '[meta]channel.lifecycle': ['subscribe'] } },
      ],
    },
    { id: 'otherapp', keys: [{ key: OTHER, capability: { '*': ['*'], '[meta]*': ['subscribe'] } }] },
  ],
};
const MAX_OUTBOUND = 65536;
const NONE = {
  connections: 0, publishers: 0, subscribers: 0, presenceConnections: 0, presenceSubscribers: 0,
  presenceMembers: 0, objectPublishers: 0, objectSubscribers: 0,
};

/** A client (key ROOT unless opts say) subscribed to metachannel `name`, with its inbox. */
async function watcher(scope, srv, name, opts = {}) {
  const client = await scope.connected(srv, { key: ROOT, ...opts });
  const channel = client.channels.get(name);
  const inbox = new Inbox();
  await withTimeout(inbox.subscribe(channel), 10000, `subscribe ${name}`);
  return { client, channel, inbox };
}

/** Waits for the message named `event` whose data satisfies pred. */
async function eventWhere(inbox, event, pred, what) {
  const match = (m) => m.name === event && pred(m.data);
  await inbox.waitUntil((ms) => ms.some(match), 10000, what);
  return inbox.messages.find(match);
}

const about = (inbox, channel) => inbox.messages.filter((m) => m.data?.channelId === channel);

function assertErrorInfo(e, code, statusCode, what) {
  assert.ok(e, `${what}: an error`);
  assert.equal(e.code, code, `${what}: code (${e.code} ${e.message})`);
  assert.equal(e.statusCode, statusCode, `${what}: statusCode`);
}

describe('metachannels', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      config: CONFIG,
      env: { HERALD_KEY: null },
      args: ['--max-outbound-bytes', String(MAX_OUTBOUND), '--max-idle-interval-ms', '2000'],
    });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  for (const { name: proto, binary } of PROTOCOLS) {
    rtTest(`${proto}: [meta]channel.lifecycle: channel.opened on the first attach, channel.closed on the last detach, with ChannelDetails; in history; not another app's`, async (scope) => {
      const lifecycle = await watcher(scope, srv, '[meta]channel.lifecycle', { binary });
      const other = await watcher(scope, srv, '[meta]channel.lifecycle', { key: OTHER, binary });
      const name = uniqueChannel(`life-${proto}`);
      const first = await scope.connected(srv, { key: ROOT, binary });
      const second = await scope.connected(srv, { key: ROOT, binary });

      await first.channels.get(name).attach();
      const opened = await eventWhere(lifecycle.inbox, 'channel.opened', (d) => d?.channelId === name, 'channel.opened');
      assert.deepEqual(opened.data, {
        channelId: name,
        status: {
          isActive: true,
          occupancy: { metrics: { ...NONE, connections: 1, publishers: 1, subscribers: 1, presenceConnections: 1, presenceSubscribers: 1 } },
        },
      });
      assert.equal(typeof opened.id, 'string');
      assert.equal(typeof opened.timestamp, 'number');

      // A second attachment, and its detach, neither open nor close it.
      await second.channels.get(name).attach();
      await second.channels.get(name).detach();
      await first.channels.get(name).detach();
      const closed = await eventWhere(lifecycle.inbox, 'channel.closed', (d) => d?.channelId === name, 'channel.closed');
      assert.deepEqual(closed.data, { channelId: name, status: { isActive: false, occupancy: { metrics: NONE } } });
      assert.deepEqual(about(lifecycle.inbox, name).map((m) => m.name), ['channel.opened', 'channel.closed']);

      // Kept in the metachannel's history, as Ably's are.
      const rest = new Ably.Rest({ key: ROOT, endpoint: '127.0.0.1', port: srv.port, tls: false, useBinaryProtocol: binary });
      const page = await rest.channels.get('[meta]channel.lifecycle').history({ direction: 'forwards', limit: 1000 });
      assert.deepEqual(page.items.filter((m) => m.data?.channelId === name).map((m) => m.name), ['channel.opened', 'channel.closed']);

      // Metachannels are not the app's channels: GET /channels lists none,
      // though they have history and attachments.
      const list = await srv.request('GET', '/channels?by=id&limit=1000', { key: ROOT });
      assert.equal(list.status, 200);
      assert.ok(!list.body.some((n) => n.startsWith('[meta]')), JSON.stringify(list.body));

      // The other app's subscriber, on the same server, heard nothing of it
      // (its own attach is a metachannel's, which never opens).
      assert.deepEqual(about(other.inbox, name), []);
    });

    rtTest(`${proto}: [meta]connection.lifecycle: connection.opened and connection.closed of a WebSocket and of a comet connection`, async (scope) => {
      const lifecycle = await watcher(scope, srv, '[meta]connection.lifecycle', { binary });
      for (const transport of ['web_socket', 'comet']) {
        const clientId = `client-${transport}-${proto}`;
        const client = await scope.connected(srv, { key: ROOT, binary, clientId, transports: [transport] });
        const id = client.connection.id;
        const opened = await eventWhere(lifecycle.inbox, 'connection.opened', (d) => d?.connectionId === id, `${transport} opened`);
        assert.deepEqual(opened.data, { connectionId: id, clientId, transport });
        client.close();
        const closed = await eventWhere(lifecycle.inbox, 'connection.closed', (d) => d?.connectionId === id, `${transport} closed`);
        assert.equal(closed.data.clientId, clientId);
        assert.equal(closed.data.transport, transport);
        assert.ok(Number.isInteger(closed.data.duration) && closed.data.duration >= 0, `duration ${closed.data.duration}`);
      }
    });
  }

  rtTest('[meta]connection.lifecycle: an SSE stream opens a connection and closes it when it ends', async (scope) => {
    const lifecycle = await watcher(scope, srv, '[meta]connection.lifecycle');
    const stream = eventSource(srv, `/sse?${streamQuery({ key: ROOT, channels: uniqueChannel('sse') })}`);
    try {
      await withTimeout(stream.opened, 5000, 'SSE open');
      const opened = await eventWhere(lifecycle.inbox, 'connection.opened', (d) => d?.transport === 'sse', 'SSE opened');
      assert.equal(typeof opened.data.connectionId, 'string');
      stream.close();
      const closed = await eventWhere(lifecycle.inbox, 'connection.closed', (d) => d?.connectionId === opened.data.connectionId, 'SSE closed');
      assert.equal(closed.data.transport, 'sse');
    } finally {
      stream.close();
    }
  });

  rtTest('[meta]log: a subscriber disconnected for being too slow (80020) is told there with its connectionId', async (scope) => {
    const log = await watcher(scope, srv, '[meta]log');
    const name = uniqueChannel('slow');
    const raw = rawRealtime(srv.port, { key: ROOT });
    try {
      await withTimeout(raw.opened, 5000, 'raw WebSocket open');
      const connected = await raw.next((pm) => pm.action === 4, 5000, 'CONNECTED');
      raw.send({ action: 10, channel: name });
      await raw.next((pm) => pm.action === 11 && pm.channel === name, 5000, 'ATTACHED');
      raw.ws._socket.pause(); // reads nothing more: the server's queue grows
      const rest = new Ably.Rest({ key: ROOT, endpoint: '127.0.0.1', port: srv.port, tls: false });
      const data = 'x'.repeat(1000);
      const isSlow = (m) => m.name === 'connection.disconnected' && m.data?.connectionId === connected.connectionId;
      // Until the kernel's buffers and then --max-outbound-bytes overflow.
      for (let i = 0; i < 400 && !log.inbox.messages.some(isSlow); i++) {
        await rest.channels.get(name).publish(Array.from({ length: 50 }, () => ({ name: 'bulk', data })));
      }
      await log.inbox.waitUntil((ms) => ms.some(isSlow), 10000, 'the slow subscriber on [meta]log');
      const event = log.inbox.messages.find(isSlow);
      assertErrorInfo(event.data.error, 80020, 429, '[meta]log error');
      assert.match(event.data.error.message, /too slow/);
    } finally {
      raw.close();
    }
  });

  for (const { name: proto, binary } of PROTOCOLS) {
    rtTest(`${proto}: a capability without the [meta] qualifier grants no metachannel (40160); one naming a metachannel grants that one`, async (scope) => {
      const plain = await scope.connected(srv, { key: PLAIN, binary });
      for (const meta of ['[meta]channel.lifecycle', '[meta]log']) {
        const err = await rejection(plain.channels.get(meta).attach(), 10000, `attach ${meta} with {"*":["*"]}`);
        assertErrorInfo(err, 40160, 401, `attach ${meta} with {"*":["*"]}`);
      }
      assert.equal(plain.connection.state, 'connected');
      await plain.channels.get(uniqueChannel('plain')).attach(); // ordinary channels still

      const only = await scope.connected(srv, { key: LIFECYCLE_ONLY, binary });
      await only.channels.get('[meta]channel.lifecycle').attach();
      const err = await rejection(only.channels.get('[meta]log').attach(), 10000, 'attach [meta]log');
      assertErrorInfo(err, 40160, 401, 'attach [meta]log with only [meta]channel.lifecycle');
    });

    rtTest(`${proto}: publishing and entering presence on a metachannel are refused with 40160, realtime and REST, even with {"[meta]*":["*"]}`, async (scope) => {
      const client = await scope.connected(srv, { key: ROOT, binary, clientId: 'writer' });
      const log = client.channels.get('[meta]log');
      await log.attach();
      assertErrorInfo(await rejection(log.publish('x', 'y'), 10000, 'realtime publish'), 40160, 401, 'realtime publish to [meta]log');
      const lifecycle = client.channels.get('[meta]channel.lifecycle');
      assertErrorInfo(await rejection(lifecycle.presence.enter('here'), 10000, 'presence enter'), 40160, 401, 'presence enter on [meta]channel.lifecycle');
      assert.equal(client.connection.state, 'connected');

      const rest = new Ably.Rest({ key: ROOT, endpoint: '127.0.0.1', port: srv.port, tls: false, useBinaryProtocol: binary });
      for (const meta of ['[meta]log', '[meta]connection.lifecycle']) {
        const err = await rejection(rest.channels.get(meta).publish('x', 'y'), 10000, `REST publish to ${meta}`);
        assertErrorInfo(err, 40160, 401, `REST publish to ${meta}`);
      }
      const page = await rest.channels.get('[meta]log').history({ limit: 1000 });
      assert.ok(!page.items.some((m) => m.name === 'x'), 'nothing of theirs stored');
    });
  }
});
