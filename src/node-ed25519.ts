/**
 * Ed25519 through `node:crypto` — on Node about twice as fast as WebCrypto (`bench/sign`) — or `null`
 * where there is no node:crypto. This is the package's `#node-ed25519` import: a browser bundler
 * resolves it to `node-ed25519.browser.js` (package.json `imports`), which is `null`, so no Node-only
 * code ships to browsers. node:crypto is reached through `process.getBuiltinModule`, so nothing the
 * `.` entry imports names a `node:` module.
 */
import type * as NodeCrypto from 'node:crypto';
import { notExtractable } from './errors.js';
import type { KeyHandle } from './identity/key-handle.js';
import { seedToPkcs8 } from './identity/pkcs8-seed.js';
import { randomBytes } from './platform.js';
import { decodeBase64url, encodeBase64url } from './protocol/base64url.js';
import { KEY_BYTES } from './protocol/constants.js';

/** What node:crypto offers the identity and protocol modules. */
export interface NodeEd25519 {
  /** A key handle for a 32-byte seed; the KeyObject lives in its closure. */
  handle(seed: Uint8Array, extractable: boolean): KeyHandle;
  /** Plain RFC 8032 verification (the strict checks are the caller's). */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /** Fresh CSPRNG bytes for a nonce or an id: {@link pooledRandomBytes}. */
  random(length: number): Uint8Array;
}

const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
const nodeCrypto = proc?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined;

/** Ed25519 by node:crypto on Node (≥ 20.16), else `null`. */
export const nodeEd25519: NodeEd25519 | null = nodeCrypto ? withNodeCrypto(nodeCrypto) : null;

// The key of the last verification, and its KeyObject once the same key came twice in a row.
let kept: { x: string; key?: NodeCrypto.KeyObject } = { x: '' };

function withNodeCrypto(crypto: typeof NodeCrypto): NodeEd25519 {
  return {
    handle(seed, extractable) {
      const privateKey = crypto.createPrivateKey({
        key: Buffer.from(seedToPkcs8(seed)),
        format: 'der',
        type: 'pkcs8',
      });
      const jwk = crypto.createPublicKey(privateKey).export({ format: 'jwk' });
      return {
        kind: 'node',
        extractable,
        publicKey: decodeBase64url(jwk.x, KEY_BYTES, 'public key'),
        async sign(message) {
          const signature = crypto.sign(null, message, privateKey);
          return new Uint8Array(signature.buffer, signature.byteOffset, signature.byteLength);
        },
        async exportSeed() {
          if (!extractable) throw notExtractable();
          return decodeBase64url(privateKey.export({ format: 'jwk' }).d, KEY_BYTES, 'seed');
        },
      };
    },
    random: pooledRandomBytes,
    verify(publicKey, message, signature) {
      // A JWK import is measurably cheaper in Node than SPKI DER (~7 µs vs ~75 µs), and handing the JWK
      // to verify() directly skips building a KeyObject around it. But verify() imports the key on every
      // call (~7 µs); a client verifies every proof under the same server key, so a key seen twice in a
      // row is imported once and kept. A server, whose keys change every time, keeps the one-shot path.
      const x = encodeBase64url(publicKey);
      const jwk = { key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' } as const;
      if (kept.x !== x) kept = { x };
      else kept.key ??= crypto.createPublicKey(jwk);
      return crypto.verify(null, message, kept.key ?? jwk, signature);
    },
  };
}

let pool: Uint8Array = new Uint8Array(0);
let poolAt = 0;

/**
 * `length` fresh CSPRNG bytes for a nonce or an id, cut from a 4 KiB pool refilled in one call: one
 * node:crypto draw costs 15–25 µs when the process has just woken from the network (2 µs in a tight
 * loop; measured on the client's handshake path), as much as a signature. Each draw is a copy and the
 * pool bytes it took are zeroed, so no byte is handed out twice. Not for keys.
 */
export function pooledRandomBytes(length: number): Uint8Array {
  if (poolAt + length > pool.length) {
    const size = Math.max(length, 4096);
    // The server imports this directly: a runtime without getBuiltinModule still has WebCrypto.
    pool = nodeCrypto ? nodeCrypto.randomFillSync(new Uint8Array(size)) : randomBytes(size);
    poolAt = 0;
  }
  const out = pool.slice(poolAt, poolAt + length);
  pool.fill(0, poolAt, poolAt + length);
  poolAt += length;
  return out;
}
