/**
 * Platform capabilities, found without importing any `node:` module, so that everything reachable from
 * the package's `.` entry stays browser-safe. On Node, `#node-ed25519` gives node:crypto; elsewhere
 * WebCrypto is used, and tweetnacl is loaded only where neither exists.
 */
import { decodeBase64url } from './protocol/base64url.js';
/** WebCrypto's `SubtleCrypto`, or `null` outside a secure context. */
export function getSubtle(): SubtleCrypto | null {
  return globalThis.crypto?.subtle ?? null;
}

let webCryptoEd25519: Promise<boolean> | undefined;

/** Whether WebCrypto here implements Ed25519 (Chrome/Edge 137, Firefox 129, Safari 17, Node ≥ 20.19). */
export function hasWebCryptoEd25519(): Promise<boolean> {
  webCryptoEd25519 ??= (async () => {
    const subtle = getSubtle();
    if (!subtle) return false;
    try {
      // The public key of the RFC 8032 TEST 1 secret: importing it proves the algorithm is known.
      await subtle.importKey('raw', bufferSource(PROBE_PUBLIC_KEY), { name: 'Ed25519' }, false, ['verify']);
      return true;
    } catch {
      return false;
    }
  })();
  return webCryptoEd25519;
}

const PROBE_PUBLIC_KEY = decodeBase64url('11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo');

/** Fills `length` bytes from the platform CSPRNG. */
export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  globalThis.crypto.getRandomValues(out);
  return out;
}

/** tweetnacl, loaded on first use so that bundles carry it only as a lazily loaded chunk. */
export type Nacl = typeof import('tweetnacl');
let naclModule: Promise<Nacl> | undefined;
/** Imports tweetnacl once (CJS or ESM shape) and returns the same module on every call. */
export function loadNacl(): Promise<Nacl> {
  naclModule ??= import('tweetnacl').then((m) => ((m as { default?: Nacl }).default ?? m) as Nacl);
  return naclModule;
}

/** WebCrypto's typings want ArrayBuffer-backed views; ours always are. */
export function bufferSource(bytes: Uint8Array): BufferSource {
  return bytes as Uint8Array<ArrayBuffer>;
}
