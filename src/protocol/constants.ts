/** Every number the wire contract (protocol v1) fixes, in one place. */

/** The `v` field of `auth.challenge`, `auth.response` and `auth.ok`. */
export const PROTOCOL_VERSION = 1;

/** "signaling-actor/auth/v1" followed by a NUL: the transcript's domain tag. */
export const TRANSCRIPT_TAG = 'signaling-actor/auth/v1\u0000';

/** Transcript role byte 'C': the client's proof. */
export const ROLE_CLIENT = 0x43;
/** Transcript role byte 'S': the server's proof. */
export const ROLE_SERVER = 0x53;
/** Whose proof a transcript is for: 'C' (client) or 'S' (server). */
export type Role = 'C' | 'S';

/** Length of an Ed25519 public key, in bytes. */
export const KEY_BYTES = 32;
/** Length of `nonce` and `clientNonce`, in bytes. */
export const NONCE_BYTES = 32;
/** Length of an Ed25519 signature, in bytes. */
export const SIGNATURE_BYTES = 64;

/** Frames before authentication may be at most this many bytes. */
export const PRE_AUTH_MAX_BYTES = 4096;
/** The reference server's `limits.maxMessageBytes`. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;

/** |server now − issuedAt| may be at most this. */
export const MAX_CLOCK_SKEW_MS = 60_000;
/** A server rebuilds the transcript for at most this many configured origins. */
export const MAX_ORIGINS = 8;
/** How long a challenge nonce is valid (reference `authTimeout`). */
export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;

/** The reference server's `heartbeat` settings: ping every 25 s, dead after 10 s of silence. */
export const DEFAULT_HEARTBEAT = Object.freeze({ interval: 25_000, timeout: 10_000 });

/** Message ids are 1–64 characters, unique per sender. */
export const MAX_ID_LENGTH = 64;
/** Receivers remember at least this many (from, id) pairs per sender to drop repeats. */
export const DEDUP_WINDOW = 1024;
/** At most this many presence keys per socket. */
export const MAX_PRESENCE_KEYS = 1024;

/** WebSocket close codes used by the protocol. */
export const CloseCode = Object.freeze({
  /** Normal closure; after the client's own `disconnect()` it stays disconnected, else it reconnects. */
  NORMAL: 1000,
  /** The endpoint is going away; reconnect with backoff. */
  GOING_AWAY: 1001,
  /** Protocol violation; fatal, reconnecting would repeat it. */
  PROTOCOL_ERROR: 1002,
  /** A binary frame; fatal. */
  UNSUPPORTED_DATA: 1003,
  /** Closed without a close frame (never sent, only observed); reconnect with backoff. */
  ABNORMAL: 1006,
  /** Bad JSON, missing `type` or a malformed field; fatal. */
  INVALID_PAYLOAD: 1007,
  /** Policy violation, e.g. a second `auth.response`; fatal. */
  POLICY: 1008,
  /** Frame larger than the limit; fatal. */
  TOO_BIG: 1009,
  /** Server error; reconnect with backoff. */
  SERVER_ERROR: 1011,
  /** Server restarting (draining): the client reconnects at once, with a jitter, to the next URL, without counting a failed attempt. */
  RESTART: 1012,
  /** Server overloaded, try later; reconnect with backoff. */
  TRY_LATER: 1013,
  /** Authentication denied; the client fails (`auth-denied`) until a new `connect()`. */
  AUTH_DENIED: 4001,
  /** Challenge nonce or `issuedAt` expired; one immediate retry, then backoff. */
  EXPIRED: 4002,
  /** No frame within `heartbeat.timeout` after a ping; reconnect with backoff. */
  HEARTBEAT_TIMEOUT: 4008,
  /** Replaced by a newer session of the same key; the client fails (`replaced`). */
  REPLACED: 4009,
  /** Unsupported protocol version; fatal. */
  UNSUPPORTED_VERSION: 4010,
  /** Too many failed attempts; reconnect after max(backoff, `retryAfter`). */
  RATE_LIMITED: 4029,
} as const);
/** One of the numeric close codes in {@link CloseCode}. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Message types the protocol owns; every other `type` is an application message. */
export const RESERVED_TYPES: ReadonlySet<string> = new Set([
  'auth.challenge',
  'auth.response',
  'auth.ok',
  'auth.error',
  'ping',
  'pong',
  'ack',
  'error',
  'presence',
  'presence.subscribe',
  'presence.unsubscribe',
  'signal',
]);

/** True for `auth.*`, `presence.*` and the other reserved types. */
export function isReservedType(type: string): boolean {
  return RESERVED_TYPES.has(type) || type.startsWith('auth.') || type.startsWith('presence.');
}
