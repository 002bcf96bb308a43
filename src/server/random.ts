import { randomFillSync } from 'node:crypto';

/**
 * CSPRNG bytes for nonces and session ids, drawn from a 4 KiB pool refilled in one call: every
 * handshake needs two small draws, and one `getRandomValues` call each cost more than the rest of the
 * bookkeeping of a handshake (measured in bench/server). Each draw is a fresh copy; pool bytes are
 * used once and never handed out twice.
 */
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let offset = POOL_BYTES;

/** `length` fresh CSPRNG bytes from the pool (larger requests bypass it). */
export function serverRandomBytes(length: number): Uint8Array {
  if (length > POOL_BYTES) return randomFillSync(new Uint8Array(length));
  if (offset + length > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = pool.slice(offset, offset + length);
  pool.fill(0, offset, offset + length);
  offset += length;
  return out;
}
