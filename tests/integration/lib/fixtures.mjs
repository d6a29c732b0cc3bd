// Ably's own test fixtures (ably-common test-resources), read from the
// checkout next to the repository (../shared/ably-common) or from
// $ABLY_COMMON_DIR. They are test vectors: a missing checkout is an error,
// never a reason to test against a copy.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The parsed JSON of test-resources/<name>. */
export function ablyCommonFixture(name) {
  const dir = process.env.ABLY_COMMON_DIR ||
    fileURLToPath(new URL('../../../../shared/ably-common', import.meta.url));
  const file = join(dir, 'test-resources', name);
  if (!existsSync(file)) throw new Error(`Ably's fixtures are missing: ${file} (set ABLY_COMMON_DIR)`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

export function messagesEncodingFixtures() {
  return ablyCommonFixture('messages-encoding.json').messages;
}

/** The `post_apps` body of test-app-setup.json (a fresh copy per call). */
export function testAppSetupPostApps() {
  return ablyCommonFixture('test-app-setup.json').post_apps;
}
