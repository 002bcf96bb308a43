import { SignalingError } from '../errors.js';
import { bufferSource, getSubtle } from '../platform.js';
import { DEFAULT_TURN_TTL_SECONDS, MAX_TURN_USERNAME_BYTES } from './constants.js';
import { IceServerError } from './ice-server-error.js';
import { describe } from './uri.js';

/** Options of {@link createTurnCredentials}. */
export interface TurnCredentialOptions {
  /** The TURN server's shared secret (coturn `static-auth-secret`); a string is used as its UTF-8 bytes. */
  secret: string | Uint8Array;
  /** Who the credential is for; becomes the part after the `:` in the username. */
  userId?: string;
  /** Lifetime in seconds, a positive integer; default 86400 (one day). */
  ttlSeconds?: number;
  /** The current time in ms since the Unix epoch; default `Date.now()`. */
  now?: number;
}

/** A minted TURN REST credential: put `username` and `credential` in the TURN entry. */
export interface TurnCredentials {
  /** `<unix expiry seconds>:<userId>`, or just the expiry when there is no userId. */
  username: string;
  /** base64(HMAC-SHA1(secret, username)), standard alphabet with padding, as coturn expects. */
  credential: string;
  /** When the TURN server stops accepting the credential, in ms since the Unix epoch. */
  expiresAt: number;
}

const encoder = new TextEncoder();

/**
 * Mints ephemeral TURN credentials in the "TURN REST API" form (draft-uberti-behave-turn-rest),
 * which coturn checks with `use-auth-secret`: the server recomputes the HMAC from its copy of the
 * secret and refuses the username once its expiry has passed. Uses WebCrypto, so it runs in Node and
 * in browsers alike; but keep the secret on a server: whoever holds it can mint credentials.
 */
export async function createTurnCredentials(options: TurnCredentialOptions): Promise<TurnCredentials> {
  const { secret, userId, ttlSeconds = DEFAULT_TURN_TTL_SECONDS, now = Date.now() } = options;
  const secretBytes = typeof secret === 'string' ? encoder.encode(secret) : secret;
  if (!(secretBytes instanceof Uint8Array) || secretBytes.length === 0) {
    throw new IceServerError('secret', `must be a non-empty string or Uint8Array, got ${describe(secret)}`);
  }
  if (userId !== undefined && (typeof userId !== 'string' || userId === '')) {
    throw new IceServerError('userId', 'must be a non-empty string when given');
  }
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new IceServerError('ttlSeconds', `must be a positive integer, got ${String(ttlSeconds)}`);
  }
  if (typeof now !== 'number' || !Number.isFinite(now) || now < 0) {
    throw new IceServerError('now', 'must be a time in ms since the Unix epoch');
  }
  const expires = Math.floor(now / 1000) + ttlSeconds;
  const username = userId === undefined ? String(expires) : `${expires}:${userId}`;
  if (encoder.encode(username).length > MAX_TURN_USERNAME_BYTES) {
    throw new IceServerError(
      'userId',
      `makes the TURN username longer than ${MAX_TURN_USERNAME_BYTES} bytes`,
    );
  }

  const subtle = getSubtle();
  if (!subtle) {
    throw new SignalingError(
      'unsupported-key',
      'WebCrypto (crypto.subtle) is not available: it needs a secure context',
    );
  }
  const key = await subtle.importKey(
    'raw',
    bufferSource(secretBytes),
    { name: 'HMAC', hash: 'SHA-1' },
    false,
    ['sign'],
  );
  const mac = new Uint8Array(await subtle.sign('HMAC', key, bufferSource(encoder.encode(username))));
  return { username, credential: encodeBase64(mac), expiresAt: expires * 1000 };
}

/** Standard base64 with padding (RFC 4648 §4): coturn compares the credential as this text. */
function encodeBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
