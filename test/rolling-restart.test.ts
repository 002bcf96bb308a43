import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignalingClient, type SignalingClient } from '../src/client.js';
import { isSignalingError } from '../src/errors.js';
import { Identity } from '../src/identity/index.js';
import { ConnectionState } from '../src/machines/signaling.types.js';
import { ensureDist } from './helpers/dist.js';
import { type RedisProcess, startRedis } from './helpers/redis.js';
import { freePort, type ServerProcess, startNodes } from './helpers/server-process.js';
import { until } from './helpers/until.js';

/**
 * A rolling restart of a cluster, as an operator runs one: three server processes over a real
 * `redis-server`, 120 clients given the list of the three URLs (each in its own order, as an app would
 * shuffle it), every client streaming acknowledged signals to a peer that started on another node.
 * The nodes are restarted one by one — stop, wait for the exit, start again — first with SIGTERM
 * (drain: 1012 spread over `DRAIN_MS`), then with SIGINT (every session closed 1001 at once) for the
 * comparison. Nothing acked may be lost or delivered twice, no client may end `failed` or see 4029, and
 * the surviving nodes' event-loop p99 (prom-client's, scraped from /metrics) stays under 100 ms while they
 * take a drained node's clients.
 */

const CLIENTS = 120;
const DRAIN_MS = 1500;
/** Each client sends a signal every SEND_EVERY ms (±50%). */
const SEND_EVERY = 250;

let redis: RedisProcess;
const nodes: ServerProcess[] = [];
const clients: SignalingClient[] = [];

beforeAll(async () => {
  ensureDist();
  redis = await startRedis();
  const ports = [await freePort(), await freePort(), await freePort()];
  // Every node accepts proofs for every node's URL: a client signs for the URL it dialed.
  const origins = ports.map((port) => `ws://127.0.0.1:${port}/`);
  await startNodes(nodes, ports.length, (i) => ({
    port: ports[i] as number,
    origins,
    cluster: { redis: redis.url },
    metrics: true,
    drainMs: DRAIN_MS,
  }));
}, 60_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.disconnect()));
  for (const node of nodes) await node.stop();
  await redis?.stop();
});

/** The p99 event-loop delay since the previous scrape, ms (prom-client resets its histogram on each). */
async function loopP99(node: ServerProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('nodejs_eventloop_lag_p99_seconds '));
  return Number(line?.split(' ')[1]) * 1000;
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

