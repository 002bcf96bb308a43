// Soak: two clients exchange a numbered stream of relayed signals while the reference server process is
// killed with SIGKILL and restarted on the same port at random moments. Each sender sends its numbers
// one after another; what the server reports undeliverable (`peer-offline`, or lost with a dead
// socket) is retried with the same id once presence says the peer is back. The receiver must get every
// number exactly once, in order per sender.
//
// With --cluster, three server processes over a redis-server of the soak's own (Debian package
// `redis-server`, on a free port) take the place of the one: each client dials the list of their URLs,
// and each kill takes a random node, so signals cross nodes and clients move between them. With
// --redis-cluster, the nodes share a local Redis Cluster (3 masters + 3 replicas) instead.
//
//   npm run soak                                   (build, then 50 restarts)
//   node scripts/soak.js [--restarts 50] [--min-up 100] [--max-up 600] [--max-down 200] [--cluster [--redis-cluster]]
//
// Prints `lost N, duplicated M` (and the order check); exits 1 unless all three are 0.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { freePort, killHard, sleep, startRedis, startServer } from './lib/processes.js';
import { startRedisCluster } from './lib/redis-cluster.js';

const DIST = new URL('../dist/index.js', import.meta.url);
if (!existsSync(DIST)) {
  process.stderr.write('soak: dist/ is missing: run `npm run build` first (npm run soak does)\n');
  process.exit(2);
}
const { createSignalingClient, Identity, isSignalingError } = await import(DIST.href);

