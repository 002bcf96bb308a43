import { withDefaults } from '../defaults.js';
import { SignalingError } from '../errors.js';

/**
 * Reconnect delays, pure: the random source is a parameter, so tests and simulations are exact.
 * Full jitter by default (AWS "Exponential Backoff and Jitter"): a storm of thousands of clients
 * dropped at once spreads evenly over the window instead of reconnecting in synchronized waves.
 */

/** What a custom jitter function is given. */
export interface BackoffStep {
  /** 0 for the first retry after a connection was lost, then 1, 2, ... */
  attempt: number;
  /** The delay chosen for the previous attempt (0 before the first). */
  previousDelay: number;
  initialDelay: number;
  multiplier: number;
  maxDelay: number;
  /** Uniform in [0, 1). */
  random: () => number;
}

/** How a delay is drawn below the exponential ceiling: a named strategy or your own function. */
export type Jitter = 'full' | 'decorrelated' | 'none' | ((step: BackoffStep) => number);

/** Reconnect timing; every field optional (the defaults are {@link DEFAULT_BACKOFF}). */
export interface BackoffOptions {
  /** First delay's ceiling, ms. Default 500. */
  initialDelay?: number;
  /** Growth per attempt. Default 2. */
  multiplier?: number;
  /** No delay exceeds this, ms. Default 30 000. */
  maxDelay?: number;
  /** Default `'full'`: random(0, min(maxDelay, initialDelay × multiplier^attempt)). */
  jitter?: Jitter;
  /** Consecutive failed attempts allowed before giving up (`failed`, 'retries-exhausted'). Default ∞. */
  maxRetries?: number;
  /** A session must stay authenticated this long (ms) before the attempt counter resets. Default 5000. */
  resetAfter?: number;
}

/** {@link BackoffOptions} with every default filled in and checked. */
export type ResolvedBackoff = Required<BackoffOptions>;

/** 500 ms doubling to 30 s, full jitter, unlimited retries, reset after 5 s authenticated. */
export const DEFAULT_BACKOFF: Readonly<ResolvedBackoff> = Object.freeze({
  initialDelay: 500,
  multiplier: 2,
  maxDelay: 30_000,
  jitter: 'full',
  maxRetries: Number.POSITIVE_INFINITY,
  resetAfter: 5000,
});

/**
 * The longest wait a timer holds (2³¹ − 1 ms, about 24.8 days). Node and browsers fire a longer
 * `setTimeout` after about 1 ms, so a server's huge `retryAfter` would otherwise turn into a tight
 * reconnect loop.
 */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** Fills defaults and checks the numbers (a NaN delay would make the client spin). */
export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  const resolved = withDefaults<ResolvedBackoff>(DEFAULT_BACKOFF, options);
  for (const key of ['initialDelay', 'multiplier', 'maxDelay', 'resetAfter'] as const) {
    const value = resolved[key];
    if (!(Number.isFinite(value) && value >= 0))
      throw new SignalingError('invalid-option', `backoff.${key} must be a finite number ≥ 0`);
  }
  if (!(resolved.maxRetries >= 0))
    throw new SignalingError('invalid-option', 'backoff.maxRetries must be ≥ 0');
  const { jitter } = resolved;
  if (typeof jitter !== 'function' && jitter !== 'full' && jitter !== 'decorrelated' && jitter !== 'none') {
    throw new SignalingError(
      'invalid-option',
      `backoff.jitter must be 'full', 'decorrelated', 'none' or a function`,
    );
  }
  return resolved;
}

/** The exponential ceiling for `attempt`: min(maxDelay, initialDelay × multiplier^attempt). */
export function backoffCeiling(options: ResolvedBackoff, attempt: number): number {
  return Math.min(options.maxDelay, options.initialDelay * options.multiplier ** attempt);
}

/**
 * The delay before retry number `attempt` (0-based), in whole ms within [0, maxDelay].
 * - `full`: uniform in [0, ceiling].
 * - `decorrelated`: uniform in [initialDelay, 3 × previousDelay], capped (Brooker's variant).
 * - `none`: the ceiling itself.
 */
export function backoffDelay(
  options: ResolvedBackoff,
  attempt: number,
  previousDelay: number,
  random: () => number,
): number {
  const { jitter, initialDelay, maxDelay } = options;
  let delay: number;
  if (typeof jitter === 'function') {
    delay = jitter({ attempt, previousDelay, random, ...pick(options) });
  } else if (jitter === 'none') {
    delay = backoffCeiling(options, attempt);
  } else if (jitter === 'decorrelated') {
    const high = Math.max(initialDelay, previousDelay * 3);
    delay = initialDelay + random() * (high - initialDelay);
  } else {
    delay = random() * backoffCeiling(options, attempt);
  }
  // A custom function returning garbage must not turn into a tight loop or a never-firing timer.
  if (!Number.isFinite(delay) || delay < 0) delay = backoffCeiling(options, attempt);
  return Math.round(Math.min(maxDelay, delay));
}

function pick(o: ResolvedBackoff) {
  return { initialDelay: o.initialDelay, multiplier: o.multiplier, maxDelay: o.maxDelay };
}
