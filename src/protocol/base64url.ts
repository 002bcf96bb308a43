import { SignalingError } from '../errors.js';

/**
 * Strict base64url without padding (RFC 4648 §5). Strict means one encoding per byte string: no
 * padding, no other alphabet, no whitespace, and unused trailing bits must be zero. Written by hand
 * because `Buffer` is not in browsers and `Uint8Array.fromBase64` is not in Node 20.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Encodes bytes as base64url without padding (RFC 4648 §5), the protocol's form for byte strings. */
export function encodeBase64url(bytes: Uint8Array): string {
  let out = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out +=
      ALPHABET.charAt(v >>> 18) +
      ALPHABET.charAt((v >>> 12) & 63) +
      ALPHABET.charAt((v >>> 6) & 63) +
      ALPHABET.charAt(v & 63);
  }
  const rest = n - i;
  if (rest === 1) {
    const v = (bytes[i] as number) << 16;
    out += ALPHABET.charAt(v >>> 18) + ALPHABET.charAt((v >>> 12) & 63);
  } else if (rest === 2) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    out += ALPHABET.charAt(v >>> 18) + ALPHABET.charAt((v >>> 12) & 63) + ALPHABET.charAt((v >>> 6) & 63);
  }
  return out;
}

/** Returns the decoded bytes, or `undefined` when `text` is not strict base64url. */
export function tryDecodeBase64url(text: string): Uint8Array | undefined {
  const len = text.length;
  const rest = len & 3;
  if (rest === 1) return undefined;
  const out = new Uint8Array((len >>> 2) * 3 + (rest === 0 ? 0 : rest - 1));
  let o = 0;
  let i = 0;
  const full = len - rest;
  for (; i < full; i += 4) {
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    const c = sextet(text, i + 2);
    const d = sextet(text, i + 3);
    if ((a | b | c | d) < 0) return undefined;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >>> 16;
    out[o++] = (v >>> 8) & 255;
    out[o++] = v & 255;
  }
  if (rest === 2) {
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    if ((a | b) < 0 || (b & 15) !== 0) return undefined;
    out[o] = (a << 2) | (b >>> 4);
  } else if (rest === 3) {
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    const c = sextet(text, i + 2);
    if ((a | b | c) < 0 || (c & 3) !== 0) return undefined;
    const v = (a << 18) | (b << 12) | (c << 6);
    out[o++] = v >>> 16;
    out[o] = (v >>> 8) & 255;
  }
  return out;
}

function sextet(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c < 128 ? (DECODE[c] as number) : -1;
}

/** Length in characters of the unpadded encoding of `byteLength` bytes. */
export function encodedLength(byteLength: number): number {
  return Math.ceil((byteLength * 4) / 3);
}

/**
 * Decodes `text`, which must encode exactly `byteLength` bytes when given.
 * @throws SignalingError `invalid-base64url` or `invalid-length`
 */
export function decodeBase64url(text: unknown, byteLength?: number, what = 'value'): Uint8Array {
  if (typeof text !== 'string') {
    throw new SignalingError('invalid-base64url', `${what} must be a base64url string`);
  }
  if (byteLength !== undefined && text.length !== encodedLength(byteLength)) {
    throw new SignalingError('invalid-length', `${what} must encode exactly ${byteLength} bytes`);
  }
  const bytes = tryDecodeBase64url(text);
  if (bytes === undefined) {
    throw new SignalingError('invalid-base64url', `${what} is not strict unpadded base64url`);
  }
  return bytes;
}

/** Decodes a fixed-length field, or returns `undefined` when it is not exactly that. */
export function decodeExact(text: unknown, byteLength: number): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length !== encodedLength(byteLength)) return undefined;
  return tryDecodeBase64url(text);
}
