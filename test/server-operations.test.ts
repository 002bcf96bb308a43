import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Identity } from '../src/identity/index.js';
import { ConnectionState } from '../src/machines/signaling.types.js';
import type { SignalingServer } from '../src/server/index.js';
import { cleanupsFailingOnUnhandled } from './helpers/case-cleanup.js';
import { watch } from './helpers/client-watch.js';
import { authenticate, RawClient } from './helpers/server-client.js';
import { serverFixture } from './helpers/server-fixture.js';
import { testClient } from './helpers/test-client.js';
import { until } from './helpers/until.js';

/**
 * What an operator runs the server with: /healthz and /readyz on its own port (or from a server of
 * yours), Prometheus metrics, and the drain (1012 spread over `within`) that rolling restarts use.
 * The rolling restart of a cluster is in test/rolling-restart.test.ts.
 */

const { start, clients } = serverFixture({ rateLimit: false });
const cleanups = cleanupsFailingOnUnhandled();

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.once('error', reject);
    req.end();
  });
}

/** The HTTP status a WebSocket upgrade to `url` is answered with (101 when it opens). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', () => resolve(0));
  });
}

/** The value of the series `name{labels}` (or of `name` without labels) in an exposition text. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function raw(server: SignalingServer) {
  const session = await authenticate(server.url);
  clients.push(session.client);
  return session;
}

describe('health and readiness on the server port', () => {
  it('/healthz reports the counts, version and uptime; /readyz says 200; other paths keep their answers', async () => {
    const server = await start();
    await raw(server);
    const health = await get(server.port, '/healthz');
    expect(health.status).toBe(200);
    expect(health.headers['content-type']).toBe('application/json');
    expect(health.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(health.body);
    expect(body).toMatchObject({ ready: true, draining: false, connections: 1, sessions: 1, keysOnline: 1 });
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(body).not.toHaveProperty('cluster');
    const { uptimeSeconds: _, ...now } = server.health();
    expect(body).toMatchObject(now);

    const ready = await get(server.port, '/readyz?probe=1');
    expect([ready.status, JSON.parse(ready.body)]).toEqual([200, { ready: true }]);
    expect((await get(server.port, '/readyz', 'HEAD')).status).toBe(200);
    expect((await get(server.port, '/healthz', 'POST')).status).toBe(405);
    // Everything else answers as before: 426 for plain HTTP, and no /metrics unless asked for.
    expect((await get(server.port, '/')).status).toBe(426);
    expect((await get(server.port, '/metrics')).status).toBe(426);
  });

  it('/readyz answers 503 when the node is full (it refuses new sockets with 1013 then)', async () => {
    const server = await start({ limits: { maxConnections: 1 } });
    await raw(server);
    const ready = await get(server.port, '/readyz');
    expect([ready.status, JSON.parse(ready.body)]).toEqual([503, { ready: false, reason: 'full' }]);
    expect((await get(server.port, '/healthz')).status).toBe(200);
  });

  it('attached to a server of yours: handleRequest answers the probes first, your routes keep the rest', async () => {
    let signaling: SignalingServer | undefined;
    const http = createServer((req, res) => {
      if (signaling?.handleRequest(req, res)) return;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('app');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => http.close(resolve)));
    signaling = await start({ server: http });
    const { port } = http.address() as AddressInfo;
    expect((await get(port, '/readyz')).status).toBe(200);
    expect(JSON.parse((await get(port, '/healthz')).body)).toMatchObject({ sessions: 0 });
    expect(await get(port, '/anything')).toMatchObject({ status: 200, body: 'app' });
    // Not enabled: /metrics is yours too.
    expect(await get(port, '/metrics')).toMatchObject({ status: 200, body: 'app' });
  });
});

describe('Prometheus metrics', () => {
  it('is refused as an option unless a boolean', async () => {
    await expect(start({ metrics: 'yes' as never })).rejects.toMatchObject({ code: 'invalid-option' });
  });

  it('counts handshakes, signals and refusals, and reads the gauges when scraped', async () => {
    const server = await start({ metrics: true });
    const a = await raw(server);
    const b = await raw(server);
    const absent = (await Identity.generate()).publicKey;
    a.client.send({ type: 'presence.subscribe', keys: [b.identity.publicKey, absent] });
    await a.client.next('presence');
    await a.client.next('presence');
    a.client.send({ type: 'signal', to: b.identity.publicKey, id: 's1', data: { sdp: 1 } });
    await a.client.next('ack');
    a.client.send({ type: 'signal', to: absent, id: 's2', data: 1 });
    expect(await a.client.next('error')).toMatchObject({ code: 'peer-offline' });
    // A handshake refused: the proof is for another origin.
    const refused = await RawClient.open(server.url);
    clients.push(refused);
    const { createAuthResponse } = await import('../src/protocol/auth.js');
    const challenge = await refused.next('auth.challenge');
    refused.send(
      await createAuthResponse(challenge as never, {
        identity: await Identity.generate(),
        origin: 'ws://elsewhere.example/',
      }),
    );
    expect((await refused.waitClosed()).code).toBe(4001);

    const answer = await get(server.port, '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = answer.body;
    expect(sample(text, 'signaling_actor_sessions')).toBe(2);
    expect(sample(text, 'signaling_actor_connections')).toBe(2);
    expect(sample(text, 'signaling_actor_keys_online')).toBe(2);
    expect(sample(text, 'signaling_actor_presence_watched_keys')).toBe(2);
    expect(sample(text, 'signaling_actor_presence_subscriptions')).toBe(2);
    expect(sample(text, 'signaling_actor_handshake_queue_depth')).toBe(0);
    expect(sample(text, 'signaling_actor_draining')).toBe(0);
    expect(sample(text, 'signaling_actor_connections_max')).toBe(10_000);
    expect(sample(text, 'signaling_actor_handshakes_total{outcome="accepted",code=""}')).toBe(2);
    expect(sample(text, 'signaling_actor_handshakes_total{outcome="refused",code="denied"}')).toBe(1);
    expect(sample(text, 'signaling_actor_handshakes_total{outcome="refused",code="expired"}')).toBe(0);
    expect(sample(text, 'signaling_actor_handshake_duration_seconds_count')).toBe(2);
    expect(sample(text, 'signaling_actor_signals_total{outcome="acked"}')).toBe(1);
    expect(sample(text, 'signaling_actor_signals_total{outcome="peer-offline"}')).toBe(1);
    expect(sample(text, 'signaling_actor_signals_total{outcome="too-large"}')).toBe(0);
    expect(sample(text, 'signaling_actor_connections_refused_total{reason="draining"}')).toBe(0);
    expect(text).toMatch(/^signaling_actor_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m);
    // prom-client's process metrics, under their usual names.
    for (const name of [
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(text).toContain(`\n${name} `);
    }
    // No cluster, no Redis gauge; two servers in one process count apart.
    expect(text).not.toContain('signaling_actor_redis_up');
    const other = await start({ metrics: true });
    expect(sample((await get(other.port, '/metrics')).body, 'signaling_actor_sessions')).toBe(0);
  });
});

describe('drain', () => {
  it('turns /readyz to 503 at once, refuses upgrades 503, closes sessions 1012 spread over `within`, then stops', async () => {
    const server = await start({ metrics: true });
    const sessions = await Promise.all([0, 1, 2, 3].map(() => raw(server)));
    const started = performance.now();
    const closedAt = sessions.map(({ client }) =>
      client.closed.then((close) => ({ ...close, at: performance.now() - started })),
    );
    const drained = server.drain({ within: 600 });
    const ready = await get(server.port, '/readyz');
    expect([ready.status, JSON.parse(ready.body)]).toEqual([503, { ready: false, reason: 'draining' }]);
    expect(JSON.parse((await get(server.port, '/healthz')).body)).toMatchObject({
      ready: false,
      draining: true,
    });
    expect(await upgradeStatus(server.url)).toBe(503);
    const metrics = (await get(server.port, '/metrics')).body;
    expect(sample(metrics, 'signaling_actor_draining')).toBe(1);
    expect(sample(metrics, 'signaling_actor_connections_refused_total{reason="draining"}')).toBe(1);

    const closes = await Promise.all(closedAt);
    await drained;
    expect(closes.map((c) => c.code)).toEqual([1012, 1012, 1012, 1012]);
    expect(closes[0]?.reason).toBe('server restarting');
    // i × 600 / 4 ms: 0, 150, 300, 450 (the closes are checked every 20 ms).
    const times = closes.map((c) => c.at).sort((x, y) => x - y);
    for (const [i, at] of times.entries()) {
      expect(at).toBeGreaterThanOrEqual(i * 150 - 5);
      expect(at).toBeLessThan(i * 150 + 120);
    }
    await expect(get(server.port, '/healthz')).rejects.toThrow();
    expect(server.drain()).toBe(server.drain());
  });

  it('close() during a drain closes the rest at once', async () => {
    const server = await start();
    const sessions = await Promise.all([0, 1, 2].map(() => raw(server)));
    const drained = server.drain({ within: 60_000 });
    expect((await sessions[0]?.client.waitClosed())?.code).toBe(1012);
    const started = performance.now();
    await server.close();
    expect(performance.now() - started).toBeLessThan(1000);
    await drained;
    for (const { client } of sessions) expect((await client.waitClosed()).code).toBe(1012);
  });

  it('with no sessions it stops at once', async () => {
    const server = await start();
    const started = performance.now();
    await server.drain();
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("a client reconnects at once to its list's next URL, without a failed attempt counted", async () => {
    const identity = await Identity.generate();
    const first = await start({ identity });
    const second = await start({ identity });
    const client = await testClient(cleanups, [first.url, second.url], {
      serverKey: identity.publicKey,
      // A failure would wait ≥ 5 s: the test would time out rather than pass by luck.
      backoff: { initialDelay: 200, maxDelay: 200, jitter: () => 5000 },
    });
    const states = watch(client);
    client.connect();
    await client.ready();
    expect(first.stats().sessions).toBe(1);
    const drained = first.drain({ within: 1000 });
    await until(() => second.stats().sessions === 1, 3000);
    await drained;
    const reconnect = states.log.find((t) => t.state === ConnectionState.RECONNECTING);
    expect(reconnect).toMatchObject({ reason: 'closed', closeCode: 1012 });
    expect(reconnect?.retryIn).toBeLessThanOrEqual(200);
    expect(client.actor.getSnapshot().context.attempt).toBe(0);
    expect(states.states()).not.toContain(ConnectionState.FAILED);
  });
});
