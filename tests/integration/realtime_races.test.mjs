// Resume racing the end of the connection it resumes (issue 16, item 2).
//
// A resume arriving on one worker claims the connection and asks its home
// worker to let go of it; meanwhile the old socket sends CLOSE or
// DISCONNECT, or drops, or has publishes in flight. Whatever wins, each try
// must end with the new socket CONNECTED (resumed, or after a CLOSE a fresh
// connection with 80008) and usable, the old one closed, and the server
// healthy; under make sanitize-test, also without a use after free or a
// leak. A DISCONNECT or a drop keeps the connection, so every resume
// continues it, whichever came first (the home's detach never erases the
// claim: test_realtime_detach.c lands one inside it).
// HERALD_RACE_TRIES sets the tries per case (default 200).
//
// A resume registering a channel while a publish to it is being stored:
// the message reaches the client once (from history), not a second time
// live. The sqlite engine's store is held by a write lock taken with the
// sqlite3 shell, so the events come in that order every time.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, test, describe, before, after, request, uniqueChannel } from './lib/server.mjs';
import { open, ACTION, FLAG } from './lib/wsclient.mjs';

const TRIES = Number(process.env.HERALD_RACE_TRIES || 200);

/** How the old socket goes while the resume runs. */
const ENDINGS = {
  close: (old) => old.send({ action: ACTION.CLOSE }),
  drop: (old) => old.terminate(),
  'close with publishes in flight': (old, channel) => {
    for (let i = 0; i < 3; i++) {
      old.send({ action: ACTION.MESSAGE, channel, msgSerial: i, messages: [{ name: 'race', data: `m${i}` }] });
    }
    return old.send({ action: ACTION.CLOSE });
  },
  disconnect: (old) => old.send({ action: ACTION.DISCONNECT }),
};
/** The endings after which a resume may find the connection gone. */
const ENDS_CONNECTION = new Set(['close', 'close with publishes in flight']);

/** One try: returns 'resumed' or 'closed first'. */
async function race(srv, ending) {
  const channel = uniqueChannel('race');
  const old = await open(srv);
  old.send({ action: ACTION.ATTACH, channel });
  await old.next(ACTION.ATTACHED);
  const [fresh] = await Promise.all([
    open(srv, { resume: old.connectionKey }),
    ending(old, channel),
  ]);
  try {
    const connected = fresh.connected;
    const resumed = connected.connectionId === old.connectionId;
    if (!resumed) {
      assert.equal(connected.error?.code, 80008, `a fresh connection says why: ${JSON.stringify(connected)}`);
    }
    await fresh.ping(); // the connection is usable either way
    fresh.send({ action: ACTION.CLOSE });
    await fresh.next(ACTION.CLOSED);
    return resumed ? 'resumed' : 'closed first';
  } finally {
    fresh.terminate();
    old.terminate();
  }
}

describe('resume racing CLOSE and drops', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['--threads', '2'] }); });
  after(async () => { if (srv) await srv.stop(); });

  for (const [name, ending] of Object.entries(ENDINGS)) {
    test(`${TRIES} tries: ${name}`, { timeout: 120000 }, async (t) => {
      const outcomes = { resumed: 0, 'closed first': 0 };
      for (let i = 0; i < TRIES; i++) outcomes[await race(srv, ending)]++;
      assert.equal(outcomes.resumed + outcomes['closed first'], TRIES, JSON.stringify(outcomes));
      if (!ENDS_CONNECTION.has(name)) assert.equal(outcomes.resumed, TRIES, JSON.stringify(outcomes));
      t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
      assert.ok(srv.isRunning(), 'the server is still running');
      assert.equal((await request(srv.url, 'GET', '/time')).status, 200);
    });
  }
});

// ------------------------------------------------------ a publish being stored

const HAVE_SQLITE3 = spawnSync('sqlite3', ['-version']).status === 0;

/** A write lock on the database at `path`, held by the sqlite3 shell until release(). */
async function lockDatabase(path) {
  const shell = spawn('sqlite3', [path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => shell.once('exit', resolve));
  await new Promise((resolve, reject) => {
    let out = '';
    shell.stdout.on('data', (c) => { out += c; if (out.includes('locked')) resolve(); });
    shell.once('exit', (code) => reject(new Error(`sqlite3 exited (${code}) before it held the lock`)));
    shell.stdin.write(".timeout 5000\n.bail on\nBEGIN IMMEDIATE;\nSELECT 'locked';\n");
  });
  return { release: () => { shell.stdin.end('ROLLBACK;\n'); return exited; } };
}

/** A channelSerial as ATTACHED hands them out: the position at `ms`. */
const positionAt = (ms) => `${String(ms).padStart(14, '0')}-000`;

const namesOn = (client, channel) => client.received
  .filter((pm) => pm.action === ACTION.MESSAGE && pm.channel === channel)
  .flatMap((pm) => pm.messages.map((m) => m.name));

describe('a resume attaching while a publish to its channel is being stored', { skip: !HAVE_SQLITE3 && 'no sqlite3 shell' }, () => {
  let srv;
  let dataDir;
  // One worker: the channels' owner and the connections' home, so each
  // ATTACHED below comes after everything that worker was asked before it.
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'herald-races-'));
    srv = await startServer({ args: ['--threads', '1', '--storage', 'sqlite', '--data-dir', dataDir] });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('the message is replayed from history and not delivered live a second time', async () => {
    const channel = uniqueChannel('stored');
    const from = positionAt(Date.now() - 1000); // before the publish, nobody attached since
    const old = await open(srv);
    await old.terminate();
    const sub = await open(srv, { resume: old.connectionKey });
    const pub = await open(srv);
    try {
      assert.equal(sub.connectionId, old.connectionId, 'resumed');
      const lock = await lockDatabase(join(dataDir, 'herald.db'));
      let released = false;
      try {
        // stamped, and its append waits for the lock
        pub.send({ action: ACTION.MESSAGE, channel, msgSerial: 0, messages: [{ name: 'being-stored', data: 'x' }] });
        pub.send({ action: ACTION.ATTACH, channel: uniqueChannel('after-publish') });
        await pub.next(ACTION.ATTACHED);
        // the resume's attach is positioned past it; its history read waits too
        sub.send({ action: ACTION.ATTACH, channel, channelSerial: from });
        sub.send({ action: ACTION.ATTACH, channel: uniqueChannel('after-attach') });
        await sub.next((pm) => pm.action === ACTION.ATTACHED && pm.channel !== channel);
        released = true;
        await lock.release();
      } finally {
        if (!released) await lock.release();
      }
      const attached = await sub.next((pm) => pm.action === ACTION.ATTACHED && pm.channel === channel);
      assert.ok(attached.flags & FLAG.RESUMED, `resumed: ${JSON.stringify(attached)}`);
      await pub.next(ACTION.ACK);
      pub.send({ action: ACTION.MESSAGE, channel, msgSerial: 1, messages: [{ name: 'end-marker', data: 'e' }] });
      await sub.next((pm) => pm.action === ACTION.MESSAGE && pm.channel === channel &&
        pm.messages.some((m) => m.name === 'end-marker'));
      assert.deepEqual(namesOn(sub, channel), ['being-stored', 'end-marker']);
    } finally {
      sub.terminate();
      pub.terminate();
    }
  });
});
