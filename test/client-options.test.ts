import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createSignalingClient, type SignalingClientOptions } from '../src/client.js';
import { isSignalingError } from '../src/errors.js';
import { Identity } from '../src/identity/identity.js';

/**
 * The README says options are checked when the client is created: every option, one bad value each,
 * must throw `invalid-option` from `createSignalingClient` naming that option — not return a client
 * whose actor throws later (`ready()` rejecting `disconnected`, then an uncaught error).
 */

const url = 'ws://127.0.0.1:9/';
const identity = await Identity.generate();

function thrown(options: Partial<SignalingClientOptions>): unknown {
  try {
    const client = createSignalingClient({ url, identity, globalEvents: false, ...options } as never);
    void client.disconnect();
  } catch (error) {
    return error;
  }
  return undefined;
}

// [option named in the message, bad value as given]
const BAD: [string, Partial<Record<keyof SignalingClientOptions, unknown>>][] = [
  ['url', { url: 42 }],
  ['url', { url: [url, { host: 'x' }] }],
  ['identity', { identity: 'a seed string' }],
  ['identity.publicKey', { identity: { sign: async () => new Uint8Array(64) } }],
  ['serverKey', { serverKey: 'nope' }],
  ['backoff', { backoff: 5 }],
  ['backoff.maxRetries', { backoff: { maxRetries: -1 } }],
  ['backoff.maxRetries', { backoff: { maxRetries: 'many' } }],
  ['backoff.initialDelay', { backoff: { initialDelay: -5 } }],
  ['backoff.maxDelay', { backoff: { maxDelay: Number.NaN } }],
  ['backoff.multiplier', { backoff: { multiplier: '2' } }],
  ['backoff.resetAfter', { backoff: { resetAfter: Number.POSITIVE_INFINITY } }],
  ['backoff.jitter', { backoff: { jitter: 'bogus' } }],
  ['connectTimeout', { connectTimeout: 0 }],
  ['connectTimeout', { connectTimeout: '1000' }],
  ['authTimeout', { authTimeout: -1 }],
  ['heartbeat', { heartbeat: 25_000 }],
  ['heartbeat.interval', { heartbeat: { interval: Number.NaN } }],
  ['heartbeat.timeout', { heartbeat: { timeout: 2 ** 31 } }],
  ['queue', { queue: 'small' }],
  ['queue.maxMessages', { queue: { maxMessages: -1 } }],
  ['queue.maxBytes', { queue: { maxBytes: '1MB' } }],
  ['queue.maxAge', { queue: { maxAge: Number.NaN } }],
  ['inspect', { inspect: true }],
  ['inspect', { inspect: {} }],
  ['WebSocket', { WebSocket: 'ws' }],
  ['clock', { clock: { clearTimeout } }],
  ['now', { now: 0 }],
  ['random', { random: 0.5 }],
  ['globalEvents', { globalEvents: true }],
];

describe('createSignalingClient checks every option at creation', () => {
  it.each(BAD)('a bad `%s` throws invalid-option naming it (%j)', (name, options) => {
    const error = thrown(options as Partial<SignalingClientOptions>);
    expect(isSignalingError(error, 'invalid-option'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`^\`?${name.replace('.', '\\.')}\`? must be`));
  });

  it('good values of every option pass (so the checks above are not blanket refusals)', () => {
    const good: Partial<SignalingClientOptions> = {
      url: [url, new URL(url)],
      serverKey: identity.publicKey,
      backoff: {
        initialDelay: 0,
        multiplier: 1.5,
        maxDelay: 1000,
        jitter: () => 5,
        maxRetries: Number.POSITIVE_INFINITY,
        resetAfter: 0,
      },
      connectTimeout: 1,
      authTimeout: 2 ** 31 - 1,
      heartbeat: { interval: 1000 },
      queue: { maxMessages: 0, maxBytes: 10, maxAge: Number.POSITIVE_INFINITY },
      inspect: { next: () => {} },
      WebSocket: class {} as never,
      clock: new SimulatedClock(),
      now: () => 0,
      random: () => 0,
      globalEvents: { addEventListener() {}, removeEventListener() {} },
    };
    expect(thrown(good)).toBeUndefined();
    expect(
      thrown({ url: () => url, inspect: () => {}, backoff: { jitter: 'decorrelated' } }),
    ).toBeUndefined();
  });

  it('a URL that is not ws: or wss: is `invalid-origin`, as the handshake would call it', () => {
    const error = thrown({ url: 'http://x/' });
    expect(isSignalingError(error, 'invalid-origin')).toBe(true);
  });
});
