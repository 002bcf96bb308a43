// Relay across cluster nodes against relay on one node, measured in the same run: two nodes over a
// redis-server of the bench's own, and one single node without Redis, each a server process.
//
//   npm run build && node bench/cluster.js [signals per round, default 4000] [rounds, default 5]
//
// Rows (medians of the rounds): acked signals/s with up to 64 in flight, and the median time from
// send() to its ack with one in flight; and, as the floor under the cross-node latency, a round trip
// through Redis pub/sub (two hops, what a cross-node ack needs). Prints the ratios the issue sets:
//   cross-node vs same-node rate (≥ 0.5×) and latency (≤ 2×),
//   same-node in cluster mode vs a single node (≥ 0.9×: a local delivery never waits on Redis).
import { Identity } from '../dist/index.js';
import { killHard, startRedis, startServer } from '../scripts/lib/processes.js';
import { benchClient, connect } from './lib/bench-client.js';

const SIGNALS = Number(process.argv[2] ?? 4000);
const ROUNDS = Number(process.argv[3] ?? 5);
const WINDOW = 64;
const LATENCY_SAMPLES = 300;

const redis = await startRedis();
const seed = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
const cluster = { redis: redis.url };
const node1 = await startServer({ port: 0, seed, cluster, rateLimit: false });
const node2 = await startServer({ port: 0, seed, cluster, rateLimit: false });
const single = await startServer({ port: 0, seed, rateLimit: false });

async function peer(server) {
  const identity = await Identity.generate();
  const client = benchClient(server.info, identity, { queue: { maxMessages: 100_000, maxBytes: 1 << 26 } });
  await connect(client);
  return { client, key: identity.publicKey };
}

/** A sender and a receiver on the given servers. */
async function pair(from, to) {
  const sender = await peer(from);
  const receiver = await peer(to);
  // Registered before its auth.ok: the first signal is acked across nodes (it also warms the path).
  await sender.client.send({ type: 'signal', to: receiver.key, id: 'warm', data: 0 });
  return { sender, receiver };
}

let nextId = 0;
/** Acked signals per second with up to WINDOW in flight. */
async function rate({ sender, receiver }) {
  const start = performance.now();
  let sent = 0;
  const lane = async () => {
    while (sent < SIGNALS) {
      sent++;
      await sender.client.send({ type: 'signal', to: receiver.key, id: `s${nextId++}`, data: { n: sent } });
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  return SIGNALS / ((performance.now() - start) / 1000);
}

/** Median ms from send() to ack, one at a time. */
async function latency({ sender, receiver }) {
  const times = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t0 = performance.now();
    await sender.client.send({ type: 'signal', to: receiver.key, id: `l${nextId++}`, data: i });
    times.push(performance.now() - t0);
  }
  return median(times);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * The floor under a cross-node relay's extra latency: two hops through Redis pub/sub (the request to
 * the other node, its result back), here as a ping-pong between two node-redis connections, over
 * sharded pub/sub (SPUBLISH/SSUBSCRIBE, what the cluster uses) and, for comparison, classic pub/sub.
 */
async function pubSubRoundTrip(sharded) {
  const { createClient } = await import('@redis/client');
  const a = createClient({ url: redis.url });
  const b = createClient({ url: redis.url });
  const subA = a.duplicate();
  const subB = b.duplicate();
  await Promise.all([a, b, subA, subB].map((c) => c.connect()));
  let pong;
  const [subscribe, publish] = sharded ? ['sSubscribe', 'sPublish'] : ['subscribe', 'publish'];
  await subB[subscribe]('{bench}:ping', (m) => b[publish]('{bench}:pong', m));
  await subA[subscribe]('{bench}:pong', () => pong());
  const times = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t0 = performance.now();
    await new Promise((resolve) => {
      pong = resolve;
      a[publish]('{bench}:ping', String(i));
    });
    times.push(performance.now() - t0);
  }
  await Promise.all([a, b, subA, subB].map((c) => c.close()));
  return median(times);
}

const kinds = {
  'single node': await pair(single, single),
  'cluster, same node': await pair(node1, node1),
  'cluster, node 1 → node 2': await pair(node1, node2),
};
const results = Object.fromEntries(Object.keys(kinds).map((k) => [k, { rate: [], latency: [] }]));
const pubSub = [];
const classicPubSub = [];
for (let round = 0; round < ROUNDS; round++) {
  pubSub.push(await pubSubRoundTrip(true));
  classicPubSub.push(await pubSubRoundTrip(false));
  // Interleaved, so drift in the machine's load touches every kind alike.
  for (const [kind, p] of Object.entries(kinds)) {
    results[kind].rate.push(await rate(p));
    results[kind].latency.push(await latency(p));
  }
}

console.log(
  `relay: ${SIGNALS} signals × ${ROUNDS} rounds, ${WINDOW} in flight; latency: ${LATENCY_SAMPLES} one at a time`,
);
const m = {};
for (const [kind, r] of Object.entries(results)) {
  m[kind] = { rate: median(r.rate), latency: median(r.latency) };
  console.log(
    `  ${kind.padEnd(26)} ${Math.round(m[kind].rate).toString().padStart(7)} acked/s   median ack ${m[kind].latency.toFixed(3)} ms`,
  );
}
const same = m['cluster, same node'];
const cross = m['cluster, node 1 → node 2'];
console.log(`cross-node vs same-node rate: ${(cross.rate / same.rate).toFixed(2)}× (goal ≥ 0.5×)`);
console.log(`cross-node vs same-node latency: ${(cross.latency / same.latency).toFixed(2)}× (goal ≤ 2×)`);
const floor = median(pubSub);
console.log(
  `  Redis sharded pub/sub round trip (the two hops a cross-node ack needs): ${floor.toFixed(3)} ms ` +
    `(classic pub/sub: ${median(classicPubSub).toFixed(3)} ms); cross-node latency − same-node = ` +
    `${(cross.latency - same.latency).toFixed(3)} ms = ${((cross.latency - same.latency) / floor).toFixed(2)}× that floor`,
);
console.log(
  `cluster same-node vs single node rate: ${(same.rate / m['single node'].rate).toFixed(2)}× (goal ≥ 0.9×)`,
);

for (const p of Object.values(kinds))
  await Promise.all([p.sender.client.disconnect(), p.receiver.client.disconnect()]);
for (const s of [node1, node2, single]) await killHard(s.child);
await killHard(redis.child);
