import { SignalingError } from '../errors.js';
import { decodeBase64url, encodeBase64url } from '../protocol/base64url.js';
import { KEY_BYTES } from '../protocol/constants.js';
import { equalBytes } from '../protocol/ed25519.js';
import type { Ed25519PrivateJwk, Ed25519PublicJwk } from './key-formats.js';
import { seedToPkcs8 } from './pkcs8-seed.js';
import {
  generateHandle,
  type HandleOptions,
  handleFromSeed,
  type KeyHandle,
  type SignerKind,
  webCryptoKeyHandle,
} from './signers.js';

/** What signs an `auth.response`: an `Identity`, or your own (a hardware key, a remote signer). */
export interface Signer {
  /** The Ed25519 public key, base64url (43 characters). */
  readonly publicKey: string;
  /** A 64-byte Ed25519 signature over `message`. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** Options of `Identity.generate`, `fromSeed`, `fromPkcs8` and `fromJwk`: signing backend and extractability. */
export type IdentityOptions = HandleOptions;

// The key handle lives here, not on the instance, so no enumeration, `JSON.stringify`, `util.inspect`
// or structured clone of an Identity can reach the secret.
const handles = new WeakMap<Identity, KeyHandle>();

function handleOf(identity: Identity): KeyHandle {
  return handles.get(identity) as KeyHandle;
}

/** The WebCrypto private key behind an identity, if it has one. Internal: not exported from the package. */
export function cryptoKeyOf(identity: Identity): CryptoKey | undefined {
  return handleOf(identity).cryptoKey;
}

// PKCS#8/JWK/PEM parsing loads on first use: most apps never import a key, and bundles stay smaller.
const keyFormats = () => import('./key-formats.js');

/** Runs a key parser; whatever it refuses becomes an `invalid-key` / `unsupported-key` SignalingError. */
function readKey<T>(read: () => T): T {
  try {
    return read();
  } catch (cause) {
    const code = (cause as { code?: unknown }).code === 'unsupported-key' ? 'unsupported-key' : 'invalid-key';
    throw new SignalingError(code, (cause as Error).message, { cause });
  }
}

/** An Ed25519 key pair whose secret stays inside its signer closure. */
export class Identity implements Signer {
  /** The public key, base64url without padding (43 characters). */
  // `declare`: set in the constructor; no class-field declaration is emitted (bundle bytes).
  declare readonly publicKey: string;

  private constructor(handle: KeyHandle) {
    handles.set(this, handle);
    this.publicKey = encodeBase64url(handle.publicKey);
  }

  /** A new random identity. Pass `{ extractable: true }` to be able to export or save it. */
  static async generate(options?: IdentityOptions): Promise<Identity> {
    return new Identity(await generateHandle(options));
  }

  /** The identity of a 32-byte seed (bytes or base64url). */
  static async fromSeed(seed: Uint8Array | string, options?: IdentityOptions): Promise<Identity> {
    let bytes: Uint8Array;
    try {
      bytes = typeof seed === 'string' ? decodeBase64url(seed, KEY_BYTES, 'seed') : seed;
    } catch (error) {
      // Rare, so the explanation (which encoding this looks like) loads only now.
      const { seedHint } = await keyFormats();
      throw new SignalingError((error as SignalingError).code, seedHint(seed as string), { cause: error });
    }
    return new Identity(await handleFromSeed(bytes, options));
  }

  /** From PKCS#8 (RFC 8410): DER bytes, or PEM text with a "PRIVATE KEY" block. */
  static async fromPkcs8(input: Uint8Array | string, options?: IdentityOptions): Promise<Identity> {
    const { pkcs8ToSeed } = await keyFormats();
    const { seed, publicKey } = readKey(() => pkcs8ToSeed(input));
    return Identity.checked(seed, publicKey, options);
  }

  /** From a private Ed25519 JWK (RFC 8037: `kty` "OKP", `crv` "Ed25519", `d`, optional `x`). */
  static async fromJwk(jwk: unknown, options?: IdentityOptions): Promise<Identity> {
    const { jwkFields } = await keyFormats();
    const { d, x } = readKey(() => jwkFields(jwk));
    const seed = readKey(() => decodeBase64url(d, KEY_BYTES, 'JWK `d`'));
    const publicKey = x === undefined ? undefined : readKey(() => decodeBase64url(x, KEY_BYTES, 'JWK `x`'));
    return Identity.checked(seed, publicKey, options);
  }

  /** Wraps a WebCrypto Ed25519 private key (non-extractable ones too) and its public key. */
  static fromCryptoKey(privateKey: CryptoKey, publicKey: Uint8Array | string): Identity {
    const bytes =
      typeof publicKey === 'string' ? decodeBase64url(publicKey, KEY_BYTES, 'public key') : publicKey;
    if (privateKey.algorithm.name !== 'Ed25519' || privateKey.type !== 'private') {
      throw new SignalingError('unsupported-key', 'expected an Ed25519 private CryptoKey');
    }
    return new Identity(webCryptoKeyHandle(privateKey, bytes.slice()));
  }

  private static async checked(
    seed: Uint8Array,
    expectedPublicKey: Uint8Array | undefined,
    options?: IdentityOptions,
  ): Promise<Identity> {
    try {
      const identity = new Identity(await handleFromSeed(seed, options));
      if (expectedPublicKey && !equalBytes(expectedPublicKey, handleOf(identity).publicKey)) {
        throw new SignalingError('invalid-key', 'the public key does not belong to the private key');
      }
      return identity;
    } finally {
      seed.fill(0);
    }
  }

  /** The public key's 32 bytes (a copy). */
  get publicKeyBytes(): Uint8Array {
    return handleOf(this).publicKey.slice();
  }

  /** Which backend signs: `node`, `webcrypto` or `tweetnacl`. */
  get signer(): SignerKind {
    return handleOf(this).kind;
  }

  /** Whether the seed can be exported (and so saved to a key file). */
  get extractable(): boolean {
    return handleOf(this).extractable;
  }

  /** A 64-byte Ed25519 signature over `message`. */
  sign(message: Uint8Array): Promise<Uint8Array> {
    return handleOf(this).sign(message);
  }

  /** @throws SignalingError `not-extractable` */
  exportSeed(): Promise<Uint8Array> {
    return handleOf(this).exportSeed();
  }

  /** PKCS#8 v1 DER (48 bytes), or PEM. @throws SignalingError `not-extractable` */
  async exportPkcs8(format: 'der'): Promise<Uint8Array>;
  async exportPkcs8(format: 'pem'): Promise<string>;
  async exportPkcs8(format: 'der' | 'pem'): Promise<Uint8Array | string> {
    const seed = await this.exportSeed();
    const der = seedToPkcs8(seed);
    seed.fill(0);
    if (format === 'der') return der;
    return (await keyFormats()).derToPem(der);
  }

  /** The private JWK (RFC 8037). @throws SignalingError `not-extractable` */
  async exportJwk(): Promise<Ed25519PrivateJwk> {
    const seed = await this.exportSeed();
    const d = encodeBase64url(seed);
    seed.fill(0);
    return { kty: 'OKP', crv: 'Ed25519', d, x: this.publicKey };
  }

  /** The public JWK (RFC 8037). */
  publicJwk(): Ed25519PublicJwk {
    return { kty: 'OKP', crv: 'Ed25519', x: this.publicKey };
  }

  /** Only the public key is ever serialized. */
  toJSON(): { publicKey: string } {
    return { publicKey: this.publicKey };
  }

  toString(): string {
    return `Identity(${this.publicKey})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}
