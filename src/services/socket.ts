import { fromCallback } from 'xstate';
import { DefaultWebSocket, listen, terminateLater } from '#web-socket';
import { SignalingError } from '../errors.js';
import type {
  ConnectionError,
  SocketCallback,
  SocketCommand,
  SocketEvent,
  SocketInput,
} from '../machines/signaling.types.js';
import { CloseCode, PRE_AUTH_MAX_BYTES } from '../protocol/constants.js';
import { type ParsedMessage, parseFrame, utf8Length } from '../protocol/parse.js';
import type { Channel, Link } from './link.js';

/** The parts of a WebSocket (browser or `ws`) this service uses. */
export interface WebSocketLike {
  readonly readyState: number;
  /** Called once the connection is open. */
  onopen: ((event: unknown) => void) | null;
  /** Called once the connection has closed, with the close code and reason. */
  onclose: ((event: { code: number; reason: string }) => void) | null;
  /** Called on an error (a close event follows). */
  onerror: ((event: unknown) => void) | null;
  /** Called with each frame received. */
  onmessage: ((event: { data: unknown }) => void) | null;
  /** Writes one text frame. */
  send(data: string): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
}

/** A WebSocket class, e.g. the browser's `WebSocket` or `ws`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** What {@link createSocketService} is built from; all optional. */
export interface SocketServiceOptions {
  /** The WebSocket class: `ws` in Node, the platform's in browsers by default (`#web-socket`). */
  WebSocket?: WebSocketConstructor;
  /** Where application frames go; without one they are dropped (the bare machine). */
  link?: Link;
  /** Ms to wait for the server's close frame before `terminate()` (Node `ws` only). Default 2000. */
  closeTimeout?: number;
}

const OPEN = 1;
const CLOSED = 3;
/** Application frames a server sends between auth.ok and our verifying its proof: held, bounded. */
const MAX_HELD = 1024;

/** Arms a timer that drops a socket whose closing handshake never ends (`#web-socket`: Node `ws` only). */
export type TerminateLater = (ws: WebSocketLike, ms: number) => ReturnType<typeof setTimeout> | undefined;

/** Wires a socket's events to the service (`#web-socket`: `ws`'s EventEmitter on Node, `on*` elsewhere). */
export type SocketListeners = (
  ws: WebSocketLike,
  open: () => void,
  /** `reason`: a string, or `ws`'s Buffer; `error`: why the socket failed, when the platform says. */
  close: (code: number, reason: unknown, error?: ConnectionError) => void,
  text: (data: string) => void,
  binary: () => void,
) => void;

export type { SocketCallback } from '../machines/signaling.types.js';

/**
 * The socket as a callback actor. It lives as long as the chart's `session` state, reports control
 * frames as events, and hands application frames straight to the link. Frame limits are enforced
 * here: inbound before parsing (close 1009), outbound before writing (a local `too-large` error).
 */
export function createSocketService(options: SocketServiceOptions = {}) {
  return fromCallback<SocketCommand, SocketInput>(socketCallback(options));
}

/**
 * The body of {@link createSocketService}, for the machine's `socket` input: a client hands it to
 * the chart this way rather than through `machine.provide()`, which would build a new machine (and
 * redo its lazily computed transition tables on the first connect) for every client.
 */