describe('a rolling restart of a 3-node cluster', () => {
  it('loses no acked signal, duplicates none, fails no client, and keeps the survivors responsive', async () => {
    const identities = await Promise.all(Array.from({ length: CLIENTS }, () => Identity.generate()));
    const keys = identities.map((id) => id.publicKey);
    const urls = nodes.map((node) => node.url);
    /** Per client: the ids of signals it received, from each sender (duplicates counted apart). */
    const received = identities.map(() => new Set<string>());
    let duplicated = 0;
    let failed = 0;
    let rateLimited = 0;
    /** Between sessions: when each client left `connected`, and every gap, by phase. */
    let phase: 'drain' | 'no-drain' | undefined;
    const gaps: Record<'drain' | 'no-drain', number[]> = { drain: [], 'no-drain': [] };

    for (const [i, identity] of identities.entries()) {
      // Client i starts on node i % 3, its peer (i + 1) on the next node; the rest of its list is shuffled.
      const first = urls[i % 3] as string;
      const client = createSignalingClient({
        url: [first, ...shuffled(urls.filter((u) => u !== first))],
        identity,
        serverKey: nodes[0]?.publicKey,
        globalEvents: false,
      });
      clients.push(client);
      let leftAt: number | undefined;
      client.onStateChange((state, previous, details) => {
        if (details.closeCode === 4029) rateLimited++;
        if (state === ConnectionState.FAILED) failed++;
        if (previous === ConnectionState.CONNECTED) leftAt = performance.now();
        if (state === ConnectionState.CONNECTED && leftAt !== undefined) {
          if (phase) gaps[phase].push(performance.now() - leftAt);
          leftAt = undefined;
        }
      });
      client.on('signal', (message) => {
        const seen = received[i] as Set<string>;
        if (seen.has(message.id)) duplicated++;
        seen.add(message.id);
      });
      client.connect();
    }
    await Promise.all(clients.map((c) => c.ready()));

    // The stream: every client signals its peer every ~SEND_EVERY ms and records what was acked.
    const acked: { to: number; id: string }[] = [];
    const refusals = new Map<string, number>();
    const inFlight = new Set<Promise<void>>();
    let sending = true;
    let sent = 0;
    const senders = clients.map(async (client, i) => {
      let n = 0;
      while (sending) {
        const to = (i + 1) % CLIENTS;
        const id = `${i}-${n++}`;
        sent++;
        const done = client.send({ type: 'signal', to: keys[to] as string, id, data: { n } }).then(
          () => {
            acked.push({ to, id });
          },
          (error: unknown) => {
            const code = isSignalingError(error) ? error.code : String(error);
            refusals.set(code, (refusals.get(code) ?? 0) + 1);
          },
        );
        inFlight.add(done);
        void done.finally(() => inFlight.delete(done));
        await new Promise((r) => setTimeout(r, SEND_EVERY * (0.5 + Math.random())));
      }
    });

    // Both clients of every pair know each other across nodes before the restarts begin.
    await until(() => acked.length >= CLIENTS * 2, 15_000);

    const p99s: Record<'drain' | 'no-drain', number[]> = { drain: [], 'no-drain': [] };
    const restart = async (signal: 'SIGTERM' | 'SIGINT') => {
      const current = signal === 'SIGTERM' ? 'drain' : 'no-drain';
      phase = current;
      for (const node of nodes) {
        const survivors = nodes.filter((n) => n !== node);
        for (const survivor of survivors) await loopP99(survivor); // starts the window
        await node.kill(signal);
        // The window: while the survivors take the node's clients (the last lands within 500 ms of its
        // close, the backoff's first step); the restarted node's own start-up is not theirs.
        await sleep(600);
        for (const survivor of survivors) p99s[current].push(await loopP99(survivor));
        await node.restart();
        await sleep(300);
      }
    };
    const startedDrain = performance.now();
    await restart('SIGTERM');
    const drainSeconds = (performance.now() - startedDrain) / 1000;
    const startedAtOnce = performance.now();
    await restart('SIGINT');
    const atOnceSeconds = (performance.now() - startedAtOnce) / 1000;
    phase = undefined;

    sending = false;
    await Promise.all(senders);
    await Promise.all([...inFlight]);
    await until(() => acked.every(({ to, id }) => received[to]?.has(id)), 10_000).catch(() => {});
    const lost = acked.filter(({ to, id }) => !received[to]?.has(id)).length;

    const report = (name: 'drain' | 'no-drain') =>
      `${name}: ${gaps[name].length} moves, between sessions median ${median(gaps[name]).toFixed(0)} ms, max ${Math.max(...gaps[name]).toFixed(0)} ms; survivors' event-loop p99 per restart ${p99s[name].map((p) => p.toFixed(0)).join(', ')} ms`;
    console.log(
      [
        `rolling restart, ${CLIENTS} clients, 3 nodes: sent ${sent}, acked ${acked.length}, lost ${lost}, duplicated ${duplicated}, refused ${JSON.stringify(Object.fromEntries(refusals))}`,
        `${report('drain')} (SIGTERM, drain ${DRAIN_MS} ms; restarts took ${drainSeconds.toFixed(1)} s)`,
        `${report('no-drain')} (SIGINT, 1001 at once; restarts took ${atOnceSeconds.toFixed(1)} s)`,
      ].join('\n'),
    );

    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
    expect(failed).toBe(0);
    expect(rateLimited).toBe(0);
    // The requirement is the drain's; without it (the comparison) the figures are reported only.
    expect(Math.max(...p99s.drain)).toBeLessThan(100);
    // Each restart moved the node's clients (the drain's 1012 closes counted no failed attempt).
    expect(gaps.drain.length).toBeGreaterThanOrEqual(CLIENTS / 3);
    for (const client of clients) expect(client.state).toBe(ConnectionState.CONNECTED);
    // What an operator's dashboard would have shown: cross-node deliveries and accepted handshakes.
    const metrics = await Promise.all(
      nodes.map(async (node) => (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text()),
    );
    const total = (series: string) =>
      metrics.reduce((sum, text) => {
        const line = text.split('\n').find((l) => l.startsWith(`${series} `));
        return sum + Number(line?.slice(series.length + 1) ?? 0);
      }, 0);
    expect(total('signaling_actor_cross_node_deliveries_total{outcome="delivered"}')).toBeGreaterThan(0);
    expect(total('signaling_actor_handshakes_total{outcome="accepted",code=""}')).toBeGreaterThan(0);
  }, 90_000);
});
