/**
 * Ed25519 private keys in the formats other tools speak: PKCS#8 (RFC 8410, DER or PEM) and JWK
 * (RFC 8037 OKP). Only the 32-byte seed matters; everything else is fixed framing.
 *
 * Loaded lazily by `Identity`, and on purpose imports nothing: a module shared with the page's entry
 * would make bundlers split it into a third chunk the page loads up front (esbuild: +500 B gzipped).
 * So failures are {@link KeyFormatError}s, which `Identity` turns into `SignalingError`s, and base64
 * here is the platform's `atob`/`btoa`, held to one encoding per key by re-encoding.
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

/** Why a key could not be read; `code` is the `SignalingError` code `Identity` throws with. */
export class KeyFormatError extends Error {
  constructor(
    readonly code: 'invalid-key' | 'unsupported-key',
    message: string,
  ) {
    super(message);
  }
}

/** Ed25519 seeds and public keys are 32 bytes (the protocol's KEY_BYTES, not imported: see above). */
const KEY_LENGTH = 32;
const ED25519_OID = [0x2b, 0x65, 0x70];

/**
 * The seed (and the public key, when a v2 "OneAsymmetricKey" carries one) from PKCS#8 DER or PEM.
 * @throws KeyFormatError `unsupported-key` for another algorithm, `invalid-key` for anything malformed
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
    throw new KeyFormatError('unsupported-key', 'PKCS#8 key is not Ed25519 (OID 1.3.101.112)');
  }
  if (!algorithm.done()) throw invalid('Ed25519 takes no algorithm parameters');
  const inner = new DerReader(r.read(0x04));
  const seed = inner.read(0x04);
  if (seed.length !== KEY_LENGTH || !inner.done()) throw invalid('Ed25519 private key must be 32 bytes');
  let publicKey: Uint8Array | undefined;
  if (!r.done() && r.peek() === 0xa0) r.read(0xa0); // attributes: ignored
  if (!r.done() && r.peek() === 0x81) {
    const bits = r.read(0x81);
    if (bits.length !== KEY_LENGTH + 1 || bits[0] !== 0) throw invalid('public key must be 32 bytes');
    publicKey = bits.slice(1);
  }
  if (!r.done() || outer !== der.length) throw invalid('trailing bytes in PKCS#8');
  return publicKey ? { seed: seed.slice(), publicKey } : { seed: seed.slice() };
}

/** Wraps DER bytes as PEM (64-character base64 lines between BEGIN/END `label`). */
export function derToPem(der: Uint8Array, label = 'PRIVATE KEY'): string {
  const lines = btoa(String.fromCharCode(...der)).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER bytes of the PEM block `label` in `pem`. */
export function pemToDer(pem: string, label = 'PRIVATE KEY'): Uint8Array {
  const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  if (!match?.[1]) {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem)) {
      throw new KeyFormatError(
        'unsupported-key',
        'encrypted PKCS#8 PEM is not supported; use an identity file',
      );
    }
    throw invalid(`not a PEM "${label}" block`);
  }
  // Padding is optional on the way in; then atob decodes and btoa must give the text back, which
  // rejects what atob forgives (stray '=', non-zero unused bits): one encoding per key.
  const bare = match[1].replace(/\s+/g, '').replace(/=+$/, '');
  const body = bare.padEnd(Math.ceil(bare.length / 4) * 4, '=');
  let binary: string;
  try {
    binary = atob(body);
  } catch {
    throw invalid('PEM body is not base64');
  }
  if (btoa(binary) !== body) throw invalid('PEM body is not canonical base64');
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/**
 * The seed and, when given, the public key of a private Ed25519 JWK, still base64url (`Identity`
 * decodes them).
 * @throws KeyFormatError `unsupported-key` for another key type or curve, `invalid-key` otherwise
 */
export function jwkFields(jwk: unknown): { d: unknown; x: unknown } {
  if (typeof jwk !== 'object' || jwk === null) throw invalid('JWK must be an object');
  const { kty, crv, d, x } = jwk as Record<string, unknown>;
  if (kty !== 'OKP' || crv !== 'Ed25519') {
    throw new KeyFormatError(
      'unsupported-key',
      `JWK is not an Ed25519 OKP key (kty ${String(kty)}, crv ${String(crv)})`,
    );
  }
  if (d === undefined) throw invalid('JWK has no private part `d`');
  return { d, x };
}

function invalid(message: string): KeyFormatError {
  return new KeyFormatError('invalid-key', message);
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

/**
 * Why a seed string was refused, naming the encoding it looks like: a seed is 32 bytes, given as a
 * `Uint8Array` or as unpadded base64url (43 characters), the form `exportSeed()` returns.
 */
export function seedHint(seed: unknown): string {
  const text = typeof seed === 'string' ? seed : '';
  const looks = /^[0-9a-f]{64}$/i.test(text)
    ? ['hex', 'hex']
    : /^[A-Za-z0-9+/]{43}=$/.test(text) || /^[A-Za-z0-9_-]*[+/][A-Za-z0-9_+/-]*=?$/.test(text)
      ? ['standard or padded base64', 'base64']
      : undefined;
  const base = `seed must be 32 bytes: a Uint8Array, or unpadded base64url of 43 characters (got ${
    typeof seed === 'string' ? `${text.length} characters` : typeof seed
  })`;
  return looks
    ? `${base}; this looks like ${looks[0]}: pass the bytes, e.g. Buffer.from(seed, '${looks[1]}')`
    : base;
}
