import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { Identity } from '../src/identity/index.js';
import { createSignalingServer, type SignalingServer } from '../src/server/index.js';
import { FailureRateLimiter } from '../src/server/rate-limit.js';
import { authenticate, RawClient } from './helpers/server-client.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe('createSignalingServer options', () => {
  it.each([
    [{ port: -1 }, 'invalid-option'],
    [{ port: 1.5 }, 'invalid-option'],
    [{ authTimeout: 0 }, 'invalid-option'],
    [{ heartbeat: { interval: -5 } }, 'invalid-option'],
    [{ limits: { maxMessageBytes: 1000 } }, 'invalid-option'], // below the 4 KiB pre-auth limit
    [{ limits: { maxBufferedBytes: 0 } }, 'invalid-option'],
    [{ rateLimit: { maxFailures: 0 } }, 'invalid-option'],
    [{ path: 'ws' }, 'invalid-option'],
    [{ origins: [] }, 'invalid-origin'],
    [{ origins: Array.from({ length: 9 }, (_, i) => `ws://h${i}.example/`) }, 'invalid-origin'],
    [{ origins: ['http://example.com/'] }, 'invalid-origin'],
  ])('refuses %j with %s before listening', async (options, code) => {
    const identity = await Identity.generate();
    await expect(createSignalingServer({ identity, ...options } as never)).rejects.toMatchObject({
      name: 'SignalingError',
      code,
    });
  });

  it('await using: the server closes (sockets and port) when the scope ends', async () => {
    let port = 0;
    let client: RawClient | undefined;
    {
      await using server = await createSignalingServer({ identity: await Identity.generate() });
      port = server.port;
      client = await RawClient.open(server.url);
      expect(server.stats().connections).toBe(1);
    }
    expect((await client?.closed)?.code).toBe(1001);
    // The port is free again: a new server can take it.
    const again = await createSignalingServer({ identity: await Identity.generate(), port });
    cleanup.push(() => again.close());
    expect(again.port).toBe(port);
  });

  it('refuses a missing identity with invalid-key', async () => {
    await expect(createSignalingServer({} as never)).rejects.toMatchObject({ code: 'invalid-key' });
  });

  it('passes a listen error through (port in use)', async () => {
    const first = await createSignalingServer({ identity: await Identity.generate() });
    cleanup.push(() => first.close());
    await expect(
      createSignalingServer({ identity: await Identity.generate(), port: first.port }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('answers plain HTTP with 426 and other paths with 404', async () => {
    const server = await createSignalingServer({ identity: await Identity.generate(), path: '/signal' });
    cleanup.push(() => server.close());
    const http = await fetch(`http://127.0.0.1:${server.port}/signal`);
    expect(http.status).toBe(426);
    const wrongPath = new WebSocket(`ws://127.0.0.1:${server.port}/other`);
    const status = await new Promise<number | undefined>((resolve) =>
      wrongPath.once('unexpected-response', (_req, res) => resolve(res.statusCode)),
    );
    expect(status).toBe(404);
  });
});

describe('attaching to an existing http.Server', () => {
  async function listening(): Promise<Server> {
    const http = createServer((_req, res) => res.end('app'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => http.close(resolve)));
    return http;
  }

  it('serves its path, leaves other requests and upgrade paths to the app, and close() detaches only', async () => {
    const http = await listening();
    const port = (http.address() as AddressInfo).port;
    // The app's own WebSocket endpoint on another path.
    const appWss = new WebSocketServer({ noServer: true });
    http.on('upgrade', (request, socket, head) => {
      if (request.url === '/app') appWss.handleUpgrade(request, socket, head, (ws) => ws.send('app-ws'));
    });
    cleanup.push(() => appWss.close());

    const server: SignalingServer = await createSignalingServer({
      identity: await Identity.generate(),
      server: http,
      path: '/signal',
    });
    expect(server.port).toBe(port);
    expect(server.url).toBe(`ws://127.0.0.1:${port}/signal`);
    const { client, ok } = await authenticate(server.url);
    expect(ok.type).toBe('auth.ok');

    const appClient = new WebSocket(`ws://127.0.0.1:${port}/app`);
    expect(await new Promise((resolve) => appClient.once('message', (d) => resolve(d.toString())))).toBe(
      'app-ws',
    );
    appClient.close();
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('app');

    await server.close();
    expect((await client.waitClosed()).code).toBe(1001);
    // The http.Server still serves the app.
    expect(http.listening).toBe(true);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('app');
  });

  it('starts a given server that is not listening yet on host/port', async () => {
    const http = createServer();
    cleanup.push(() => new Promise((resolve) => http.close(resolve)));
    const server = await createSignalingServer({
      identity: await Identity.generate(),
      server: http,
      port: 0,
    });
    cleanup.push(() => server.close());
    expect(http.listening).toBe(true);
    const { client } = await authenticate(server.url);
    cleanup.push(() => client.ws.terminate());
  });

  it('reports a pending socket as closed 1001 when the server closes mid-handshake', async () => {
    const server = await createSignalingServer({ identity: await Identity.generate() });
    const raw = await RawClient.open(server.url);
    await raw.next('auth.challenge');
    await server.close();
    expect((await raw.waitClosed()).code).toBe(1001);
  });
});

describe('over TLS', () => {
  // A throwaway self-signed P-256 certificate for localhost / 127.0.0.1 (valid until 2126), test only.
  const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSgvg98+V+fR9B8A7
RXgeyUpxnuvxu9U3z7HCrtC4vq+hRANCAAQsfZ0n/fyGZlbPYNLrz/5wffANPKLm
Dnb1irdFK5PIYWxQuraf744/M0ZV/Cljih3VgcsXYarSiUR57JpufQ/2
-----END PRIVATE KEY-----
`;
  const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmjCCAUGgAwIBAgIUKnoJX0MqCF653uFKJyMs9N2kt7kwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNjAxNTY0M1oYDzIxMjYxMTAy
MDE1NjQzWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQsfZ0n/fyGZlbPYNLrz/5wffANPKLmDnb1irdFK5PIYWxQuraf744/
M0ZV/Cljih3VgcsXYarSiUR57JpufQ/2o28wbTAdBgNVHQ4EFgQUce6MZ5Hdds1Z
QIBoZtsWDis/f7wwHwYDVR0jBBgwFoAUce6MZ5Hdds1ZQIBoZtsWDis/f7wwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDRwAwRAIgY5o7KCy9MJdD0HoPUJLvda/phwgu3H3cSC6w1atgW+8CIERU
AXxiH/QbuHGcYvPcvzVVX9+1NxxQlvwK8DdDGEAr
-----END CERTIFICATE-----
`;

  it('on an https.Server: wss:// URL and origins, and the handshake binds the wss origin', async () => {
    const https = createHttpsServer({ key: TEST_KEY, cert: TEST_CERT });
    cleanup.push(() => new Promise((resolve) => https.close(resolve)));
    const server = await createSignalingServer({
      identity: await Identity.generate(),
      server: https,
      port: 0,
    });
    cleanup.push(() => server.close());
    expect(server.url).toBe(`wss://127.0.0.1:${server.port}/`);
    expect(server.origins).toEqual([`wss://127.0.0.1:${server.port}/`, `wss://localhost:${server.port}/`]);
    const { client, ok } = await authenticate(server.url, { socket: { ca: TEST_CERT } });
    cleanup.push(() => client.ws.terminate());
    expect(ok.type).toBe('auth.ok');
    // A proof for the plain ws:// URL of the same port is for another origin.
    await expect(
      authenticate(server.url, { origin: `ws://127.0.0.1:${server.port}/`, socket: { ca: TEST_CERT } }),
    ).rejects.toThrow(/auth.error/);
  });
});

describe('FailureRateLimiter', () => {
  it('counts failures per address in fixed windows and tells how long to wait', () => {
    let now = 1000;
    const limiter = new FailureRateLimiter({ maxFailures: 2, windowMs: 500, maxAddresses: 10 }, () => now);
    limiter.recordFailure('a');
    expect(limiter.retryAfter('a')).toBe(0);
    limiter.recordFailure('a');
    expect(limiter.retryAfter('a')).toBe(500);
    expect(limiter.retryAfter('b')).toBe(0);
    now += 200;
    expect(limiter.retryAfter('a')).toBe(300);
    now += 300;
    expect(limiter.retryAfter('a')).toBe(0);
    limiter.recordFailure('a');
    expect(limiter.retryAfter('a')).toBe(0); // a new window
  });

  it('stays bounded: beyond maxAddresses the oldest is forgotten, and sweep drops ended windows', () => {
    let now = 0;
    const limiter = new FailureRateLimiter({ maxFailures: 1, windowMs: 100, maxAddresses: 3 }, () => now);
    for (const address of ['a', 'b', 'c', 'd']) limiter.recordFailure(address);
    expect(limiter.size).toBe(3);
    expect(limiter.retryAfter('a')).toBe(0);
    expect(limiter.retryAfter('d')).toBe(100);
    now = 150;
    limiter.sweep();
    expect(limiter.size).toBe(0);
  });
});
