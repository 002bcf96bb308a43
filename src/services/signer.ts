import { fromPromise } from 'xstate';
import type { Signer } from '../identity/identity.js';
import type { AuthResponder, SignerInput } from '../machines/signaling.types.js';
import { createAuthResponse } from '../protocol/auth.js';
import type { AuthResponse } from '../protocol/messages.js';

/** What {@link createSignerService} is built from. */
export interface SignerServiceOptions {
  /** Who signs. Only its public key and signatures ever leave it; the machine never sees it. */
  identity: Signer;
  /** The URL dialed: the transcript's origin (never a value from a server message). */
  url: string;
  /** Ms since the epoch for `issuedAt` (default `Date.now`). */
  now?: () => number;
  /** Randomness for the client nonce (default the platform CSPRNG). */
  random?: (length: number) => Uint8Array;
}

/**
 * The signer as a promise actor: challenge in, `auth.response` out. The identity lives in this
 * closure, so no snapshot, event or inspector stream can reach it.
 */
export function createSignerService(options: SignerServiceOptions) {
  const respond = authResponder(options);
  return fromPromise<AuthResponse, SignerInput>(({ input }) => respond(input.challenge, input.origin));
}

export type { AuthResponder } from '../machines/signaling.types.js';

/** The signer's body as a plain function (the identity stays in its closure). */
export function authResponder(options: SignerServiceOptions): AuthResponder {
  const { identity, url, now, random } = options;
  return (challenge, origin = url) => createAuthResponse(challenge, { identity, origin, now, random });
}
