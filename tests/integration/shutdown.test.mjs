// Server lifecycle. Startup: the "listening on" line means connections are
// accepted. Graceful shutdown: heraldd exits 0 promptly on SIGTERM and
// SIGINT, also with idle keep-alive connections, half-sent requests and
// requests in flight.

import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startServer, test, describe, uniqueChannel, basicAuth, parseHttpResponses, rawExchange, sleep,
} from './lib/server.mjs';

const PROMPT_MS = 5000;

async function publishRaw(srv, name, body) {
  return srv.request('POST', `/channels/${encodeURIComponent(name)}/messages`, { json: body });
}

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

      // a request whose body never completes
      const half = await connect(srv.port);
      sockets.push(half);
      half.on('error', () => {});
      half.write(`POST /channels/half/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basicAuth(srv.key)}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":"x",');
      // a connection that sent nothing at all
      const silent = await connect(srv.port);
      sockets.push(silent);
      silent.on('error', () => {});
      await sleep(100);
    } finally {
      const res = await srv.stop({ signal: 'SIGTERM' });
      for (const s of sockets) s.destroy();
      assert.equal(res.timedOut, undefined, 'open connections must not block shutdown forever');
      assert.equal(res.code, 0, `exit code ${res.code} signal ${res.signal}`);
      assert.ok(res.ms < PROMPT_MS, `exit took ${res.ms} ms`);
    }
  });

  test('SIGTERM during a burst of publishes: complete responses only, exit 0', async () => {
    const srv = await startServer();
    const name = uniqueChannel('burst');
    const results = [];
    let stopRes;
    try {
      // warm up
      assert.equal((await publishRaw(srv, name, { data: 'warm' })).status, 201);
      const inflight = [];
      for (let i = 0; i < 60; i++) {
        inflight.push(publishRaw(srv, name, { name: `b${i}`, data: 'x'.repeat(1000) })
          .then((r) => results.push({ ok: true, r }), (e) => results.push({ ok: false, e })));
      }
      // signal once the first answers are back, i.e. while the rest are in flight
      const t0 = Date.now();
      while (results.length < 5 && Date.now() - t0 < 5000) await sleep(0);
      stopRes = srv.stop({ signal: 'SIGTERM' });
      await Promise.all(inflight);
    } finally {
      if (!stopRes) stopRes = srv.stop({ signal: 'SIGTERM' });
      const res = await stopRes;
      assert.equal(res.timedOut, undefined, 'exited by itself');
      assert.equal(res.code, 0, `exit code ${res.code} signal ${res.signal}`);
      assert.ok(res.ms < PROMPT_MS, `exit took ${res.ms} ms`);
    }
    assert.equal(results.length, 60);
    // every response that did arrive is a complete, well-formed answer
    for (const x of results) {
      if (!x.ok) continue; // connection refused/reset after shutdown began is acceptable
      const { r } = x;
      assert.ok(r.status === 201 || r.status === 503 || r.status === 500,
        `in-flight publish answered ${r.status} ${r.raw}`);
      if (r.status === 201) {
        assert.equal(r.body.channel, name);
        assert.equal(r.body.serials.length, 1);
      } else {
        assert.ok(r.body?.error?.code, `error response has an Ably error body: ${r.raw}`);
      }
    }
  });

  test('a request completed before SIGTERM got its full response; port closed afterwards', async () => {
    const srv = await startServer();
    const port = srv.port;
    const name = uniqueChannel('final');
    const body = JSON.stringify({ name: 'last', data: 'word' });
    const raw = `POST /channels/${encodeURIComponent(name)}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Authorization: ${basicAuth(srv.key)}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    // send the request and SIGTERM immediately after the bytes are written
    const exchange = rawExchange(port, raw, { untilFn: (b) => parseHttpResponses(b).length > 0 });
    await sleep(20);
    const res = await srv.stop({ signal: 'SIGTERM' });
    const { data } = await exchange;
    assert.equal(res.code, 0, `exit code ${res.code} signal ${res.signal}`);
    assert.ok(res.ms < PROMPT_MS, `exit took ${res.ms} ms`);
    const [resp] = parseHttpResponses(data);
    assert.ok(resp, `the in-flight request got a complete response: ${JSON.stringify(data.toString())}`);
    assert.equal(resp.status, 201);
    // nothing listens on the port any more
    await assert.rejects(connect(port), /ECONNREFUSED/);
  });
});
