/** The client's own timeouts (the heartbeat comes from the server's challenge unless overridden). */

/** Ms for a socket to open before the attempt counts as failed. */
export const DEFAULT_CONNECT_TIMEOUT = 10_000;
/** Ms to wait for the challenge, and again for the verdict after answering (the reference nonce lifetime). */
export const DEFAULT_AUTH_TIMEOUT = 10_000;
/** Client-chosen close code when the handshake times out (the spec's "timeout" code). */
export const TIMEOUT_CLOSE_CODE = 4008;
