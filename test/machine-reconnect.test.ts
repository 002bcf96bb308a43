import { describe, expect, it } from 'vitest';
import type { AuthErrorCode } from '../src/protocol/messages.js';
import { harness, tag } from './helpers/machine-harness.js';

/** The spec's close-code table, driven through the chart on a SimulatedClock. */
const TABLE: [number, 'reconnecting' | 'failed', string][] = [
  [1000, 'reconnecting', 'closed'],
  [1001, 'reconnecting', 'closed'],
  [1006, 'reconnecting', 'closed'],
  [1011, 'reconnecting', 'closed'],
  [1012, 'reconnecting', 'closed'],
  [1013, 'reconnecting', 'closed'],
  [1002, 'failed', 'protocol'],
  [1003, 'failed', 'protocol'],
  [1007, 'failed', 'protocol'],
  [1008, 'failed', 'protocol'],
  [1009, 'failed', 'protocol'],
  [4010, 'failed', 'protocol'],
  [4001, 'failed', 'auth-denied'],
  [4002, 'reconnecting', 'closed'],
  [4008, 'reconnecting', 'closed'],
  [4009, 'failed', 'replaced'],
  [4029, 'reconnecting', 'closed'],
];

describe('signalingMachine: the close-code table', () => {
  for (const [code, state, reason] of TABLE) {
    it(`server closes with ${code} → ${state} (${reason})`, async () => {
      const h = await harness();
      h.actor.send({ type: 'CONNECT' });
      await h.authenticate();
      h.socket().report({ type: 'SOCKET.CLOSE', code, reason: '' });
      expect(tag(h.actor)).toBe(state);
      expect(h.actor.getSnapshot().context.reason).toBe(reason);
      expect(h.actor.getSnapshot().context.closeCode).toBe(code);
    });
  }

  it('a failed machine stays failed (no timer) until CONNECT starts over', async () => {
    const h = await harness();
    h.actor.send({ type: 'CONNECT' });
    await h.authenticate();
    h.socket().report({ type: 'SOCKET.CLOSE', code: 4001, reason: '' });
    h.advance(10 * 60_000);
    expect(tag(h.actor)).toBe('failed');
    expect(h.sockets).toHaveLength(1);
    h.actor.send({ type: 'CONNECT' });
    expect(tag(h.actor)).toBe('connecting');
    expect(h.actor.getSnapshot().context.attempt).toBe(0);
  });
});

