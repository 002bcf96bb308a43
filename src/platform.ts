/**
 * Platform capabilities, found without importing any `node:` module, so that everything reachable from
 * the package's `.` entry stays browser-safe. On Node (≥ 20.16) `process.getBuiltinModule` hands us
 * `node:crypto`, whose synchronous Ed25519 is about twice as fast as WebCrypto's (measured in
 * `bench/sign`); elsewhere WebCrypto is used, and tweetnacl is loaded only where neither exists.
 */
import type * as NodeCrypto from 'node:crypto';

type NodeCryptoModule = typeof NodeCrypto;

let nodeCryptoModule: NodeCryptoModule | null | undefined;

/** `node:crypto` when running on Node (or Electron's main process), else `null`. */
export function getNodeCrypto(): NodeCryptoModule | null {
  if (nodeCryptoModule === undefined) {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    nodeCryptoModule = (proc?.getBuiltinModule?.('node:crypto') as NodeCryptoModule | undefined) ?? null;
  }
  return nodeCryptoModule;
}

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

/** Fills `length` bytes from the platform CSPRNG (for secrets: nothing is kept). */
export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  globalThis.crypto.getRandomValues(out);
  return out;
}

let pool: Uint8Array = new Uint8Array(0);
let poolAt = 0;

/**
 * `length` fresh CSPRNG bytes for a nonce or an id, cut from a 4 KiB pool refilled in one call. One
 * CSPRNG call costs 15–25 µs when the process has just woken from waiting on the network (2 µs in a
 * tight loop; measured on the client's handshake path), as much as a signature. Each draw is a copy and
 * the pool bytes it took are zeroed, so no byte is handed out twice. Not for secrets: see `randomBytes`.
 */
export function pooledRandomBytes(length: number): Uint8Array {
  if (poolAt + length > pool.length) {
    pool = randomBytes(Math.max(length, 4096));
    poolAt = 0;
  }
  const out = pool.slice(poolAt, poolAt + length);
  pool.fill(0, poolAt, poolAt + length);
  poolAt += length;
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
