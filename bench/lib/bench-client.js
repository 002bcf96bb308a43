// The client every client benchmark measures: a SignalingClient for the bench server, pinned to its key,
// with no browser hints (Node has none; this keeps the setup identical across benches).
import { createSignalingClient } from '../../dist/index.js';

/** A client of `server` (from spawnBenchServer) signing as `identity`; `options` are added as given. */
export function benchClient(server, identity, options = {}) {
  return createSignalingClient({
    url: server.url,
    identity,
    serverKey: server.publicKey,
    globalEvents: false,
    ...options,
  });
}

/** Connects `client`; resolves once it is connected, after `onConnected` (for marks taken right there). */
export function connect(client, onConnected = () => {}) {
  return new Promise((resolve) => {
    client.onStateChange((state) => {
      if (state === 'connected') resolve(onConnected());
    });
    client.connect();
  });
}
