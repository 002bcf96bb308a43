/**
 * Textbook Ed25519 group arithmetic in BigInt, for tests only: it re-derives facts the library hard-codes
 * (the small-order points) instead of trusting the same list twice.
 */
export const P = 2n ** 255n - 19n;
const D = mod(-121665n * inverse(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

export type Point = { x: bigint; y: bigint };
export const IDENTITY: Point = { x: 0n, y: 1n };

function mod(a: bigint): bigint {
  const r = a % P;
  return r < 0n ? r + P : r;
}

function pow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = mod(result * b);
    b = mod(b * b);
    e >>= 1n;
  }
  return result;
}

function inverse(a: bigint): bigint {
  return pow(a, P - 2n);
}

/** Decodes a 32-byte encoding (RFC 8032 §5.1.3); `undefined` when no point has it. */
export function decodePoint(bytes: Uint8Array): Point | undefined {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(bytes[i] as number);
  const sign = y >> 255n;
  y &= (1n << 255n) - 1n;
  if (y >= P) return undefined;
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = pow(mod(u * inverse(v)), (P + 3n) / 8n);
  if (mod(v * x * x) !== u) x = mod(x * SQRT_M1);
  if (mod(v * x * x) !== u) return undefined;
  if (x === 0n && sign === 1n) return undefined;
  if ((x & 1n) !== sign) x = P - x;
  return { x, y };
}

export function add(a: Point, b: Point): Point {
  const t = mod(D * a.x * b.x * a.y * b.y);
  return {
    x: mod((a.x * b.y + a.y * b.x) * inverse(1n + t)),
    y: mod((a.y * b.y + a.x * b.x) * inverse(1n - t)),
  };
}

export function times8(p: Point): Point {
  let q = p;
  for (let i = 0; i < 3; i++) q = add(q, q);
  return q;
}

export function isIdentity(p: Point): boolean {
  return p.x === 0n && p.y === 1n;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}
