/**
 * The WebSocket class the socket service uses unless one is injected: `ws` on Node. This is the
 * package's `#web-socket` import; browsers resolve it to `web-socket.browser.js` (package.json
 * `imports`), the platform's own class, so no `ws` code reaches a browser bundle.
 */
import WebSocket from 'ws';
import type { WebSocketConstructor } from './socket.js';

/** `ws` (Node's fastest WebSocket client, with the `message` fast path the service uses). */
export const DefaultWebSocket = WebSocket as unknown as WebSocketConstructor | undefined;
