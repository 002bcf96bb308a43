import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { SignalingClient, SignalingClientOptions } from '../src/client.js';
import type { WebSocketConstructor } from '../src/services/socket.js';
import { cleanupsFailingOnUnhandled } from './helpers/case-cleanup.js';
import { watch } from './helpers/client-watch.js';
import { ROOT } from './helpers/dist.js';
import { createFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { freePort, type ServerProcess, startServerProcess } from './helpers/server-process.js';
import { testClient } from './helpers/test-client.js';
import { createTestServer } from './helpers/test-server.js';
import { until as untilHolds } from './helpers/until.js';

/**
 * The fault matrix: the reference server as a real process that is killed with SIGKILL and started again
 * on the same port, a TCP proxy that cuts or resets the network, and hostile servers. Each case ends in
 * the state the spec's close-code table gives (`docs/protocol-v1.md`), with no unhandled
 * rejection anywhere.
 */

const cleanups = cleanupsFailingOnUnhandled();

const CLIENT_EXIT = join(ROOT, 'test/fixtures/client-exit.js');
const FAST_BACKOFF = { initialDelay: 50, maxDelay: 200 };

const client = ({
  url,
  ...options
}: Partial<SignalingClientOptions> & { url: string }): Promise<SignalingClient> =>
  testClient(cleanups, url, { backoff: FAST_BACKOFF, ...options });

async function server(options: Parameters<typeof startServerProcess>[0] = {}): Promise<ServerProcess> {
  const s = await startServerProcess(options);
  cleanups.push(() => s.stop());
  return s;
}

/** A ws server of our own that misbehaves as `onConnection` says; resolves with its URL. */
async function hostile(
  onConnection: (ws: WebSocket) => void,
): Promise<{ url: string; closeCodes: number[] }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const closeCodes: number[] = [];
  wss.on('connection', (ws) => {
    ws.on('close', (code) => closeCodes.push(code));
    ws.on('error', () => {});
    onConnection(ws);
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, closeCodes };
}

/** The matrix's cases expect their conditions within 3 s. */
const until = (check: () => boolean, timeout = 3000) => untilHolds(check, timeout);

describe('the server process dies (kill -9) and comes back on the same port', () => {
  it('during connect: the upgrade hangs on a frozen server, SIGKILL → reconnecting (1006); restart → connected', async () => {
    const s = await server();
    s.pause(); // the kernel still accepts the TCP connection; nobody answers the upgrade
    const c = await client({ url: s.url, serverKey: s.publicKey });
    const w = watch(c);
    c.connect();
    await new Promise((r) => setTimeout(r, 100));
    expect(c.state).toBe('connecting');
    const next = w.reach('reconnecting'); // watched before the kill: the first reconnect is the one
    await s.kill();
    const t = await next;
    expect(t.closeCode).toBe(1006);
    await s.restart();
    await w.reach('connected', 5000);
    expect(w.states()).toEqual(expect.arrayContaining(['connecting', 'reconnecting', 'connected']));
  });

  it('during authentication: frozen before its verdict, SIGKILL → reconnecting; restart → connected', async () => {
    const s = await server();
    const c = await client({ url: s.url, serverKey: s.publicKey });
    const w = watch(c);
    let frozeAt: string | undefined;
    const off = c.onStateChange((state) => {
      // The challenge is already on its way; the client's answer will never be read.
      if (state === 'authenticating' && frozeAt === undefined) {
        s.pause();
        frozeAt = state;
      }
    });
    c.connect();
    await until(() => frozeAt !== undefined);
    off();
    await new Promise((r) => setTimeout(r, 150));
    expect(c.state).toBe('authenticating');
    const next = w.reach('reconnecting'); // watched before the kill: the first reconnect is the one
    await s.kill();
    const t = await next;
    expect(t.closeCode).toBe(1006);
    expect(w.states()).not.toContain('connected');
    await s.restart();
    await w.reach('connected', 5000);
  });

  it('during a session: SIGKILL → reconnecting (1006), retries while down, restart → connected by itself', async () => {
    const s = await server();
    const c = await client({ url: s.url, serverKey: s.publicKey });
    const w = watch(c);
    c.connect();
    await w.reach('connected');
    const next = w.reach('reconnecting'); // watched before the kill: the first reconnect is the one
    await s.kill();
    const t = await next;
    expect(t.closeCode).toBe(1006);
    // Refused attempts while it is down stay in the reconnect loop (1006 → backoff), never `failed`.
    await new Promise((r) => setTimeout(r, 600));
    expect(w.states().filter((x) => x === 'connecting').length).toBeGreaterThan(2);
    expect(w.states()).not.toContain('failed');
    await s.restart();
    await w.reach('connected', 5000);
    expect(c.sessionId).toBeDefined();
  });

  it('a SIGTERM (graceful 1001, going away) → reconnecting; restart → connected', async () => {
    const s = await server();
    const c = await client({ url: s.url, serverKey: s.publicKey });
    const w = watch(c);
    c.connect();
    await w.reach('connected');
    const next = w.reach('reconnecting');
    await s.kill('SIGTERM');
    const t = await next;
    expect(t.closeCode).toBe(1001);
    await s.restart();
    await w.reach('connected', 5000);
  });
});

describe('the network fails between client and server (fault proxy)', () => {
  async function proxied(heartbeat = { interval: 300, timeout: 300 }) {
    const proxy: FaultProxy = await createFaultProxy(0);
    cleanups.push(() => proxy.close());
    const s = await server({ origins: [proxy.url] });
    proxy.target = s.port;
    const c = await client({ url: proxy.url, serverKey: s.publicKey, heartbeat });
    const w = watch(c);
    c.connect();
    await w.reach('connected');
    return { proxy, s, c, w };
  }

  it('silent drop both ways: found within heartbeat interval + timeout (4008), connected again once it heals', async () => {
    const { proxy, w } = await proxied({ interval: 300, timeout: 300 });
    const cut = performance.now();
    proxy.setMode('blackhole');
    const t = await w.reach('reconnecting', 3000);
    expect(t.reason).toBe('heartbeat-timeout');
    // ≤ interval + timeout, plus scheduling slack on a busy 2-core machine.
    expect(t.at - cut).toBeLessThanOrEqual(300 + 300 + 400);
    expect(t.at - cut).toBeGreaterThanOrEqual(300 - 20); // no sooner than one pong timeout
    proxy.setMode('forward');
    await w.reach('connected', 5000);
  });

  it('TCP reset mid-session → reconnecting (1006); the next connections are reset too; forward → connected', async () => {
    const { proxy, w } = await proxied();
    proxy.setMode('reset');
    const t = await w.reach('reconnecting');
    expect(t.closeCode).toBe(1006);
    const before = proxy.accepted;
    await until(() => proxy.accepted >= before + 2, 3000);
    expect(w.states()).not.toContain('failed');
    proxy.setMode('forward');
    await w.reach('connected', 5000);
  });

  it('raw bytes that are no WebSocket frame, injected mid-session: the client fails the socket (1006) → reconnecting → connected', async () => {
    const { proxy, w } = await proxied({ interval: 60_000, timeout: 10_000 });
    // 0xff: FIN + RSV1-3 set, opcode 15 — an invalid frame header for ws (protocol error 1002).
    proxy.inject(Buffer.from([0xff, 0xff, 0x00, 0x01, 0x02, 0x03]));
    const t = await w.reach('reconnecting', 3000);
    // ws fails the connection without a close frame from the peer: abnormal (1006), so reconnect.
    expect(t.closeCode).toBe(1006);
    expect(w.states().slice(0, 4)).toEqual(['connecting', 'authenticating', 'connected', 'reconnecting']);
    await w.reach('connected', 5000);
  });
});

describe('hostile servers', () => {
  it('garbage (not JSON) as the first frame → client closes 1007 → reconnecting (protocol-error), never connected', async () => {
    const h = await hostile((ws) => ws.send('}{ not json'));
    const c = await client({ url: h.url });
    const w = watch(c);
    c.connect();
    const t = await w.reach('reconnecting');
    expect(t.reason).toBe('protocol-error');
    await until(() => h.closeCodes.length > 0);
    expect(h.closeCodes[0]).toBe(1007);
    expect(w.states()).not.toContain('connected');
  });

  it('a binary frame → client closes 1003 → reconnecting', async () => {
    const h = await hostile((ws) => ws.send(Buffer.from([1, 2, 3])));
    const c = await client({ url: h.url });
    const w = watch(c);
    c.connect();
    await w.reach('reconnecting');
    await until(() => h.closeCodes.length > 0);
    expect(h.closeCodes[0]).toBe(1003);
  });

  it('an oversized frame before authentication (> 4 KiB) → client closes 1009 → reconnecting', async () => {
    const h = await hostile((ws) =>
      ws.send(JSON.stringify({ type: 'auth.challenge', pad: 'x'.repeat(5000) })),
    );
    const c = await client({ url: h.url });
    const w = watch(c);
    c.connect();
    await w.reach('reconnecting');
    await until(() => h.closeCodes.length > 0);
    expect(h.closeCodes[0]).toBe(1009);
  });

  it('an oversized frame after authentication (> announced maxMessageBytes) → client closes 1009 → reconnecting', async () => {
    const s = await createTestServer(() => ({
      maxMessageBytes: 8192,
      // Later than the client's check of the server's proof, so the limit in force is the announced one.
      afterAuth: (conn) => setTimeout(() => conn.send({ type: 'chat', pad: 'x'.repeat(10_000) }), 200),
    }));
    cleanups.push(() => s.close());
    const c = await client({ url: s.url, serverKey: s.publicKey });
    const w = watch(c);
    const got: unknown[] = [];
    c.onMessage((m) => got.push(m));
    c.connect();
    await w.reach('connected');
    await w.reach('reconnecting');
    expect(await s.conns[0]?.closed).toBe(1009);
    expect(got).toEqual([]);
  });

  it('a server that never sends the challenge → auth-timeout → reconnecting', async () => {
    const h = await hostile(() => {});
    const c = await client({ url: h.url, authTimeout: 300 });
    const w = watch(c);
    c.connect();
    const opened = await w.reach('authenticating');
    const t = await w.reach('reconnecting', 3000);
    expect(t.reason).toBe('auth-timeout');
    expect(t.at - opened.at).toBeGreaterThanOrEqual(290);
    expect(t.at - opened.at).toBeLessThan(300 + 500);
  });
});

describe('unreachable servers', () => {
  it('an unresolvable host → reconnecting (1006), retrying with backoff, never failed', async () => {
    // The sandbox's DNS resolver is off limits, so name resolution is answered locally with ENOTFOUND,
    // exactly what getaddrinfo says for `.invalid` (RFC 6761); the client's path is the real one.
    const looked: string[] = [];
    class LocalDnsWebSocket extends WebSocket {
      constructor(url: string) {
        super(url, {
          lookup: ((hostname: string, _options: unknown, callback: (error: Error) => void) => {
            looked.push(hostname);
            callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
          }) as never,
        });
      }
    }
    const c = await client({
      url: 'ws://nonexistent.invalid/',
      WebSocket: LocalDnsWebSocket as unknown as WebSocketConstructor,
    });
    const w = watch(c);
    c.connect();
    const t = await w.reach('reconnecting');
    expect(t.closeCode).toBe(1006);
    await until(() => looked.length >= 3, 3000);
    expect(looked[0]).toBe('nonexistent.invalid');
    expect(w.states()).not.toContain('failed');
  });

  it('TLS spoken to a plain ws port → reconnecting (1006), the server stays up', async () => {
    const s = await server();
    const c = await client({ url: `wss://127.0.0.1:${s.port}/` });
    const w = watch(c);
    c.connect();
    const t = await w.reach('reconnecting');
    expect(t.closeCode).toBe(1006);
    expect(w.states()).not.toContain('authenticating');
    await c.disconnect();
    // The plain server is unharmed: a plain client still authenticates.
    const ok = await client({ url: s.url, serverKey: s.publicKey });
    const w2 = watch(ok);
    ok.connect();
    await w2.reach('connected');
    expect(s.running).toBe(true);
  });
});

describe('after disconnect() nothing is left running', () => {
  it('a process that ran clients (connected, retrying, queued) and disconnected them exits by itself', async () => {
    const s = await server();
    const dead = await freePort();
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [
        CLIENT_EXIT,
        JSON.stringify({ url: s.url, serverKey: s.publicKey, deadUrl: `ws://127.0.0.1:${dead}/` }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    let out = '';
    let disconnectedAt = 0;
    child.stdout.on('data', (d) => {
      out += String(d);
      if (out.includes('\n') && disconnectedAt === 0) disconnectedAt = performance.now();
    });
    const exit = await new Promise<{ code: number | null; at: number }>((resolve) => {
      const timer = setTimeout(() => resolve({ code: null, at: performance.now() }), 15_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, at: performance.now() });
      });
    });
    expect(JSON.parse(out)).toEqual({
      disconnected: true,
      queued: 'closed',
      a: 'disconnected',
      b: 'disconnected',
    });
    expect(exit.code).toBe(0);
    // From the last line printed to the process gone: nothing kept the event loop alive.
    expect(exit.at - disconnectedAt).toBeLessThan(2000);
    expect(exit.at - started).toBeLessThan(10_000);
  });
});
