/**
 * The shape every Ed25519 backend's key takes, on its own so the backends (`signers.ts`,
 * `node-ed25519.ts`) and `Identity` import it one way, without a circle.
 */

/** `node`: node:crypto (fastest on Node); `webcrypto`: non-extractable CryptoKey; `tweetnacl`: anywhere. */
export type SignerKind = 'node' | 'webcrypto' | 'tweetnacl';

/** One key, held by one backend: the secret never leaves it except as `exportSeed()` allows. */
export interface KeyHandle {
  /** The backend holding the key. */
  readonly kind: SignerKind;
  /** Whether `exportSeed()` may return the seed. */
  readonly extractable: boolean;
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** A 64-byte Ed25519 signature over `message`. */
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** @throws SignalingError `not-extractable` unless the key was made extractable */
  exportSeed(): Promise<Uint8Array>;
  /** The WebCrypto key, for the `webcrypto` kind only (it can be stored in IndexedDB as it is). */
  readonly cryptoKey?: CryptoKey;
}
