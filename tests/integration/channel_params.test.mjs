// Channel params and modes as the official ably-js SDK sees them
// (realtime.md 5.3), and modes following the credentials after an in-band
// re-auth. On JSON and msgpack:
//  - params Herald applies (modes, rewind, delta, occupancy, echo) come back
//    in ATTACHED, so channel.params equals what was asked; agent and params
//    it does not know are dropped (channel.params {}), as Ably drops them;
//  - params.modes sets the granted modes exactly as the mode flags do, and
//    wins over them when both are given: a subscribe-only channel receives
//    but cannot publish or enter presence (40165);
//  - delta 'vcdiff' is accepted while full payloads keep coming;
//  - a param value Herald cannot apply fails the attach with 40000/400 and
//    the connection and its other channels go on;
//  - setOptions({params}) re-attaches with the new params;
//  - rewind applies on attach, and again on a re-attach whose continuity
//    was lost (the channelSerial older than the retention);
//  - after an AUTH with a token that adds publish (or takes it away) on an
//    attached channel, publishing works (or fails with 40165) without a
//    re-attach, and channel.modes follow at the next attach.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/channel_params.test.mjs

import assert from 'node:assert/strict';
import { describe, before, after, startServer, uniqueChannel, eventually } from './lib/server.mjs';
import { rtTest, Inbox, PROTOCOLS, withTimeout, waitForState, rejection, startTcpProxy } from './lib/realtime.mjs';

/** Publishes `names` on `name` from a fresh REST client. */
async function publishRest(srv, name, names, binary) {
  const ch = srv.rest({ binary }).channels.get(name);
  for (const n of names) await ch.publish(n, `data-${n}`); // eslint-disable-line no-await-in-loop
}

