// What a cluster node pays for sessions that are not its own, measured in the same run against what
// it pays for its own: three nodes (server processes, --expose-gc) over a redis-server of the bench's
// own, and a single node without Redis for the handshake's baseline.
//
//   npm run build && node bench/cluster-scale.js [own sessions, default 3000] [phantom sessions,
//     default 100000] [churn per second, default 2000]
//
// Rows:
// 1. Sessions opened on node 1, none watched: heap (after a full GC) and CPU per session on node 1
//    (its own) and on node 2 (another node's). Goal for node 2: ≤ 64 B and ≤ 15 µs per session.
// 2. The slope: phantom sessions written straight into Redis by this process, with the same scripts
//    a node runs (10k → 100k+), then a churn of registrations and removals per second: node 2's heap
//    and CPU must stay flat (a design that mirrors every session grows with both).
// 3. The handshake: connect → authenticated, one at a time, on a cluster node (auth.ok waits for the
//    session's registration in Redis) against the single node, median of each.
import { createInterface } from 'node:readline';
import { createClient } from '@redis/client';
import { Identity } from '../dist/index.js';
import { ClusterKeys } from '../dist/server/cluster/keys.js';
import { CLUSTER_SCRIPTS, registerCall, unregisterCall } from '../dist/server/cluster/scripts.js';
import { killHard, startRedis, startServer } from '../scripts/lib/processes.js';
import { benchClient, connect } from './lib/bench-client.js';

const OWN = Number(process.argv[2] ?? 3000);
const PHANTOMS = Number(process.argv[3] ?? 100_000);
const CHURN_PER_S = Number(process.argv[4] ?? 2000);
const CHURN_SECONDS = 5;
const HANDSHAKES = 200;
const PREFIX = 'signaling-actor:';
const names = new ClusterKeys(PREFIX);

const redis = await startRedis();
const seed = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
const withUsage = (config) =>
  startServer({ port: 0, seed, rateLimit: false, logUsage: true, ...config }, ['--expose-gc']);
const cluster = { redis: redis.url };
const nodes = [await withUsage({ cluster }), await withUsage({ cluster }), await withUsage({ cluster })];
const single = await withUsage({});

/** Heap after a full GC and CPU µs so far of a server process (its SIGUSR2 report). */
const readers = new Map();
function usage(server) {
  let lines = readers.get(server);
  if (!lines) {
    lines = { waiting: [] };
    createInterface({ input: server.child.stdout }).on('line', (line) => {
      if (line.startsWith('{"usage"')) lines.waiting.shift()?.(JSON.parse(line).usage);
    });
    readers.set(server, lines);
  }
  return new Promise((resolve) => {
    lines.waiting.push(resolve);
    server.child.kill('SIGUSR2');
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const perSession = (before, after, n) => ({
  heap: (after.heap - before.heap) / n,
  cpu: (after.cpuUs - before.cpuUs) / n,
});
const fmt = ({ heap, cpu }) => `${heap.toFixed(0).padStart(6)} B  ${cpu.toFixed(1).padStart(6)} µs`;

// 1. Real sessions on node 1.
const clients = [];
const before = await Promise.all(nodes.map(usage));
for (let i = 0; i < OWN; i += 100) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(100, OWN - i) }, async () => {
      const client = benchClient(nodes[0].info, await Identity.generate());
      await connect(client);
      return client;
    }),
  );
  clients.push(...batch);
}
await sleep(1000);
const after = await Promise.all(nodes.map(usage));
const own = perSession(before[0], after[0], OWN);
const other = perSession(before[1], after[1], OWN);
const idle = perSession(before[2], after[2], OWN);
console.log(`${OWN} sessions opened on node 1, none watched — per session (heap after GC, CPU):`);
console.log(`  node 1 (its own)             ${fmt(own)}`);
console.log(`  node 2 (another node's)      ${fmt(other)}   goal ≤ 64 B and ≤ 15 µs`);
console.log(`  node 3 (another node's)      ${fmt(idle)}`);
console.log(
  `node 2's cost of a session on node 1 vs node 1's own: heap ${(other.heap / own.heap).toFixed(3)}×, CPU ${(other.cpu / own.cpu).toFixed(3)}×`,
);

