// Tokens need no shared state: a token issued by one heraldd validates on
// any other heraldd that has the issuing key, and is refused by one that
// does not.

import assert from 'node:assert/strict';
import { describe, test, startServer, restClient } from './lib/server.mjs';

describe('tokens across nodes', () => {
  test('a token issued by one node works on another sharing the key', async () => {
    const issuer = await startServer();
    const other = await startServer();
    const stranger = await startServer({ env: { HERALD_KEY: 'otherapp.k:othersecret' } });
    try {
      const tokenDetails = await restClient(issuer).auth.requestToken({ clientId: 'roaming' });
      const viaOther = restClient(other, { key: null, token: tokenDetails.token });
      const channel = viaOther.channels.get('nodes');
      await channel.publish('hop', 'from another node');
      const [message] = (await channel.history()).items;
      assert.equal(message.data, 'from another node');
      assert.equal(message.clientId, 'roaming', 'the token identity holds on the other node');

      // Raw HTTP: the SDK would turn a 4014x into its own "cannot renew" error.
      const refused = await fetch(`${stranger.url}/channels/nodes/messages`,
        { headers: { authorization: `Bearer ${tokenDetails.token}` } });
      assert.equal(refused.status, 401);
      assert.equal((await refused.json()).error.code, 40143);
    } finally {
      await Promise.all([issuer.stop(), other.stop(), stranger.stop()]);
    }
  });
});
