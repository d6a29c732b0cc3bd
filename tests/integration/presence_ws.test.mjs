// Presence on the wire (spec/realtime.md §6), with a raw WebSocket client,
// for what the SDK hides: the HAS_PRESENCE promise when members are present
// and the SYNC that keeps it (always a presence array, "<syncId>:" on the
// last page), no flag and no SYNC on an empty channel or without
// presence_subscribe, the PRESENCE NACKs (90001 not attached,
// 91000 no clientId, 40012 a clientId the connection may not use), ACK of a
// LEAVE of an absent member, and auto re-entry with the member's own id
// (acknowledged, not broadcast), a PRESENCE mixing items that change
// nothing with items that do, and the re-attach window after a resume.

import assert from 'node:assert/strict';
import { startServer, before, after, test, uniqueChannel } from './lib/server.mjs';
import { rawRealtime } from './lib/realtime.mjs';

const ROOT = 'wsp.root:secretroot';
const CONFIG = { apps: [{ id: 'wsp', keys: [{ key: ROOT, capability: { '*': ['*'] } }] }] };
const HAS_PRESENCE = 1;
const REATTACH_WINDOW_MS = 1500;
const MODE_SUBSCRIBE = 0x40000;
const MODE_PRESENCE = 0x10000;

let srv;
before(async () => { srv = await startServer({ config: CONFIG, env: { HERALD_KEY: null } }); });
after(async () => { if (srv) await srv.stop(); });

/** A connected raw client; closed after the test. */
async function connect(t, params = {}) {
  const c = rawRealtime(srv.port, { key: ROOT, ...params });
  t.after(() => c.close());
  await c.next((pm) => pm.action === 4, 5000, 'CONNECTED');
  return c;
}

async function attach(c, channel, flags) {
  c.send({ action: 10, channel, ...(flags ? { flags } : {}) });
  return c.next((pm) => pm.action === 11 && pm.channel === channel, 5000, `ATTACHED ${channel}`);
}

function reply(c, msgSerial) {
  return c.next((pm) => (pm.action === 1 || pm.action === 2) && pm.msgSerial === msgSerial,
    5000, `ACK/NACK of ${msgSerial}`);
}

/** Everything the server sent c before this call has arrived. */
async function roundTrip(c, id) {
  c.send({ action: 0, id });
  await c.next((pm) => pm.action === 0 && pm.id === id, 5000, 'heartbeat echo');
}

test('HAS_PRESENCE and a SYNC exactly when members are present (a SYNC page always has a presence array)', async (t) => {
  const channel = uniqueChannel('wsp-sync');
  const early = await connect(t);
  const emptyAttach = await attach(early, channel);
  assert.equal(emptyAttach.flags & HAS_PRESENCE, 0, 'no members: no promise of a SYNC');
  await roundTrip(early, 'marker-empty');
  assert.ok(!early.frames.some((pm) => pm.action === 16), 'and no SYNC');

  const bob = await connect(t, { clientId: 'bob' });
  await attach(bob, channel, MODE_PRESENCE);
  bob.send({ action: 14, channel, msgSerial: 0, presence: [{ action: 2, data: 'here' }] });
  assert.equal((await reply(bob, 0)).action, 1);
  await early.next((pm) => pm.action === 14 && pm.channel === channel, 5000, 'the ENTER, live');

  // Several connections, so that some land on the worker that already has
  // the channel (the count comes with deliveries) and some on the other
  // (it comes with the owner's answer).
  for (let i = 0; i < 4; i++) {
    const late = await connect(t);
    const attached = await attach(late, channel);
    assert.ok(attached.flags & HAS_PRESENCE, `attach ${i}: flags ${attached.flags}`);
    const sync = await late.next((pm) => pm.action === 16, 5000, 'SYNC');
    assert.equal(sync.channel, channel);
    assert.match(sync.channelSerial, /^[\w-]+:$/, 'one page: the last, with an empty cursor');
    assert.deepEqual(sync.presence.map((m) => [m.clientId, m.data]), [['bob', 'here']]);
  }

  bob.send({ action: 14, channel, msgSerial: 1, presence: [{ action: 3 }] });
  assert.equal((await reply(bob, 1)).action, 1);
  await early.next((pm) => pm.action === 14 && pm.presence?.[0]?.action === 3, 5000, 'the LEAVE, live');
  const after = await connect(t);
  const attached = await attach(after, channel);
  assert.equal(attached.flags & HAS_PRESENCE, 0, 'empty again: no flag');
});