describe('signalingMachine: backoff', () => {
  it('waits the full-jitter delay: random × min(maxDelay, initial × 2^attempt)', async () => {
    const h = await harness({ random: () => 0.5, backoff: { initialDelay: 1000 } });
    h.actor.send({ type: 'CONNECT' });
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      h.socket().report({ type: 'SOCKET.CLOSE', code: 1006, reason: '' });
      const retryIn = h.actor.getSnapshot().context.retryIn as number;
      waits.push(retryIn);
      h.advance(retryIn - 1);
      expect(tag(h.actor)).toBe('reconnecting');
      h.advance(1);
      expect(tag(h.actor)).toBe('connecting');
    }
    expect(waits).toEqual([500, 1000, 2000, 4000]);
    expect(h.sockets).toHaveLength(5);
  });

  it('4002 gets one immediate retry, then backoff', async () => {
    const h = await harness({ backoff: { initialDelay: 1000, jitter: 'none' } });
    h.actor.send({ type: 'CONNECT' });
    h.socket().report({ type: 'SOCKET.CLOSE', code: 4002, reason: '' });
    expect(h.actor.getSnapshot().context.retryIn).toBe(0);
    h.advance(0);
    expect(tag(h.actor)).toBe('connecting');
    h.socket().report({ type: 'SOCKET.CLOSE', code: 4002, reason: '' });
    expect(h.actor.getSnapshot().context.retryIn).toBe(2000);
  });

  it('1012 (a draining server) reconnects after a jitter within the first step, to the next URL, counting no attempt', async () => {
    const urls = ['ws://127.0.0.1:1/', 'ws://127.0.0.1:2/', 'ws://127.0.0.1:3/'];
    let next = 0;
    const dialed: string[] = [];
    const random = [0.1, 0.75, 0.5];
    const h = await harness({
      random: () => random.shift() ?? 0.5,
      nextUrl: () => urls[next++ % urls.length] as string,
      backoff: { initialDelay: 400, maxDelay: 300, maxRetries: 1 },
    });
    h.actor.subscribe((s) => {
      if (s.matches({ session: 'connecting' }) && dialed.at(-1) !== s.context.config.url) {
        dialed.push(s.context.config.url);
      }
    });
    h.actor.send({ type: 'CONNECT' });
    // A failed attempt first: the counter is at 1, the last one maxRetries allows.
    h.socket().report({ type: 'SOCKET.CLOSE', code: 1006, reason: '' });
    expect(h.actor.getSnapshot().context.attempt).toBe(1);
    h.advance(h.actor.getSnapshot().context.retryIn as number);
    // Three drains in a row: each waits random × min(initialDelay, maxDelay) and dials the next URL;
    // the counter stays where it was, so maxRetries is never reached by servers restarting.
    for (const expected of [225, 150]) {
      await h.authenticate();
      h.socket().report({ type: 'SOCKET.CLOSE', code: 1012, reason: 'server restarting' });
      const { attempt, retryIn, reason, closeCode } = h.actor.getSnapshot().context;
      expect({ attempt, retryIn, reason, closeCode }).toEqual({
        attempt: 1,
        retryIn: expected,
        reason: 'closed',
        closeCode: 1012,
      });
      h.advance(expected);
      expect(tag(h.actor)).toBe('connecting');
    }
    expect(dialed).toEqual([urls[0], urls[1], urls[2], urls[0]]);
    // A real failure after them still counts (and here exhausts the one retry left).
    h.socket().report({ type: 'SOCKET.CLOSE', code: 1006, reason: '' });
    expect(tag(h.actor)).toBe('failed');
  });

  /** Backoff 100 ms, no jitter; the first session is refused with `code` and `retryAfter`, then closed. */
  async function refusedAndClosed(code: AuthErrorCode, retryAfter: number, closeCode: number) {
    const h = await harness({ backoff: { initialDelay: 100, jitter: 'none' } });
    h.actor.send({ type: 'CONNECT' });
    h.socket().report({ type: 'SOCKET.OPEN' });
    h.socket().report({ type: 'AUTH.ERROR', code, retryAfter });
    h.socket().report({ type: 'SOCKET.CLOSE', code: closeCode, reason: '' });
    return h;
  }

  it('4029 waits at least the retryAfter of the auth.error', async () => {
    const h = await refusedAndClosed('rate-limited', 7000, 4029);
    expect(h.actor.getSnapshot().context.retryIn).toBe(7000);
    h.advance(6999);
    expect(tag(h.actor)).toBe('reconnecting');
    h.advance(1);
    expect(tag(h.actor)).toBe('connecting');
    // The next wait is plain backoff again: retryAfter was used up.
    h.socket().report({ type: 'SOCKET.CLOSE', code: 1006, reason: '' });
    expect(h.actor.getSnapshot().context.retryIn).toBe(200);
  });

  it('a retryAfter beyond what a timer holds waits the longest a timer holds, not ~1 ms', async () => {
    const h = await refusedAndClosed('rate-limited', 1e12, 4029);
    expect(h.actor.getSnapshot().context.retryIn).toBe(2_147_483_647);
  });

  it('a retryAfter on any other auth.error is not a wait (only rate-limited carries one)', async () => {
    const h = await refusedAndClosed('expired', 7000, 1006);
    expect(h.actor.getSnapshot().context.retryIn).toBe(100);
  });

  it('maxRetries exceeded → failed (retries-exhausted)', async () => {
    const h = await harness({ backoff: { maxRetries: 2, initialDelay: 10 } });
    h.actor.send({ type: 'CONNECT' });
    for (let i = 0; i < 2; i++) {
      h.socket().report({ type: 'SOCKET.CLOSE', code: 1006, reason: '' });
      expect(tag(h.actor)).toBe('reconnecting');
      h.advance(10);
    }
    h.socket().report({ type: 'SOCKET.CLOSE', code: 1006, reason: '' });
    expect(tag(h.actor)).toBe('failed');
    expect(h.actor.getSnapshot().context.reason).toBe('retries-exhausted');
  });

  it('a server that accepts and drops at once cannot reset the counter (resetAfter)', async () => {
    const h = await harness({ backoff: { initialDelay: 100, jitter: 'none', resetAfter: 5000 } });
    h.actor.send({ type: 'CONNECT' });
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      await h.authenticate();
      h.advance(4999); // not long enough
      h.socket().report({ type: 'SOCKET.CLOSE', code: 1006, reason: '' });
      waits.push(h.actor.getSnapshot().context.retryIn as number);
      h.advance(waits.at(-1) as number);
    }
    expect(waits).toEqual([100, 200, 400]);
    await h.authenticate();
    h.advance(5000); // stayed authenticated long enough
    expect(h.actor.getSnapshot().context.attempt).toBe(0);
    h.socket().report({ type: 'SOCKET.CLOSE', code: 1006, reason: '' });
    expect(h.actor.getSnapshot().context.retryIn).toBe(100);
  });

  it('CONNECT and ONLINE retry now while waiting', async () => {
    for (const type of ['CONNECT', 'ONLINE'] as const) {
      const h = await harness({ backoff: { initialDelay: 60_000, jitter: 'none' } });
      h.actor.send({ type: 'CONNECT' });
      h.socket().report({ type: 'SOCKET.CLOSE', code: 1006, reason: '' });
      expect(tag(h.actor)).toBe('reconnecting');
      h.actor.send({ type });
      expect(tag(h.actor)).toBe('connecting');
      expect(h.sockets).toHaveLength(2);
    }
  });

  it('OFFLINE drops the socket at once (1001) and waits to reconnect', async () => {
    const h = await harness();
    h.actor.send({ type: 'CONNECT' });
    await h.authenticate();
    h.actor.send({ type: 'OFFLINE' });
    expect(tag(h.actor)).toBe('reconnecting');
    expect(h.actor.getSnapshot().context.reason).toBe('offline');
    expect(h.sockets[0]?.commands.at(-1)).toMatchObject({ type: 'SOCKET.CLOSE_WITH', code: 1001 });
    expect(h.sockets[0]?.stopped).toBe(true);
  });
});