const { values } = parseArgs({
  options: {
    restarts: { type: 'string', default: '50' },
    'min-up': { type: 'string', default: '100' },
    'max-up': { type: 'string', default: '600' },
    'max-down': { type: 'string', default: '200' },
    quiet: { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
    'redis-cluster': { type: 'boolean', default: false },
  },
});
const RESTARTS = Number(values.restarts);
const MIN_UP = Number(values['min-up']);
const MAX_UP = Number(values['max-up']);
const MAX_DOWN = Number(values['max-down']);
const log = (text) => values.quiet || process.stderr.write(`${text}\n`);
const between = (lo, hi) => lo + Math.random() * (hi - lo);

const seed = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
const redis = !values.cluster
  ? undefined
  : values['redis-cluster']
    ? await startRedisCluster().then((c) => ({ url: c.urls, stop: () => c.stop() }))
    : await startRedis().then((r) => ({ url: r.url, stop: () => r.child.kill('SIGKILL') }));
const configs = [];
for (let i = 0; i < (redis ? 3 : 1); i++) {
  configs.push({
    port: await freePort(),
    seed,
    ...(redis ? { cluster: { redis: redis.url, leaseMs: 1000 } } : {}),
  });
}
const servers = [];
for (const config of configs) servers.push(await startServer(config));
const urls = servers.map((s) => s.info.url);
const { publicKey: serverKey } = servers[0].info;

/** A peer: a client, presence of the other side, and what it received per sender. */
async function makePeer(name, offset) {
  const identity = await Identity.generate();
  const client = createSignalingClient({
    // One URL, or the nodes' list starting at `offset`, so the two peers begin on different nodes.
    url: urls.length === 1 ? urls[0] : [...urls.slice(offset), ...urls.slice(0, offset)],
    identity,
    serverKey,
    globalEvents: false,
    backoff: { initialDelay: 50, maxDelay: 500 },
  });
  const peer = { name, client, key: identity.publicKey, received: [], other: undefined, online: false };
  let onlineWaiters = [];
  peer.waitOnline = (timeout) =>
    peer.online
      ? Promise.resolve()
      : new Promise((resolve) => {
          const timer = setTimeout(resolve, timeout);
          onlineWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
  client.on('presence', (m) => {
    if (m.key !== peer.other?.key) return;
    peer.online = m.online;
    if (m.online) {
      const waiters = onlineWaiters;
      onlineWaiters = [];
      for (const wake of waiters) wake();
    }
  });
  client.on('signal', (m) => peer.received.push(m.data));
  // Presence subscriptions live on a socket: subscribe again on every new session.
  client.onStateChange((state) => {
    if (state === 'connected' && peer.other) {
      client.send({ type: 'presence.subscribe', keys: [peer.other.key] }).catch(() => {});
    }
  });
  return peer;
}

const a = await makePeer('A', 0);
const b = await makePeer('B', 1);
a.other = b;
b.other = a;
const connected = (peer) =>
  new Promise((resolve) => {
    if (peer.client.state === 'connected') return resolve();
    const off = peer.client.onStateChange((s) => {
      if (s !== 'connected') return;
      off();
      resolve();
    });
  });
a.client.connect();
b.client.connect();
await Promise.all([connected(a), connected(b)]);

let stopping = false;
const stats = { retriesOffline: 0, retriesOther: 0 };

/** Sends 0, 1, 2, ... to the other peer until told to stop; each number until it is acknowledged. */
async function stream(from) {
  let n = 0;
  while (!stopping) {
    for (;;) {
      try {
        await from.client.send({ type: 'signal', to: from.other.key, id: `n${n}`, data: n });
        break;
      } catch (error) {
        if (isSignalingError(error, 'peer-offline')) {
          stats.retriesOffline++;
          from.online = false;
          await from.waitOnline(2000); // presence says it is back (or give it another try anyway)
        } else {
          // closed / expired / queue-full: the client said it could not deliver; try the same id again.
          stats.retriesOther++;
          await sleep(20);
        }
      }
    }
    n++;
  }
  return n; // numbers 0 .. n-1 were acknowledged
}

const streams = [stream(a), stream(b)];
const started = performance.now();
for (let i = 1; i <= RESTARTS; i++) {
  await sleep(between(MIN_UP, MAX_UP));
  const victim = Math.floor(Math.random() * servers.length);
  await killHard(servers[victim].child);
  await sleep(between(0, MAX_DOWN));
  servers[victim] = await startServer(configs[victim]);
  log(`restart ${i}/${RESTARTS} (node ${victim}): A→B ${b.received.length}, B→A ${a.received.length}`);
}
await sleep(300);
stopping = true;
const [sentAB, sentBA] = await Promise.all(streams);
await sleep(200); // frames relayed just before the last ack

function check(received, sent) {
  const seen = new Set();
  let duplicated = 0;
  let outOfOrder = 0;
  let last = -1;
  for (const n of received) {
    if (seen.has(n)) {
      duplicated++;
      continue;
    }
    seen.add(n);
    if (n < last) outOfOrder++;
    last = n;
  }
  let lost = 0;
  for (let n = 0; n < sent; n++) if (!seen.has(n)) lost++;
  return { lost, duplicated, outOfOrder };
}
const ab = check(b.received, sentAB);
const ba = check(a.received, sentBA);
const lost = ab.lost + ba.lost;
const duplicated = ab.duplicated + ba.duplicated;
const outOfOrder = ab.outOfOrder + ba.outOfOrder;
const seconds = ((performance.now() - started) / 1000).toFixed(1);

await Promise.all([a.client.disconnect(), b.client.disconnect()]);
for (const server of servers) server.child.kill('SIGTERM');
await redis?.stop();

process.stdout.write(
  `${RESTARTS} ${redis ? `node kills in a cluster of 3${values['redis-cluster'] ? ' on a Redis Cluster' : ''}` : 'restarts'} in ${seconds} s; sent A→B ${sentAB}, B→A ${sentBA}; ` +
    `retried after peer-offline ${stats.retriesOffline}, after other refusals ${stats.retriesOther}\n`,
);
process.stdout.write(`out of order ${outOfOrder}\n`);
process.stdout.write(`lost ${lost}, duplicated ${duplicated}\n`);
process.exitCode = lost === 0 && duplicated === 0 && outOfOrder === 0 ? 0 : 1;
