import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBase64url,
  encodeBase64url,
  isKey,
  parseFrame,
  type SignalIn,
  tryDecodeBase64url,
} from '../src/protocol/index.js';

const KEY = encodeBase64url(new Uint8Array(32).fill(3));
const SIG = encodeBase64url(new Uint8Array(64).fill(4));

describe('base64url', () => {
  it('round-trips any bytes, agreeing with Node', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = encodeBase64url(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64url'));
        expect(decodeBase64url(text)).toEqual(bytes);
      }),
    );
  });

  it('has one encoding per byte string: any other text that decodes re-encodes to itself', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'AQgwBCab-_=+/ .'.split('')), maxLength: 12 }),
        (text) => {
          const bytes = tryDecodeBase64url(text);
          if (bytes !== undefined) expect(encodeBase64url(bytes)).toBe(text);
        },
      ),
    );
  });

  it.each(['AA=', 'AAA=', 'A', 'AB', 'AAB', 'A A', 'AA+/', 'é'])('refuses %j', (text) => {
    expect(tryDecodeBase64url(text)).toBeUndefined();
  });

  it('checks exact lengths with a typed error', () => {
    expect(() => decodeBase64url(encodeBase64url(new Uint8Array(31)), 32)).toThrow(
      expect.objectContaining({ code: 'invalid-length' }),
    );
    expect(() => decodeBase64url(42, 32)).toThrow(expect.objectContaining({ code: 'invalid-base64url' }));
    expect(() => decodeBase64url('!'.repeat(43), 32)).toThrow(
      expect.objectContaining({ code: 'invalid-base64url' }),
    );
  });

  it('isKey agrees with a strict 32-byte decode', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'AQgwBEab-_09='.split('')), minLength: 42, maxLength: 44 }),
        (text) => {
          const bytes = tryDecodeBase64url(text);
          expect(isKey(text)).toBe(bytes?.length === 32);
        },
      ),
    );
  });
});

describe('parseFrame', () => {
  const server = { sender: 'server' as const, maxBytes: 4096 };
  const client = { sender: 'client' as const, maxBytes: 4096 };

  it('binary → 1003', () => {
    const result = parseFrame(new Uint8Array([123, 125]), server);
    expect(result).toMatchObject({ ok: false, error: { code: 'protocol', closeCode: 1003 } });
  });

  it.each(['not json', '[1,2]', 'null', '"text"', '{"type":3}', '{}', '{"type":"signal"'])(
    '%j → 1007',
    (text) => {
      expect(parseFrame(text, server)).toMatchObject({
        ok: false,
        error: { code: 'malformed', closeCode: 1007 },
      });
    },
  );

  it('over the limit → 1009, counting UTF-8 bytes', () => {
    const ascii = JSON.stringify({ type: 'x', pad: 'a'.repeat(4096) });
    expect(parseFrame(ascii, server)).toMatchObject({
      ok: false,
      error: { code: 'too-large', closeCode: 1009 },
    });
    const atLimit = JSON.stringify({ type: 'x', pad: 'a'.repeat(4096 - 21) });
    expect(atLimit.length).toBe(4096);
    expect(parseFrame(atLimit, server).ok).toBe(true);
    // 1400 × "€" is 1400 characters but 4200 bytes.
    const wide = JSON.stringify({ type: 'x', pad: '€'.repeat(1400) });
    expect(parseFrame(wide, server)).toMatchObject({ ok: false, error: { closeCode: 1009 } });
    expect(parseFrame(wide, { sender: 'server' }).ok).toBe(true);
  });

  it('application messages pass through untouched', () => {
    const result = parseFrame('{"type":"chat","text":"hi","n":1}', server);
    expect(result).toEqual({ ok: true, message: { type: 'chat', text: 'hi', n: 1 } });
  });

  it('ignores unknown fields of known messages (forward compatibility)', () => {
    const result = parseFrame(JSON.stringify({ type: 'pong', t: 5, future: true }), server);
    expect(result.ok).toBe(true);
  });

  it('reads signal by direction: from for a server frame, to for a client frame', () => {
    const inbound = parseFrame(
      JSON.stringify({ type: 'signal', from: KEY, id: 'a1', data: { sdp: 'x' } }),
      server,
    );
    expect(inbound.ok && (inbound.message as SignalIn).from).toBe(KEY);
    expect(parseFrame(JSON.stringify({ type: 'signal', to: KEY, id: 'a1', data: 1 }), server).ok).toBe(false);
    expect(parseFrame(JSON.stringify({ type: 'signal', to: KEY, id: 'a1', data: 1 }), client).ok).toBe(true);
    expect(
      parseFrame(JSON.stringify({ type: 'signal', to: KEY, id: 'x'.repeat(65), data: 1 }), client).ok,
    ).toBe(false);
    expect(parseFrame(JSON.stringify({ type: 'signal', to: KEY, id: '', data: 1 }), client).ok).toBe(false);
  });

  it.each([
    {
      type: 'auth.challenge',
      v: 1,
      nonce: KEY,
      heartbeat: { interval: 1, timeout: 1 },
      limits: { maxMessageBytes: 10 },
    },
    { type: 'auth.ok', v: 1, sessionId: 's', signature: SIG },
    { type: 'auth.error', code: 'rate-limited', retryAfter: 1000 },
    { type: 'ack', id: 'm-1' },
    { type: 'error', code: 'peer-offline', id: 'm-1' },
    { type: 'error', code: 'unknown-type' },
    { type: 'presence', key: KEY, online: false },
  ])('accepts a well-formed server %j', (message) => {
    expect(parseFrame(JSON.stringify(message), server).ok).toBe(true);
  });

  it.each([
    { type: 'auth.challenge', v: 1, nonce: KEY, heartbeat: { interval: 1 }, limits: { maxMessageBytes: 10 } },
    { type: 'auth.ok', v: 1, sessionId: 's', signature: KEY },
    { type: 'auth.error', code: 'nope' },
    { type: 'pong', t: 'now' },
    { type: 'presence', key: 'short', online: true },
    { type: 'auth.response', v: 1 },
    { type: 'presence.subscribe', keys: [] },
  ])('refuses a bad or misdirected server %j as 1007', (message) => {
    expect(parseFrame(JSON.stringify(message), server)).toMatchObject({
      ok: false,
      error: { closeCode: 1007 },
    });
  });

  it('unsupported version → 4010', () => {
    const frame = JSON.stringify({ type: 'auth.challenge', v: 2 });
    expect(parseFrame(frame, server)).toMatchObject({
      ok: false,
      error: { code: 'unsupported-version', closeCode: 4010 },
    });
  });

  it('presence subscriptions: at most 1024 well-formed keys', () => {
    const keys = Array.from({ length: 1024 }, () => KEY);
    expect(parseFrame(JSON.stringify({ type: 'presence.subscribe', keys }), { sender: 'client' }).ok).toBe(
      true,
    );
    const tooMany = JSON.stringify({ type: 'presence.subscribe', keys: [...keys, KEY] });
    expect(parseFrame(tooMany, { sender: 'client' }).ok).toBe(false);
    expect(parseFrame(JSON.stringify({ type: 'presence.unsubscribe', keys: ['x'] }), client).ok).toBe(false);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        (text) => {
          for (const sender of ['server', 'client'] as const) {
            const result = parseFrame(text, { sender, maxBytes: 4096 });
            if (!result.ok) expect([1003, 1007, 1009, 4010]).toContain(result.error.closeCode);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