describe('signalingMachine: DISCONNECT', () => {
  const drive: Record<string, (h: Awaited<ReturnType<typeof harness>>) => Promise<void>> = {
    disconnected: async () => {},
    connecting: async (h) => h.actor.send({ type: 'CONNECT' }),
    authenticating: async (h) => {
      h.actor.send({ type: 'CONNECT' });
      h.socket().report({ type: 'SOCKET.OPEN' });
    },
    connected: async (h) => {
      h.actor.send({ type: 'CONNECT' });
      await h.authenticate();
    },
    reconnecting: async (h) => {
      h.actor.send({ type: 'CONNECT' });
      h.socket().report({ type: 'SOCKET.CLOSE', code: 1006, reason: '' });
    },
    failed: async (h) => {
      h.actor.send({ type: 'CONNECT' });
      h.socket().report({ type: 'SOCKET.CLOSE', code: 4001, reason: '' });
    },
  };
  for (const [state, reach] of Object.entries(drive)) {
    it(`from ${state}: closes with 1000, leaves no timer, stays disconnected`, async () => {
      const h = await harness();
      await reach(h);
      expect(tag(h.actor)).toBe(state);
      const live = h.sockets.filter((s) => !s.stopped);
      h.actor.send({ type: 'DISCONNECT' });
      expect(tag(h.actor)).toBe('disconnected');
      for (const s of live) {
        expect(s.stopped).toBe(true);
        expect(s.commands.at(-1)).toEqual({ type: 'SOCKET.CLOSE_WITH', code: 1000, reason: '' });
      }
      expect((h.clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size).toBe(0);
      h.advance(24 * 3600_000);
      expect(tag(h.actor)).toBe('disconnected');
    });
  }
});
