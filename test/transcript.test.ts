import { describe, expect, it } from 'vitest';
import { normalizeOrigin, transcript } from '../src/protocol/index.js';
import { fromHex, hex } from './helpers/ed25519-math.js';

// Golden bytes written out field by field from protocol-v1.md, not produced by the code under test.
const TAG = '7369676e616c696e672d6163746f722f617574682f7631' + '00'; // "signaling-actor/auth/v1" NUL
const ORIGIN = 'ws://127.0.0.1:8080/';
const ORIGIN_HEX = '0014' + '77733a2f2f3132372e302e302e313a383038302f'; // u16be(20) ‖ UTF-8
const SERVER_NONCE = fromHex('0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20');
const CLIENT_NONCE = new Uint8Array(32).fill(0xa5);
const ISSUED_AT = 1_700_000_000_000; // 0x0000018bcfe56800
const CLIENT_KEY = new Uint8Array(32).fill(0x11);
const SERVER_KEY = new Uint8Array(32).fill(0x22);

const fields = {
  origin: ORIGIN,
  serverNonce: SERVER_NONCE,
  clientNonce: CLIENT_NONCE,
  issuedAt: ISSUED_AT,
  clientPublicKey: CLIENT_KEY,
  serverPublicKey: SERVER_KEY,
};

describe('transcript', () => {
  it('is exactly the spec bytes for the client role', () => {
    const expected =
      TAG +
      '43' +
      ORIGIN_HEX +
      '0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20' +
      'a5'.repeat(32) +
      '0000018bcfe56800' +
      '11'.repeat(32) +
      '22'.repeat(32);
    expect(hex(transcript('C', fields))).toBe(expected);
    expect(transcript('C', fields).length).toBe(24 + 1 + 2 + 20 + 32 + 32 + 8 + 32 + 32);
  });

  it('differs only in the role byte for the server role', () => {
    const c = hex(transcript('C', fields));
    const s = hex(transcript('S', fields));
    expect(s).toBe(`${c.slice(0, 48)}53${c.slice(50)}`);
  });

  it('signs 32 zero bytes when the challenge had no server key', () => {
    const bytes = transcript('C', { ...fields, serverPublicKey: undefined });
    expect(hex(bytes.subarray(bytes.length - 32))).toBe('00'.repeat(32));
  });

  it('encodes the origin length in UTF-8 bytes, big-endian', () => {
    const origin = 'wss://bücher.example/ws'; // a host the URL parser would punycode, here taken verbatim
    const bytes = transcript('C', { ...fields, origin });
    const length = new TextEncoder().encode(origin).length;
    expect(hex(bytes.subarray(25, 27))).toBe(length.toString(16).padStart(4, '0'));
  });

  it('writes issuedAt as u64be across the 32-bit boundary and up to 2^53 − 1', () => {
    const at = (issuedAt: number) => hex(transcript('C', { ...fields, issuedAt }).subarray(111, 119)); // after tag, role, origin and the two nonces
    expect(at(0)).toBe('0000000000000000');
    expect(at(0x8000_0000)).toBe('0000000080000000');
    expect(at(0xffff_ffff)).toBe('00000000ffffffff');
    expect(at(0x1_0000_0000)).toBe('0000000100000000');
    expect(at(Number.MAX_SAFE_INTEGER)).toBe('001fffffffffffff');
  });

  it('encodes each origin afresh when they alternate', () => {
    const other = 'wss://signal.example.com/ws';
    const originOf = (bytes: Uint8Array) =>
      new TextDecoder().decode(bytes.subarray(27, 27 + ((bytes[25] as number) << 8) + (bytes[26] as number)));
    for (const origin of [ORIGIN, other, ORIGIN, other]) {
      expect(originOf(transcript('S', { ...fields, origin }))).toBe(origin);
    }
  });

  it('refuses fields of the wrong size', () => {
    expect(() => transcript('C', { ...fields, serverNonce: new Uint8Array(31) })).toThrow(
      expect.objectContaining({ code: 'invalid-length' }),
    );
    expect(() => transcript('C', { ...fields, clientPublicKey: new Uint8Array(33) })).toThrow(
      expect.objectContaining({ code: 'invalid-length' }),
    );
    expect(() => transcript('C', { ...fields, issuedAt: -1 })).toThrow(
      expect.objectContaining({ code: 'invalid-length' }),
    );
    expect(() => transcript('C', { ...fields, origin: 'x'.repeat(70_000) })).toThrow(
      expect.objectContaining({ code: 'invalid-length' }),
    );
  });
});

describe('normalizeOrigin', () => {
  it.each([
    ['ws://127.0.0.1:8080', 'ws://127.0.0.1:8080/'],
    ['WSS://Signal.Example.COM:443/ws?token=1#frag', 'wss://signal.example.com/ws'],
    ['ws://example.com:80/a/b', 'ws://example.com/a/b'],
    ['wss://example.com:8443/', 'wss://example.com:8443/'],
    ['ws://[::1]:9000/x', 'ws://[::1]:9000/x'],
    ['wss://bücher.example/', 'wss://xn--bcher-kva.example/'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeOrigin(input)).toBe(expected);
  });

  it.each(['http://example.com/', 'not a url', 'ftp://x/'])('refuses %s', (input) => {
    expect(() => normalizeOrigin(input)).toThrow(expect.objectContaining({ code: 'invalid-origin' }));
  });
});
