// Durability under kill -9 (SQLite engine): every acknowledged publish is in
// history after a restart, exactly once; serials keep growing; idempotent
// ids are still deduplicated after the restart.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, startServer, request } from './lib/server.mjs';

const CHANNELS = ['crash:a', 'crash:b', 'crash:c', 'crash:d'];
const PUBLISHERS = 8;
const CYCLES = Number(process.env.HERALD_CRASH_CYCLES || 2);

function startSqlite(dataDir) {
  return startServer({ args: ['--storage', 'sqlite', '--data-dir', dataDir] });
}

// Publishes until stopped; records every acknowledged publish.
async function publisher(srv, index, acked, state) {
  for (let n = 0; !state.stop; n++) {
    const channel = CHANNELS[(index + n) % CHANNELS.length];
    const id = `p${state.cycle}-${index}-${n}`;
    const messages = n % 3 === 0
      ? [{ id: `${id}:0`, data: 'x' }, { id: `${id}:1`, data: 'y' }] // atomic pair
      : { id, data: 'x' };
    let res;
    try {
      res = await request(srv.url, 'POST', `/channels/${encodeURIComponent(channel)}/messages`,
        { key: srv.key, json: messages });
    } catch {
      return; // the server is gone
    }
    if (res.status !== 201) throw new Error(`publish failed: ${res.status} ${res.raw}`);
    const ids = Array.isArray(messages) ? messages.map((m) => m.id) : [id];
    ids.forEach((mid, i) => acked.push({ channel, id: mid, serial: res.body.serials[i] }));
    state.onAck();
  }
}

async function fullHistory(srv, channel) {
  const items = [];
  let path = `/channels/${encodeURIComponent(channel)}/messages?direction=forwards&limit=1000`;
  for (;;) {
    const res = await request(srv.url, 'GET', path, { key: srv.key });
    assert.equal(res.status, 200);
    items.push(...res.body);
    const next = /<\.\/messages\?([^>]*)>; rel="next"/.exec(res.headers.get('link') || '');
    if (!next) return items;
    path = `/channels/${encodeURIComponent(channel)}/messages?${next[1]}`;
  }
}

describe('crash durability (sqlite)', () => {
  test(`kill -9 under concurrent publishing loses nothing acknowledged (${CYCLES} cycles)`, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-crash-'));
    const acked = [];
    let maxSerialBefore = '';
    try {
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const srv = await startSqlite(dataDir);
        // Publish until enough acknowledgements arrived, then kill mid-load.
        const target = acked.length + 400;
        let killed;
        const state = { stop: false, cycle, onAck: () => {} };
        const reached = new Promise((resolve) => { state.onAck = () => acked.length >= target && resolve(); });
        const running = Array.from({ length: PUBLISHERS }, (_, i) => publisher(srv, i, acked, state));
        await reached;
        killed = srv.stop({ signal: 'SIGKILL', keepData: true });
        await killed;
        state.stop = true;
        await Promise.all(running);

        const after = await startSqlite(dataDir);
        const byChannel = new Map(CHANNELS.map((c) => [c, []]));
        for (const c of CHANNELS) byChannel.set(c, await fullHistory(after, c));
        for (const [channel, items] of byChannel) {
          const ids = items.map((m) => m.id);
          assert.equal(new Set(ids).size, ids.length, `no duplicates in ${channel}`);
          const serials = items.map((m) => m.serial);
          assert.deepEqual([...serials].sort(), serials, `${channel} history is in serial order`);
        }
        for (const a of acked) {
          const found = byChannel.get(a.channel).filter((m) => m.id === a.id);
          assert.equal(found.length, 1, `acknowledged ${a.id} on ${a.channel} is in history once`);
          assert.equal(found[0].serial, a.serial, `${a.id} kept its serial`);
        }
        // Serials only grow across the restart.
        const maxAcked = acked.map((a) => a.serial).sort().at(-1);
        assert.ok(maxAcked > maxSerialBefore);
        const fresh = await request(after.url, 'POST', `/channels/${encodeURIComponent(CHANNELS[0])}/messages`,
          { key: after.key, json: { data: 'after restart' } });
        assert.equal(fresh.status, 201);
        const allStored = [...byChannel.values()].flat().map((m) => m.serial).sort().at(-1);
        assert.ok(fresh.body.serials[0] > allStored, `${fresh.body.serials[0]} > ${allStored}`);
        maxSerialBefore = fresh.body.serials[0];
        // An acknowledged id re-published after the restart is deduplicated.
        const again = acked[acked.length - 1];
        const dup = await request(after.url, 'POST', `/channels/${encodeURIComponent(again.channel)}/messages`,
          { key: after.key, json: again.id.endsWith(':1') ? [{ id: again.id.replace(/:1$/, ':0'), data: 'x' }, { id: again.id, data: 'y' }] : { id: again.id, data: 'x' } });
        assert.equal(dup.status, 201);
        assert.ok(dup.body.serials.includes(again.serial), 'the original serials are returned');
        const recount = (await fullHistory(after, again.channel)).filter((m) => m.id === again.id);
        assert.equal(recount.length, 1, 'the re-published id is stored once');
        await after.stop({ keepData: true });
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