test('a client SYNC request on an empty channel is answered with an empty last page', async (t) => {
  const c = await connect(t);
  const channel = uniqueChannel('wsp-empty');
  await attach(c, channel);
  c.send({ action: 16, channel });
  const sync = await c.next((pm) => pm.action === 16, 5000, 'SYNC');
  assert.equal(sync.channel, channel);
  assert.deepEqual(sync.presence, [], 'an empty set is an empty last page');
  assert.match(sync.channelSerial, /^[\w-]+:$/, 'the last page has an empty cursor');
});

test('without presence_subscribe: no HAS_PRESENCE, no SYNC', async (t) => {
  const c = await connect(t);
  const channel = uniqueChannel('wsp-nosub');
  const attached = await attach(c, channel, MODE_SUBSCRIBE | MODE_PRESENCE);
  assert.equal(attached.flags & HAS_PRESENCE, 0);
  await roundTrip(c, 'marker');
  assert.ok(!c.frames.some((pm) => pm.action === 16), 'no SYNC');
});

test('PRESENCE NACKs: not attached 90001, no clientId 91000, foreign clientId 40012', async (t) => {
  const channel = uniqueChannel('wsp-nack');
  const anon = await connect(t);
  anon.send({ action: 14, channel, msgSerial: 0, presence: [{ action: 2 }] });
  const notAttached = await reply(anon, 0);
  assert.equal(notAttached.action, 2);
  assert.equal(notAttached.error.code, 90001);
  assert.equal(notAttached.error.statusCode, 404);
  await attach(anon, channel);
  anon.send({ action: 14, channel, msgSerial: 1, presence: [{ action: 2 }] });
  const noClient = await reply(anon, 1);
  assert.equal(noClient.action, 2);
  assert.equal(noClient.error.code, 91000);

  const bob = await connect(t, { clientId: 'bob' });
  await attach(bob, channel);
  bob.send({ action: 14, channel, msgSerial: 0, presence: [{ action: 2, clientId: 'mallory' }] });
  const foreign = await reply(bob, 0);
  assert.equal(foreign.action, 2);
  assert.equal(foreign.error.code, 40012);
});

test('LEAVE of an absent member is acknowledged; re-entry with the member\'s id is not broadcast', async (t) => {
  const channel = uniqueChannel('wsp-reenter');
  const watcher = await connect(t);
  await attach(watcher, channel);
  const bob = await connect(t, { clientId: 'bob' });
  await attach(bob, channel);
  bob.send({ action: 14, channel, msgSerial: 0, presence: [{ action: 3 }] });
  assert.equal((await reply(bob, 0)).action, 1, 'ACK');

  bob.send({ action: 14, channel, msgSerial: 1, presence: [{ action: 2, data: 'x' }] });
  assert.equal((await reply(bob, 1)).action, 1);
  const enter = await watcher.next((pm) => pm.action === 14, 5000, 'PRESENCE enter');
  const [item] = enter.presence;
  assert.equal(item.action, 2);
  assert.equal(item.id, `${bob.frames[0].connectionId}:1:0`);

  bob.send({ action: 14, channel, msgSerial: 2, presence: [{ action: 2, data: 'x', id: item.id }] });
  assert.equal((await reply(bob, 2)).action, 1, 'auto re-entry acknowledged');
  bob.send({ action: 14, channel, msgSerial: 3, presence: [{ action: 4, data: 'y' }] });
  await reply(bob, 3);
  const next = await watcher.next((pm) => pm.action === 14 && pm.presence[0].id !== item.id, 5000, 'next PRESENCE');
  assert.equal(next.presence[0].action, 4, 'the update comes next: the re-entry was not broadcast');
  assert.equal(watcher.frames.filter((pm) => pm.action === 14).length, 2);
});