describe('channel params and modes, and modes after an in-band re-auth (ably-js)', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  for (const { name: proto, binary } of PROTOCOLS) {
    rtTest(`${proto}: params {modes: 'subscribe', delta: 'vcdiff'} echoed; the channel subscribes with full payloads but cannot publish or enter`, async (scope) => {
      const name = uniqueChannel(`params-sub-${proto}`);
      const c = await scope.connected(srv, { binary, clientId: 'sub' });
      const params = { modes: 'subscribe', delta: 'vcdiff' };
      const ch = c.channels.get(name, { params });
      const inbox = new Inbox();
      await withTimeout(inbox.subscribe(ch), 10000, 'subscribe');
      assert.deepEqual(ch.params, params, 'channel.params');
      assert.deepEqual(ch.modes, ['subscribe'], 'channel.modes');
      await publishRest(srv, name, ['one'], binary);
      const got = await inbox.waitForName('one');
      assert.equal(got.data, 'data-one', 'full payload, no delta encoding');
      assert.equal(got.extras?.delta, undefined, 'no delta');
      const pub = await rejection(ch.publish('nope', 'x'), 10000, 'publish on a subscribe-only channel');
      assert.equal(pub.code, 40165, `publish: ${pub.message}`);
      const enter = await rejection(ch.presence.enter('x'), 10000, 'enter on a subscribe-only channel');
      assert.equal(enter.code, 40165, `enter: ${enter.message}`);
      assert.equal(c.connection.state, 'connected');
    });

    rtTest(`${proto}: params.modes wins over the mode flags`, async (scope) => {
      const name = uniqueChannel(`params-modes-${proto}`);
      const c = await scope.connected(srv, { binary, clientId: 'p' });
      const params = { modes: 'presence,subscribe' };
      const ch = c.channels.get(name, { params, modes: ['PUBLISH', 'PRESENCE_SUBSCRIBE'] });
      await withTimeout(ch.attach(), 10000, 'attach');
      assert.deepEqual(ch.params, params);
      assert.deepEqual(ch.modes, ['presence', 'subscribe']);
      await withTimeout(ch.presence.enter('here'), 10000, 'enter (presence granted)');
      const pub = await rejection(ch.publish('nope', 'x'), 10000, 'publish (not granted)');
      assert.equal(pub.code, 40165);
    });

    rtTest(`${proto}: agent and unknown params are dropped; rewind, occupancy and echo are echoed`, async (scope) => {
      const c = await scope.connected(srv, { binary });
      const unknown = c.channels.get(uniqueChannel('params-unknown'), { params: { nonexistent: 'foo', agent: 'x/1' } });
      await withTimeout(unknown.attach(), 10000, 'attach with unknown params');
      assert.deepEqual(unknown.params, {}, 'nothing echoed');
      const known = { rewind: '1', occupancy: 'metrics.connections', echo: 'false' };
      const ch = c.channels.get(uniqueChannel('params-known'), { params: { ...known, agent: 'x/1' } });
      await withTimeout(ch.attach(), 10000, 'attach with known params');
      assert.deepEqual(ch.params, known);
    });

    rtTest(`${proto}: a param value Herald cannot apply fails the attach with 40000; the connection and its other channels go on`, async (scope) => {
      const c = await scope.connected(srv, { binary });
      const good = c.channels.get(uniqueChannel('params-good'));
      await withTimeout(good.attach(), 10000, 'attach');
      for (const params of [{ modes: 'subscribe,bogus' }, { delta: 'xdelta' }, { rewind: 'soon' }, { occupancy: 'everything' }]) {
        const ch = c.channels.get(uniqueChannel('params-bad'), { params });
        // eslint-disable-next-line no-await-in-loop
        const err = await rejection(ch.attach(), 10000, `attach with ${JSON.stringify(params)}`);
        assert.equal(err.code, 40000, `${JSON.stringify(params)}: ${err.message}`);
        assert.equal(err.statusCode, 400);
        assert.match(err.message, new RegExp(Object.keys(params)[0]), 'the message names the param');
      }
      assert.equal(c.connection.state, 'connected');
      const inbox = new Inbox();
      await inbox.subscribe(good);
      await publishRest(srv, good.name, ['still'], binary);
      await inbox.waitForName('still');
    });

    rtTest(`${proto}: setOptions({params}) re-attaches with the new params and modes`, async (scope) => {
      const name = uniqueChannel(`params-set-${proto}`);
      const c = await scope.connected(srv, { binary });
      const ch = c.channels.get(name);
      await withTimeout(ch.attach(), 10000, 'attach');
      await withTimeout(ch.publish('before', 'x'), 10000, 'publish with the default modes');
      await withTimeout(ch.setOptions({ params: { modes: 'subscribe', rewind: '1' } }), 10000, 'setOptions');
      assert.deepEqual(ch.params, { modes: 'subscribe', rewind: '1' });
      assert.deepEqual(ch.modes, ['subscribe']);
      assert.equal(ch.state, 'attached');
      const err = await rejection(ch.publish('after', 'x'), 10000, 'publish after setOptions');
      assert.equal(err.code, 40165);
      await withTimeout(ch.setOptions({ params: {} }), 10000, 'setOptions back');
      assert.deepEqual(ch.params, {});
      await withTimeout(ch.publish('again', 'x'), 10000, 'publish with the default modes again');
    });

    rtTest(`${proto}: rewind '2' delivers the last two messages on attach`, async (scope) => {
      const name = uniqueChannel(`params-rewind-${proto}`);
      await publishRest(srv, name, ['m1', 'm2', 'm3'], binary);
      const c = await scope.connected(srv, { binary });
      const ch = c.channels.get(name, { params: { rewind: '2' } });
      const inbox = new Inbox();
      await withTimeout(inbox.subscribe(ch), 10000, 'subscribe');
      await inbox.waitForCount(2);
      await publishRest(srv, name, ['m4'], binary);
      await inbox.waitForName('m4');
      assert.deepEqual(inbox.names(), ['m2', 'm3', 'm4']);
      assert.deepEqual(ch.params, { rewind: '2' });
    });
  }

  for (const { name: proto, binary } of PROTOCOLS) {
    rtTest(`${proto}: a token adding publish lets the attached channel publish at once; one taking it away stops it; one without the channel fails it (40160)`, async (scope) => {
      const name = uniqueChannel(`reauth-modes-${proto}`);
      const other = uniqueChannel('reauth-other');
      const rest = srv.rest({ binary });
      let capability = { [name]: ['subscribe'], [other]: ['subscribe'] };
      const c = await scope.connected(srv, {
        key: undefined,
        binary,
        authCallback: (params, cb) => {
          rest.auth.requestToken({ capability: JSON.stringify(capability) }).then((td) => cb(null, td), (e) => cb(e, null));
        },
      });
      const ch = c.channels.get(name);
      await withTimeout(ch.attach(), 10000, 'attach');
      assert.deepEqual(ch.modes, ['subscribe', 'presence_subscribe'], 'modes of a subscribe-only token');
      const before = await rejection(ch.publish('early', 'x'), 10000, 'publish with a subscribe-only token');
      assert.equal(before.code, 40160, before.message);

      capability = { [name]: ['subscribe', 'publish'], [other]: ['subscribe'] };
      await withTimeout(c.auth.authorize(), 10000, 'authorize with publish');
      await withTimeout(ch.publish('upgraded', 'x'), 10000, 'publish after the upgrade, no re-attach');
      assert.equal(ch.state, 'attached');
      await withTimeout(ch.detach(), 10000, 'detach');
      await withTimeout(ch.attach(), 10000, 're-attach');
      assert.deepEqual(ch.modes, ['publish', 'subscribe', 'presence_subscribe'], 'modes at the next attach');

      capability = { [name]: ['subscribe'], [other]: ['subscribe'] };
      await withTimeout(c.auth.authorize(), 10000, 'authorize without publish');
      const after = await rejection(ch.publish('downgraded', 'x'), 10000, 'publish after the downgrade');
      assert.equal(after.code, 40160, after.message);
      assert.equal(ch.state, 'attached', 'still attached: subscribe is still allowed');

      const failed = new Promise((resolve) => ch.once('failed', resolve));
      capability = { [other]: ['subscribe'] };
      await withTimeout(c.auth.authorize(), 10000, 'authorize without the channel');
      const change = await withTimeout(failed, 10000, 'channel failed');
      assert.equal(change.reason?.code, 40160);
      assert.equal(c.connection.state, 'connected');
    });
  }
});

