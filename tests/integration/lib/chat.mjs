// Ably Chat (@ably/chat) over the ably-js lib/ably.mjs selects. Chat
// imports `ably` itself (its ErrorInfo, its EventEmitter); with
// HERALD_ABLY=latest that would be the pinned package while the Realtime
// client handed to `new ChatClient(realtime)` is the newest one. A resolve
// hook (lib/chat_hooks.mjs) makes Chat's `import "ably"` load the package
// lib/ably.mjs loaded, so both are one ably-js.

import { register } from 'node:module';
import { ABLY_PACKAGE } from './ably.mjs';

register('./chat_hooks.mjs', import.meta.url, { data: { ablyPackage: ABLY_PACKAGE } });

const chat = await import('@ably/chat');

export const { ChatClient, LogLevel } = chat;
export default chat;
