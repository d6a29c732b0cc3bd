// Ably Spaces (@ably/spaces, the release tests/package.json pins) on
// Herald, unchanged but for host, port and tls: two members on ably-js
// clients (JSON and msgpack) enter a space, see each other, set locations,
// acquire and release a lock and stream cursors, each asserted on the other
// member. Spaces is built on presence (members, locations and locks are
// presence data and extras on the space's channel) and on an ordinary
// channel for cursors, whose batching waits until the cursors channel's
// presence shows another member.
//
// Run: HERALDD=/abs/build/heraldd node --test --test-force-exit tests/integration/spaces.test.mjs

import assert from 'node:assert/strict';
import SpacesModule from '@ably/spaces';
import { describe, before, after, startServer, uniqueChannel } from './lib/server.mjs';
import { rtTest, PROTOCOLS, withTimeout } from './lib/realtime.mjs';

const Spaces = SpacesModule.default ?? SpacesModule;

/** Collects a Spaces event emitter's events; waits for one matching pred. */
class Seen {
  constructor() {
    this.events = [];
    this.waiters = new Set();
  }

  push = (e) => {
    this.events.push(e);
    for (const w of this.waiters) w();
  };

  wait(pred, what) {
    let check;
    const p = new Promise((resolve) => {
      check = () => { const e = this.events.find(pred); if (e) resolve(e); };
      this.waiters.add(check);
      check();
    });
    return withTimeout(p, 10000, what).finally(() => this.waiters.delete(check));
  }
}

describe('Ably Spaces on Herald', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  for (const { name: proto, binary } of PROTOCOLS) {
    rtTest(`${proto}: members, locations, locks and cursors between two members`, async (scope) => {
      const name = uniqueChannel(`space-${proto}`);
      const alice = await scope.connected(srv, { binary, clientId: 'alice' });
      const bob = await scope.connected(srv, { binary, clientId: 'bob' });
      const spaceA = await new Spaces(alice).get(name);
      const spaceB = await new Spaces(bob).get(name);

      const members = new Seen();
      const locations = new Seen();
      const locks = new Seen();
      const cursors = new Seen();
      spaceB.members.subscribe('enter', members.push);
      spaceB.locations.subscribe('update', locations.push);
      spaceB.locks.subscribe(locks.push);
      await spaceB.cursors.subscribe('update', cursors.push);
      await withTimeout(spaceB.enter({ name: 'Bob' }), 10000, 'bob enters');
      await withTimeout(spaceA.enter({ name: 'Alice' }), 10000, 'alice enters');

      const entered = await members.wait((m) => m.clientId === 'alice', 'bob sees alice enter');
      assert.deepEqual(entered.profileData, { name: 'Alice' });
      assert.equal(entered.isConnected, true);
      const all = await spaceA.members.getAll();
      assert.deepEqual(all.map((m) => m.clientId).sort(), ['alice', 'bob'], 'alice sees both members');
      assert.deepEqual((await spaceA.members.getSelf()).profileData, { name: 'Alice' });

      await spaceA.locations.set({ slide: 3, element: 'title' });
      const moved = await locations.wait((u) => u.member.clientId === 'alice', 'bob sees alice move');
      assert.deepEqual(moved.currentLocation, { slide: 3, element: 'title' });
      assert.equal(moved.previousLocation, null);

      await spaceA.locks.acquire('title-lock', { attributes: { color: 'red' } });
      const locked = await locks.wait((l) => l.id === 'title-lock' && l.status === 'locked', 'bob sees the lock taken');
      assert.equal(locked.member.clientId, 'alice');
      assert.deepEqual(locked.attributes, { color: 'red' });
      assert.equal((await spaceB.locks.get('title-lock'))?.status, 'locked', 'bob reads the lock as taken');
      await spaceA.locks.release('title-lock');
      await locks.wait((l) => l.id === 'title-lock' && l.status === 'unlocked', 'bob sees the lock released');

      // cursors are sent once alice's client sees bob on the cursors channel
      let x = 0;
      const moving = setInterval(() => { spaceA.cursors.set({ position: { x: (x += 1), y: 7 }, data: { color: 'red' } }); }, 50);
      try {
        const cursor = await cursors.wait((c) => c.clientId === 'alice', 'bob sees alice\'s cursor');
        assert.equal(cursor.position.y, 7);
        assert.ok(cursor.position.x >= 1);
        assert.deepEqual(cursor.data, { color: 'red' });
        assert.equal(cursor.connectionId, alice.connection.id);
      } finally {
        clearInterval(moving);
      }

      const leaves = new Seen();
      spaceB.members.subscribe('leave', leaves.push);
      await spaceA.leave();
      await leaves.wait((m) => m.clientId === 'alice', 'bob sees alice leave');
    });
  }
});
