// Resume racing the end of the connection it resumes (issue 16, item 2).
//
// A resume arriving on one worker claims the connection and asks its home
// worker to let go of it; meanwhile the old socket sends CLOSE, or drops,
// or has publishes in flight. Whatever wins, each try must end with the
// new socket CONNECTED (resumed, or a fresh connection with 80008) and
// usable, the old one closed, and the server healthy; under
// make sanitize-test, also without a use after free or a leak.
// HERALD_RACE_TRIES sets the tries per case (default 200).

import assert from 'node:assert/strict';
import { startServer, test, describe, before, after, request, uniqueChannel } from './lib/server.mjs';
import { open, ACTION } from './lib/wsclient.mjs';

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
};

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
      t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
      assert.ok(srv.isRunning(), 'the server is still running');
      assert.equal((await request(srv.url, 'GET', '/time')).status, 200);
    });
  }
});
