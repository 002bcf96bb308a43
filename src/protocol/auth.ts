import { nodeEd25519 } from '#node-ed25519';
import { SignalingError } from '../errors.js';
import type { Signer } from '../identity/identity.js';
import { randomBytes } from '../platform.js';
import { decodeBase64url, decodeExact, encodeBase64url } from './base64url.js';
import {
  KEY_BYTES,
  MAX_CLOCK_SKEW_MS,
  MAX_ORIGINS,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  SIGNATURE_BYTES,
} from './constants.js';
import { equalBytes, isSmallOrderKey, type VerifierKind, verifyEd25519 } from './ed25519.js';
import type { AuthChallenge, AuthErrorCode, AuthOk, AuthResponse } from './messages.js';
import { normalizeOrigin } from './origin.js';
import { validateMessage } from './parse.js';
import { transcript } from './transcript.js';

/** The client's side of the handshake and the server's checks, exactly as protocol v1 orders them. */

/** Options of {@link createAuthResponse}. */
export interface CreateAuthResponseOptions {
  /** Who signs; the secret stays inside it. */
  identity: Signer;
  /** The URL the client dialed (never a value from a server message); normalized here. */
  origin: string | URL;
  /** The clock, ms since the Unix epoch (default `Date.now`). */
  now?: () => number;
  /** Randomness for the client nonce (default the platform CSPRNG). */
  random?: (length: number) => Uint8Array;
}

/**
 * Answers an `auth.challenge`. Refuses (throws `malformed` / `unsupported-version`) anything that is
 * not exactly a well-formed v1 challenge, so the client cannot be used as a signing oracle.
 */
export async function createAuthResponse(
  challenge: unknown,
  options: CreateAuthResponseOptions,
): Promise<AuthResponse> {
  const checked = checkChallenge(challenge);
  const origin = normalizeOrigin(options.origin);
  const clientPublicKey = decodeBase64url(options.identity.publicKey, KEY_BYTES, 'identity public key');
  // Node draws from a pool: one CSPRNG call there costs 15–25 µs on a process just woken by the network.
  const clientNonce = (options.random ?? nodeEd25519?.random ?? randomBytes)(NONCE_BYTES);
  if (!(clientNonce instanceof Uint8Array) || clientNonce.length !== NONCE_BYTES) {
    throw new SignalingError('invalid-length', 'random() must return 32 bytes for the client nonce');
  }
  const issuedAt = Math.floor((options.now ?? Date.now)());
  const bytes = transcript('C', {
    origin,
    serverNonce: decodeBase64url(checked.nonce, NONCE_BYTES),
    clientNonce,
    issuedAt,
    clientPublicKey,
    serverPublicKey:
      checked.serverKey === undefined ? undefined : decodeBase64url(checked.serverKey, KEY_BYTES),
  });
  const signature = await options.identity.sign(bytes);
  if (signature.length !== SIGNATURE_BYTES)
    throw new SignalingError('invalid-length', 'signer returned a bad signature');
  return {
    type: 'auth.response',
    v: PROTOCOL_VERSION,
    publicKey: options.identity.publicKey,
    clientNonce: encodeBase64url(clientNonce),
    issuedAt,
    signature: encodeBase64url(signature),
  };
}

function checkChallenge(challenge: unknown): AuthChallenge {
  const result = validateMessage(challenge, 'server');
  if (!result.ok) throw result.error;
  if (result.message.type !== 'auth.challenge') {
    throw new SignalingError(
      'malformed',
      `refusing to sign: ${result.message.type} is not an auth.challenge`,
    );
  }
  return result.message as AuthChallenge;
}

/** The server's state that {@link verifyChallenge} checks an `auth.response` against. */
export interface VerifyChallengeOptions {
  /** The nonce this server issued on this socket. */
  nonce: Uint8Array;
  /** The origins this server is reachable at (at most 8); each is normalized. */
  origins: readonly (string | URL)[];
  /** This server's public key, when its challenge carried one (bytes or base64url). */
  serverKey?: Uint8Array | string;
  /** The server's clock now, ms since the Unix epoch. */
  now: number;
  /** When the nonce stops being valid (ms since the epoch); omit when the caller enforces it. */
  nonceExpiresAt?: number;
  /** Force a verification backend (tests, benchmarks). */
  verifier?: VerifierKind;
}

/**
 * The verdict of {@link verifyChallenge}: on success the client's key, the configured origin its proof
 * verified against (needed for the server's proof) and the parsed response; otherwise the `auth.error` code.
 */
export type VerifyChallengeResult =
  | { ok: true; publicKey: string; origin: string; response: AuthResponse }
  | { ok: false; code: Exclude<AuthErrorCode, 'rate-limited'> };

/**
 * The server's checks of an `auth.response`, in the spec's order, stopping at the first failure:
 * version, exact field lengths, nonce expiry, |now − issuedAt| ≤ 60 s, small-order key, strict
 * signature over the transcript for one of the origins. (One response per socket, rate limiting and
 * `authorize` belong to the server around this.) `denied` never says which check failed.
 */
