import { nodeEd25519 } from '#node-ed25519';
import { bufferSource, getSubtle, hasWebCryptoEd25519, loadNacl } from '../platform.js';
import { decodeBase64url } from './base64url.js';
import { KEY_BYTES, SIGNATURE_BYTES } from './constants.js';

/**
 * Strict Ed25519 verification (RFC 8032 §5.1.7 with canonical encodings), whatever the backend.
 * Backends differ at the edges: `node:crypto` accepts the identity point as a public key with the
 * signature (identity, 0) for every message, tweetnacl accepts S + L. So the checks the spec demands are
 * made here, explicitly, before any backend sees the signature.
 */

/** Which implementation verifies: `node:crypto` on Node, WebCrypto in browsers, tweetnacl as last resort. */
export type VerifierKind = 'node' | 'webcrypto' | 'tweetnacl';

// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L = [
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/**
 * The eight points of order dividing 8, canonically encoded, as keys travel in the protocol (the test
 * suite re-derives this list by multiplying each point by 8). A key among them lets a forger sign for
 * it without any secret.
 */
const SMALL_ORDER_KEYS = [
  'AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  '7P_______________________________________38',
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIA',
  'JuiVj8KyJ7BFw_SJ8u-Y8NXfrAXTxjM5sTgCiG1T_AU',
  'JuiVj8KyJ7BFw_SJ8u-Y8NXfrAXTxjM5sTgCiG1T_IU',
  'xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA3o',
  'xxdqcD1N2E-6PAt2DRBnDyogU_osOczGTsf9d5KsA_o',
].map((key) => decodeBase64url(key, KEY_BYTES));

/** True when `s` (32 bytes, little-endian) is < L. */
export function isCanonicalScalar(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const a = s[i] as number;
    const b = L[i] as number;
    if (a !== b) return a < b;
  }
  return false; // s == L
}

/**
 * True when `point` is a canonical point encoding: y < p = 2^255 − 19, and no "negative zero" x
 * (the sign bit set where x = 0, which happens only at y = 1 and y = p − 1).
 */
export function isCanonicalPoint(point: Uint8Array): boolean {
  const sign = (point[31] as number) & 0x80;
  const top = (point[31] as number) & 0x7f;
  let middleAllOnes = true;
  let middleAllZero = true;
  for (let i = 1; i < 31; i++) {
    if (point[i] !== 0xff) middleAllOnes = false;
    if (point[i] !== 0) middleAllZero = false;
  }
  const first = point[0] as number;
  // y ≥ p − 1 exactly when the top byte is 0x7f, bytes 1..30 are 0xff and the low byte is ≥ 0xec.
  if (top === 0x7f && middleAllOnes) {
    if (first >= 0xed) return false; // y ≥ p
    if (first === 0xec && sign) return false; // y = p − 1, x = 0, sign bit set
  }
  if (sign && first === 1 && top === 0 && middleAllZero) return false; // y = 1, x = 0, sign bit set
  return true;
}

/** True for the public keys of small order (which verify forged signatures). */
export function isSmallOrderKey(key: Uint8Array): boolean {
  return SMALL_ORDER_KEYS.some((bad) => equalBytes(bad, key));
}

/** The checks RFC 8032 strict verification adds to the group equation, plus the small-order refusal. */
export function passesStrictChecks(publicKey: Uint8Array, signature: Uint8Array): boolean {
  return (
    publicKey.length === KEY_BYTES &&
    signature.length === SIGNATURE_BYTES &&
    isCanonicalPoint(publicKey) &&
    !isSmallOrderKey(publicKey) &&
    isCanonicalPoint(signature.subarray(0, 32)) &&
    isCanonicalScalar(signature.subarray(32))
  );
}

/**
 * Strictly verifies `signature` over `message` for `publicKey`. Never throws: anything malformed is
 * simply `false`. `kind` forces a backend (tests and benchmarks); by default the fastest available.
 */
export async function verifyEd25519(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  kind?: VerifierKind,
): Promise<boolean> {
  if (!passesStrictChecks(publicKey, signature)) return false;
  // On Node the default is known without a wait: one await less on every server handshake.
  const backend = kind ?? (nodeEd25519 ? 'node' : await defaultVerifier());
  try {
    switch (backend) {
      case 'node':
        return nodeEd25519 ? nodeEd25519.verify(publicKey, message, signature) : false;
      case 'webcrypto': {
        const subtle = getSubtle();
        if (!subtle) return false;
        const key = await subtle.importKey('raw', bufferSource(publicKey), { name: 'Ed25519' }, false, [
          'verify',
        ]);
        return await subtle.verify({ name: 'Ed25519' }, key, bufferSource(signature), bufferSource(message));
      }
      case 'tweetnacl':
        return (await loadNacl()).sign.detached.verify(message, signature, publicKey);
    }
  } catch {
    return false;
  }
}

let chosen: Promise<VerifierKind> | undefined;
/** The verifier used when none is forced. */
export function defaultVerifier(): Promise<VerifierKind> {
  chosen ??= (async () => {
    if (nodeEd25519) return 'node';
    return (await hasWebCryptoEd25519()) ? 'webcrypto' : 'tweetnacl';
  })();
  return chosen;
}

/** Byte equality in time independent of where the arrays differ. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
