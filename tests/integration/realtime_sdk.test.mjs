// The realtime protocol (spec/realtime.md) through the official ably-js SDK,
// unmodified, over both wire formats (JSON text frames and msgpack binary
// frames; every test runs for each):
//  - connecting with a key, an authCallback TokenRequest, REST TokenDetails and
//    a JWT; connection id/key shapes, connectionDetails, ping, idle heartbeats;
//  - connection failures: wrong secret, unknown key, expired JWT;
//  - pub/sub between a JSON client and a msgpack client (string, JSON object
//    and binary payloads), message ids/serials/clientIds, ACK order, NACKs
//    (capability, clientId), channel capability errors, echoMessages:false;
//  - rewind (count and duration), REST history of realtime publishes,
//    history({untilAttach}), REST publishes reaching realtime subscribers;
//  - continuity: resume after a killed transport (no loss, no duplicate),
//    failed resume after connectionStateTtl (80008), recover with a recovery
//    key, token renewal at expiry (DISCONNECTED 40142, then a resume);
//  - a slow subscriber is cut off (80020) while the others keep receiving; a
//    slow ably-js subscriber resumes and catches up.

import assert from 'node:assert/strict';
import {
  startServer, describe, before, after, uniqueChannel, sleep,
} from './lib/server.mjs';
import { signTokenRequest, makeJwt, expectAblyError, guardedAuthCallback } from './lib/auth.mjs';
import {
  PROTOCOLS,
  rtTest, Inbox, waitForState, nextEvent, withTimeout, recordStateChanges, describeChanges,
  killTransport, activeWebSocket, startTcpProxy, rawRealtime, handled,
} from './lib/realtime.mjs';

const ROOT = 'rtapp.root:secretroot';
const LIMITED = 'rtapp.limited:secretlimited';
const CONFIG = {
  apps: [{
    id: 'rtapp',
    keys: [
      { key: ROOT, capability: { '*': ['*'] } },
      { key: LIMITED, capability: { 'allowed:*': ['publish', 'subscribe'] } },
    ],
  }],
};
const SERVER_ENV = { HERALD_KEY: null };
const MAX_IDLE_MS = 2000;
const STATE_TTL_MS = 3000;

const CONN_ID_RE = /^[A-Za-z0-9_-]{10}$/;
const MARKER = 'end-marker';

/** A server with this file's apps and `args`, stopped after the test `t`. */
async function dedicatedServer(t, args) {
  const s = await startServer({ config: CONFIG, env: SERVER_ENV, args });
  t.after(() => s.stop());
  return s;
}

/** Publishes MARKER through `channel` and waits for it in `inbox`: all published before it has been delivered. */
async function flush(inbox, channel, timeoutMs = 10000) {
  await channel.publish(MARKER, 'end');
  await inbox.waitForName(MARKER, timeoutMs);
}

/** Asserts the names delivered to `inbox`, showing the first difference. */
function assertNames(inbox, expected, what) {
  const actual = inbox.names();
  const i = actual.findIndex((n, k) => n !== expected[k]);
  const at = i < 0 ? Math.min(actual.length, expected.length) : i;
  assert.ok(i < 0 && actual.length === expected.length,
    `${what}: got ${actual.length} messages, expected ${expected.length}; first difference at #${at}: ` +
    `got ${JSON.stringify(actual.slice(at, at + 5))}, expected ${JSON.stringify(expected.slice(at, at + 5))}`);
}

const range = (n, f = String) => Array.from({ length: n }, (_, i) => f(i));
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Publishes n messages named "0".."n-1" at a steady pace without awaiting each; resolves with all ACK results. */
async function publishPaced(channel, n, intervalMs) {
  const acks = [];
  for (let i = 0; i < n; i++) {
    acks.push(channel.publish(String(i), `seq-${i}`));
    await sleep(intervalMs);
  }
  return Promise.all(acks);
}

// Slow-subscriber tests: 8 MB published, twice what the kernel's socket
// buffers absorb on loopback here (~4 MB), so the server's own queue for a
// reader that stops reading must outgrow --max-outbound-bytes.
const SLOW = { maxOutbound: 65536, batches: 160, perBatch: 50, total: 160 * 50 };

/** REST-publishes SLOW.total 1000-byte messages named "0".."total-1", SLOW.perBatch per request. */
async function publishBulk(restCh) {
  const data = 'x'.repeat(1000);
  for (let b = 0; b < SLOW.batches; b++) {
    await restCh.publish(range(SLOW.perBatch, (i) => ({ name: String(b * SLOW.perBatch + i), data })));
  }
}

/** Waits for a connection to fail and returns its errorReason; `changes` are its recorded state changes. */
async function expectFailed(client, changes, code, timeoutMs = 8000) {
  await waitForState(client.connection, 'failed', { failOn: [], timeoutMs, what: 'connection' });
  const err = client.connection.errorReason;
  assert.ok(err, 'errorReason set on failure');
  const ctx = `errorReason ${err.code}/${err.statusCode}: ${err.message}; states ${describeChanges(changes)}`;
  assert.equal(err.code, code, ctx);
  return err;
}

