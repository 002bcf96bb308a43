import { type AuthChallenge, encodeBase64url } from '../../src/protocol/index.js';

/** A well-formed v1 challenge for `nonce`, announcing `serverKey` and the reference server's defaults. */
export function challengeFrom(
  nonce: Uint8Array,
  serverKey: string,
  overrides: Partial<AuthChallenge> = {},
): AuthChallenge {
  return {
    type: 'auth.challenge',
    v: 1,
    nonce: encodeBase64url(nonce),
    serverKey,
    heartbeat: { interval: 25_000, timeout: 10_000 },
    limits: { maxMessageBytes: 65_536 },
    ...overrides,
  };
}
