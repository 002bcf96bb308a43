/**
 * The WebSocket class the socket service uses unless one is injected: `ws` on Node. This is the
 * package's `#web-socket` import; browsers resolve it to `web-socket.browser.js` (package.json
 * `imports`), the platform's own class, so no `ws` code reaches a browser bundle.
 */
import WebSocket from 'ws';
import type { ConnectionError } from '../machines/signaling.types.js';
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
  on(event: 'open', fn: () => void): void;
  on(event: 'error', fn: (error: Error & { code?: unknown }) => void): void;
};

/**
 * `ws`'s own EventEmitter events: no MessageEvent built per frame, and none of the wrapper closures
 * its `onopen`-style setters build per handler (0.6 KiB a socket). Other classes (injected): `on*`.
 */
export const listen: SocketListeners = (ws, open, close, text, binary) => {
  const node = ws as Partial<Emitter>;
  if (typeof node.on !== 'function') return listenOnProperties(ws, open, close, text, binary);
  node.on('open', open);
  // An error is always followed by a close event, which is what the chart acts on; the error says why
  // and goes with it. (Without a listener, an EventEmitter would throw it.)
  let error: ConnectionError | undefined;
  node.on('error', (cause) => {
    error ??= describeSocketError(cause);
  });
  node.on('close', (code, reason) => close(code, reason, error));
  node.on('message', (data, isBinary) => (isBinary ? binary() : text(data.toString())));
};

/** TLS failures come under many codes (OpenSSL's, Node's, certificate checks): one name for them. */
const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|EPROTO$|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/**
 * What `ws` tells of a failed socket, as a serializable cause: the system error's code
 * (`ECONNREFUSED`, `ENOTFOUND`, …), `http-NNN` when the upgrade got another HTTP answer, `tls`.
 */
export function describeSocketError(cause: Error & { code?: unknown }): ConnectionError {
  const message = String(cause?.message ?? cause).trim();
  const status = /Unexpected server response: (\d+)/.exec(message);
  if (status) return { code: `http-${status[1]}`, message };
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  if (code && TLS_CODE.test(code)) return { code: 'tls', message: `${code}: ${message}` };
  return { code: code ?? 'socket-error', message };
}

/** A dead peer never answers the close frame; don't keep the process (or disconnect()) waiting. */
export const terminateLater: TerminateLater = (ws, ms) => {
  const node = ws as { terminate?: () => void };
  if (typeof node.terminate !== 'function') return undefined;
  const timer = setTimeout(() => node.terminate?.(), ms);
  timer.unref?.();
  return timer;
};
