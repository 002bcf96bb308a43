import { afterEach, describe, expect, it } from 'vitest';
import { createSignalingClient, type SignalingClient, type SignalingClientOptions } from '../src/client.js';
import { isSignalingError } from '../src/errors.js';
import { Identity } from '../src/identity/index.js';
import { reach } from './helpers/client-watch.js';
import { createTestServer, type Script, type TestServer } from './helpers/test-server.js';

/** Integration with a scripted protocol-v1 server on loopback: the cases a well-behaved server never shows. */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  script: (n: number) => Script,
  options: Partial<SignalingClientOptions> = {},
): Promise<{ server: TestServer; client: SignalingClient }> {
  const server = await createTestServer(script);
  cleanups.push(() => server.close());
  const client = createSignalingClient({
    url: server.url,
    identity: await Identity.generate(),
    globalEvents: false,
    backoff: { initialDelay: 20, maxDelay: 100 },
    ...options,
  });
  cleanups.push(() => client.disconnect());
  return { server, client };
}

const RECONNECT = [1000, 1001, 1011, 1012, 1013, 4008];
const FATAL: [number, string][] = [
  [1002, 'protocol'],
  [1003, 'protocol'],
  [1007, 'protocol'],
  [1008, 'protocol'],
  [1009, 'protocol'],
  [4010, 'protocol'],
  [4009, 'replaced'],
];