let srv;
before(async () => {
  srv = await startServer({
    config: CONFIG,
    env: SERVER_ENV,
    args: ['--max-idle-interval-ms', String(MAX_IDLE_MS), '--connection-state-ttl-ms', String(STATE_TTL_MS)],
  });
});
after(async () => { if (srv) await srv.stop(); });

for (const proto of PROTOCOLS) {
  const B = proto.binary;
  const other = PROTOCOLS.find((p) => p !== proto);
  const chan = (p) => uniqueChannel(`rt-${proto.name}-${p}`);
  const rest = (s = srv) => s.rest({ binary: B });

  /** A connected key client of `target` (server or proxy). */
  async function connected(scope, opts = {}, target = srv) {
    const c = scope.realtime(target, { key: ROOT, binary: B, ...opts });
    await waitForState(c.connection, 'connected', { what: `${opts.label || 'client'} connection` });
    return c;
  }

  /** A channel of `client` subscribed into a new Inbox; returns {channel, inbox, attached (state change)}. */
  async function subscribed(client, name, channelOptions) {
    const channel = client.channels.get(name, channelOptions);
    const inbox = new Inbox();
    const attached = await withTimeout(inbox.subscribe(channel), 10000, `attach ${name}`);
    return { channel, inbox, attached };
  }

  describe(`ably-js realtime over ${proto.name}`, () => {
    // ---- 1. connection ------------------------------------------------------

    rtTest('connects with a key: connection id and key, connectionDetails, ping, idle heartbeat', async (scope) => {
      const c = await connected(scope);
      const { id, key } = c.connection;
      assert.match(id, CONN_ID_RE, `connection.id ${id}`);
      assert.ok(key.startsWith(id + '!') && key.length > id.length + 1, `connection.key ${key} = <id>!<secret>`);
      const cd = c.connection.connectionManager.connectionDetails;
      assert.ok(cd, 'connectionDetails received');
      assert.equal(cd.connectionKey, key);
      assert.equal(cd.maxIdleInterval, MAX_IDLE_MS, 'maxIdleInterval = --max-idle-interval-ms');
      assert.equal(cd.connectionStateTtl, STATE_TTL_MS, 'connectionStateTtl = --connection-state-ttl-ms');
      assert.equal(cd.maxMessageSize, 65536);
      assert.equal(cd.maxFrameSize, 524288);
      assert.equal(cd.maxInboundRate, 250);
      assert.equal(typeof cd.serverId, 'string');
      assert.equal(cd.siteCode, 'local');
      assert.equal(cd.clientId ?? null, null, 'anonymous key connection has no clientId');

      const rtt = await withTimeout(c.connection.ping(), 5000, 'ping');
      assert.equal(typeof rtt, 'number');

      // nothing else is sent to this connection, so a HEARTBEAT must come within maxIdleInterval
      const transport = c.connection.connectionManager.activeProtocol.getTransport();
      const hbId = await nextEvent(transport, 'heartbeat', MAX_IDLE_MS + 1500, 'idle HEARTBEAT from the server');
      assert.equal(hbId ?? null, null, 'idle heartbeat carries no id');

      const second = await connected(scope);
      assert.notEqual(second.connection.id, id, 'each connection has its own id');
      assert.notEqual(second.connection.key, key);
    });

    // ---- 2. token auth ------------------------------------------------------

    const tokenWays = [
      ['an authCallback returning a signed TokenRequest', 'tr-user',
        async (clientId) => ({ authCallback: guardedAuthCallback(() => signTokenRequest(ROOT, { clientId })).authCallback })],
      ['TokenDetails from REST requestToken', 'td-user',
        async (clientId) => ({ tokenDetails: await rest().auth.requestToken({ clientId }) })],
      ['a JWT', 'jwt-user',
        async (clientId) => ({ token: makeJwt({ key: ROOT, clientId, capability: { '*': ['*'] } }) })],
    ];
    for (const [how, clientId, authOptions] of tokenWays) {
      rtTest(`connects with ${how}; the token's clientId identifies the connection and its messages`, async (scope) => {
        const c = scope.realtime(srv, { binary: B, ...(await authOptions(clientId)) });
        await waitForState(c.connection, 'connected', { what: 'token connection' });
        assert.match(c.connection.id, CONN_ID_RE);
        assert.equal(c.auth.clientId, clientId, 'auth.clientId');
        assert.equal(c.connection.connectionManager.connectionDetails.clientId, clientId, 'connectionDetails.clientId');
        const { channel, inbox } = await subscribed(c, chan('tok'));
        await channel.publish('hello', 'world');
        const m = await inbox.waitForName('hello');
        assert.equal(m.clientId, clientId, 'message clientId stamped from the token');
        assert.equal(m.connectionId, c.connection.id);
      });
    }

    // ---- 3. connection failures ------------------------------------------

    rtTest('a wrong key secret fails the connection with 40101 (no retry loop)', async (scope) => {
      const c = scope.realtime(srv, { key: 'rtapp.root:not-the-secret', binary: B });
      const changes = recordStateChanges(c.connection);
      const err = await expectFailed(c, changes, 40101);
      assert.equal(err.statusCode, 401);
      assert.equal(changes.filter((ch) => ch.current === 'connecting').length, 1, `one attempt only: ${describeChanges(changes)}`);
    });

    rtTest('an unknown key fails the connection with 40101', async (scope) => {
      const c = scope.realtime(srv, { key: 'rtapp.nosuchkey:whatever', binary: B });
      const changes = recordStateChanges(c.connection);
      const err = await expectFailed(c, changes, 40101);
      assert.equal(err.statusCode, 401);
      assert.equal(changes.filter((ch) => ch.current === 'connecting').length, 1, `one attempt only: ${describeChanges(changes)}`);
    });

    rtTest('an expired JWT with no means of renewal: token error 4014x, then failed 40171', async (scope) => {
      const now = Math.floor(Date.now() / 1000);
      const c = scope.realtime(srv, { token: makeJwt({ key: ROOT, iat: now - 120, exp: now - 60 }), binary: B });
      const changes = recordStateChanges(c.connection);
      await expectFailed(c, changes, 40171);
      const tokenErr = changes.find((ch) => ch.current === 'disconnected' && ch.reason);
      assert.ok(tokenErr, `a disconnected state change carrying the server's error: ${describeChanges(changes)}`);
      assert.ok(tokenErr.reason.code >= 40140 && tokenErr.reason.code < 40150,
        `server token error code 4014x, got ${tokenErr.reason.code}: ${tokenErr.reason.message}`);
      assert.equal(tokenErr.reason.statusCode, 401);
    });

    // ---- 4. pub/sub across wire formats --------------------------------------

    rtTest(`a ${proto.name} publisher and a ${other.name} subscriber interoperate: payloads, ids, serials, clientId`, async (scope) => {
      const name = chan('interop');
      const pub = await connected(scope, { clientId: 'pub-1', label: 'publisher' });
      const cross = await subscribed(scope.realtime(srv, { key: ROOT, binary: other.binary, label: `${other.name} subscriber` }), name);
      const same = await subscribed(scope.realtime(srv, { key: ROOT, binary: B, label: `${proto.name} subscriber` }), name);
      const payloads = [
        ['string', 'héllo wörld ✓ \u0000 end'],
        ['object', { a: 1, nested: { b: [true, null, 'x'], s: 'ünï' } }],
        ['binary', Buffer.from([0, 1, 2, 127, 128, 254, 255])],
      ];
      const pubCh = pub.channels.get(name);
      const t0 = Date.now();
      const serials = [];
      for (const [n, data] of payloads) {
        const res = await pubCh.publish(n, data);
        assert.ok(res && Array.isArray(res.serials) && res.serials.length === 1, `publish result ${JSON.stringify(res)}`);
        serials.push(res.serials[0]);
      }
      const pubId = pub.connection.id;
      for (const [who, sub] of [[other.name, cross], [proto.name, same]]) {
        const msgs = await sub.inbox.waitForCount(payloads.length);
        assert.deepEqual(msgs.map((m) => m.name), payloads.map(([n]) => n), `${who} subscriber: names in order`);
        msgs.forEach((m, i) => {
          const [n, data] = payloads[i];
          const ctx = `${who} subscriber, ${n} message`;
          if (Buffer.isBuffer(data)) {
            assert.ok(Buffer.isBuffer(m.data), `${ctx}: data is a Buffer (got ${typeof m.data} ${JSON.stringify(m.data)})`);
            assert.ok(data.equals(m.data), `${ctx}: bytes ${m.data.toString('hex')}`);
          } else {
            assert.deepEqual(m.data, data, `${ctx}: data`);
          }
          assert.equal(m.encoding ?? null, null, `${ctx}: fully decoded`);
          assert.match(m.id, new RegExp(`^${escapeRe(pubId)}:\\d+:0$`), `${ctx}: id`);
          assert.equal(m.id, `${pubId}:${i}:0`, `${ctx}: id = <connectionId>:<msgSerial>:<index>`);
          assert.equal(m.clientId, 'pub-1', `${ctx}: clientId`);
          assert.equal(m.connectionId, pubId, `${ctx}: connectionId`);
          assert.ok(Number.isInteger(m.timestamp) && m.timestamp >= t0 - 2000 && m.timestamp <= Date.now() + 2000,
            `${ctx}: timestamp ${m.timestamp}`);
          assert.equal(m.serial, serials[i], `${ctx}: serial = the one in the ACK`);
        });
      }
      assert.ok(serials[0] < serials[1] && serials[1] < serials[2], `serials increase: ${serials}`);
    });

    // ---- 5. ACK / NACK ---------------------------------------------------------

    rtTest('concurrent publishes are all ACKed, in order, with increasing serials', async (scope) => {
      const pub = await connected(scope);
      const ch = pub.channels.get(chan('acks'));
      const order = [];
      const results = await Promise.all(range(20, (i) => ch.publish(`m${i}`, `d${i}`).then((r) => { order.push(i); return r; })));
      assert.deepEqual(order, range(20, Number), 'publishes resolve in the order they were made');
      const serials = results.map((r) => r.serials[0]);
      serials.forEach((s, i) => {
        assert.equal(typeof s, 'string', `serial #${i}`);
        if (i) assert.ok(serials[i - 1] < s, `serial #${i} ${s} > ${serials[i - 1]}`);
      });
    });

    rtTest('a publish the capability does not allow is NACKed 40160; the connection carries on', async (scope) => {
      const c = await connected(scope, { key: LIMITED });
      await expectAblyError(assert, c.channels.get(chan('denied')).publish('x', 'y'), 401, 40160, 'publish to a denied channel');
      assert.equal(c.connection.state, 'connected');
      const ok = await c.channels.get(uniqueChannel(`allowed:${proto.name}`)).publish('x', 'y');
      assert.equal(typeof ok.serials[0], 'string', 'publish to an allowed channel is ACKed');
    });

    rtTest('attaching without capability fails the channel with 40160, not the connection', async (scope) => {
      const c = await connected(scope, { key: LIMITED });
      const denied = c.channels.get(chan('denied'));
      await expectAblyError(assert, denied.attach(), 401, 40160, 'attach to a denied channel');
      assert.equal(denied.state, 'failed');
      assert.equal(denied.errorReason?.code, 40160);
      assert.equal(c.connection.state, 'connected');
      const allowed = c.channels.get(uniqueChannel(`allowed:${proto.name}`));
      await withTimeout(allowed.attach(), 5000, 'attach to an allowed channel');
      assert.equal(allowed.state, 'attached');
      assert.ok(allowed.modes.includes('publish') && allowed.modes.includes('subscribe'), `modes ${allowed.modes}`);
      assert.ok(!allowed.modes.includes('presence'), `no presence mode without the capability: ${allowed.modes}`);
    });

    rtTest('publishing with another clientId than the token\'s is NACKed 40012', async (scope) => {
      const guard = guardedAuthCallback(() => signTokenRequest(ROOT, { clientId: 'alice' }));
      const c = scope.realtime(srv, { authCallback: guard.authCallback, binary: B });
      await waitForState(c.connection, 'connected');
      const ch = c.channels.get(chan('cid'));
      await expectAblyError(assert, ch.publish({ name: 'x', data: 'y', clientId: 'mallory' }), 400, 40012, 'clientId mismatch');
      const ok = await ch.publish({ name: 'x', data: 'y', clientId: 'alice' });
      assert.equal(typeof ok.serials[0], 'string', 'own clientId is accepted');
    });

    // ---- 6. echo ----------------------------------------------------------------

    rtTest('echoMessages:false: the publisher does not get its own messages, other subscribers do', async (scope) => {
      const name = chan('echo');
      const quiet = await subscribed(scope.realtime(srv, { key: ROOT, binary: B, echoMessages: false, label: 'no-echo' }), name);
      const loud = await subscribed(scope.realtime(srv, { key: ROOT, binary: B, label: 'echo' }), name);
      await quiet.channel.publish('own', 'x');
      await loud.inbox.waitForName('own');
      await loud.channel.publish('theirs', 'y'); // later on the channel than 'own'
      await quiet.inbox.waitForName('theirs');
      assert.deepEqual(quiet.inbox.names(), ['theirs'], 'no-echo client saw only the other client\'s message');
      assert.deepEqual(loud.inbox.names(), ['own', 'theirs'], 'the other client (echo on) saw both');
    });

    // ---- 7. rewind -------------------------------------------------------------

    rtTest('rewind "3" delivers exactly the last 3 messages, oldest first, then live ones', async (scope) => {
      const name = chan('rewind-n');
      const restCh = rest().channels.get(name);
      await restCh.publish(range(5, (i) => ({ name: `m${i}`, data: `d${i}` })));
      const c = await connected(scope);
      const { channel, inbox, attached } = await subscribed(c, name, { params: { rewind: '3' } });
      assert.equal(attached?.hasBacklog, true, 'ATTACHED flags HAS_BACKLOG');
      assert.equal(channel.params?.rewind, '3', 'ATTACHED echoes the rewind param');
      await flush(inbox, restCh);
      assertNames(inbox, ['m2', 'm3', 'm4', MARKER], 'rewind 3');
      assert.deepEqual(inbox.messages.slice(0, 3).map((m) => m.data), ['d2', 'd3', 'd4']);
    });

    rtTest('rewind "1s" delivers the messages of the last second only', async (scope) => {
      const name = chan('rewind-t');
      const restCh = rest().channels.get(name);
      const c = await connected(scope); // before the clock starts: the attach must follow 'new1' quickly
      await restCh.publish('old', 'o');
      await sleep(1500); // let 'old' age past the rewind window (no event marks this)
      await restCh.publish([{ name: 'new1', data: 'a' }, { name: 'new2', data: 'b' }]);
      const { inbox, attached } = await subscribed(c, name, { params: { rewind: '1s' } });
      assert.equal(attached?.hasBacklog, true, 'ATTACHED flags HAS_BACKLOG');
      await flush(inbox, restCh);
      assertNames(inbox, ['new1', 'new2', MARKER], 'rewind 1s');
    });

    // ---- 8, 9. history and REST interplay -----------------------------------------

    rtTest('realtime publishes are in REST history with the same id and serial; history({untilAttach})', async (scope) => {
      const name = chan('history');
      const pub = await connected(scope, { label: 'publisher' });
      const pubCh = pub.channels.get(name);
      const before = await pubCh.publish('before', { n: 1 });
      const sub = await subscribed(await connected(scope, { label: 'subscriber' }), name);
      await pubCh.publish('after', { n: 2 });
      await sub.inbox.waitForName('after');

      const items = (await rest().channels.get(name).history({ direction: 'forwards' })).items;
      assert.deepEqual(items.map((m) => m.name), ['before', 'after'], 'REST history');
      assert.equal(items[0].id, `${pub.connection.id}:0:0`, 'history id = realtime id');
      assert.equal(items[0].serial, before.serials[0], 'history serial = ACK serial');
      assert.equal(items[0].connectionId, pub.connection.id);
      assert.deepEqual(items[0].data, { n: 1 });
      const live = sub.inbox.messages[0];
      assert.equal(items[1].id, live.id, 'history id of "after" = delivered id');
      assert.equal(items[1].serial, live.serial, 'history serial of "after" = delivered serial');

      const untilAttach = await sub.channel.history({ untilAttach: true });
      assert.deepEqual(untilAttach.items.map((m) => m.name), ['before'], 'history up to the attach point only');
    });

    rtTest('history({untilAttach}) includes a message ACKed just before the attach', async (scope) => {
      // publish, then attach at once (often within the same millisecond): the
      // message is not delivered live, so untilAttach history must have it
      const c = await connected(scope);
      for (let i = 0; i < 8; i++) {
        const channel = c.channels.get(chan(`until-${i}`));
        const res = await channel.publish('before', `b${i}`);
        await withTimeout(channel.attach(), 5000, 'attach');
        const page = await channel.history({ untilAttach: true });
        assert.deepEqual(page.items.map((m) => m.name), ['before'],
          `attempt ${i}: message serial ${res.serials[0]}, ATTACHED channelSerial ${channel.properties.attachSerial}`);
      }
    });

    rtTest('a REST publish reaches realtime subscribers with its id, name and data', async (scope) => {
      const name = chan('restpub');
      const sub = await subscribed(await connected(scope), name);
      const id = `rest-${proto.name}-${Date.now()}`;
      await rest().channels.get(name).publish({ id, name: 'from-rest', data: { via: 'rest', list: [1, 2] } });
      const m = await sub.inbox.waitForName('from-rest');
      assert.equal(m.id, id);
      assert.deepEqual(m.data, { via: 'rest', list: [1, 2] });
      assert.equal(typeof m.serial, 'string');
      assert.ok(Number.isInteger(m.timestamp), `timestamp ${m.timestamp}`);
    });

    // ---- 10-13. continuity --------------------------------------------------------

    rtTest('resume after the transport is killed mid-stream: same connection, every message exactly once, in order', async (scope) => {
      const name = chan('resume');
      const N = 200;
      const pub = await connected(scope, { label: 'publisher' });
      const sub = await connected(scope, { label: 'subscriber' });
      const { channel, inbox } = await subscribed(sub, name);
      const idBefore = sub.connection.id;

      const publishing = handled(publishPaced(pub.channels.get(name), N, 8));
      await inbox.waitForCount(60);
      const dropped = nextEvent(sub.connection, 'disconnected', 5000, 'disconnected after the kill');
      const back = nextEvent(sub.connection, 'connected', 15000, 'reconnected');
      const reattached = nextEvent(channel, 'attached', 15000, 'channel re-attached');
      killTransport(sub);
      await dropped;
      const change = await back;
      assert.equal(sub.connection.id, idBefore, 'resumed: same connection id');
      assert.equal(change.reason ?? null, null, `no error on a successful resume: ${change.reason?.code} ${change.reason?.message}`);
      const att = await reattached;
      assert.equal(att.resumed, true, 'ATTACHED after resume flags RESUMED');

      await publishing;
      await flush(inbox, pub.channels.get(name));
      assertNames(inbox, [...range(N), MARKER], 'resumed subscriber');
    });

    rtTest('resume after connectionStateTtl fails: new connection id, 80008, channel re-attached not resumed', async (scope, t) => {
      // ably-js 2.26 only resumes while DISCONNECTED: once its own copy of
      // connectionStateTtl runs out (SUSPENDED) it discards the connection and
      // connects afresh (2.28 resumes then too: the SUSPENDED tests below).
      // So, for both, the drop must outlast the server's TTL without
      // the client noticing it as long: a half-open connection, which the
      // client detects through its idle timer (maxIdleInterval +
      // realtimeRequestTimeout = 3000 ms after the last frame), later than the
      // server's TTL (2000 ms) but within 2.26's freshness limit
      // (connectionStateTtl + maxIdleInterval = 4000 ms, after which it
      // discards the connection before reconnecting; 2.28 has no such check).
      const TTL = 2000;
      const s = await dedicatedServer(t, ['--connection-state-ttl-ms', String(TTL), '--max-idle-interval-ms', '2000']);
      const proxy = await startTcpProxy(s.port);
      t.after(() => proxy.close());
      const name = chan('expired');
      const sub = await connected(scope, { realtimeRequestTimeout: 1000 }, proxy);
      assert.equal(sub.connection.connectionManager.connectionDetails.connectionStateTtl, TTL);
      const { channel, inbox } = await subscribed(sub, name);
      const restCh = rest(s).channels.get(name);
      await restCh.publish('before', 'x');
      await inbox.waitForName('before'); // the client's last activity
      const oldId = sub.connection.id;

      const dropped = nextEvent(sub.connection, 'disconnected', 8000, 'the client notices the dead connection');
      const back = nextEvent(sub.connection, 'connected', 15000, 'reconnected');
      const reattached = nextEvent(channel, 'attached', 15000, 'channel re-attached');
      const droppedAt = Date.now();
      proxy.blackholeAll();
      await dropped;
      const change = await back;
      const uri = sub.connection.connectionManager.activeProtocol.getTransport().uri;
      assert.match(uri, /[?&]resume=/, `test precondition: the client tried to resume (${uri})`);
      assert.ok(Date.now() - droppedAt > TTL, `test precondition: reconnected after the server's TTL (${Date.now() - droppedAt} ms)`);
      assert.notEqual(sub.connection.id, oldId, 'a new connection');
      assert.match(sub.connection.id, CONN_ID_RE);
      assert.equal(change.reason?.code, 80008, `connected with 80008: ${change.reason?.code} ${change.reason?.message}`);
      assert.equal(change.reason?.statusCode, 400);
      assert.equal(sub.connection.errorReason?.code, 80008);
      const att = await reattached;
      assert.equal(att.resumed, false, 'not resumed on a new connection');
      await flush(inbox, restCh);
      assertNames(inbox, ['before', MARKER], 'live traffic after the failed resume');
    });

    // ---- SUSPENDED --------------------------------------------------------
    // A client disconnected for connectionStateTtl goes SUSPENDED; what it
    // sends when it reconnects depends on the SDK (docs/sdk-compatibility.md):
    // ably-js 2.26 discards its connection there and connects afresh, 2.28
    // keeps connectionKey and channelSerials through SUSPENDED (RTN8d,
    // RTL15b2) and resumes, leaving continuity to the server. Each test
    // accepts either, asserting what Herald must do for the one it got.

    /** Cuts `client` off through `proxy` (`how`: 'dropAll' or 'cutClientSide') until it is SUSPENDED, the channel too. */
    async function suspend(client, channel, proxy, how) {
      const suspended = nextEvent(client.connection, 'suspended', 10000, 'the connection suspended');
      const chSuspended = nextEvent(channel, 'suspended', 10000, 'the channel suspended');
      proxy.setUp(false);
      proxy[how]();
      await suspended;
      await chSuspended;
    }

    /** Reconnects a SUSPENDED `client` through `proxy`: {change, reattached, resumeTried}. */
    async function unsuspend(client, channel, proxy) {
      const back = nextEvent(client.connection, 'connected', 15000, 'connected again');
      const reattached = nextEvent(channel, 'attached', 15000, 'channel re-attached');
      proxy.setUp(true);
      const change = await back;
      const uri = client.connection.connectionManager.activeProtocol.getTransport().uri;
      return { change, reattached: await reattached, resumeTried: /[?&]resume=/.test(uri) };
    }

    rtTest('SUSPENDED past the server\'s connectionStateTtl: a new connection, the channel re-attached not resumed', async (scope, t) => {
      const TTL = 1500;
      const s = await dedicatedServer(t, ['--connection-state-ttl-ms', String(TTL), '--max-idle-interval-ms', '2000']);
      const proxy = await startTcpProxy(s.port);
      t.after(() => proxy.close());
      const name = chan('suspended-expired');
      const sub = await connected(scope, { disconnectedRetryTimeout: 300, suspendedRetryTimeout: 500 }, proxy);
      assert.equal(sub.connection.connectionManager.connectionDetails.connectionStateTtl, TTL);
      const { channel, inbox } = await subscribed(sub, name);
      const restCh = rest(s).channels.get(name);
      await restCh.publish('before', 'x');
      await inbox.waitForName('before');
      const oldId = sub.connection.id;

      await suspend(sub, channel, proxy, 'dropAll');
      await restCh.publish('during', 'x');
      await sleep(TTL + 500); // the server has surely expired the connection by now
      const { change, reattached, resumeTried } = await unsuspend(sub, channel, proxy);
      t.diagnostic(`after SUSPENDED the client ${resumeTried ? 'tried to resume' : 'connected afresh'}`);
      assert.notEqual(sub.connection.id, oldId, 'a new connection');
      assert.match(sub.connection.id, CONN_ID_RE);
      if (resumeTried) {
        assert.equal(change.reason?.code, 80008, `a resume of the expired connection: connected with 80008: ${change.reason?.code} ${change.reason?.message}`);
        assert.equal(change.reason?.statusCode, 400);
      } else {
        assert.equal(change.reason ?? null, null, `a fresh connection, no error: ${change.reason?.code} ${change.reason?.message}`);
      }
      assert.equal(reattached.resumed, false, 'not resumed on a new connection');
      await flush(inbox, restCh);
      assertNames(inbox, ['before', MARKER], 'live traffic after the outage, the message of the outage lost (continuity lost, as reported)');
    });

    rtTest('SUSPENDED while the server still holds the connection: resumed with what was missed, or a new connection', async (scope, t) => {
      // The client's side of the TCP connection is reset, the server's kept
      // open and silent: the server's transport looks alive, so it does not
      // start the connection's TTL, and the connection is still there when a
      // client that resumes after SUSPENDED comes back.
      const TTL = 1500;
      const s = await dedicatedServer(t, ['--connection-state-ttl-ms', String(TTL), '--max-idle-interval-ms', '2000']);
      const proxy = await startTcpProxy(s.port);
      t.after(() => proxy.close());
      const name = chan('suspended-held');
      const sub = await connected(scope, { disconnectedRetryTimeout: 300, suspendedRetryTimeout: 500 }, proxy);
      const { channel, inbox } = await subscribed(sub, name);
      const restCh = rest(s).channels.get(name);
      await restCh.publish('before', 'x');
      await inbox.waitForName('before');
      const oldId = sub.connection.id;

      await suspend(sub, channel, proxy, 'cutClientSide');
      await restCh.publish('during', 'x');
      const { change, reattached, resumeTried } = await unsuspend(sub, channel, proxy);
      t.diagnostic(`after SUSPENDED the client ${resumeTried ? 'resumed' : 'connected afresh'}`);
      assert.equal(change.reason ?? null, null, `no error: ${change.reason?.code} ${change.reason?.message}`);
      await flush(inbox, restCh);
      if (resumeTried) {
        assert.equal(sub.connection.id, oldId, 'resumed: the same connection');
        assert.equal(reattached.resumed, true, 'the channel resumed from its channelSerial: ATTACHED flags RESUMED');
        assertNames(inbox, ['before', 'during', MARKER], 'the message published while SUSPENDED delivered once, in order');
      } else {
        assert.notEqual(sub.connection.id, oldId, 'a new connection');
        assert.equal(reattached.resumed, false, 'not resumed on a new connection');
        assertNames(inbox, ['before', MARKER], 'live traffic after the outage');
      }
    });

    rtTest('recover with a recovery key: same connection id, missed messages delivered on attach', async (scope, t) => {
      const proxy = await startTcpProxy(srv.port);
      t.after(() => proxy.close());
      const name = chan('recover');
      const restCh = rest().channels.get(name);
      const a = await connected(scope, { label: 'A' }, proxy);
      const subA = await subscribed(a, name);
      await restCh.publish('m0', 'zero');
      await subA.inbox.waitForName('m0');
      const recoveryKey = a.connection.createRecoveryKey();
      const parsed = JSON.parse(recoveryKey);
      assert.equal(parsed.connectionKey, a.connection.key);
      assert.equal(typeof parsed.channelSerials[name], 'string', `recovery key has the channel's serial: ${recoveryKey}`);
      const idA = a.connection.id;

      // A vanishes without CLOSE (a crashed page); it cannot reconnect through the proxy
      proxy.setUp(false);
      const dropped = nextEvent(a.connection, 'disconnected', 5000, 'A disconnected');
      proxy.dropAll();
      await dropped;
      await restCh.publish([{ name: 'm1', data: 'one' }, { name: 'm2', data: 'two' }]);

      const b = scope.realtime(srv, { key: ROOT, binary: B, recover: recoveryKey, label: 'B' });
      const change = await waitForState(b.connection, 'connected', { what: 'B connection' });
      assert.equal(b.connection.id, idA, 'recovered: same connection id');
      assert.equal(change?.reason ?? null, null, `no error on a successful recover: ${change?.reason?.code} ${change?.reason?.message}`);
      const subB = await subscribed(b, name);
      assert.equal(subB.attached?.resumed, true, 'ATTACHED with the recovered channelSerial flags RESUMED');
      await flush(subB.inbox, restCh);
      assertNames(subB.inbox, ['m1', 'm2', MARKER], 'recovered subscriber');
    });

    rtTest('token renewal while attached: DISCONNECTED 40142 at expiry, a new token, the same connection resumed, nothing lost', async (scope) => {
      const TTL = 3000;
      const guard = guardedAuthCallback(() => signTokenRequest(ROOT, { ttl: TTL, clientId: 'renewer' }), { limit: 8 });
      const c = scope.realtime(srv, { authCallback: guard.authCallback, binary: B });
      const changes = recordStateChanges(c.connection);
      await waitForState(c.connection, 'connected');
      const name = chan('renew');
      const channel = c.channels.get(name);
      const inbox = new Inbox();
      await inbox.subscribe(channel);
      const id = c.connection.id;
      const restCh = rest().channels.get(name);

      const expired = await waitForState(c.connection, 'disconnected', { timeoutMs: TTL + 3000, what: 'the token expiry' });
      assert.equal(expired.reason?.code, 40142, `token expired: ${expired.reason?.message}`);
      await restCh.publish('while-renewing', 'missed live, replayed');
      await waitForState(c.connection, 'connected', { what: 'the resume with a new token' });
      assert.ok(guard.calls >= 2, `authCallback called again for the renewal (${guard.calls} calls)`);
      assert.equal(c.connection.id, id, 'same connection after the renewal');
      await restCh.publish('after-expiry', 'still here');
      await flush(inbox, restCh);
      assertNames(inbox, ['while-renewing', 'after-expiry', MARKER], 'messages across the renewal');
      assert.equal(changes.filter((ch) => ch.current === 'disconnected').length, 1, describeChanges(changes));
      assert.ok(!changes.some((ch) => ['suspended', 'failed'].includes(ch.current)), describeChanges(changes));
    });

    // ---- 14. slow subscriber ------------------------------------------------------

    rtTest('a raw subscriber that stops reading is disconnected (80020) while an ably-js one receives everything', async (scope, t) => {
      const s = await dedicatedServer(t, ['--max-outbound-bytes', String(SLOW.maxOutbound)]);
      const name = chan('slow');
      const raw = rawRealtime(s.port, { key: ROOT });
      t.after(() => raw.close());
      await withTimeout(raw.opened, 5000, 'raw WebSocket open');
      await raw.next((pm) => pm.action === 4, 5000, 'CONNECTED');
      raw.send({ action: 10, channel: name });
      await raw.next((pm) => pm.action === 11 && pm.channel === name, 5000, 'ATTACHED');
      const sub = await subscribed(await connected(scope, { label: 'subscriber' }, s), name);
      const restCh = rest(s).channels.get(name);

      raw.ws._socket.pause();
      await publishBulk(restCh);
      await sub.inbox.waitForCount(SLOW.total, 30000);
      await flush(sub.inbox, restCh);
      assertNames(sub.inbox, [...range(SLOW.total), MARKER], 'the reading subscriber');

      raw.ws._socket.resume();
      await withTimeout(raw.closed, 10000, 'the server closes the slow subscriber\'s socket');
      const received = raw.frames.filter((f) => f.action === 15).reduce((n, f) => n + f.messages.length, 0);
      const disconnected = raw.frames.find((f) => f.action === 6);
      t.diagnostic(`slow subscriber got ${received}/${SLOW.total} messages; DISCONNECTED ${disconnected ? JSON.stringify(disconnected.error) : 'not seen'}`);
      assert.ok(received < SLOW.total, `the slow subscriber was cut off before receiving everything (${received})`);
      assert.ok(disconnected, 'DISCONNECTED sent before the close');
      assert.equal(disconnected.error?.code, 80020, `DISCONNECTED error ${JSON.stringify(disconnected.error)}`);
      assert.equal(disconnected.error?.statusCode, 429);
      assert.equal(raw.frames[raw.frames.length - 1], disconnected, 'DISCONNECTED is the last frame');
    });

    rtTest('a slow ably-js subscriber is cut off (80020), resumes and catches up: every message once, in order', async (scope, t) => {
      const s = await dedicatedServer(t, ['--max-outbound-bytes', String(SLOW.maxOutbound)]);
      const name = chan('catchup');
      const slow = await connected(scope, { label: 'slow' }, s);
      const { inbox } = await subscribed(slow, name);
      const id = slow.connection.id;
      const changes = recordStateChanges(slow.connection);
      const restCh = rest(s).channels.get(name);

      const socket = activeWebSocket(slow)._socket;
      socket.pause();
      await publishBulk(restCh);
      socket.resume();
      await inbox.waitForCount(SLOW.total, 30000);
      await flush(inbox, restCh);
      assertNames(inbox, [...range(SLOW.total), MARKER], 'the slow subscriber after catching up');
      const cut = changes.find((c) => c.current === 'disconnected');
      assert.ok(cut, `the slow subscriber was disconnected: ${describeChanges(changes)}`);
      assert.equal(cut.reason?.code, 80020, `disconnected by the server for being slow: ${cut.reason?.code} ${cut.reason?.message}`);
      assert.equal(slow.connection.id, id, 'resumed: same connection');
    });
  });
}
