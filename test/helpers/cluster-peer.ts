import { createSignalingClient, type SignalingClient } from '../../src/client.js';
import { Identity } from '../../src/identity/index.js';
import type { ServerProcess } from './server-process.js';

/**
 * A client authenticated on one cluster node (a fresh identity unless given), retrying fast, added to
 * `clients` for the suite to disconnect. Resolves once it is connected.
 */
export async function clusterPeer(clients: SignalingClient[], node: ServerProcess, identity?: Identity) {
  const id = identity ?? (await Identity.generate());
  const client = createSignalingClient({
    url: node.url,
    identity: id,
    serverKey: node.publicKey,
    globalEvents: false,
    backoff: { initialDelay: 50, maxDelay: 200 },
  });
  clients.push(client);
  client.connect();
  await client.ready();
  return { client, key: id.publicKey, identity: id };
}
