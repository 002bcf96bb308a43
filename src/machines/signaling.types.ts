import type { CallbackLogicFunction, DoneActorEvent } from 'xstate';
import type { VerifyServerProofResult } from '../protocol/auth.js';
import type {
  AuthChallenge,
  AuthErrorCode,
  AuthOk,
  AuthResponse,
  HeartbeatSettings,
  IceServer,
} from '../protocol/messages.js';
import type { BackoffOptions, ResolvedBackoff } from './backoff.js';

/** The connection's state as the application sees it; each is a tag on the chart's states. */
export const ConnectionState = Object.freeze({
  DISCONNECTED: 'disconnected',
  CONNECTING: 'connecting',
  AUTHENTICATING: 'authenticating',
  CONNECTED: 'connected',
  RECONNECTING: 'reconnecting',
  FAILED: 'failed',
} as const);
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** Why the machine is in `failed`: each needs a new `CONNECT` (reconnecting would repeat it). */
export type FailureReason =
  | 'auth-denied'
  | 'server-key-mismatch'
  | 'protocol'
  | 'replaced'
  | 'retries-exhausted'
  /** No socket could be made here: no WebSocket in this runtime, or its constructor threw. */
  | 'unsupported-runtime';

/**
 * Why the last attempt's socket failed, as far as the platform says (serializable, never secret).
 * `code`: the system error (`ECONNREFUSED`, `ENOTFOUND`, …), `http-NNN` for an upgrade answered with
 * another HTTP status, `tls` for a failed TLS handshake, `socket-construct` for a socket that could not
 * be made. Browsers hide the cause from pages: there it stays unset (`closeCode` 1006 while connecting).
 */
export interface ConnectionError {
  code: string;
  message: string;
}

/** Why the machine is in `reconnecting`. */
export type ReconnectReason =
  | 'closed'
  | 'connect-timeout'
  | 'auth-timeout'
  | 'heartbeat-timeout'
  | 'protocol-error'
  | 'signer-error'
  | 'offline';

/** What the machine is given when its actor is created. Numbers and strings only, except the injected random/now. */
export interface SignalingInput {
  /** The ws: / wss: URL to dial; also the transcript's origin. */
  url: string;
  /** Where each new session dials instead of `url` (a list's next entry): called once per attempt. */
  nextUrl?: () => string;
  /** The server key to pin (base64url). Unpinned, the key learned is recorded (trust on first use). */
  serverKey?: string;
  backoff?: BackoffOptions;
  /** Ms for the socket to open. Default 10 000. */
  connectTimeout?: number;
  /** Ms for the challenge to arrive, and again for the verdict after answering. Default 10 000. */
  authTimeout?: number;
  /** Overrides the heartbeat the server announces in its challenge. */
  heartbeat?: Partial<HeartbeatSettings>;
  /** Uniform in [0, 1), for backoff jitter. Default `Math.random`. */
  random?: () => number;
  /** Ms since the epoch, for RTT. Default `Date.now`. */
  now?: () => number;
  /** The socket service's body (`socketCallback`); otherwise the `socket` actor must be provided. */
  socket?: SocketCallback;
  /** Answers challenges (`authResponder`); otherwise the `signer` actor must be provided. */
  signer?: AuthResponder;
}

/** What the input fixed; never changes while the actor lives. */
export interface SignalingConfig {
  /** The URL this session dials (the next of a list on each attempt): the transcript's origin. */
  url: string;
  /** Where each new session dials (a function, so it never shows in a serialized snapshot). */
  nextUrl: (() => string) | undefined;
  /** The server key to insist on, if pinned. */
  pinnedKey: string | undefined;
  /** The backoff options with defaults filled in. */
  backoff: ResolvedBackoff;
  /** Ms for the socket to open. */
  connectTimeout: number;
  /** Ms for the challenge, and again for the verdict. */
  authTimeout: number;
  /** The heartbeat settings that override the server's, if any. */
  heartbeatOverride: Partial<HeartbeatSettings> | undefined;
  /** Uniform in [0, 1) for jitter (a function, so it never shows in a serialized snapshot). */
  random: () => number;
  /** Ms since the epoch. */
  now: () => number;
  /** The socket and signer bodies given as input, if any (functions: never in a serialized snapshot). */
  socket: SocketCallback | undefined;
  signer: AuthResponder | undefined;
}

/**
 * The chart's context. The fixed settings sit in one `config` object on purpose: every `assign` copies
 * this object, and V8 turns a copy of more than 19 keys into a slow dictionary object (measured here:
 * 5.6 µs per copy at 26 keys against 0.3 µs at 14).
 */
export interface SignalingContext {
  config: SignalingConfig;

  /** Consecutive reconnects since a session last stayed authenticated for `resetAfter`. */
  attempt: number;
  /** The delay chosen for the current wait in `reconnecting`, ms. */
  retryIn: number | undefined;
  previousDelay: number;
  /** 4002's one immediate retry has been spent (until the counter resets). */
  immediateRetryUsed: boolean;
  /** The `retryAfter` of a `rate-limited` `auth.error`, applied to the next wait. */
  retryAfter: number | undefined;
  /** Why the machine is reconnecting or failed. */
  reason: ReconnectReason | FailureReason | undefined;
  /** The close code of the socket that ended the last attempt (cleared when the next one starts). */
  closeCode: number | undefined;
  /** Why the last attempt's socket failed, when the platform said (cleared when the next one starts). */
  error: ConnectionError | undefined;

