// Running out of file descriptors. libuv retries a failed accept at once,
// so heraldd used to spin on EMFILE (millions of failed accepts a second)
// and ignore SIGTERM. Now a worker stops accepting for a while and resumes
// once descriptors are free again: a request after the flood is served,
// and SIGTERM stops the server promptly, also in the middle of the flood.

import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, test, describe, eventually } from './lib/server.mjs';

const FD_LIMIT = 64;     // heraldd itself needs about 20 of them
const CONNECTIONS = 200; // well past the limit, well within the listen backlog
const WAVES = 5;         // libuv's own remedy works or not by a race: try a few times
const PROMPT_MS = 5000;

/* Opens n connections one after the other (so that both workers keep
 * accepting while descriptors run out); resolves with the sockets once
 * each is established or has failed (libuv itself resets queued
 * connections when it can). */
async function flood(port, n) {
  const sockets = [];
  for (let i = 0; i < n; i++) {
    sockets.push(await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => resolve(s));
      s.once('connect', () => resolve(s));
    }));
  }
  return sockets;
}

/* Whether a request is answered (a stuck worker would never answer). */
function served(srv) {
  return srv.request('GET', '/time', { key: null, signal: AbortSignal.timeout(1000) })
    .then((r) => r.status === 200, () => false);
}

describe('out of file descriptors', () => {
  test('accepting resumes once the connections are gone; SIGTERM exits 0', async () => {
    const srv = await startServer({ fdLimit: FD_LIMIT });
    try {
      for (let wave = 0; wave < WAVES; wave++) {
        const sockets = await flood(srv.port, CONNECTIONS);
        for (const s of sockets) s.destroy();
        // Descriptors come back as heraldd sees the connections close.
        await eventually(() => served(srv), { what: `a request served after flood ${wave + 1}` });
      }
    } finally {
      const res = await srv.stop({ signal: 'SIGTERM' });
      assert.equal(res.timedOut, undefined, 'exited by itself');
      assert.equal(res.code, 0, `exit code ${res.code} signal ${res.signal}`);
      assert.ok(res.ms < PROMPT_MS, `exit took ${res.ms} ms`);
    }
  });

  test('SIGTERM while the connections still hold every descriptor: exit 0, promptly', async () => {
    for (let round = 0; round < WAVES; round++) {
      const srv = await startServer({ fdLimit: FD_LIMIT });
      const sockets = await flood(srv.port, CONNECTIONS);
      try {
        const res = await srv.stop({ signal: 'SIGTERM' });
        assert.equal(res.timedOut, undefined, `round ${round + 1}: exited by itself`);
        assert.equal(res.code, 0, `round ${round + 1}: exit code ${res.code} signal ${res.signal}`);
        assert.ok(res.ms < PROMPT_MS, `round ${round + 1}: exit took ${res.ms} ms`);
      } finally {
        for (const s of sockets) s.destroy();
      }
    }
  });
});
