// Ably's own test fixtures (ably-common test-resources), kept in the
// repository under tests/fixtures/ably-common (see its README).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The parsed JSON of test-resources/<name>. */
export function ablyCommonFixture(name) {
  const file = fileURLToPath(new URL(`../../fixtures/ably-common/test-resources/${name}`, import.meta.url));
  return JSON.parse(readFileSync(file, 'utf8'));
}

export function messagesEncodingFixtures() {
  return ablyCommonFixture('messages-encoding.json').messages;
}

/** The `post_apps` body of test-app-setup.json (a fresh copy per call). */
export function testAppSetupPostApps() {
  return ablyCommonFixture('test-app-setup.json').post_apps;
}
