/** Every number the wire contract (protocol v1) fixes, in one place. */

export const PROTOCOL_VERSION = 1;

/** "signaling-actor/auth/v1" followed by a NUL: the transcript's domain tag. */
export const TRANSCRIPT_TAG = 'signaling-actor/auth/v1\u0000';

/** Transcript role bytes: 'C' for the client's proof, 'S' for the server's. */
export const ROLE_CLIENT = 0x43;
export const ROLE_SERVER = 0x53;
export type Role = 'C' | 'S';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 32;
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

export const DEFAULT_HEARTBEAT = Object.freeze({ interval: 25_000, timeout: 10_000 });

/** Message ids are 1–64 characters, unique per sender. */
export const MAX_ID_LENGTH = 64;
/** Receivers remember at least this many (from, id) pairs per sender to drop repeats. */
export const DEDUP_WINDOW = 1024;
/** At most this many presence keys per socket. */
export const MAX_PRESENCE_KEYS = 1024;

/** WebSocket close codes used by the protocol. */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY: 1008,
  TOO_BIG: 1009,
  SERVER_ERROR: 1011,
  RESTART: 1012,
  TRY_LATER: 1013,
  AUTH_DENIED: 4001,
  EXPIRED: 4002,
  HEARTBEAT_TIMEOUT: 4008,
  REPLACED: 4009,
  UNSUPPORTED_VERSION: 4010,
  RATE_LIMITED: 4029,
} as const);
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
