import type { IceServer } from './types.js';

/**
 * Public STUN servers from three independent operators, so that one provider's outage or rate limit
 * does not leave peers without server-reflexive candidates. Kept to three URLs: every URL is queried
 * during ICE gathering, and Firefox warns that five or more slow discovery down. Frozen, so no caller
 * can change what every other caller gets.
 */
export const DEFAULT_STUN_SERVERS: readonly IceServer[] = Object.freeze([
  Object.freeze({ urls: 'stun:stun.l.google.com:19302' }), // Google
  Object.freeze({ urls: 'stun:stun.cloudflare.com:3478' }), // Cloudflare
  Object.freeze({ urls: 'stun:stun.nextcloud.com:443' }), // Nextcloud
]) as readonly IceServer[];

/** RFC 7064 §3.1 / RFC 7065 §3.1: the port when a `stun:`/`turn:` URL names none (UDP or TCP). */
export const DEFAULT_STUN_PORT = 3478;
/** RFC 7064 §3.1 / RFC 7065 §3.1: the port when a `stuns:`/`turns:` URL names none (TLS or DTLS). */
export const DEFAULT_STUNS_PORT = 5349;

/** TURN REST credentials live one day unless configured otherwise (coturn's documented default). */
export const DEFAULT_TURN_TTL_SECONDS = 86_400;

/**
 * RFC 8489 §14.3 caps USERNAME below 513 bytes; libwebrtc (`kMaxTurnUsernameLength`) refuses more
 * than 509, so a longer one would fail in Chrome and is refused here too.
 */
export const MAX_TURN_USERNAME_BYTES = 509;

/** RFC 5389 §6: the fixed magic cookie in every STUN header. */
export const STUN_MAGIC_COOKIE = 0x2112a442;
