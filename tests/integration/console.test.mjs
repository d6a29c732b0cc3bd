// The web console (--console, server/console/) in a real browser: headless
// Chromium (Debian's /usr/bin/chromium, driven by playwright-core, launched
// as browser.test.mjs does) loads heraldd's /console and is used as a
// person would: it signs in with the admin key, shows the app's keys, the
// channel a Node ably-js client is present on with its occupancy, the
// presence member, a message the form publishes arriving in the live tail
// (and at the Node client), one the Node client publishes, a stats chart
// and the connections per transport; a wrong key gets the server's error;
// an app key signs in for its app only. Without --console, /console is 404.
//
// On failure each case saves a screenshot under tests/artifacts/console/
// (git-ignored) and prints its path with the page's log. With
// HERALD_CONSOLE_SCREENSHOT=<file> the main case saves one to <file> on
// success (docs/console.png comes from it).
//
// Run: HERALDD=/abs/build/heraldd node --test tests/integration/console.test.mjs

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { launchChromium, recordBrowserLog, withBrowserLog } from './lib/browser.mjs';
import { startServer, before, after, uniqueChannel, DEFAULT_KEY } from './lib/server.mjs';
import { rtTest, Inbox, withTimeout } from './lib/realtime.mjs';

const ADMIN_KEY = 'console-test-admin-secret';
const TIMEOUT_MS = 10000;
const REFRESH_MS = 200; // the console's ?refresh=, shortened from 2000
const ARTIFACTS = new URL('../artifacts/console/', import.meta.url);

const srv = await startServer({ args: ['--console', '--admin-key', ADMIN_KEY] });
let browser = null;
after(async () => {
  if (browser) await browser.close();
  await srv.stop();
});

before(async () => {
  browser = await launchChromium();
});

/**
 * Runs fn(page) on a fresh page (its own sessionStorage); on failure saves
 * a screenshot, prints its path and adds the page's log to the error.
 */
async function withPage(name, fn) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const log = recordBrowserLog(page, { expected: (text) => text.startsWith('Failed to load resource') });
  try {
    await fn(page);
    assert.deepEqual(log.errors, [], 'the page logged errors');
  } catch (e) {
    await mkdir(ARTIFACTS, { recursive: true });
    const shot = new URL(`${name.replace(/[^a-z0-9]+/gi, '-')}.png`, ARTIFACTS).pathname;
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    process.stderr.write(`[console.test] screenshot of the failed case: ${shot}\n`);
    throw withBrowserLog(e, log);
  } finally {
    await context.close();
  }
}

async function signIn(page, server, secret) {
  await page.goto(`${server.url}/console?refresh=${REFRESH_MS}`);
  await page.fill('#login-key', secret);
  await page.click('#login button[type=submit]');
}

/** The text of a cell of a row matching rowSelector, once the row is there. */
async function cell(page, rowSelector, column) {
  return page.locator(`${rowSelector} td:nth-child(${column})`).textContent();
}

/** Waits until the number in a cell is at least min (exactly, with exact). */
async function waitForNumber(page, rowSelector, column, min, what, exact = false) {
  await page.waitForFunction(([sel, col, least, equal]) => {
    const td = document.querySelector(`${sel} td:nth-child(${col})`);
    const n = td ? Number(td.textContent) : NaN;
    return equal ? n === least : n >= least;
  }, [rowSelector, column, min, exact], { timeout: TIMEOUT_MS }).catch((e) => {
    throw new Error(`${what}: ${e.message}`);
  });
}

rtTest('without --console, /console is a 404 like any unknown path', async () => {
  const plain = await startServer();
  try {
    await withPage('console off', async (page) => {
      const res = await page.goto(`${plain.url}/console`);
      assert.equal(res.status(), 404);
      const body = JSON.parse(await page.locator('body').textContent());
      assert.equal(body.error.code, 40400);
      assert.equal((await page.goto(`${plain.url}/console/console.js`)).status(), 404);
    });
  } finally {
    await plain.stop();
  }
});

