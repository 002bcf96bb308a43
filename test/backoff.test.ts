import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSignalingError } from '../src/errors.js';
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF, resolveBackoff } from '../src/machines/backoff.js';
import { closeAction } from '../src/machines/close-codes.js';

describe('backoff', () => {
  it('has the documented defaults', () => {
    expect(resolveBackoff()).toEqual({
      initialDelay: 500,
      multiplier: 2,
      maxDelay: 30_000,
      jitter: 'full',
      maxRetries: Number.POSITIVE_INFINITY,
      resetAfter: 5000,
    });
    expect(resolveBackoff({ initialDelay: undefined })).toEqual(DEFAULT_BACKOFF);
  });

  it('full jitter: uniform in [0, min(maxDelay, initial × multiplier^attempt)]', () => {
    fc.assert(
      fc.property(fc.nat(60), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const o = resolveBackoff();
        const d = backoffDelay(o, attempt, 0, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(backoffCeiling(o, attempt));
        expect(d).toBe(Math.round(r * backoffCeiling(o, attempt)));
      }),
    );
    const o = resolveBackoff();
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(o, a, 0, () => 0.999_999))).toEqual([
      500, 1000, 2000, 4000, 30_000,
    ]);
  });

  it('none: exactly the exponential ceiling', () => {
    const o = resolveBackoff({ jitter: 'none', initialDelay: 100, multiplier: 3, maxDelay: 1000 });
    expect([0, 1, 2, 3].map((a) => backoffDelay(o, a, 0, Math.random))).toEqual([100, 300, 900, 1000]);
  });

  it('decorrelated: within [initialDelay, 3 × previous], capped', () => {
    fc.assert(
      fc.property(
        fc.nat(100_000),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (previous, r) => {
          const o = resolveBackoff({ jitter: 'decorrelated' });
          const d = backoffDelay(o, 5, previous, () => r);
          expect(d).toBeGreaterThanOrEqual(Math.min(o.initialDelay, o.maxDelay));
          expect(d).toBeLessThanOrEqual(Math.min(o.maxDelay, Math.max(o.initialDelay, previous * 3)));
        },
      ),
    );
  });

  it('custom: called with the step; garbage falls back to the ceiling, never a tight loop', () => {
    const seen: unknown[] = [];
    const o = resolveBackoff({
      jitter: (step) => {
        seen.push(step);
        return 1234;
      },
    });
    expect(backoffDelay(o, 2, 77, () => 0.5)).toBe(1234);
    expect(seen[0]).toMatchObject({ attempt: 2, previousDelay: 77, initialDelay: 500, multiplier: 2 });
    for (const bad of [Number.NaN, -5, Number.POSITIVE_INFINITY]) {
      expect(backoffDelay(resolveBackoff({ jitter: () => bad }), 1, 0, Math.random)).toBe(1000);
    }
    expect(backoffDelay(resolveBackoff({ jitter: () => 10 ** 9 }), 1, 0, Math.random)).toBe(30_000);
  });

  it('spreads a storm: 10 000 clients at attempt 3 fill the window evenly', () => {
    const o = resolveBackoff();
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      buckets[Math.min(9, Math.floor(backoffDelay(o, 3, 0, Math.random) / 400))]++;
    }
    for (const count of buckets) expect(count).toBeGreaterThan(800);
  });

  it('rejects nonsense options with a typed error', () => {
    for (const bad of [
      { initialDelay: -1 },
      { maxDelay: Number.NaN },
      { maxRetries: -1 },
      { jitter: 'wild' },
    ]) {
      let caught: unknown;
      try {
        resolveBackoff(bad as never);
      } catch (error) {
        caught = error;
      }
      expect(isSignalingError(caught, 'invalid-option')).toBe(true);
    }
  });
});

describe('closeAction (the spec table)', () => {
  it('maps every code the table names', () => {
    expect(closeAction(1000)).toEqual({ kind: 'reconnect' });
    for (const c of [1001, 1006, 1011, 1013, 4008]) expect(closeAction(c)).toEqual({ kind: 'reconnect' });
    expect(closeAction(1012)).toEqual({ kind: 'restart' });
    for (const c of [1002, 1003, 1007, 1008, 1009, 4010]) {
      expect(closeAction(c)).toEqual({ kind: 'fail', reason: 'protocol' });
    }
    expect(closeAction(4001)).toEqual({ kind: 'fail', reason: 'auth-denied' });
    expect(closeAction(4009)).toEqual({ kind: 'fail', reason: 'replaced' });
    expect(closeAction(4002)).toEqual({ kind: 'retry-now' });
    expect(closeAction(4029)).toEqual({ kind: 'rate-limited' });
    expect(closeAction(4999)).toEqual({ kind: 'reconnect' });
  });
});
