/**
 * Platform capabilities, found without importing any `node:` module, so that everything reachable from
 * the package's `.` entry stays browser-safe. On Node, `#node-crypto` gives node:crypto; elsewhere
 * WebCrypto is used, and tweetnacl is loaded only where neither exists.
 */
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
      await subtle.importKey('raw', PROBE_PUBLIC_KEY, { name: 'Ed25519' }, false, ['verify']);
      return true;
    } catch {
      return false;
    }
  })();
  return webCryptoEd25519;
}

const PROBE_PUBLIC_KEY = new Uint8Array([
  0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1,
  0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
]);

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