// 2. Phantom sessions through the same scripts, from this process.
const writer = createClient({ url: redis.url, scripts: CLUSTER_SCRIPTS });
await writer.connect();
const PHANTOM_NODE = 'bench-phantom-node';
// A lease that does not end while the bench runs: no node reaps the phantoms.
await writer.zAdd(`${PREFIX}nodes`, { score: Date.now() + 3_600_000, value: PHANTOM_NODE });
let serial = 0;
async function register(count) {
  for (let done = 0; done < count; done += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, count - done) }, () => {
        const n = serial++;
        const key = `phantom-key-${n}`;
        return Promise.all([
          writer.hSet(names.nodeIndex(PHANTOM_NODE), `s${n}`, key),
          writer.register(
            ...registerCall(names, key, { id: `s${n}`, node: PHANTOM_NODE, at: Date.now(), maxPerKey: 16 }),
          ),
        ]);
      }),
    );
  }
}
async function unregister(first, count) {
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const key = `phantom-key-${first + i}`;
      return writer.unregister(...unregisterCall(names, key, `s${first + i}`, PHANTOM_NODE));
    }),
  );
}
console.log(
  `phantom sessions of another node, written into Redis (node 2's heap after GC, its CPU since the last row):`,
);
const start = await usage(nodes[1]);
let last = start;
for (const total of [10_000, Math.round(PHANTOMS / 2), PHANTOMS]) {
  await register(total - serial);
  await sleep(500);
  const now = await usage(nodes[1]);
  console.log(
    `  ${String(total).padStart(7)} remote sessions: heap ${((now.heap - start.heap) / 1024).toFixed(0).padStart(6)} KiB over the start, CPU ${((now.cpuUs - last.cpuUs) / 1000).toFixed(1)} ms`,
  );
  last = now;
}
const atPhantoms = last;
const churnStart = await usage(nodes[1]);
let removed = 0;
const churnBegan = performance.now();
for (let s = 0; s < CHURN_SECONDS; s++) {
  const tick = performance.now();
  await Promise.all([register(CHURN_PER_S), unregister(removed, CHURN_PER_S)]);
  removed += CHURN_PER_S;
  await sleep(Math.max(0, 1000 - (performance.now() - tick)));
}
const churnSeconds = (performance.now() - churnBegan) / 1000;
await sleep(500);
const churnEnd = await usage(nodes[1]);
const events = 2 * CHURN_PER_S * CHURN_SECONDS;
console.log(
  `  churn ${Math.round(events / churnSeconds)} remote registrations + removals/s for ${churnSeconds.toFixed(1)} s: node 2 heap ${((churnEnd.heap - atPhantoms.heap) / 1024).toFixed(0)} KiB, CPU ${((churnEnd.cpuUs - churnStart.cpuUs) / events).toFixed(2)} µs per remote event`,
);
console.log(
  `slope: node 2's heap per remote session 10k → ${PHANTOMS}: ${((atPhantoms.heap - start.heap) / PHANTOMS).toFixed(2)} B (the mirrored design: ~550 B, issue 20)`,
);

// 3. Handshake latency, cluster node vs single node, interleaved.
async function handshake(server) {
  const client = benchClient(server.info, await Identity.generate());
  const t0 = performance.now();
  await connect(client);
  const ms = performance.now() - t0;
  await client.disconnect();
  return ms;
}
const times = { single: [], cluster: [] };
for (let i = 0; i < HANDSHAKES; i++) {
  times.single.push(await handshake(single));
  times.cluster.push(await handshake(nodes[1]));
}
const [hs, hc] = [median(times.single), median(times.cluster)];
console.log(
  `handshake, connect → authenticated, median of ${HANDSHAKES}: single node ${hs.toFixed(2)} ms, cluster node ${hc.toFixed(2)} ms (registered before auth.ok): ${(hc / hs).toFixed(2)}×`,
);

await Promise.all(clients.map((c) => c.disconnect()));
await writer.close();
for (const s of [...nodes, single]) await killHard(s.child);
await killHard(redis.child);
