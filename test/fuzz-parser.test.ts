import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSignalingError } from '../src/errors.js';
import { decodeBase64url } from '../src/protocol/base64url.js';
import { parseFrame } from '../src/protocol/parse.js';
import { fuzzRuns, fuzzTimeout, hostileFrame } from './helpers/fuzz-frames.js';

/**
 * The parser, both ways (frames from a server and from a client), under random and mutated frames: it
 * never throws, every refusal is a typed error with a close code of the spec, and whatever it accepts
 * as a protocol message really has the exact shape (keys of 32 bytes, signatures of 64).
 */

const CHALLENGE = {
  type: 'auth.challenge',
  v: 1,
  nonce: Buffer.alloc(32, 1).toString('base64url'),
  serverKey: Buffer.alloc(32, 2).toString('base64url'),
  heartbeat: { interval: 25000, timeout: 10000 },
  limits: { maxMessageBytes: 65536 },
};
const OK = { type: 'auth.ok', v: 1, sessionId: 's1', signature: Buffer.alloc(64, 3).toString('base64url') };
const RESPONSE = {
  type: 'auth.response',
  v: 1,
  publicKey: Buffer.alloc(32, 4).toString('base64url'),
  clientNonce: Buffer.alloc(32, 5).toString('base64url'),
  issuedAt: 1_700_000_000_000,
  signature: Buffer.alloc(64, 6).toString('base64url'),
};
const SIGNAL_IN = { type: 'signal', from: Buffer.alloc(32, 7).toString('base64url'), id: 'a', data: {} };
const SIGNAL_OUT = { type: 'signal', to: Buffer.alloc(32, 7).toString('base64url'), id: 'a', data: {} };
const REAL = [
  CHALLENGE,
  OK,
  RESPONSE,
  SIGNAL_IN,
  SIGNAL_OUT,
  { type: 'ack', id: 'a' },
  { type: 'pong', t: 1 },
];

const CLOSE_CODES = new Set([1002, 1003, 1007, 1008, 1009, 4010]);
const bytesOf = (value: unknown, n: number) => {
  expect(typeof value).toBe('string');
  expect(decodeBase64url(value as string, n, 'field').length).toBe(n);
};

describe('parseFrame under hostile input', () => {
  for (const sender of ['server', 'client'] as const) {
    it(
      `frames from a ${sender}: never throws; typed refusals; accepted messages are exact`,
      () => {
        fc.assert(
          fc.property(hostileFrame(REAL), fc.constantFrom(undefined, 4096, 65536), (frame, maxBytes) => {
            const result = parseFrame(frame, { sender, ...(maxBytes ? { maxBytes } : {}) });
            if (!result.ok) {
              expect(isSignalingError(result.error)).toBe(true);
              expect(CLOSE_CODES.has(result.error.closeCode as number)).toBe(true);
              return;
            }
            const m = result.message as Record<string, unknown>;
            expect(typeof m.type).toBe('string');
            expect(typeof frame).toBe('string');
            if (m.type === 'auth.challenge') {
              bytesOf(m.nonce, 32);
              if (m.serverKey !== undefined) bytesOf(m.serverKey, 32);
            }
            if (m.type === 'auth.ok') bytesOf(m.signature, 64);
            if (m.type === 'auth.response') {
              bytesOf(m.publicKey, 32);
              bytesOf(m.clientNonce, 32);
              bytesOf(m.signature, 64);
            }
            if (m.type === 'signal') bytesOf(sender === 'server' ? m.from : m.to, 32);
          }),
          { numRuns: fuzzRuns(2000) },
        );
      },
      fuzzTimeout(fuzzRuns(2000), 1),
    );
  }

  it('the real frames themselves are accepted (the properties above are not vacuous)', () => {
    for (const frame of [CHALLENGE, OK, SIGNAL_IN, { type: 'ack', id: 'a' }]) {
      expect(parseFrame(JSON.stringify(frame), { sender: 'server' }).ok).toBe(true);
    }
    for (const frame of [RESPONSE, SIGNAL_OUT]) {
      expect(parseFrame(JSON.stringify(frame), { sender: 'client' }).ok).toBe(true);
    }
  });
});
