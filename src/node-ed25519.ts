/**
 * Ed25519 through `node:crypto` — on Node about twice as fast as WebCrypto (`bench/sign`) — or `null`
 * where there is no node:crypto. This is the package's `#node-ed25519` import: a browser bundler
 * resolves it to `node-ed25519.browser.js` (package.json `imports`), which is `null`, so no Node-only
 * code ships to browsers. node:crypto is reached through `process.getBuiltinModule`, so nothing the
 * `.` entry imports names a `node:` module.
 */
import type * as NodeCrypto from 'node:crypto';
import { notExtractable } from './errors.js';
import { seedToPkcs8 } from './identity/pkcs8-seed.js';
import type { KeyHandle } from './identity/signers.js';
import { decodeBase64url, encodeBase64url } from './protocol/base64url.js';
import { KEY_BYTES } from './protocol/constants.js';

/** What node:crypto offers the identity and protocol modules. */
export interface NodeEd25519 {
  /** A key handle for a 32-byte seed; the KeyObject lives in its closure. */
  handle(seed: Uint8Array, extractable: boolean): KeyHandle;
  /** Plain RFC 8032 verification (the strict checks are the caller's). */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
const nodeCrypto = proc?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined;

/** Ed25519 by node:crypto on Node (≥ 20.16), else `null`. */
export const nodeEd25519: NodeEd25519 | null = nodeCrypto ? withNodeCrypto(nodeCrypto) : null;

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
    verify(publicKey, message, signature) {
      // A JWK import is measurably cheaper in Node than SPKI DER (~7 µs vs ~75 µs), and handing the JWK
      // to verify() directly skips building a KeyObject around it (0–8 µs a verify in a micro-benchmark).
      return crypto.verify(
        null,
        message,
        { key: { kty: 'OKP', crv: 'Ed25519', x: encodeBase64url(publicKey) }, format: 'jwk' },
        signature,
      );
    },
  };
}
