import type { WebSocketConstructor } from './socket.js';

/** The platform's WebSocket (browsers, Deno, workers); `undefined` where there is none. */
export const DefaultWebSocket = (globalThis as { WebSocket?: unknown }).WebSocket as
  | WebSocketConstructor
  | undefined;
