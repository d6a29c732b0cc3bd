// Server lifecycle. Startup: the "listening on" line means connections are
// accepted. Graceful shutdown: heraldd exits 0 promptly on SIGTERM and
// SIGINT, also with idle keep-alive connections, half-sent requests and
// requests in flight. What SIGTERM promises (server.c, http__drain): every
// request the server has read is answered in full and, if it was a publish
// answered 201, is stored; a request it has not read yet is never half
// served: the client sees its connection closed or refused.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startServer, test, describe, uniqueChannel, basicAuth, parseHttpResponses,
} from './lib/server.mjs';
import { open, ACTION } from './lib/wsclient.mjs';

const PROMPT_MS = 5000;

async function publishRaw(srv, name, body) {
  return srv.request('POST', `/channels/${encodeURIComponent(name)}/messages`, { json: body });
}

/** Raw HTTP/1.1 request text (a publish when body is given). */
function rawRequest(srv, method, path, body) {
  let head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basicAuth(srv.key)}\r\n`;
  if (body === undefined) return `${head}\r\n`;
  head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  return `${head}\r\n${body}`;
}

/** Resolves with the first `n` parsed responses that arrive on sock. */
function responses(sock, n) {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const got = parseHttpResponses(buf);
      if (got.length >= n) resolve(got);
    });
  });
}

/** The names and serials in a channel's history (oldest first). */
async function storedMessages(srv, name) {
  const h = await srv.request('GET', `/channels/${encodeURIComponent(name)}/messages?limit=1000&direction=forwards`);
  assert.equal(h.status, 200, `history: ${h.raw}`);
  return new Map(h.body.map((m) => [m.name, m.serial]));
}

// What a client sees when a connection the server never read from is closed
// (reset, or EOF before any response), or when nothing listens any more.
const CLOSED_UNREAD = ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'UND_ERR_SOCKET'];

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('startup', () => {
  test('connections are accepted as soon as "listening on" is printed (100 starts)', async () => {
    const refused = [];
    for (let i = 0; i < 100; i++) {
      const srv = await startServer();
      try {
        // no retry: raw connect on odd starts, a GET /time on even ones
        if (i % 2) {
          const s = await connect(srv.port).catch((e) => { refused.push(`start ${i} connect: ${e.code}`); return null; });
          if (s) s.destroy();
        } else {
          const r = await srv.request('GET', '/time', { key: null }).catch((e) => { refused.push(`start ${i} GET /time: ${e.cause?.code || e.message}`); return null; });
          if (r) assert.equal(r.status, 200);
        }
      } finally {
        const res = await srv.stop();
        assert.equal(res.code, 0);
      }
    }
    assert.deepEqual(refused, [], `connection refused right after the listening line in ${refused.length}/100 starts`);
  });

  test('bad command line: non-zero exit, no listening line', async () => {
    await assert.rejects(startServer({ args: ['--no-such-flag'], quiet: true }), /exited before listening \(code=[1-9]/);
    await assert.rejects(startServer({ args: ['--threads', 'abc'], quiet: true }), /exited before listening \(code=[1-9]/);
  });
});

describe('shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    test(`${signal}: exits 0 promptly after serving requests`, async () => {
      const srv = await startServer(); // HERALD_KEY only, no config file
      try {
        const name = uniqueChannel('shutdown');
        const r = await publishRaw(srv, name, { name: 'before', data: 'shutdown' });
        assert.equal(r.status, 201, `${r.raw}`);
        const h = await srv.request('GET', `/channels/${encodeURIComponent(name)}/messages`);
        assert.equal(h.status, 200);
        assert.equal(h.body[0].data, 'shutdown');
      } finally {
        const res = await srv.stop({ signal });
        assert.equal(res.timedOut, undefined, `${signal}: did not exit by itself`);
        assert.equal(res.signal, null, `${signal}: exited via signal ${res.signal} instead of exit code 0`);
        assert.equal(res.code, 0, `${signal}: exit code`);
        assert.ok(res.ms < PROMPT_MS, `${signal}: exit took ${res.ms} ms`);
      }
    });
  }

  test('SIGTERM with an idle keep-alive connection and a half-sent request', async () => {
    const srv = await startServer();
    const sockets = [];
    try {
      // idle keep-alive connection that already completed one request
      const idle = await connect(srv.port);
      sockets.push(idle);
      const got = new Promise((resolve) => {
        let buf = Buffer.alloc(0);
        idle.on('data', (d) => {
          buf = Buffer.concat([buf, d]);
          if (parseHttpResponses(buf).length) resolve(parseHttpResponses(buf)[0]);
        });
      });
      idle.write('GET /time HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const first = await got;
      assert.equal(first.status, 200);
      idle.on('error', () => {});

      // a request whose body never completes, sent in one write behind a
      // complete GET /time: once /time is answered the server has read the
      // half request too (one write of a few hundred bytes is one segment on
      // loopback, read at once)
      const half = await connect(srv.port);
      sockets.push(half);
      half.on('error', () => {});
      const timeAnswered = responses(half, 1);
      half.write(rawRequest(srv, 'GET', '/time') +
        `POST /channels/half/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basicAuth(srv.key)}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":"x",');
      assert.equal((await timeAnswered)[0].status, 200);
      // a connection that sent nothing at all: no event says the server has
      // accepted it, and none is needed (accepted or still queued, it must
      // not hold the stop up)
      const silent = await connect(srv.port);
      sockets.push(silent);
      silent.on('error', () => {});
    } finally {
      const res = await srv.stop({ signal: 'SIGTERM' });
      for (const s of sockets) s.destroy();
      assert.equal(res.timedOut, undefined, 'open connections must not block shutdown forever');
      assert.equal(res.code, 0, `exit code ${res.code} signal ${res.signal}`);
      assert.ok(res.ms < PROMPT_MS, `exit took ${res.ms} ms`);
    }
  });

  test('SIGTERM during a burst of publishes: each is 201 and stored, or refused unread; exit 0', async () => {
    // SQLite, so that what was acknowledged can be read back after the stop
    const dataDir = await mkdtemp(join(tmpdir(), 'herald-shutdown-'));
    const args = ['--storage', 'sqlite', '--data-dir', dataDir];
    const N = 60;
    const name = uniqueChannel('burst');
    const results = [];
    try {
      const srv = await startServer({ args });
      let stopRes;
      try {
        assert.equal((await publishRaw(srv, name, { name: 'warm', data: 'warm' })).status, 201);
        const inflight = [];
        let answered = 0;
        let fifthAnswer;
        const fifth = new Promise((resolve) => { fifthAnswer = resolve; });
        for (let i = 0; i < N; i++) {
          inflight.push(publishRaw(srv, name, { name: `b${i}`, data: 'x'.repeat(1000) })
            .then((r) => ({ ok: true, r }), (e) => ({ ok: false, e }))
            .then((x) => { results[i] = x; if (++answered === 5) fifthAnswer(); }));
        }
        // signal once five answers are back, i.e. while the rest are in flight
        // (or once all are, should fewer than five ever come back)
        await Promise.race([fifth, Promise.all(inflight)]);
        stopRes = srv.stop({ signal: 'SIGTERM', keepData: true });
        await Promise.all(inflight);
      } finally {
        const res = await (stopRes || srv.stop({ signal: 'SIGTERM', keepData: true }));
        assert.equal(res.timedOut, undefined, 'exited by itself');
        assert.equal(res.code, 0, `exit code ${res.code} signal ${res.signal}`);
        assert.ok(res.ms < PROMPT_MS, `exit took ${res.ms} ms`);
      }

      const acked = new Map(); // name -> serial
      const refused = [];
      for (let i = 0; i < N; i++) {
        const x = results[i];
        if (x.ok) {
          // the server answers every request it has read, and a drain never
          // refuses one: only a 201 is a right answer
          assert.equal(x.r.status, 201, `publish b${i} answered ${x.r.status} ${x.r.raw}`);
          assert.equal(x.r.body.channel, name);
          assert.equal(x.r.body.serials.length, 1);
          acked.set(`b${i}`, x.r.body.serials[0]);
        } else {
          const code = x.e.cause?.code;
          assert.ok(CLOSED_UNREAD.includes(code),
            `publish b${i} failed with something other than a closed/refused connection: ${x.e} (cause ${code})`);
          refused.push(`b${i}`);
        }
      }
      assert.ok(acked.size >= 5, `at least the five answers seen before the signal: ${acked.size}`);

      // after a restart: exactly the acknowledged publishes, with their serials
      const after = await startServer({ args });
      try {
        const stored = await storedMessages(after, name);
        stored.delete('warm');
        assert.deepEqual([...stored.entries()].sort(), [...acked.entries()].sort(),
          `stored = acknowledged (${acked.size} acknowledged, ${refused.length} refused: ${refused.join(' ')})`);
      } finally {
        await after.stop({ keepData: true });
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('a publish the server has read before SIGTERM gets its full 201; port closed afterwards', async () => {
    const srv = await startServer();
    const port = srv.port;
    const name = uniqueChannel('final');
    // A subscriber: its MESSAGE is the event that the server has read the
    // publish (fanout runs before the 201 is handed back to the publisher's
    // worker), so the signal follows a request known to be read, whether or
    // not its answer has left yet.
    const sub = await open(srv);
    sub.send({ action: ACTION.ATTACH, channel: name });
    await sub.next(ACTION.ATTACHED);
    const sock = await connect(port);
    sock.on('error', () => {});
    let received = Buffer.alloc(0);
    sock.on('data', (d) => { received = Buffer.concat([received, d]); });
    const closed = new Promise((resolve) => sock.on('close', resolve));
    sock.write(rawRequest(srv, 'POST', `/channels/${encodeURIComponent(name)}/messages`,
      JSON.stringify({ name: 'last', data: 'word' })));
    const delivered = await sub.next(ACTION.MESSAGE);
    assert.equal(delivered.messages[0].name, 'last');
    const res = await srv.stop({ signal: 'SIGTERM' });
    assert.equal(res.code, 0, `exit code ${res.code} signal ${res.signal}`);
    assert.ok(res.ms < PROMPT_MS, `exit took ${res.ms} ms`);
    await closed;
    sub.terminate();
    const [resp] = parseHttpResponses(received);
    assert.ok(resp, `the publish read before the signal got a complete response before the connection closed: ${JSON.stringify(received.toString())}`);
    assert.equal(resp.status, 201, resp.body.toString());
    assert.equal(JSON.parse(resp.body).serials.length, 1);
    // nothing listens on the port any more
    await assert.rejects(connect(port), /ECONNREFUSED/);
  });
});