describe('the close-code table against a real socket', () => {
  for (const code of RECONNECT) {
    it(`server closes an authenticated session with ${code} → reconnecting, then connected again`, async () => {
      const { server, client } = await setup((n) => (n === 1 ? { afterAuth: (c) => c.ws.close(code) } : {}));
      const seen: string[] = [];
      client.onStateChange((s) => seen.push(s));
      client.connect();
      await expect.poll(() => server.conns.length).toBe(2);
      await reach(client, 'connected');
      expect(seen).toContain('reconnecting');
      expect(seen.at(-1)).toBe('connected');
    });
  }

  for (const [code, reason] of FATAL) {
    it(`server closes with ${code} → failed (${reason}), no further attempt`, async () => {
      const { server, client } = await setup(() => ({ afterAuth: (c) => c.ws.close(code) }));
      client.connect();
      await reach(client, 'failed');
      expect(client.actor.getSnapshot().context.reason).toBe(reason);
      await new Promise((r) => setTimeout(r, 200));
      expect(server.conns).toHaveLength(1);
    });
  }

  it('4001 with auth.error denied → failed (auth-denied)', async () => {
    const { client } = await setup(() => ({ reject: { code: 'denied', close: 4001 } }));
    client.connect();
    await reach(client, 'failed');
    expect(client.actor.getSnapshot().context.reason).toBe('auth-denied');
  });

  it('4002 expired → one immediate retry', async () => {
    const { server, client } = await setup(
      (n) => (n === 1 ? { reject: { code: 'expired', close: 4002 } } : {}),
      {
        backoff: { initialDelay: 10_000 },
      },
    );
    const t0 = Date.now();
    client.connect();
    await reach(client, 'connected');
    expect(server.conns).toHaveLength(2);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('4029 rate-limited → waits at least retryAfter', async () => {
    const { server, client } = await setup(
      (n) => (n === 1 ? { reject: { code: 'rate-limited', retryAfter: 400, close: 4029 } } : {}),
      { backoff: { initialDelay: 1, maxDelay: 1 } },
    );
    client.connect();
    await reach(client, 'reconnecting');
    const t0 = Date.now();
    await reach(client, 'connected');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(380);
    expect(server.conns).toHaveLength(2);
  });

  it('1006 (server process vanishes) → reconnecting', async () => {
    const { client } = await setup((n) => (n === 1 ? { afterAuth: (c) => c.ws.terminate() } : {}));
    client.connect();
    await reach(client, 'reconnecting');
    expect(client.actor.getSnapshot().context.closeCode).toBe(1006);
    await reach(client, 'connected');
  });
});

describe('heartbeat and malformed frames against a real socket', () => {
  it('a server that stops answering → client closes 4008 → reconnects', async () => {
    const { server, client } = await setup((n) => ({
      heartbeat: { interval: 100, timeout: 150 },
      silent: n === 1,
    }));
    client.connect();
    await reach(client, 'connected');
    await reach(client, 'reconnecting', 3000);
    expect(client.actor.getSnapshot().context.reason).toBe('heartbeat-timeout');
    expect(await server.conns[0]?.closed).toBe(4008);
    await reach(client, 'connected');
  });

  it('a malformed frame → client closes 1007 and reconnects with backoff', async () => {
    const { server, client } = await setup((n) => (n === 1 ? { afterAuth: (c) => c.send('{not json') } : {}));
    client.connect();
    await expect.poll(() => server.conns.length).toBe(2);
    expect(await server.conns[0]?.closed).toBe(1007);
    await reach(client, 'connected');
  });

  it('a binary frame → client closes 1003', async () => {
    const { server, client } = await setup((n) =>
      n === 1 ? { afterAuth: (c) => c.ws.send(new Uint8Array([1, 2, 3])) } : {},
    );
    client.connect();
    await expect.poll(() => server.conns.length).toBe(2);
    expect(await server.conns[0]?.closed).toBe(1003);
  });
});

describe('sending and receiving against a real socket', () => {
  it('a message over the announced limit is rejected locally; the connection stays', async () => {
    const { server, client } = await setup(() => ({ maxMessageBytes: 1000 }));
    client.connect();
    await reach(client, 'connected');
    const error = await client.send({ type: 'chat', text: 'x'.repeat(2000) }).catch((e) => e);
    expect(isSignalingError(error, 'too-large')).toBe(true);
    await client.send({ type: 'chat', text: 'ok' });
    await expect.poll(() => server.conns[0]?.received.some((m) => m.type === 'chat')).toBe(true);
    expect(client.state).toBe('connected');
  });

  it('routes by type and drops a repeated (from, id) before subscribers', async () => {
    const from = (await Identity.generate()).publicKey;
    const { client } = await setup(() => ({
      afterAuth: (c) => {
        const signal = { type: 'signal', from, id: 'a', data: 1 };
        c.send(signal);
        c.send(signal);
        c.send({ type: 'signal', from, id: 'b', data: 2 });
        c.send({ type: 'presence', key: from, online: true });
        c.send({ type: 'chat', text: 'hi' });
      },
    }));
    const signals: string[] = [];
    const chats: unknown[] = [];
    const all: string[] = [];
    client.on('signal', (m) => signals.push(m.id));
    client.on('chat', (m) => chats.push(m.text));
    client.onMessage((m) => all.push(m.type));
    client.connect();
    await expect.poll(() => all.length).toBe(4);
    expect(signals).toEqual(['a', 'b']);
    expect(chats).toEqual(['hi']);
    expect(all).toEqual(['signal', 'signal', 'presence', 'chat']);
  });

  it('an unacknowledged signal is resent after re-authentication and resolves on the ack', async () => {
    const to = (await Identity.generate()).publicKey;
    const { server, client } = await setup((n) => (n === 1 ? { noAck: true } : {}));
    client.connect();
    await reach(client, 'connected');
    const sent = client.send({ type: 'signal', to, id: 'r1', data: 'offer' });
    await expect.poll(() => server.conns[0]?.received.length).toBe(1);
    server.conns[0]?.ws.close(1012);
    await sent;
    expect(server.conns[1]?.received.filter((m) => m.type === 'signal')).toEqual([
      { type: 'signal', to, id: 'r1', data: 'offer' },
    ]);
  });

  it('a signal the server never acknowledges rejects with expired after queue.maxAge', async () => {
    const to = (await Identity.generate()).publicKey;
    const { server, client } = await setup(() => ({ noAck: true }), { queue: { maxAge: 300 } });
    client.connect();
    await reach(client, 'connected');
    const t0 = Date.now();
    const error = await client.send({ type: 'signal', to, id: 'lost', data: 1 }).catch((e) => e);
    expect(isSignalingError(error, 'expired')).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(server.conns[0]?.received.filter((m) => m.type === 'signal')).toHaveLength(1);
  });

  it('frames the server sends right after auth.ok (before the proof is checked) still arrive', async () => {
    const { client } = await setup(() => ({ afterAuth: (c) => c.send({ type: 'welcome' }) }));
    const got: unknown[] = [];
    // Held until the proof is verified, then delivered to a client that already says so: connected,
    // with this session's id and server key (an app builds its peer connection from them right here).
    client.on('welcome', (m) =>
      got.push([m.type, client.state, client.sessionId !== undefined, client.serverKey !== undefined]),
    );
    client.connect();
    await expect.poll(() => got).toEqual([['welcome', 'connected', true, true]]);
  });

  it('disconnect() resolves after the socket closed with 1000 and leaves no timer', async () => {
    const { server, client } = await setup(() => ({ heartbeat: { interval: 50, timeout: 50 } }));
    client.connect();
    await reach(client, 'connected');
    await client.disconnect();
    expect(client.state).toBe('disconnected');
    expect(server.conns[0]?.ws.readyState).toBe(server.conns[0]?.ws.CLOSED);
    expect(await server.conns[0]?.closed).toBe(1000);
    await new Promise((r) => setTimeout(r, 200));
    expect(server.conns).toHaveLength(1);
  });

  it('disconnect() then connect() at once: the disconnect resolves without waiting for the new socket', async () => {
    const { server, client } = await setup(() => ({}));
    client.connect();
    await reach(client, 'connected');
    const closed = client.disconnect();
    client.connect();
    await closed;
    expect(await server.conns[0]?.closed).toBe(1000);
    await reach(client, 'connected');
    expect(server.conns).toHaveLength(2);
  });

  it('connect/disconnect/send are safe re-entrantly from callbacks', async () => {
    const { server, client } = await setup(() => ({}));
    const to = (await Identity.generate()).publicKey;
    let once = true;
    let pending: Promise<unknown> | undefined;
    client.onStateChange((s) => {
      if (s === 'connected' && once) {
        once = false;
        client.connect();
        pending = client.send({ type: 'signal', to, id: 'x', data: null }).catch((e) => e);
        void client.disconnect().then(() => client.connect());
      }
    });
    client.connect();
    await expect.poll(() => server.conns.length).toBe(2);
    await reach(client, 'connected');
    // The signal was written, then the disconnect rejected it as never acknowledged.
    expect(isSignalingError(await pending, 'closed')).toBe(true);
  });

  it('browser hints: offline drops the socket, online retries now', async () => {
    const target = new EventTarget();
    const { server, client } = await setup(() => ({}), {
      globalEvents: target as never,
      backoff: { initialDelay: 60_000, jitter: 'none' },
    });
    client.connect();
    await reach(client, 'connected');
    target.dispatchEvent(new Event('offline'));
    expect(client.state).toBe('reconnecting');
    expect(await server.conns[0]?.closed).toBe(1001);
    target.dispatchEvent(new Event('online'));
    await reach(client, 'connected');
    expect(server.conns).toHaveLength(2);
  });
});
