import type { SocketListeners, TerminateLater, WebSocketConstructor, WebSocketLike } from './socket.js';

/** The platform's WebSocket (browsers, Deno, workers); `undefined` where there is none. */
export const DefaultWebSocket = (globalThis as { WebSocket?: unknown }).WebSocket as
  | WebSocketConstructor
  | undefined;

/** Hands a socket's events to the service through the standard `on*` handlers. */
export const listen: SocketListeners = (ws: WebSocketLike, open, close, text, binary) => {
  ws.onopen = open;
  ws.onclose = (event) => close(event.code, event.reason);
  ws.onmessage = (event) => (typeof event.data === 'string' ? text(event.data) : binary());
};

/** A browser's socket has no `terminate()`: the platform ends a closing handshake that hangs. */
export const terminateLater: TerminateLater = () => undefined;
