// Herald from a real browser: headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) loads ably-js's browser bundle from a page on
// another origin than heraldd, so every request the SDK makes is
// cross-origin. For each transport the page connects with a key, attaches a
// channel, receives a message a Node ably-js client publishes, and publishes
// one the Node client receives; the page's connection must have used that
// transport:
//  - web_socket;
//  - xhr_polling, Herald's comet transport (/comet/connect, .../recv,
//    .../send).
// What the page logs (ably-js's log, console errors such as CORS refusals,
// uncaught exceptions, failed requests) is shown when a case fails.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { launchChromium, recordBrowserLog, withBrowserLog } from './lib/browser.mjs';
import { startServer, before, after, uniqueChannel } from './lib/server.mjs';
import { rtTest, Inbox, withTimeout } from './lib/realtime.mjs';
import { ABLY_DIR, ABLY_VERSION } from './lib/ably.mjs';

// The browser bundle of the ably-js HERALD_ABLY selects.
const ABLY_BUNDLE = new URL('build/ably.js', ABLY_DIR);
const TIMEOUT_MS = 10000;

// A blank page that loads ably-js (window.Ably); the icon link keeps the
// browser from asking for /favicon.ico.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>Herald browser test</title>
<script src="/ably.js"></script>
`;

const srv = await startServer();
let pageServer = null;
let browser = null;
after(async () => {
  if (browser) await browser.close();
  if (pageServer) await pageServer.close();
  await srv.stop();
});

before(async () => {
  pageServer = await startPageServer();
  browser = await launchChromium();
});

/** An HTTP server on its own port (another origin than heraldd) serving PAGE and ably-js's browser bundle. */
async function startPageServer() {
  const files = {
    '/': ['text/html; charset=utf-8', PAGE],
    '/ably.js': ['text/javascript; charset=utf-8', await readFile(ABLY_BUNDLE)],
  };
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url, 'http://page').pathname];
    if (!file) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': file[0], 'Cache-Control': 'no-store' }).end(file[1]);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

// --- run in the page (playwright sends their source; no closures) ---

/**
 * Connects an Ably.Realtime with `options`, attaches `channelName` and sends
 * every message it gets to the test's heraldReceived. Resolves with the
 * connection id, the short name of the transport it connected with and
 * ably-js's version;
 * rejects if the connection goes disconnected, suspended or failed instead.
 */
async function pageConnect({ options, channelName }) {
  const realtime = new Ably.Realtime({ ...options, logHandler: (line) => console.log(line) });
  window.realtime = realtime;
  await new Promise((resolve, reject) => {
    realtime.connection.on((change) => {
      if (change.current === 'connected') resolve();
      else if (['disconnected', 'suspended', 'failed'].includes(change.current)) {
        const r = change.reason;
        reject(new Error(`connection ${change.current}: ${r ? `${r.code}/${r.statusCode} ${r.message}` : 'no reason'}`));
      }
    });
  });
  await realtime.channels.get(channelName).subscribe((m) => {
    window.heraldReceived({ name: m.name, data: m.data, connectionId: m.connectionId });
  });
  return {
    connectionId: realtime.connection.id,
    transport: realtime.connection.connectionManager.activeProtocol.getTransport().shortName,
    version: Ably.Realtime.Platform.Defaults.version,
  };
}

/** Publishes one message on `channelName` from the page's client; resolves on its ACK. */
function pagePublish({ channelName, name, data }) {
  return window.realtime.channels.get(channelName).publish(name, data);
}

/** Closes the page's client and waits until it is closed. */
function pageClose() {
  const realtime = window.realtime;
  if (!realtime || realtime.connection.state === 'closed') return null;
  return new Promise((resolve) => {
    realtime.connection.on('closed', resolve);
    realtime.close();
  });
}

// --- the cases ---

/**
 * Opens a page in a fresh browser context (no transport preference kept from
 * another case), runs `fn(page)`, and on failure adds the page's log to the
 * error; console errors and uncaught exceptions fail the case too.
 */
async function withPage(fn) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = recordBrowserLog(page);
  try {
    await fn(page);
    assert.deepEqual(log.errors, [], 'the page logged errors');
  } catch (e) {
    throw withBrowserLog(e, log);
  } finally {
    await withTimeout(page.evaluate(pageClose), 5000, 'page client close').catch(() => {});
    await context.close();
  }
}

for (const transport of [
  'web_socket',
  'xhr_polling',
]) {
  rtTest(`a browser page on another origin exchanges messages with a Node client over ${transport}`, async (scope) => {
    const channelName = uniqueChannel('browser');
    const node = scope.realtime(srv, { key: srv.key, label: 'node' });
    const nodeChannel = node.channels.get(channelName);
    const nodeInbox = new Inbox();
    await withTimeout(nodeInbox.subscribe(nodeChannel), TIMEOUT_MS, 'Node client attach');

    await withPage(async (page) => {
      const pageInbox = new Inbox();
      await page.exposeFunction('heraldReceived', (m) => pageInbox.push(m));
      await page.goto(pageServer.url);
      const options = {
        key: srv.key,
        endpoint: '127.0.0.1',
        port: srv.port,
        tls: false,
        useBinaryProtocol: false,
        transports: [transport],
        disableConnectivityCheck: true,
        logLevel: 4,
      };
      const connected = await withTimeout(page.evaluate(pageConnect, { options, channelName }),
        TIMEOUT_MS, `the page to connect over ${transport} and attach`);
      assert.equal(connected.transport, transport, 'the page connected with the transport it was given');
      assert.equal(connected.version, ABLY_VERSION, 'the page runs the browser bundle of the ably-js HERALD_ABLY selects');

      const toPage = { text: 'from node', n: 1, nested: { ok: true } };
      await nodeChannel.publish('to-page', toPage);
      const got = await pageInbox.waitForName('to-page', TIMEOUT_MS);
      assert.deepEqual(got.data, toPage, 'data the page received');
      assert.equal(got.connectionId, node.connection.id, 'the page received the Node client\'s message');

      const toNode = { text: 'from the browser', n: 2, list: [1, 'two'] };
      await withTimeout(page.evaluate(pagePublish, { channelName, name: 'to-node', data: toNode }),
        TIMEOUT_MS, 'the page\'s publish to be ACKed');
      const fromPage = await nodeInbox.waitForName('to-node', TIMEOUT_MS);
      assert.deepEqual(fromPage.data, toNode, 'data the Node client received');
      assert.equal(fromPage.connectionId, connected.connectionId, 'the message came from the page\'s connection');
    });
  });
}
