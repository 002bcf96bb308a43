/**
 * Every error this package raises is a `SignalingError` with a stable `code`, so callers can branch on
 * `err.code` instead of parsing messages. Protocol errors also carry the WebSocket close code the
 * spec assigns to them.
 */
export type ErrorCode =
  // Encoding and key material
  | 'invalid-base64url'
  | 'invalid-length'
  | 'invalid-key'
  | 'unsupported-key'
  | 'not-extractable'
  // Key files
  | 'key-file-corrupt'
  | 'key-file-version'
  | 'passphrase-required'
  | 'wrong-passphrase'
  | 'key-file-exists'
  | 'key-file-missing'
  | 'key-file-weak'
  | 'key-file-unencrypted'
  | 'key-file-io'
  // Wire protocol
  | 'protocol'
  | 'malformed'
  | 'too-large'
  | 'unsupported-version'
  | 'invalid-origin'
  // Configuration
  | 'invalid-option'
  // Authentication verdicts (the spec's auth.error codes)
  | 'denied'
  | 'expired'
  | 'rate-limited'
  | 'server-key-mismatch'
  // Client sends (the queue while not connected, relayed signals)
  | 'queue-full'
  | 'closed'
  | 'peer-offline'
  | 'send-failed'
  // The client's own lifecycle: sent after disconnect(), or ready() on a connection that failed
  | 'disconnected'
  | 'failed'
  // STUN / ICE
  | 'invalid-ice-server'
  | 'timeout'
  | 'unreachable';

/** The one error class of this package: a stable {@link ErrorCode} plus, for protocol errors, a close code. */
export class SignalingError extends Error {
  override readonly name = 'SignalingError';
  // `declare`: set in the constructor; no class-field declarations are emitted (bundle bytes).
  /** Stable machine-readable reason; branch on this, not on `message`. */
  declare readonly code: ErrorCode;
  /** The WebSocket close code the protocol assigns to this error, where it has one. */
  declare readonly closeCode: number | undefined;

  /** `options.cause` is passed on as the standard `Error` cause. */
  constructor(code: ErrorCode, message: string, options: { closeCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.closeCode = options.closeCode;
  }
}

/** True when `value` is a {@link SignalingError}, and when `code` is given, one with that code. */
export function isSignalingError(value: unknown, code?: ErrorCode): value is SignalingError {
  return value instanceof SignalingError && (code === undefined || value.code === code);
}

/** What every key backend throws when asked for the seed of a key made non-extractable. */
export function notExtractable(): SignalingError {
  return new SignalingError(
    'not-extractable',
    'this identity was created non-extractable; create it with { extractable: true } to export or save it',
  );
}

/**
 * Reports `error` as uncaught, as EventTarget does for a failing listener, without breaking the
 * caller's loop or promise chain: one failing subscriber must not stop the others.
 */
export function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