  /** This session's handshake (public values only: the secret stays in the signer), until verified. */
  challenge: AuthChallenge | undefined;
  response: AuthResponse | undefined;
  ok: AuthOk | undefined;
  heartbeat: HeartbeatSettings;
  maxMessageBytes: number;

  /** Learned on `auth.ok`: the key to pin, the session, optional ICE servers. */
  serverKey: string | undefined;
  sessionId: string | undefined;
  iceServers: IceServer[] | undefined;

  /** The `t` of the last ping and the last round-trip time, ms. */
  pingSentAt: number | undefined;
  rtt: number | undefined;
}

/** Events the application (or the facade) sends. */
export type ControlEvent =
  | { type: 'CONNECT' }
  | { type: 'DISCONNECT' }
  /** Browser `online`: retry now. */
  | { type: 'ONLINE' }
  /** Browser `offline`: stop waiting on a dead socket. */
  | { type: 'OFFLINE' }
  /** The page became visible: ping now to find a dead socket fast. */
  | { type: 'VISIBLE' };

/** Events the socket service sends back (control frames only; application frames bypass the chart). */
export type SocketEvent =
  | { type: 'SOCKET.OPEN' }
  | { type: 'SOCKET.CLOSE'; code: number; reason: string; error?: ConnectionError | undefined }
  /** No socket could be constructed (see {@link ConnectionError}): retrying would repeat it. */
  | { type: 'SOCKET.UNSUPPORTED'; error: ConnectionError }
  /** A frame arrived after a ping: the connection is alive (sent once per ping, not per frame). */
  | { type: 'SOCKET.ALIVE' }
  /** The server sent a malformed frame; the socket closed itself with `code` (1002/1003/1007/1009). */
  | { type: 'SOCKET.PROTOCOL_ERROR'; code: number; message: string }
  | { type: 'AUTH.CHALLENGE'; challenge: AuthChallenge }
  | { type: 'AUTH.OK'; ok: AuthOk }
  | { type: 'AUTH.ERROR'; code: AuthErrorCode; retryAfter: number | undefined }
  | { type: 'PONG'; t: number };

/** Raised inside the chart to end a session with a close code. */
export type InternalEvent =
  | { type: 'SESSION.ABORT'; code: number; reason: ReconnectReason }
  | { type: 'SESSION.FAIL'; code: number; reason: FailureReason };

/** What the invoked signer and verifier deliver when they finish (their invoke ids are their names). */
export type ServiceDoneEvent =
  | DoneActorEvent<AuthResponse, 'signer'>
  | DoneActorEvent<VerifyServerProofResult, 'verifier'>;

/** Every event the chart takes. */
export type SignalingEvent = ControlEvent | SocketEvent | InternalEvent | ServiceDoneEvent;

/** Commands the chart sends to the socket service. */
export type SocketCommand =
  /** Write a control frame (auth.response, ping). */
  | { type: 'SOCKET.SEND'; frame: object }
  /** A ping went out: report the next frame as `SOCKET.ALIVE`. */
  | { type: 'SOCKET.PING'; t: number }
  /** Close with `code` (no-op when already closed). */
  | { type: 'SOCKET.CLOSE_WITH'; code: number; reason: string }
  /** The server is verified: hand application frames to the application, with this frame limit. */
  | { type: 'SOCKET.AUTHENTICATED'; maxMessageBytes: number };

/** What the socket service is invoked with. */
export interface SocketInput {
  /** The ws: / wss: URL to dial. */
  url: string;
  /** The body to run, when the machine was given one as input rather than a provided actor. */
  open?: SocketCallback | undefined;
}

/** What the signer service is invoked with: the challenge to answer (the identity stays in the service). */
export interface SignerInput {
  /** The server's `auth.challenge`, already validated. */
  challenge: AuthChallenge;
  /** The URL this session dialed: the transcript's origin. */
  origin?: string;
  /** The responder to use, when the machine was given one as input rather than a provided actor. */
  respond?: AuthResponder | undefined;
}

/** What the verifier service is invoked with: the handshake so far, to check the server's proof against. */
export interface VerifierInput {
  /** The server's `auth.ok`, carrying its signature over the transcript. */
  ok: AuthOk;
  /** The challenge this session answered. */
  challenge: AuthChallenge;
  /** The `auth.response` this client sent. */
  response: AuthResponse;
  /** The URL dialed: the transcript's origin. */
  url: string;
  /** The server key the client pins, if any. */
  pinnedKey: string | undefined;
}

/** The socket service's body: what a callback actor runs for one socket (`socketCallback`). */
export type SocketCallback = CallbackLogicFunction<SocketCommand, SocketEvent, SocketInput>;

/** Answers a challenge with an `auth.response`: the signer service's body (`authResponder`). */
export type AuthResponder = (challenge: AuthChallenge, origin?: string) => Promise<AuthResponse>;
