// Soak: two clients exchange a numbered stream of relayed signals while the reference server process is
// killed with SIGKILL and restarted on the same port at random moments. Each sender sends its numbers
// one after another; what the server reports undeliverable (`peer-offline`, or lost with a dead
// socket) is retried with the same id once presence says the peer is back. The receiver must get every
// number exactly once, in order per sender.
//
// With --cluster, three server processes over a redis-server of the soak's own (Debian package
// `redis-server`, on a free port) take the place of the one: each client dials the list of their URLs,
// and each kill takes a random node, so signals cross nodes and clients move between them.
//
//   npm run soak                                   (build, then 50 restarts)
//   node scripts/soak.js [--restarts 50] [--min-up 100] [--max-up 600] [--max-down 200] [--cluster]
//
// Prints `lost N, duplicated M` (and the order check); exits 1 unless all three are 0.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const DIST = new URL('../dist/index.js', import.meta.url);
const CHILD = new URL('../test/fixtures/server-child.js', import.meta.url);
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
  },
});
const RESTARTS = Number(values.restarts);
const MIN_UP = Number(values['min-up']);
const MAX_UP = Number(values['max-up']);
const MAX_DOWN = Number(values['max-down']);
const log = (text) => values.quiet || process.stderr.write(`${text}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const between = (lo, hi) => lo + Math.random() * (hi - lo);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts the server child; resolves with { child, info } once it listens (retrying a busy port). */
async function startServer(config) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [CHILD.pathname, JSON.stringify(config)], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d) => {
          stderr += d;
        });
        const onExit = (code) => reject(new Error(`server exited (${code}): ${stderr.trim()}`));
        child.once('exit', onExit);
        createInterface({ input: child.stdout }).once('line', (line) => {
          child.off('exit', onExit);
          resolve({ child, info: JSON.parse(line) });
        });
      });
    } catch (error) {
      if (attempt >= 20 || !String(error).includes('EADDRINUSE')) throw error;
      await sleep(50);
    }
  }
}

function killHard(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** A redis-server of our own, without persistence; resolves once it answers PING. */
async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const { createConnection } = await import('node:net');
  const pong = () =>
    new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write('PING\r\n'));
      socket.once('data', (d) => resolve(String(d).startsWith('+PONG')) || socket.destroy());
      socket.once('error', () => resolve(false));
    });
  for (let i = 0; !(await pong()); i++) {
    if (i > 400) throw new Error('redis-server did not start');
    await sleep(25);
  }
  return { child, url: `redis://127.0.0.1:${port}` };
}

const seed = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
const redis = values.cluster ? await startRedis() : undefined;
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
redis?.child.kill('SIGKILL');

process.stdout.write(
  `${RESTARTS} ${redis ? 'node kills in a cluster of 3' : 'restarts'} in ${seconds} s; sent A→B ${sentAB}, B→A ${sentBA}; ` +
    `retried after peer-offline ${stats.retriesOffline}, after other refusals ${stats.retriesOther}\n`,
);
process.stdout.write(`out of order ${outOfOrder}\n`);
process.stdout.write(`lost ${lost}, duplicated ${duplicated}\n`);
process.exitCode = lost === 0 && duplicated === 0 && outOfOrder === 0 ? 0 : 1;