export async function verifyChallenge(
  response: unknown,
  options: VerifyChallengeOptions,
): Promise<VerifyChallengeResult> {
  if (options.origins.length === 0 || options.origins.length > MAX_ORIGINS) {
    throw new SignalingError('invalid-origin', `a server has 1 to ${MAX_ORIGINS} origins`);
  }
  const parsed = validateMessage(response, 'client');
  if (!parsed.ok)
    return {
      ok: false,
      code: parsed.error.code === 'unsupported-version' ? 'unsupported-version' : 'malformed',
    };
  if (parsed.message.type !== 'auth.response') return { ok: false, code: 'malformed' };
  const message = parsed.message as AuthResponse;
  if (options.nonceExpiresAt !== undefined && options.now > options.nonceExpiresAt)
    return { ok: false, code: 'expired' };
  if (Math.abs(options.now - message.issuedAt) > MAX_CLOCK_SKEW_MS) return { ok: false, code: 'expired' };

  const clientPublicKey = decodeExact(message.publicKey, KEY_BYTES) as Uint8Array;
  if (isSmallOrderKey(clientPublicKey)) return { ok: false, code: 'denied' };
  const signature = decodeExact(message.signature, SIGNATURE_BYTES) as Uint8Array;
  const fields = {
    serverNonce: options.nonce,
    clientNonce: decodeExact(message.clientNonce, NONCE_BYTES) as Uint8Array,
    issuedAt: message.issuedAt,
    clientPublicKey,
    serverPublicKey: keyBytes(options.serverKey),
  };
  for (const candidate of options.origins) {
    const origin = normalizeOrigin(candidate);
    if (
      await verifyEd25519(
        clientPublicKey,
        transcript('C', { ...fields, origin }),
        signature,
        options.verifier,
      )
    ) {
      return { ok: true, publicKey: message.publicKey, origin, response: message };
    }
  }
  return { ok: false, code: 'denied' };
}

/** Options of {@link createServerProof}. */
export interface ServerProofOptions {
  /** The server's identity; its public key is the challenge's `serverKey`. */
  identity: Signer;
  /** The origin the client's proof verified against (`verifyChallenge`'s `origin`). */
  origin: string;
  /** The nonce of this socket's challenge. */
  nonce: Uint8Array;
  /** The client's verified `auth.response`. */
  response: AuthResponse;
}

/** The `auth.ok` signature: the server signs the same transcript with role 'S'. */
export async function createServerProof(options: ServerProofOptions): Promise<string> {
  const { response } = options;
  const bytes = transcript('S', {
    origin: normalizeOrigin(options.origin),
    serverNonce: options.nonce,
    clientNonce: decodeBase64url(response.clientNonce, NONCE_BYTES, 'clientNonce'),
    issuedAt: response.issuedAt,
    clientPublicKey: decodeBase64url(response.publicKey, KEY_BYTES, 'publicKey'),
    serverPublicKey: serverKeyBytes(options.identity.publicKey),
  });
  return encodeBase64url(await options.identity.sign(bytes));
}

// A server signs every proof with one identity: its key is decoded once, not per handshake.
let lastServerKey: { text: string; bytes: Uint8Array } | undefined;
function serverKeyBytes(text: string): Uint8Array {
  if (lastServerKey?.text !== text) {
    lastServerKey = { text, bytes: decodeBase64url(text, KEY_BYTES, 'server public key') };
  }
  return lastServerKey.bytes;
}

/** What the client checks `auth.ok` against in {@link verifyServerProof}. */
export interface VerifyServerProofOptions {
  /** The challenge this socket received. */
  challenge: AuthChallenge;
  /** The `auth.response` the client sent to it. */
  response: AuthResponse;
  /** The URL the client dialed. */
  origin: string | URL;
  /** The server key the application pinned, if any (base64url or bytes). */
  pinnedKey?: Uint8Array | string;
  /** Force a verification backend (tests, benchmarks). */
  verifier?: VerifierKind;
}

/**
 * The verdict of {@link verifyServerProof}: the server key to record (undefined when none was announced),
 * or `server-key-mismatch` when the pin differs or the proof does not verify.
 */
export type VerifyServerProofResult =
  | { ok: true; serverKey: string | undefined }
  | { ok: false; code: 'server-key-mismatch' };

/**
 * The client's check of `auth.ok`. Pinned: the challenge's `serverKey` must equal the pin and the proof
 * must verify under it. Unpinned: a proof under the announced key must verify, so the key recorded for
 * trust on first use is one the server really holds; with no key announced there is nothing to check.
 */
export async function verifyServerProof(
  ok: AuthOk,
  options: VerifyServerProofOptions,
): Promise<VerifyServerProofResult> {
  const { challenge, response } = options;
  const pinned = keyBytes(options.pinnedKey);
  const announced =
    challenge.serverKey === undefined ? undefined : decodeExact(challenge.serverKey, KEY_BYTES);
  if (pinned && !(announced && equalBytes(pinned, announced)))
    return { ok: false, code: 'server-key-mismatch' };
  if (!announced) return { ok: true, serverKey: undefined };
  const signature = decodeExact(ok.signature, SIGNATURE_BYTES);
  const clientNonce = decodeExact(response.clientNonce, NONCE_BYTES);
  const clientPublicKey = decodeExact(response.publicKey, KEY_BYTES);
  const serverNonce = decodeExact(challenge.nonce, NONCE_BYTES);
  if (!signature || !clientNonce || !clientPublicKey || !serverNonce)
    return { ok: false, code: 'server-key-mismatch' };
  const bytes = transcript('S', {
    origin: normalizeOrigin(options.origin),
    serverNonce,
    clientNonce,
    issuedAt: response.issuedAt,
    clientPublicKey,
    serverPublicKey: announced,
  });
  const valid = await verifyEd25519(announced, bytes, signature, options.verifier);
  return valid ? { ok: true, serverKey: challenge.serverKey } : { ok: false, code: 'server-key-mismatch' };
}

function keyBytes(key: Uint8Array | string | undefined): Uint8Array | undefined {
  if (key === undefined) return undefined;
  return typeof key === 'string' ? decodeBase64url(key, KEY_BYTES, 'server key') : key;
}
