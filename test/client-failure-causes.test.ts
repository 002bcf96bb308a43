import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { createSignalingClient, SignalingClient, StateChangeDetails } from '../src/client.js';
import { Identity } from '../src/identity/index.js';
import { ConnectionState } from '../src/machines/signaling.types.js';
import { createSignalingServer } from '../src/server/index.js';
import { reach } from './helpers/client-watch.js';
import { testClient } from './helpers/test-client.js';

/**
 * Each way a connection can fail, with real sockets on loopback: the state change says why, as a
 * typed `{ code, message }`, and a socket that cannot even be made ends in `failed`, not a retry loop.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

/** A plain HTTP server answering every request, upgrades included, with `status`. */
async function plainHttp(status: number): Promise<number> {
  const server = createServer((_request, response) => {
    response.writeHead(status);
    response.end();
  });
  server.on('upgrade', (_request, socket) => {
    socket.end(`HTTP/1.1 ${status} Nope\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  return listening(server);
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Connects and resolves with the first state change into `reconnecting` or `failed`. */
async function firstFailure(
  url: string,
  extra: Partial<Parameters<typeof createSignalingClient>[0]> = {},
): Promise<{ client: SignalingClient; state: string; details: StateChangeDetails }> {
  const client = await testClient(cleanups, url, extra);
  const seen = new Promise<{ state: string; details: StateChangeDetails }>((resolve) => {
    client.onStateChange((state, _previous, details) => {
      if (state === ConnectionState.RECONNECTING || state === ConnectionState.FAILED)
        resolve({ state, details });
    });
  });
  client.connect();
  return { client, ...(await seen) };
}

describe('a failing connection says why', () => {
  it('a closed port: ECONNREFUSED', async () => {
    const { state, details } = await firstFailure(`ws://127.0.0.1:${await closedPort()}/`);
    expect(state).toBe('reconnecting');
    expect(details.reason).toBe('closed');
    expect(details.error?.code).toBe('ECONNREFUSED');
    expect(details.error?.message).toMatch(/ECONNREFUSED/);
  });

  it('an unresolvable host: ENOTFOUND', async () => {
    const { state, details } = await firstFailure('ws://no-such-host.invalid/');
    expect(state).toBe('reconnecting');
    // Some resolvers answer a temporary failure instead of "not found"; both name DNS.
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain(details.error?.code);
  });

  it('a plain HTTP server answering the upgrade with 404: http-404', async () => {
    const { state, details } = await firstFailure(`ws://127.0.0.1:${await plainHttp(404)}/`);
    expect(state).toBe('reconnecting');
    expect(details.error).toEqual({ code: 'http-404', message: expect.stringContaining('404') });
  });

  it('an upgrade answered 503: http-503, and the client keeps retrying', async () => {
    const { client, details } = await firstFailure(`ws://127.0.0.1:${await plainHttp(503)}/`, {
      backoff: { initialDelay: 10, maxDelay: 20, jitter: 'none' },
    });
    expect(details.error?.code).toBe('http-503');
    // The next attempt fails the same way and says so again.
    const again = await new Promise<StateChangeDetails>((resolve) =>
      client.onStateChange((state, _previous, d) => {
        if (state === ConnectionState.RECONNECTING) resolve(d);
      }),
    );
    expect(again.error?.code).toBe('http-503');
  });

  it('TLS to a plain port: tls', async () => {
    const { state, details } = await firstFailure(`wss://127.0.0.1:${await plainHttp(404)}/`);
    expect(state).toBe('reconnecting');
    expect(details.error?.code).toBe('tls');
    expect(details.error?.message).not.toMatch(/\n$/);
  });

  it('a WebSocket that cannot be constructed ends in failed (unsupported-runtime), not a retry loop', async () => {
    class Refused {
      constructor() {
        throw new TypeError('WebSocket is not a constructor');
      }
    }
    const { client, state, details } = await firstFailure('ws://127.0.0.1:9/', {
      WebSocket: Refused as never,
    });
    expect(state).toBe('failed');
    expect(details).toMatchObject({
      reason: 'unsupported-runtime',
      closeCode: undefined,
      error: { code: 'socket-construct', message: 'WebSocket is not a constructor' },
    });
    // Pending sends learn it too, and the error is in the actor's context for inspection.
    expect(client.actor.getSnapshot().context.error?.code).toBe('socket-construct');
  });

  it('each state change carries only what is true of it: the refusal on reconnecting, nothing on the next attempt', async () => {
    const port = await closedPort();
    const { client, details } = await firstFailure(`ws://127.0.0.1:${port}/`, {
      backoff: { initialDelay: 50, maxDelay: 100, jitter: 'none' },
    });
    expect(details).toMatchObject({ reason: 'closed', closeCode: 1006, error: { code: 'ECONNREFUSED' } });
    expect(client.actor.getSnapshot().context.error?.code).toBe('ECONNREFUSED');
    const changes: [string, string, StateChangeDetails][] = [];
    client.onStateChange((state, previous, d) => changes.push([previous, state, d]));
    // The server comes up on that port; the next retry authenticates.
    const server = await createSignalingServer({ identity: await Identity.generate(), port });
    cleanups.push(() => server.close({ timeout: 200 }));
    await reach(client, ConnectionState.CONNECTED);
    const nothing = { reason: undefined, retryIn: undefined, closeCode: undefined, error: undefined };
    // Retries that still met the closed port (before it listened) repeat the refusal: drop them.
    const retries = changes.map(([, state]) => state).lastIndexOf(ConnectionState.RECONNECTING);
    const last = changes.slice(retries + 1);
    expect(last).toEqual([
      ['reconnecting', 'connecting', nothing],
      ['connecting', 'authenticating', nothing],
      ['authenticating', 'connected', nothing],
    ]);
    expect(client.actor.getSnapshot().context.error).toBeUndefined();
  });
});
