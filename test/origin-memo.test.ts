import { describe, expect, it } from 'vitest';
import { normalizeOrigin } from '../src/protocol/origin.js';

// normalizeOrigin remembers its answers for strings (a server normalizes its origins per handshake);
// the memo must never change an answer or swallow a refusal.
describe('normalizeOrigin memo', () => {
  it('gives the same answer on the first and later calls', () => {
    const input = 'WS://LocalHost:80/a/b?q=1#f';
    const first = normalizeOrigin(input);
    expect(first).toBe('ws://localhost/a/b');
    expect(normalizeOrigin(input)).toBe(first);
    expect(normalizeOrigin(new URL(input))).toBe(first);
  });

  it('still refuses bad input every time, also after good input', () => {
    normalizeOrigin('ws://127.0.0.1:1/');
    for (let i = 0; i < 2; i++) {
      expect(() => normalizeOrigin('http://127.0.0.1:1/')).toThrow(
        expect.objectContaining({ code: 'invalid-origin' }),
      );
      expect(() => normalizeOrigin('not a url')).toThrow(expect.objectContaining({ code: 'invalid-origin' }));
    }
  });

  it('stays correct past its bound (many distinct origins)', () => {
    for (let round = 0; round < 2; round++) {
      for (let port = 1000; port < 1200; port++) {
        expect(normalizeOrigin(`wss://Example.COM:${port}/p`)).toBe(`wss://example.com:${port}/p`);
      }
    }
    expect(normalizeOrigin('wss://example.com:443/p')).toBe('wss://example.com/p');
  });
});
