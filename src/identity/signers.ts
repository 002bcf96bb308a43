import { nodeEd25519 } from '#node-ed25519';
import { notExtractable, SignalingError } from '../errors.js';
import { bufferSource, getSubtle, hasWebCryptoEd25519, loadNacl, randomBytes } from '../platform.js';
import { decodeBase64url } from '../protocol/base64url.js';
import { KEY_BYTES } from '../protocol/constants.js';
import type { KeyHandle, SignerKind } from './key-handle.js';
import { seedToPkcs8 } from './pkcs8-seed.js';

export type { KeyHandle, SignerKind } from './key-handle.js';

/**
 * The three Ed25519 backends behind an `Identity`. Each keeps its secret in this closure only; what
 * leaves is the public key, signatures, and — for an extractable key, on request — the seed.
 */

/** How an identity's key is held: which signing backend, and whether its seed can be read back. */
export interface HandleOptions {
  /** Which backend; by default node:crypto on Node, else WebCrypto, else tweetnacl. */
  signer?: SignerKind | 'auto';
  /** Whether the seed may be exported again (needed to save a key file). Default `false`. */
  extractable?: boolean;
}

/** The backend to use for `requested`: `auto` picks node:crypto, else WebCrypto, else tweetnacl. */
export async function resolveKind(requested: SignerKind | 'auto' = 'auto'): Promise<SignerKind> {
  if (requested === 'node' && !nodeEd25519) throw noNodeCrypto();
  if (requested === 'webcrypto' && !(await hasWebCryptoEd25519())) {
    throw new SignalingError('unsupported-key', 'this platform has no WebCrypto Ed25519');
  }
  if (requested !== 'auto') return requested;
  if (nodeEd25519) return 'node';
  return (await hasWebCryptoEd25519()) ? 'webcrypto' : 'tweetnacl';
}

/** A key handle for a 32-byte seed, in the backend `options.signer` selects. */
export async function handleFromSeed(seed: Uint8Array, options: HandleOptions = {}): Promise<KeyHandle> {
  if (!(seed instanceof Uint8Array) || seed.length !== KEY_BYTES) {
    throw new SignalingError('invalid-length', 'an Ed25519 seed is exactly 32 bytes');
  }
  const kind = await resolveKind(options.signer);
  const extractable = options.extractable ?? false;
  switch (kind) {
    case 'node':
      if (nodeEd25519) return nodeEd25519.handle(seed, extractable);
      throw noNodeCrypto();
    case 'webcrypto':
      return webCryptoHandle(seed, extractable);
    case 'tweetnacl':
      return naclHandle(seed, extractable);
  }
}

/** A fresh key. WebCrypto generates it itself, so a non-extractable key's seed never exists in JS. */
export async function generateHandle(options: HandleOptions = {}): Promise<KeyHandle> {
  const kind = await resolveKind(options.signer);
  const extractable = options.extractable ?? false;
  if (kind === 'webcrypto') {
    const subtle = getSubtle() as SubtleCrypto;
    const pair = (await subtle.generateKey({ name: 'Ed25519' }, extractable, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const publicKey = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
    return webCryptoKeyHandle(pair.privateKey, publicKey);
  }
  const seed = randomBytes(KEY_BYTES);
  try {
    return await handleFromSeed(seed, { signer: kind, extractable });
  } finally {
    seed.fill(0);
  }
}

/** Wraps an existing WebCrypto private key (for instance one kept in IndexedDB). */
export function webCryptoKeyHandle(privateKey: CryptoKey, publicKey: Uint8Array): KeyHandle {
  const subtle = getSubtle() as SubtleCrypto;
  return {
    kind: 'webcrypto',
    extractable: privateKey.extractable,
    publicKey,
    cryptoKey: privateKey,
    async sign(message) {
      return new Uint8Array(await subtle.sign({ name: 'Ed25519' }, privateKey, bufferSource(message)));
    },
    async exportSeed() {
      if (!privateKey.extractable) throw notExtractable();
      const jwk = await subtle.exportKey('jwk', privateKey);
      return decodeBase64url(jwk.d, KEY_BYTES, 'JWK `d`');
    },
  };
}

function noNodeCrypto(): SignalingError {
  return new SignalingError('unsupported-key', 'the node signer needs node:crypto');
}

async function webCryptoHandle(seed: Uint8Array, extractable: boolean): Promise<KeyHandle> {
  const subtle = getSubtle() as SubtleCrypto;
  const pkcs8 = seedToPkcs8(seed);
  // WebCrypto cannot derive a public key from a private one; an extractable import can tell it (JWK
  // `x`), after which the key is imported again with the extractability asked for.
  const probe = await subtle.importKey('pkcs8', bufferSource(pkcs8), { name: 'Ed25519' }, true, ['sign']);
  const { x } = await subtle.exportKey('jwk', probe);
  const publicKey = decodeBase64url(x, KEY_BYTES, 'public key');
  const privateKey = extractable
    ? probe
    : await subtle.importKey('pkcs8', bufferSource(pkcs8), { name: 'Ed25519' }, false, ['sign']);
  pkcs8.fill(0);
  return webCryptoKeyHandle(privateKey, publicKey);
}

async function naclHandle(seed: Uint8Array, extractable: boolean): Promise<KeyHandle> {
  const nacl = await loadNacl();
  const pair = nacl.sign.keyPair.fromSeed(seed);
  const secretKey = pair.secretKey; // seed ‖ public key, 64 bytes
  return {
    kind: 'tweetnacl',
    extractable,
    publicKey: pair.publicKey,
    async sign(message) {
      return nacl.sign.detached(message, secretKey);
    },
    async exportSeed() {
      if (!extractable) throw notExtractable();
      return secretKey.slice(0, KEY_BYTES);
    },
  };
}