test('one PRESENCE with items that change nothing and items that do: only the changes are broadcast and acknowledged with serials', async (t) => {
  const channel = uniqueChannel('wsp-mixed');
  const watcher = await connect(t);
  await attach(watcher, channel);
  const key = await connect(t);
  await attach(key, channel);
  key.send({ action: 14, channel, msgSerial: 0, presence: [
    { action: 3, clientId: 'absent' }, { action: 2, clientId: 'c1', data: 'a' },
    { action: 3, clientId: 'also-absent' }, { action: 2, clientId: 'c2', data: 'b' },
  ] });
  const ack = await reply(key, 0);
  assert.equal(ack.action, 1);
  assert.equal(ack.res[0].serials.length, 2, 'a serial per broadcast item');
  assert.ok(ack.res[0].serials.every((s) => typeof s === 'string' && s.length > 0));
  const broadcast = await watcher.next((pm) => pm.action === 14, 5000, 'PRESENCE');
  assert.deepEqual(broadcast.presence.map((p) => [p.action, p.clientId]), [[2, 'c1'], [2, 'c2']]);
});

test('after a resume, members leave the channels not attached again within the re-attach window', async (t) => {
  const server = await startServer({ config: CONFIG, env: { HERALD_KEY: null },
    args: ['--reattach-window-ms', String(REATTACH_WINDOW_MS)] });
  t.after(() => server.stop());
  const open = async (params) => {
    const c = rawRealtime(server.port, { key: ROOT, ...params });
    t.after(() => c.close());
    return { c, connected: await c.next((pm) => pm.action === 4, 5000, 'CONNECTED') };
  };
  const kept = uniqueChannel('wsp-kept');
  const dropped = uniqueChannel('wsp-dropped');
  const { c: observer } = await open({});
  for (const channel of [kept, dropped]) await attach(observer, channel);

  const { c: bob, connected } = await open({ clientId: 'bob' });
  for (const [i, channel] of [kept, dropped].entries()) {
    await attach(bob, channel, MODE_PRESENCE);
    bob.send({ action: 14, channel, msgSerial: i, presence: [{ action: 2 }] });
    assert.equal((await reply(bob, i)).action, 1);
  }
  bob.close(); // abrupt: the members stay for the grace period (15 s here)
  const { c: back, connected: again } = await open({ clientId: 'bob', resume: connected.connectionDetails.connectionKey });
  assert.equal(again.connectionId, connected.connectionId, 'resumed');
  assert.equal(again.error, undefined);
  await attach(back, kept, MODE_PRESENCE);
  const resumedAt = Date.now();

  const isLeave = (channel) => (pm) => pm.action === 14 && pm.channel === channel &&
    pm.presence.some((m) => m.action === 3 && m.clientId === 'bob');
  await observer.next(isLeave(dropped), 10000, 'the LEAVE on the channel not attached again');
  assert.ok(Date.now() - resumedAt >= REATTACH_WINDOW_MS - 100, 'not before the window ended');
  await roundTrip(observer, 'after-window');
  assert.ok(!observer.frames.some(isLeave(kept)), 'no LEAVE on the channel attached again');
  const members = await fetch(`http://127.0.0.1:${server.port}/channels/${encodeURIComponent(kept)}/presence`,
    { headers: { authorization: `Basic ${Buffer.from(ROOT).toString('base64')}` } }).then((r) => r.json());
  assert.deepEqual(members.map((m) => m.clientId), ['bob'], 'still present where it re-attached');
});
