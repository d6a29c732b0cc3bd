// Headless Chromium for the browser tests (browser.test.mjs,
// console.test.mjs): Debian's /usr/bin/chromium driven by playwright-core,
// and what a page reports, kept for a failure's message.

import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
export const LOG_TAIL = 200; // browser log lines kept for a failure message

export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    // --no-sandbox: tests run as root; --disable-dev-shm-usage: a small
    // /dev/shm (containers) would crash the renderer.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/**
 * Records what `page` reports: console messages, uncaught exceptions and
 * failed requests. `errors` holds the uncaught exceptions and the console
 * errors that `expected(text)` does not excuse, which fail a case; `text()`
 * is the tail of everything.
 */
export function recordBrowserLog(page, { expected = () => false } = {}) {
  const lines = [];
  const errors = [];
  const add = (line) => {
    lines.push(line.length > 600 ? line.slice(0, 600) + '…' : line);
    if (lines.length > LOG_TAIL) lines.splice(0, lines.length - LOG_TAIL);
  };
  page.on('console', (m) => {
    const line = `console.${m.type()}: ${m.text()}`;
    add(line);
    if (m.type() === 'error' && !expected(m.text())) errors.push(line);
  });
  page.on('pageerror', (e) => {
    const line = `uncaught: ${e.stack || e.message}`;
    add(line);
    errors.push(line);
  });
  page.on('requestfailed', (r) => add(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  return { errors, text: () => lines.join('\n') };
}

/** A case's error with the page's log added. */
export function withBrowserLog(e, log) {
  return new Error(`${e.message}\n----- browser log (last ${LOG_TAIL} lines) -----\n${log.text()}\n----- end browser log -----`, { cause: e });
}
