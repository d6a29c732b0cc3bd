// ably-common test fixtures. Read from the ably-common checkout when it is
// available ($ABLY_COMMON_DIR, or ../shared/ably-common next to the repo);
// otherwise fall back to the embedded copy of messages-encoding.json below
// (copied unmodified from ably/ably-common test-resources).

import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const EMBEDDED_MESSAGES_ENCODING = {
  messages: [
    { data: 'foo', encoding: null, expectedType: 'string', expectedValue: 'foo' },
    { data: '{"foo":42}', encoding: null, expectedType: 'string', expectedValue: '{"foo":42}' },
    {
      data: '{"foo":42,"bar":["a",1.2,{"boo":"ha"}]}', encoding: 'json', expectedType: 'jsonObject',
      expectedValue: { foo: 42, bar: ['a', 1.2, { boo: 'ha' }] },
    },
    { data: '[{"foo":42},"qux"]', encoding: 'json', expectedType: 'jsonArray', expectedValue: [{ foo: 42 }, 'qux'] },
    { data: '3q2+7w==', encoding: 'base64', expectedType: 'binary', expectedHexValue: 'deadbeef' },
  ],
};

function ablyCommonDir() {
  const candidates = [
    process.env.ABLY_COMMON_DIR,
    fileURLToPath(new URL('../../../../shared/ably-common', import.meta.url)),
    '/work/shared/ably-common',
  ].filter(Boolean);
  return candidates.find((d) => existsSync(join(d, 'test-resources')));
}

export function messagesEncodingFixtures() {
  const dir = ablyCommonDir();
  if (dir) return JSON.parse(readFileSync(join(dir, 'test-resources', 'messages-encoding.json'), 'utf8')).messages;
  return EMBEDDED_MESSAGES_ENCODING.messages;
}