rtTest('signed in with the admin key: keys, a live channel with its presence member, a message from the form in the tail, a stats chart, connections per transport', async (scope) => {
  const ch = uniqueChannel('console');
  const node = scope.realtime(srv, { key: DEFAULT_KEY, clientId: 'node-client', label: 'node' });
  const nodeChannel = node.channels.get(ch);
  const nodeInbox = new Inbox();
  await withTimeout(nodeInbox.subscribe(nodeChannel), TIMEOUT_MS, 'Node client attach');
  await withTimeout(nodeChannel.presence.enter({ mood: 'present' }), TIMEOUT_MS, 'Node client presence enter');
  const rule = await srv.request('POST', '/apps/testapp/rules', {
    auth: false, headers: { Authorization: `Bearer ${ADMIN_KEY}` },
    json: { id: 'console-rule', source: { type: 'channel.message', channelFilter: '^nothing-here' }, target: { url: 'http://127.0.0.1:9/hook' } },
  });
  assert.equal(rule.status, 201, JSON.stringify(rule.body));

  await withPage('admin', async (page) => {
    await signIn(page, srv, ADMIN_KEY);
    await page.waitForSelector('#app-select option[value="testapp"]', { state: 'attached' });
    assert.match(await page.locator('#keys tbody').textContent(), /testapp\.root \(used here\)/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('herald.console.key')), ADMIN_KEY,
      'the key is kept in the tab');

    const row = `#channels tr[data-channel="${ch}"]`;
    await waitForNumber(page, row, 5, 1, 'the channel listed with one presence member', true);
    assert.ok(Number(await cell(page, row, 2)) >= 1, 'with the Node client\'s connection');
    await page.click(row);
    await page.waitForSelector('#presence tr[data-client-id="node-client"]');
    assert.match(await page.locator('#presence tr[data-client-id="node-client"]').textContent(), /"mood":"present"/);
    await page.waitForFunction(() => document.getElementById('tail-state').textContent === 'live');

    // the form publishes; the tail (the page's EventSource) and the Node client get it
    await page.fill('#publish-name', 'from-console');
    await page.fill('#publish-data', 'hello from the form');
    await page.click('#publish button[type=submit]');
    await page.waitForSelector('#tail li:has-text("hello from the form")');
    assert.match(await page.locator('#tail li').first().textContent(), /from-console/);
    const got = await nodeInbox.waitForName('from-console', TIMEOUT_MS);
    assert.equal(got.data, 'hello from the form');

    // what another client publishes arrives in the tail too
    await nodeChannel.publish('from-node', { n: 1 });
    await page.waitForSelector('#tail li:has-text("from-node")');
    assert.match(await page.locator('#tail li').first().textContent(), /\{"n":1\}.*\(node-client\)/);

    // the minute's messages in the chart; the console's stream and the Node client's WebSocket counted
    await page.waitForSelector('#stats-chart svg rect.bar[data-value]:not([data-value="0"])');
    await waitForNumber(page, '#connections tr[data-transport="websocket"]', 2, 1, 'a WebSocket connection');
    await waitForNumber(page, '#connections tr[data-transport="sse"]', 2, 1, 'the tail\'s event stream');
    await page.waitForSelector('#rules-table td:has-text("console-rule")'); // the app's webhook rules
    if (process.env.HERALD_CONSOLE_SCREENSHOT) {
      await page.screenshot({ path: process.env.HERALD_CONSOLE_SCREENSHOT, fullPage: true });
    }

    // a reload stays signed in (sessionStorage)
    await page.reload();
    await page.waitForSelector('#app-select option[value="testapp"]', { state: 'attached' });
  });
});

rtTest('a wrong admin key gets the server\'s refusal; an app key signs in for its app only', async () => {
  await withPage('app key', async (page) => {
    await signIn(page, srv, 'not-the-admin-key');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.locator('#error').textContent(), /Listing apps needs the admin key \(Authorization: Bearer\) \(40101, HTTP 401\)/);
    assert.ok(await page.locator('#console').isHidden());

    await page.fill('#login-key', DEFAULT_KEY);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#console:not([hidden])');
    assert.equal(await page.locator('#who').textContent(), 'testapp.root');
    assert.deepEqual(await page.locator('#app-select option').allTextContents(), ['testapp']);
    await page.waitForFunction(() => /needs the admin key/.test(document.getElementById('connections-note').textContent));
    await page.waitForSelector('#stats-chart svg');
  });
});