export function socketCallback(options: SocketServiceOptions = {}): SocketCallback {
  const Ctor = (options.WebSocket ?? DefaultWebSocket) as WebSocketConstructor;
  const link = options.link;
  const closeTimeout = options.closeTimeout ?? 2000;

  return ({ input, sendBack, receive }) => {
    let stopped = false;
    let ended = false;
    let closing = false;
    let alivePending = false;
    let inboundLimit = PRE_AUTH_MAX_BYTES;
    let channel: Channel | undefined;
    let held: ParsedMessage<'server'>[] | undefined = [];
    let terminateTimer: ReturnType<typeof setTimeout> | undefined;

    const report = (event: SocketEvent) => {
      if (!stopped) sendBack(event);
    };

    let ws: WebSocketLike;
    try {
      ws = new Ctor(input.url);
    } catch (cause) {
      // The URL was checked when the client was made, so this is the runtime: no WebSocket here, or a
      // bundle that picked the wrong build. Retrying would repeat it.
      const error = { code: 'socket-construct', message: String((cause as Error)?.message ?? cause) };
      queueMicrotask(() => report({ type: 'SOCKET.UNSUPPORTED', error }));
      return;
    }
    const started = link?.socketStarted();

    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(terminateTimer);
      link?.socketEnded(started as number);
    };

    const detach = () => {
      if (channel) {
        const c = channel;
        channel = undefined;
        link?.detach(c);
      }
    };

    const closeWith = (code: number, reason: string) => {
      detach();
      if (closing || ws.readyState === CLOSED) return;
      closing = true;
      try {
        ws.close(code, reason.slice(0, 120));
      } catch {
        ws.close();
      }
      terminateTimer = terminateLater(ws, closeTimeout);
    };

    const onText = (data: unknown) => {
      if (closing) return;
      const result = parseFrame(data as string, { sender: 'server', maxBytes: inboundLimit });
      if (!result.ok) {
        const code = result.error.closeCode ?? CloseCode.PROTOCOL_ERROR;
        closeWith(code, result.error.code);
        report({ type: 'SOCKET.PROTOCOL_ERROR', code, message: result.error.message });
        return;
      }
      const message = result.message;
      if (alivePending && message.type !== 'pong') {
        alivePending = false;
        report({ type: 'SOCKET.ALIVE' });
      }
      switch (message.type) {
        case 'auth.challenge': {
          const challenge = message as Extract<ParsedMessage<'server'>, { type: 'auth.challenge' }>;
          inboundLimit = challenge.limits.maxMessageBytes;
          report({ type: 'AUTH.CHALLENGE', challenge });
          return;
        }
        case 'auth.ok':
          report({ type: 'AUTH.OK', ok: message as Extract<ParsedMessage<'server'>, { type: 'auth.ok' }> });
          return;
        case 'auth.error': {
          const m = message as Extract<ParsedMessage<'server'>, { type: 'auth.error' }>;
          report({ type: 'AUTH.ERROR', code: m.code, retryAfter: m.retryAfter });
          return;
        }
        case 'pong':
          alivePending = false;
          report({ type: 'PONG', t: (message as { t: number }).t });
          return;
      }
      if (held === undefined) {
        link?.deliver(message);
      } else if (held.length < MAX_HELD) {
        held.push(message);
      } else {
        closeWith(CloseCode.POLICY, 'too many frames before authentication');
        report({ type: 'SOCKET.PROTOCOL_ERROR', code: CloseCode.POLICY, message: 'flooded before auth.ok' });
      }
    };

    listen(
      ws,
      () => report({ type: 'SOCKET.OPEN' }),
      (code, reason, error) => {
        detach();
        report({ type: 'SOCKET.CLOSE', code, reason: String(reason), error });
        end();
      },
      onText,
      onBinary,
    );
    function onBinary() {
      if (closing) return;
      closeWith(CloseCode.UNSUPPORTED_DATA, 'binary frame');
      report({ type: 'SOCKET.PROTOCOL_ERROR', code: CloseCode.UNSUPPORTED_DATA, message: 'binary frame' });
    }

    receive((command) => {
      switch (command.type) {
        case 'SOCKET.SEND': {
          if (ws.readyState !== OPEN || closing) return;
          const text = JSON.stringify(command.frame);
          const limit = channel ? channel.maxMessageBytes : PRE_AUTH_MAX_BYTES;
          if (text.length * 3 > limit && utf8Length(text) > limit) return;
          ws.send(text);
          return;
        }
        case 'SOCKET.PING':
          alivePending = true;
          return;
        case 'SOCKET.CLOSE_WITH':
          closeWith(command.code, command.reason);
          return;
        case 'SOCKET.AUTHENTICATED': {
          if (closing || ws.readyState !== OPEN) return;
          const limit = command.maxMessageBytes;
          const c: Channel = {
            maxMessageBytes: limit,
            send(text) {
              if (channel !== c || ws.readyState !== OPEN) {
                throw new SignalingError('closed', 'the socket is closing');
              }
              if (text.length * 3 > limit && utf8Length(text) > limit) {
                throw new SignalingError('too-large', `message exceeds the server's ${limit}-byte limit`);
              }
              ws.send(text);
            },
          };
          channel = c;
          link?.attach(c);
          // Held frames reach subscribers once the chart's transition to `connected` is over (this
          // command comes from inside it): they then see the client connected, with this session's id.
          queueMicrotask(() => {
            const early = held ?? [];
            held = undefined;
            for (const message of early) link?.deliver(message);
          });
          return;
        }
      }
    });

    return () => {
      stopped = true;
      closeWith(CloseCode.NORMAL, '');
      if (ws.readyState === CLOSED) end();
    };
  };
}
