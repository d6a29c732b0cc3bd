// Which ably-js the integration tests drive: the one place that imports the
// SDK (lib/server.mjs re-exports `Ably`; browser.test.mjs serves ABLY_DIR's
// browser bundle). tests/package.json installs two versions side by side:
//  - `ably`, the version the tests pin (the default);
//  - `ably-latest`, an npm alias ("npm:ably@^2.x") for the newest 2.x
//    release, which `make integration-test-latest-sdk` runs the SDK test
//    files against (docs/sdk-compatibility.md says how to bump it).
// HERALD_ABLY picks one: unset or `pinned` for `ably`, `latest` for
// `ably-latest`.
//
// The version loaded must be the one tests/package-lock.json pins for that
// package, or importing this module throws (and with it every test file):
// the SDK's own idea of its version (what it sends as Ably-Agent), the
// installed package.json and the lock must agree, so a pass meant for the
// newest SDK cannot quietly run an older one (a stale node_modules, an alias
// resolving to the other package).
//
// `node tests/integration/lib/ably.mjs` prints the version HERALD_ABLY
// selects (the Makefile prints it before each pass).

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** HERALD_ABLY value -> npm package (a directory of tests/node_modules). */
export const SDK_PACKAGES = { pinned: 'ably', latest: 'ably-latest' };

export const SDK_CHOICE = process.env.HERALD_ABLY || 'pinned';
if (!Object.hasOwn(SDK_PACKAGES, SDK_CHOICE)) {
  throw new Error(`HERALD_ABLY=${SDK_CHOICE}: expected one of ${Object.keys(SDK_PACKAGES).join(', ')}`);
}
export const ABLY_PACKAGE = SDK_PACKAGES[SDK_CHOICE];

const TESTS_DIR = new URL('../../', import.meta.url);
/** URL of the selected package's directory (ends with a slash). */
export const ABLY_DIR = new URL(`node_modules/${ABLY_PACKAGE}/`, TESTS_DIR);

const readJson = (url) => JSON.parse(readFileSync(url, 'utf8'));

const lock = readJson(new URL('package-lock.json', TESTS_DIR));
const locked = lock.packages[`node_modules/${ABLY_PACKAGE}`];
if (!locked) throw new Error(`tests/package-lock.json pins no ${ABLY_PACKAGE} (HERALD_ABLY=${SDK_CHOICE})`);
const installed = readJson(new URL('package.json', ABLY_DIR));

const Ably = (await import(ABLY_PACKAGE)).default;

/** The version the loaded SDK reports (its Ably-Agent is `ably-js/<this>`). */
export const ABLY_VERSION = Ably.Realtime.Platform.Defaults.version;

const problems = [];
if (installed.name !== 'ably') problems.push(`tests/node_modules/${ABLY_PACKAGE} is package ${installed.name}, not ably`);
if (installed.version !== locked.version) {
  problems.push(`tests/node_modules/${ABLY_PACKAGE} is ${installed.version}, package-lock.json pins ${locked.version} (npm ci in tests/)`);
}
if (ABLY_VERSION !== installed.version) {
  problems.push(`the SDK imported as '${ABLY_PACKAGE}' reports version ${ABLY_VERSION}, its package.json ${installed.version}`);
}
if (Ably.Rest.Platform.Defaults.version !== ABLY_VERSION) problems.push('Ably.Rest and Ably.Realtime report different versions');
if (problems.length) throw new Error(`ably-js for HERALD_ABLY=${SDK_CHOICE}: ${problems.join('; ')}`);

/** Whether the loaded ably-js is `version` ("2.28.0") or newer. */
export function sdkAtLeast(version) {
  const have = ABLY_VERSION.split('.').map(Number);
  const want = version.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i] > want[i];
  return true;
}

/** The ably-js version this lock pins for HERALD_ABLY=`choice`. */
export function lockedVersion(choice) {
  return lock.packages[`node_modules/${SDK_PACKAGES[choice]}`]?.version;
}

/** One line naming the SDK in use, e.g. "ably-js 2.28.0 (package ably-latest, HERALD_ABLY=latest)". */
export const SDK_DESCRIPTION = `ably-js ${ABLY_VERSION} (package ${ABLY_PACKAGE}, HERALD_ABLY=${SDK_CHOICE})`;

export { Ably };
export default Ably;

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  console.log(SDK_DESCRIPTION);
}
