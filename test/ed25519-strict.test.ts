import nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/index.js';
import {
  isCanonicalPoint,
  isCanonicalScalar,
  isSmallOrderKey,
  verifyEd25519,
} from '../src/protocol/index.js';
import { decodePoint, fromHex, isIdentity, P, times8 } from './helpers/ed25519-math.js';

const VERIFIERS = ['node', 'webcrypto', 'tweetnacl'] as const;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function toLE(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}
function fromLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = 31; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

const SMALL_ORDER_HEX = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
];

describe('small-order keys', () => {
  it('the refused list is exactly the 8 distinct points P with 8·P = identity', () => {
    const points = SMALL_ORDER_HEX.map((h) => decodePoint(fromHex(h)));
    for (const p of points) {
      expect(p).toBeDefined();
      expect(isIdentity(times8(p as NonNullable<typeof p>))).toBe(true);
    }
    expect(new Set(points.map((p) => `${p?.x},${p?.y}`)).size).toBe(8);
    for (const h of SMALL_ORDER_HEX) expect(isSmallOrderKey(fromHex(h))).toBe(true);
  });

  it('a real key is not of small order', async () => {
    const id = await Identity.generate();
    const point = decodePoint(id.publicKeyBytes);
    expect(point && isIdentity(times8(point))).toBe(false);
    expect(isSmallOrderKey(id.publicKeyBytes)).toBe(false);
  });

  it.each(VERIFIERS)(
    '%s: the identity key with signature (identity, 0) is refused for any message',
    async (kind) => {
      const identityPoint = fromHex(SMALL_ORDER_HEX[0] as string);
      const signature = new Uint8Array(64);
      signature.set(identityPoint, 0);
      const message = new TextEncoder().encode('anything at all');
      expect(await verifyEd25519(identityPoint, message, signature, kind)).toBe(false);
    },
  );

  it('node:crypto alone would accept that forgery (why the explicit check exists)', () => {
    const identityPoint = fromHex(SMALL_ORDER_HEX[0] as string);
    const signature = new Uint8Array(64);
    signature.set(identityPoint, 0);
    const key = nodeCrypto.createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(identityPoint).toString('base64url') },
      format: 'jwk',
    });
    expect(nodeCrypto.verify(null, Buffer.from('x'), key, signature)).toBe(true);
    expect(nodeCrypto.verify(null, Buffer.from('another message'), key, signature)).toBe(true);
  });
});

describe('canonical encodings', () => {
  it('scalars: S < L only', () => {
    expect(isCanonicalScalar(toLE(0n))).toBe(true);
    expect(isCanonicalScalar(toLE(L - 1n))).toBe(true);
    expect(isCanonicalScalar(toLE(L))).toBe(false);
    expect(isCanonicalScalar(toLE(L + 1n))).toBe(false);
    expect(isCanonicalScalar(toLE(2n ** 256n - 1n))).toBe(false);
  });

  it('points: y < p, and no negative zero x', () => {
    expect(isCanonicalPoint(toLE(P - 1n))).toBe(true);
    expect(isCanonicalPoint(toLE(P))).toBe(false);
    expect(isCanonicalPoint(toLE(P + 18n))).toBe(false);
    expect(isCanonicalPoint(toLE(P - 1n + (1n << 255n)))).toBe(false); // y = p−1 with sign bit: x = 0
    expect(isCanonicalPoint(toLE(1n + (1n << 255n)))).toBe(false); // y = 1 with sign bit: x = 0
    expect(isCanonicalPoint(toLE(1n))).toBe(true);
    expect(isCanonicalPoint(toLE(5n + (1n << 255n)))).toBe(true);
  });

  it.each(VERIFIERS)('%s: a valid signature verifies, S + L does not', async (kind) => {
    const id = await Identity.generate();
    const message = new TextEncoder().encode('malleability');
    const signature = await id.sign(message);
    expect(await verifyEd25519(id.publicKeyBytes, message, signature, kind)).toBe(true);
    const malleated = signature.slice();
    malleated.set(toLE(fromLE(signature.subarray(32)) + L), 32);
    expect(await verifyEd25519(id.publicKeyBytes, message, malleated, kind)).toBe(false);
  });

  it('tweetnacl alone accepts S + L (why the explicit check exists)', async () => {
    const nacl = (await import('tweetnacl')).default;
    const pair = nacl.sign.keyPair();
    const message = new TextEncoder().encode('malleability');
    const signature = nacl.sign.detached(message, pair.secretKey);
    const malleated = signature.slice();
    malleated.set(toLE(fromLE(signature.subarray(32)) + L), 32);
    expect(nacl.sign.detached.verify(message, malleated, pair.publicKey)).toBe(true);
  });

  it.each(VERIFIERS)('%s: a non-canonical R is refused', async (kind) => {
    const id = await Identity.generate();
    const message = new Uint8Array([1, 2, 3]);
    const signature = await id.sign(message);
    const bad = signature.slice();
    bad.set(toLE(P + 1n), 0);
    expect(await verifyEd25519(id.publicKeyBytes, message, bad, kind)).toBe(false);
  });

  it('node: a key kept from the verification before still refuses a wrong message, signature or key', async () => {
    const a = await Identity.generate();
    const b = await Identity.generate();
    const message = new TextEncoder().encode('kept key');
    const [sigA, sigB] = [await a.sign(message), await b.sign(message)];
    const badS = sigA.slice();
    badS[32] = (badS[32] as number) ^ 1; // S stays canonical: only the group equation can refuse it
    const verify = (id: Identity, m: Uint8Array, sig: Uint8Array) =>
      verifyEd25519(id.publicKeyBytes, m, sig, 'node');
    // From the second call in a row with one key on, the imported KeyObject is what verifies.
    const verdicts = [
      await verify(a, message, sigA),
      await verify(a, message, sigA),
      await verify(a, new TextEncoder().encode('kept kez'), sigA),
      await verify(a, message, badS),
      await verify(a, message, sigB),
      await verify(b, message, sigA),
      await verify(b, message, sigA),
      await verify(b, message, sigB),
      await verify(a, message, sigA),
    ];
    expect(verdicts).toEqual([true, true, false, false, false, false, false, true, true]);
  });

  it.each(VERIFIERS)('%s: wrong lengths and garbage are false, never a throw', async (kind) => {
    const id = await Identity.generate();
    const message = new Uint8Array([9]);
    const signature = await id.sign(message);
    expect(await verifyEd25519(id.publicKeyBytes.subarray(1), message, signature, kind)).toBe(false);
    expect(await verifyEd25519(id.publicKeyBytes, message, signature.subarray(1), kind)).toBe(false);
    expect(await verifyEd25519(toLE(P - 3n), message, signature, kind)).toBe(false); // not on the curve
  });
});
