import fc from 'fast-check';
import { RESERVED_TYPES } from '../../src/protocol/constants.js';

/**
 * fast-check arbitraries for hostile WebSocket frames: random text and bytes, JSON that is almost a
 * protocol message (known types with wrong, missing or extra fields), and mutations of real frames
 * (a field replaced or deleted, a byte flipped, the text cut short).
 */

export type Frame = string | Uint8Array;

/** How many cases a property runs: `FUZZ_RUNS` (the soak variant sets 100000), else `fallback`. */
export function fuzzRuns(fallback: number): number {
  const env = Number(process.env.FUZZ_RUNS);
  return Number.isSafeInteger(env) && env > 0 ? env : fallback;
}

/** A test timeout for `runs` cases of about `msPerCase` each (at least vitest's 20 s). */
export function fuzzTimeout(runs: number, msPerCase: number): number {
  return Math.max(20_000, runs * msPerCase * 3);
}

const TYPES = [...RESERVED_TYPES, 'chat', '', 'auth.', '__proto__', 'constructor'];

const b64 = (n: number) =>
  fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('base64url'));

/** Values that trip sloppy validators: wrong lengths, padding, huge numbers, prototypes. */
const nasty = fc.oneof(
  fc.jsonValue(),
  b64(31),
  b64(32),
  b64(33),
  b64(64),
  b64(32).map((s) => `${s}=`),
  b64(32).map((s) => s.replace(/./, '+')),
  fc.constantFrom(
    Number.MAX_SAFE_INTEGER + 2,
    -1,
    0,
    1.5,
    Number.NaN,
    '',
    ' ',
    '\u0000',
    '\ud800',
    null,
    [],
    {},
    true,
    '__proto__',
  ),
  fc.string({ maxLength: 80 }),
);

const FIELDS = [
  'type',
  'v',
  'nonce',
  'serverKey',
  'heartbeat',
  'limits',
  'publicKey',
  'clientNonce',
  'issuedAt',
  'signature',
  'sessionId',
  'code',
  'retryAfter',
  't',
  'id',
  'to',
  'from',
  'data',
  'key',
  'keys',
  'online',
  'iceServers',
  '__proto__',
];

/** A JSON object shaped like a protocol message: a known (or odd) type and random known fields. */
export const messageLike: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    type: fc.oneof(fc.constantFrom(...TYPES), fc.string({ maxLength: 12 })),
    fields: fc.dictionary(fc.constantFrom(...FIELDS), nasty, { maxKeys: 6 }),
  })
  .map(({ type, fields }) => ({ ...fields, type }));

/** A mutation of a real frame (as an object): one field replaced, deleted, or a new one added. */
export function mutate(frame: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(frame);
  return fc.oneof(
    fc.record({ k: fc.constantFrom(...keys), v: nasty }).map(({ k, v }) => ({ ...frame, [k]: v })),
    fc.constantFrom(...keys).map((k) => {
      const copy = { ...frame };
      delete copy[k];
      return copy;
    }),
    fc.record({ k: fc.constantFrom(...FIELDS), v: nasty }).map(({ k, v }) => ({ ...frame, [k]: v })),
  );
}

/** Text-level damage to a frame: a character flipped, the text cut, bytes inserted. */
export function damage(text: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc
      .record({ at: fc.nat(Math.max(0, text.length - 1)), c: fc.string({ minLength: 1, maxLength: 1 }) })
      .map(({ at, c }) => text.slice(0, at) + c + text.slice(at + 1)),
    fc.nat(text.length).map((at) => text.slice(0, at)),
    fc
      .record({ at: fc.nat(text.length), s: fc.string({ maxLength: 8 }) })
      .map(({ at, s }) => text.slice(0, at) + s + text.slice(at)),
  );
}

/** Any hostile frame, optionally biased towards mutations of `real` frames. */
export function hostileFrame(real: Record<string, unknown>[] = []): fc.Arbitrary<Frame> {
  const options: fc.Arbitrary<Frame>[] = [
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.uint8Array({ maxLength: 64 }),
    fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
    messageLike.map((m) => JSON.stringify(m)),
    fc.constantFrom('{}', '[]', 'null', '{"type":1}', '{"type":"auth.ok"', '\u0000', ''),
  ];
  for (const frame of real) {
    options.push(mutate(frame).map((m) => JSON.stringify(m)));
    options.push(damage(JSON.stringify(frame)));
  }
  return fc.oneof(...options);
}
