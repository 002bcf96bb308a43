import { SignalingError } from '../errors.js';
import { decodeBase64url, encodeBase64url } from '../protocol/base64url.js';
import { KEY_BYTES } from '../protocol/constants.js';

export { seedToPkcs8 } from './pkcs8-seed.js';

/**
 * Ed25519 private keys in the formats other tools speak: PKCS#8 (RFC 8410, DER or PEM) and JWK
 * (RFC 8037 OKP). Only the 32-byte seed matters; everything else is fixed framing.
 */

/** A private Ed25519 JWK (RFC 8037). */
export interface Ed25519PrivateJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  /** The seed, base64url. */
  d: string;
  /** The public key, base64url. */
  x: string;
}

/** A public Ed25519 JWK (RFC 8037). */
export interface Ed25519PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
}

const ED25519_OID = [0x2b, 0x65, 0x70];

/**
 * The seed (and the public key, when a v2 "OneAsymmetricKey" carries one) from PKCS#8 DER or PEM.
 * @throws SignalingError `unsupported-key` for another algorithm, `invalid-key` for anything malformed
 */
export function pkcs8ToSeed(input: Uint8Array | string): { seed: Uint8Array; publicKey?: Uint8Array } {
  const der = typeof input === 'string' ? pemToDer(input) : input;
  const r = new DerReader(der);
  const outer = r.enter(0x30);
  const version = r.read(0x02);
  if (version.length !== 1 || (version[0] !== 0 && version[0] !== 1)) throw invalid('unknown PKCS#8 version');
  const algorithm = new DerReader(r.read(0x30));
  const oid = algorithm.read(0x06);
  if (oid.length !== 3 || oid.some((b, i) => b !== ED25519_OID[i])) {
    throw new SignalingError('unsupported-key', 'PKCS#8 key is not Ed25519 (OID 1.3.101.112)');
  }
  if (!algorithm.done()) throw invalid('Ed25519 takes no algorithm parameters');
  const inner = new DerReader(r.read(0x04));
  const seed = inner.read(0x04);
  if (seed.length !== KEY_BYTES || !inner.done()) throw invalid('Ed25519 private key must be 32 bytes');
  let publicKey: Uint8Array | undefined;
  if (!r.done() && r.peek() === 0xa0) r.read(0xa0); // attributes: ignored
  if (!r.done() && r.peek() === 0x81) {
    const bits = r.read(0x81);
    if (bits.length !== KEY_BYTES + 1 || bits[0] !== 0) throw invalid('public key must be 32 bytes');
    publicKey = bits.slice(1);
  }
  if (!r.done() || outer !== der.length) throw invalid('trailing bytes in PKCS#8');
  return publicKey ? { seed: seed.slice(), publicKey } : { seed: seed.slice() };
}

/** Wraps DER bytes as PEM (64-character base64 lines between BEGIN/END `label`). */
export function derToPem(der: Uint8Array, label = 'PRIVATE KEY'): string {
  const b64 = toStandardBase64(der);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER bytes of the PEM block `label` in `pem`. */
export function pemToDer(pem: string, label = 'PRIVATE KEY'): Uint8Array {
  const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  if (!match?.[1]) {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem)) {
      throw new SignalingError(
        'unsupported-key',
        'encrypted PKCS#8 PEM is not supported; use an identity file',
      );
    }
    throw invalid(`not a PEM "${label}" block`);
  }
  const body = match[1].replace(/\s+/g, '').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  try {
    return decodeBase64url(body, undefined, 'PEM body');
  } catch (cause) {
    throw new SignalingError('invalid-key', 'PEM body is not base64', { cause });
  }
}

function toStandardBase64(bytes: Uint8Array): string {
  const url = encodeBase64url(bytes).replace(/-/g, '+').replace(/_/g, '/');
  return url + '='.repeat((4 - (url.length % 4)) % 4);
}

/**
 * The seed from a private Ed25519 JWK; `x`, when given, is returned for the caller to check.
 * @throws SignalingError `unsupported-key` for another key type or curve, `invalid-key` otherwise
 */
export function jwkToSeed(jwk: unknown): { seed: Uint8Array; publicKey?: Uint8Array } {
  if (typeof jwk !== 'object' || jwk === null) throw invalid('JWK must be an object');
  const { kty, crv, d, x } = jwk as Record<string, unknown>;
  if (kty !== 'OKP' || crv !== 'Ed25519') {
    throw new SignalingError(
      'unsupported-key',
      `JWK is not an Ed25519 OKP key (kty ${String(kty)}, crv ${String(crv)})`,
    );
  }
  if (d === undefined) throw invalid('JWK has no private part `d`');
  const seed = wrapInvalid(() => decodeBase64url(d, KEY_BYTES, 'JWK `d`'));
  if (x === undefined) return { seed };
  return { seed, publicKey: wrapInvalid(() => decodeBase64url(x, KEY_BYTES, 'JWK `x`')) };
}

function wrapInvalid<T>(fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    throw new SignalingError('invalid-key', (cause as Error).message, { cause });
  }
}

function invalid(message: string): SignalingError {
  return new SignalingError('invalid-key', message);
}

/** Just enough DER (definite lengths, one-byte tags) to read PKCS#8. */
class DerReader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  done(): boolean {
    return this.at === this.bytes.length;
  }

  peek(): number | undefined {
    return this.bytes[this.at];
  }

  /** Reads a TLV of `tag` and returns its value. */
  read(tag: number): Uint8Array {
    const { start, end } = this.header(tag);
    this.at = end;
    return this.bytes.subarray(start, end);
  }

  /** Steps into a constructed TLV of `tag`; returns the offset where it ends. */
  enter(tag: number): number {
    const { start, end } = this.header(tag);
    this.at = start;
    return end;
  }

  private header(tag: number): { start: number; end: number } {
    const b = this.bytes;
    if (b[this.at] !== tag) throw invalid(`DER: expected tag 0x${tag.toString(16)}`);
    let at = this.at + 1;
    let length = b[at++];
    if (length === undefined) throw invalid('DER: truncated');
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count === 0 || count > 2) throw invalid('DER: unsupported length');
      length = 0;
      for (let i = 0; i < count; i++) {
        const next = b[at++];
        if (next === undefined) throw invalid('DER: truncated');
        length = (length << 8) | next;
      }
    }
    if (at + length > b.length) throw invalid('DER: truncated');
    return { start: at, end: at + length };
  }
}
