import { describe, expect, it } from 'vitest';
import { pooledRandomBytes } from '../src/node-ed25519.js';

const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('pooledRandomBytes (nonces and ids)', () => {
  it('hands out fresh copies of the asked length, none twice, across pool refills', () => {
    const seen = new Set<string>();
    // 4 KiB pool: 300 draws of 32 bytes refill it at least twice.
    for (let i = 0; i < 300; i++) {
      const draw = pooledRandomBytes(32);
      expect(draw.length).toBe(32);
      expect(draw.buffer.byteLength).toBe(32); // a copy, not a view into the pool
      seen.add(hexOf(draw));
    }
    expect(seen.size).toBe(300);
  });

  it('odd lengths that straddle the end of the pool still come whole', () => {
    const draws = Array.from({ length: 500 }, () => pooledRandomBytes(17));
    expect(draws.every((d) => d.length === 17)).toBe(true);
    expect(new Set(draws.map(hexOf)).size).toBe(500);
  });

  it('a request larger than the pool still comes whole, and the next draw is fresh', () => {
    const big = pooledRandomBytes(5000);
    expect(big.length).toBe(5000);
    expect(big.some((b) => b !== 0)).toBe(true);
    const next = pooledRandomBytes(32);
    expect(hexOf(big).includes(hexOf(next))).toBe(false);
  });
});
