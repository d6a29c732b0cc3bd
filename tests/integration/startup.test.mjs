// Start-up under load (issue 16, item 3): clients connect and publish from
// the moment heraldd binds its port, so the first worker to run accepts
// requests whose channels other workers own while the rest are starting.
// Every worker must be ready before any socket listens: each request that
// was sent is answered 201, none hangs, the server does not crash. With 32
// workers start-up takes long enough for the race to show: before the fix
// a worker posted to one still zeroed (SEGV in uv_async_send, under ASan
// at every run).

import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, test, describe, basicAuth, DEFAULT_KEY } from './lib/server.mjs';

const STARTS = 10;
const CLIENTS = 40;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** One publish on a fresh connection: 'refused' before the port listens, else the status line. */
function publishOnce(port, channel) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ name: 'boot', data: 'x' });
    const sock = net.connect({ port, host: '127.0.0.1' });
    let reply = '';
    const timer = setTimeout(() => { sock.destroy(); resolve('no answer in 5 s'); }, 5000);
    const done = (what) => { clearTimeout(timer); sock.destroy(); resolve(what); };
    sock.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code));
    sock.on('connect', () => sock.write(`POST /channels/${channel}/messages HTTP/1.1\r\nHost: x\r\n` +
      `Authorization: ${basicAuth(DEFAULT_KEY)}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`));
    sock.on('data', (d) => {
      reply += d;
      if (reply.includes('\r\n')) done(reply.slice(0, reply.indexOf('\r\n')));
    });
  });
}

/** Publishes on channel `boot-<i>-<n>` until one is answered; returns that answer. */
async function publishUntilAnswered(port, i, stop) {
  for (let n = 0; ; n++) {
    const answer = await publishOnce(port, `boot-${i}-${n}`);
    if (answer !== 'refused' || stop.done) return answer;
  }
}

describe('start-up while clients are already publishing', () => {
  test(`${STARTS} starts of 32 workers with ${CLIENTS} clients racing each`, { timeout: 120000 }, async () => {
    for (let start = 0; start < STARTS; start++) {
      const port = await freePort();
      const stop = { done: false };
      const answers = Array.from({ length: CLIENTS }, (_, i) => publishUntilAnswered(port, i, stop));
      const srv = await startServer({ args: ['--port', String(port), '--threads', '32'] });
      try {
        const got = await Promise.all(answers);
        for (const answer of got) assert.equal(answer, 'HTTP/1.1 201 Created', `start ${start}: ${got.join(', ')}`);
        assert.ok(srv.isRunning(), 'the server is still running');
      } finally {
        stop.done = true;
        await srv.stop();
      }
    }
  });
});
