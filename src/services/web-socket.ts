/**
 * The WebSocket class the socket service uses unless one is injected: `ws` on Node. This is the
 * package's `#web-socket` import; browsers resolve it to `web-socket.browser.js` (package.json
 * `imports`), the platform's own class, so no `ws` code reaches a browser bundle.
 */
import WebSocket from 'ws';
import type { SocketListeners, TerminateLater, WebSocketConstructor } from './socket.js';
import { listen as listenOnProperties } from './web-socket.browser.js';

/**
 * `ws` (Node's fastest WebSocket client, its events taken by `listen` below), without
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

type Emitter = {
  on(event: 'message', fn: (data: { toString(): string }, isBinary: boolean) => void): void;
  on(event: 'close', fn: (code: number, reason: unknown) => void): void;
  on(event: 'open' | 'error', fn: () => void): void;
};

/**
 * `ws`'s own EventEmitter events: no MessageEvent built per frame, and none of the wrapper closures
 * its `onopen`-style setters build per handler (0.6 KiB a socket). Other classes (injected): `on*`.
 */
export const listen: SocketListeners = (ws, open, close, text, binary) => {
  const node = ws as Partial<Emitter>;
  if (typeof node.on !== 'function') return listenOnProperties(ws, open, close, text, binary);
  node.on('open', open);
  // An error is always followed by a close event, which is what the chart acts on; without a
  // listener, an EventEmitter would throw it.
  node.on('error', ignore);
  node.on('close', close);
  node.on('message', (data, isBinary) => (isBinary ? binary() : text(data.toString())));
};

function ignore() {}

/** A dead peer never answers the close frame; don't keep the process (or disconnect()) waiting. */
export const terminateLater: TerminateLater = (ws, ms) => {
  const node = ws as { terminate?: () => void };
  if (typeof node.terminate !== 'function') return undefined;
  const timer = setTimeout(() => node.terminate?.(), ms);
  timer.unref?.();
  return timer;
};