describe('rewind when continuity is lost', () => {
  let srv;
  before(async () => {
    // a short retention: the client's channelSerial soon leaves it
    srv = await startServer({ args: ['--retention-ms', '1500', '--connection-state-ttl-ms', '60000'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  rtTest('a resumed re-attach whose channelSerial left the retention gets the rewind backlog (and 90003 on ATTACHED), not only live messages', async (scope) => {
    const name = uniqueChannel('params-rewind-lost');
    const proxy = await startTcpProxy(srv.port);
    try {
      const c = await scope.connected(proxy, { key: srv.key, disconnectedRetryTimeout: 200 });
      const ch = c.channels.get(name, { params: { rewind: '1' } });
      const inbox = new Inbox();
      await inbox.subscribe(ch);
      await publishRest(srv, name, ['first'], false);
      await inbox.waitForName('first');
      const id = c.connection.id;
      proxy.setUp(false);
      proxy.dropAll();
      await waitForState(c.connection, 'disconnected', { what: 'disconnected' });
      await publishRest(srv, name, ['missed'], false);
      // 'first' (the client's channelSerial) and 'missed' leave the retention
      const history = srv.rest({ binary: false }).channels.get(name);
      await eventually(async () => (await history.history()).items.length === 0, { what: 'history emptied by the retention' });
      await publishRest(srv, name, ['latest'], false);
      const reattached = new Promise((resolve) => ch.once('attached', resolve));
      proxy.setUp(true);
      await waitForState(c.connection, 'connected', { what: 'reconnected' });
      assert.equal(c.connection.id, id, 'the connection resumed');
      const change = await withTimeout(reattached, 10000, 'ATTACHED after the resume');
      assert.equal(change.resumed, false, 'continuity lost');
      assert.equal(change.reason?.code, 90003, 'ATTACHED says continuity was lost');
      await inbox.waitForName('latest');
      assert.deepEqual(inbox.names(), ['first', 'latest'], 'the rewind brought the latest message');
      assert.deepEqual(ch.params, { rewind: '1' }, 'params echoed again');
    } finally {
      await proxy.close();
    }
  });
});
