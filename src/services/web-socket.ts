/**
 * The WebSocket class the socket service uses unless one is injected: `ws` on Node. This is the
 * package's `#web-socket` import; browsers resolve it to `web-socket.browser.js` (package.json
 * `imports`), the platform's own class, so no `ws` code reaches a browser bundle.
 */
import WebSocket from 'ws';
import type { WebSocketConstructor } from './socket.js';

/**
 * `ws` (Node's fastest WebSocket client, with the `message` fast path the service uses), without
 * permessage-deflate: protocol frames are small JSON and the reference server never compresses, so the
 * offer only costs (~20 µs on every connect, measured in bench/handshake's setting, and a zlib context
 * per socket where a server accepts it). Inject a `WebSocket` class to compress.
 */
class NodeWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { perMessageDeflate: false });
  }
}

export const DefaultWebSocket = NodeWebSocket as unknown as WebSocketConstructor | undefined;
