import {
  createSignalingClient,
  type SignalingClient,
  type SignalingClientOptions,
} from '../../src/client.js';
import { Identity } from '../../src/identity/index.js';

/**
 * A client as the tests make it: a fresh identity unless `options` gives one, no global listeners
 * (`online`, `visibilitychange`), and disconnected by the case's `cleanups`. Not connected yet.
 */
export async function testClient(
  cleanups: (() => unknown)[],
  url: SignalingClientOptions['url'],
  options: Partial<SignalingClientOptions> = {},
): Promise<SignalingClient> {
  const client = createSignalingClient({
    url,
    identity: await Identity.generate(),
    globalEvents: false,
    ...options,
  });
  cleanups.push(() => client.disconnect());
  return client;
}
