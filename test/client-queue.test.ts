import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createSignalingClient, type SignalingClientOptions } from '../src/client.js';
import { isSignalingError, SignalingError } from '../src/errors.js';
import { Identity } from '../src/identity/index.js';
import { advance } from './helpers/machine-harness.js';

/** The send queue while not connected: bounded by count, bytes and age, every refusal typed. */

async function offline(options: Partial<SignalingClientOptions> = {}) {
  const clock = new SimulatedClock();
  const client = createSignalingClient({
    url: 'ws://127.0.0.1:9/',
    identity: await Identity.generate(),
    clock,
    now: () => clock.now(),
    globalEvents: false,
    ...options,
  });
  return { client, clock };
}

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof SignalingError ? e.code : `untyped: ${String(e)}`),
  );

describe('SignalingClient send queue', () => {
  it('rejects beyond maxMessages with queue-full', async () => {
    const { client } = await offline({ queue: { maxMessages: 3 } });
    const sends = [1, 2, 3, 4].map((i) => client.send({ type: 'chat', i }));
    expect(await code(sends[3] as Promise<void>)).toBe('queue-full');
    await client.disconnect();
    expect(await Promise.all(sends.slice(0, 3).map(code))).toEqual(['closed', 'closed', 'closed']);
  });

  it('rejects beyond maxBytes with queue-full, and a message over the frame limit with too-large', async () => {
    const { client } = await offline({ queue: { maxBytes: 100 } });
    const a = client.send({ type: 'chat', text: 'x'.repeat(60) });
    const b = client.send({ type: 'chat', text: 'y'.repeat(60) });
    expect(await code(b)).toBe('queue-full');
    const big = client.send({ type: 'chat', text: 'z'.repeat(70_000) });
    expect(await code(big)).toBe('too-large');
    await client.disconnect();
    expect(await code(a)).toBe('closed');
  });

  it('an entry older than maxAge rejects with expired, on its own timer', async () => {
    const { client, clock } = await offline({ queue: { maxAge: 1000 } });
    const first = code(client.send({ type: 'chat', n: 1 }));
    advance(clock, 500);
    const second = code(client.send({ type: 'chat', n: 2 }));
    advance(clock, 500);
    expect(await first).toBe('expired');
    let settled = false;
    void second.then(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    advance(clock, 500);
    expect(await second).toBe('expired');
  });

  it('refuses what is not a message, and connection-level types, with typed errors', async () => {
    const { client } = await offline();
    expect(await code(client.send(null as never))).toBe('malformed');
    expect(await code(client.send({ type: 'ping', t: 1 } as never))).toBe('protocol');
    expect(await code(client.send({ type: 'auth.response' } as never))).toBe('protocol');
    expect(await code(client.send({ type: 'signal', to: 'short', id: 'x', data: 1 }))).toBe('malformed');
    const cyclic: Record<string, unknown> = { type: 'chat' };
    cyclic.self = cyclic;
    expect(await code(client.send(cyclic as never))).toBe('malformed');
  });

  it('disconnect() with nothing open resolves at once and leaves no timer', async () => {
    const { client, clock } = await offline();
    void code(client.send({ type: 'chat' }));
    await client.disconnect();
    expect((clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size).toBe(0);
  });

  it('passes `inspect` to the actor: every transition can be watched', async () => {
    const events: string[] = [];
    const { client } = await offline({
      inspect: (e) => {
        if (e.type === '@xstate.event') events.push(e.event.type);
      },
    });
    client.connect();
    await client.disconnect();
    expect(events).toEqual(expect.arrayContaining(['xstate.init', 'CONNECT', 'DISCONNECT']));
  });

  it('a URL that is not ws:/wss: is refused when the client is made', async () => {
    const identity = await Identity.generate();
    for (const url of ['http://example.com/', 'not a url']) {
      let caught: unknown;
      try {
        createSignalingClient({ url, identity });
      } catch (error) {
        caught = error;
      }
      expect(isSignalingError(caught, 'invalid-origin')).toBe(true);
    }
  });
});
