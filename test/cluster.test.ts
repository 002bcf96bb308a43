import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSignalingClient, type SignalingClient } from '../src/client.js';
import { isSignalingError } from '../src/errors.js';
import { Identity } from '../src/identity/index.js';
import { ConnectionState } from '../src/machines/signaling.types.js';
import type { Presence, SignalIn } from '../src/protocol/messages.js';
import { createSignalingServer } from '../src/server/index.js';
import { reach } from './helpers/client-watch.js';
import { clusterPeer } from './helpers/cluster-peer.js';
import { ensureDist } from './helpers/dist.js';
import { type RedisProcess, startRedis } from './helpers/redis.js';
import { RawClient } from './helpers/server-client.js';
import { type ServerProcess, startNodes } from './helpers/server-process.js';
import { eventually, until } from './helpers/until.js';

/**
 * The reference server as a cluster: three server processes over a real `redis-server`, real clients
 * spread across them. Nodes and Redis are killed with SIGKILL.
 */

const LEASE_MS = 1000;
let redis: RedisProcess;
const nodes: ServerProcess[] = [];
const clients: SignalingClient[] = [];

beforeAll(async () => {
  ensureDist();
  redis = await startRedis();
  await startNodes(nodes, 3, () => ({
    cluster: { redis: redis.url, leaseMs: LEASE_MS },
    limits: { maxSessionsPerKey: 2 },
    logWarnings: true,
  }));
}, 60_000);
afterAll(async () => {
  for (const node of nodes) await node.stop();
  await redis?.stop();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.disconnect()));
  for (const node of nodes) if (!node.running) await node.restart();
});

const peer = (node: ServerProcess, identity?: Identity) => clusterPeer(clients, node, identity);

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ack',
    (e: unknown) => (isSignalingError(e) ? e.code : String(e)),
  );

/**
 * Every presence frame `watcher` hears after subscribing to `key`, a key already authenticated on some
 * node: the first answer already says online (the session was registered before its auth.ok).
 */
async function watchOnline(watcher: SignalingClient, key: string): Promise<Presence[]> {
  const seen: Presence[] = [];
  watcher.on('presence', (m) => {
    if (m.key === key) seen.push(m);
  });
  await watcher.send({ type: 'presence.subscribe', keys: [key] });
  await until(() => seen.length > 0);
  expect(seen.map((m) => m.online)).toEqual([true]);
  return seen;
}

/** Sends until the ack comes: after a Redis outage, the nodes register their sessions again once it is back. */
async function sendOnceKnown(from: SignalingClient, to: string, id: string, data: unknown, timeout = 5000) {
  await eventually(
    async () =>
      (await outcome(from.send({ type: 'signal', to, id: `${id}-probe-${Date.now()}`, data: null }))) ===
      'ack',
    timeout,
  );
  return outcome(from.send({ type: 'signal', to, id, data }));
}

describe('a cluster of three nodes over Redis', () => {
  it('relays a signal across nodes to every session of the key, acked; peer-offline when no node has it', async () => {
    const a = await peer(nodes[0] as ServerProcess);
    const b1 = await peer(nodes[1] as ServerProcess);
    const b2 = await peer(nodes[2] as ServerProcess, b1.identity);
    const seen1 = new Map<string, SignalIn>();
    const seen2 = new Map<string, SignalIn>();
    b1.client.on('signal', (m) => seen1.set(m.id, m));
    b2.client.on('signal', (m) => seen2.set(m.id, m));
    // No waiting for the sessions to be known across nodes: they were registered before their auth.ok.
    expect(
      await outcome(a.client.send({ type: 'signal', to: b1.key, id: 'x1', data: { sdp: 'offer' } })),
    ).toBe('ack');
    await until(() => seen1.has('x1') && seen2.has('x1'));
    expect(seen1.get('x1')).toMatchObject({ from: a.key, data: { sdp: 'offer' } });
    expect(seen2.get('x1')).toMatchObject({ from: a.key, data: { sdp: 'offer' } });

    const nobody = (await Identity.generate()).publicKey;
    expect(await outcome(a.client.send({ type: 'signal', to: nobody, id: 'x2', data: 1 }))).toBe(
      'peer-offline',
    );
  });

  it('presence: a subscriber on one node hears keys come and go on the others', async () => {
    const watcher = await peer(nodes[0] as ServerProcess);
    const watchedId = await Identity.generate();
    const seen: Presence[] = [];
    watcher.client.on('presence', (m) => seen.push(m));
    await watcher.client.send({ type: 'presence.subscribe', keys: [watchedId.publicKey] });
    await until(() => seen.length === 1);
    expect(seen[0]).toMatchObject({ online: false });
    const watched = await peer(nodes[2] as ServerProcess, watchedId);
    await until(() => seen.some((m) => m.online));
    await watched.client.disconnect();
    await until(() => seen.at(-1)?.online === false);
    expect(seen.map((m) => m.online)).toEqual([false, true, false]);
  });

  it('maxSessionsPerKey counts every node: the oldest session is closed 4009 wherever it is', async () => {
    const identity = await Identity.generate();
    const first = await peer(nodes[0] as ServerProcess, identity);
    const second = await peer(nodes[1] as ServerProcess, identity);
    expect(second.client.state).toBe(ConnectionState.CONNECTED);
    const third = await peer(nodes[2] as ServerProcess, identity);
    await reach(first.client, ConnectionState.FAILED, 5000);
    expect(first.client.actor.getSnapshot().context).toMatchObject({ reason: 'replaced', closeCode: 4009 });
    expect(second.client.state).toBe(ConnectionState.CONNECTED);
    expect(third.client.state).toBe(ConnectionState.CONNECTED);
  });

  it('a node killed -9: its peers are offline cluster-wide within the lease, announced by the survivors', async () => {
    const watcher = await peer(nodes[0] as ServerProcess);
    const victim = await peer(nodes[1] as ServerProcess);
    const seen = await watchOnline(watcher.client, victim.key);
    // The victim must not come back on another node and confuse the count: no reconnects.
    victim.client.actor.stop();
    const killedAt = Date.now();
    await (nodes[1] as ServerProcess).kill();
    await until(() => seen.at(-1)?.online === false, 5000);
    // Within the lease plus one sweep period (lease/3) and round trips; 3× leaves room for a loaded machine.
    expect(Date.now() - killedAt).toBeLessThan(LEASE_MS * 3);
    expect(await outcome(watcher.client.send({ type: 'signal', to: victim.key, id: 'k1', data: 1 }))).toBe(
      'peer-offline',
    );
  });

  it('a client with the list of node URLs moves to the next node when its node dies, and stays reachable', async () => {
    const sender = await peer(nodes[0] as ServerProcess);
    const identity = await Identity.generate();
    const mobile = createSignalingClient({
      url: [nodes[1] as ServerProcess, nodes[2] as ServerProcess].map((n) => n.url),
      identity,
      serverKey: (nodes[1] as ServerProcess).publicKey,
      globalEvents: false,
      backoff: { initialDelay: 50, maxDelay: 200 },
    });
    clients.push(mobile);
    const urls: string[] = [];
    mobile.onStateChange((state) => {
      if (state === ConnectionState.CONNECTED) urls.push(mobile.actor.getSnapshot().context.config.url);
    });
    mobile.connect();
    await mobile.ready();
    expect(urls).toEqual([(nodes[1] as ServerProcess).url]);
    expect(
      await outcome(sender.client.send({ type: 'signal', to: identity.publicKey, id: 'm1', data: 1 })),
    ).toBe('ack');

    await (nodes[1] as ServerProcess).kill();
    // Its next attempt dials node 2, whose URL is a transcript origin of its own: it authenticates there.
    await eventually(async () => urls.length === 2, 10_000);
    expect(urls[1]).toBe((nodes[2] as ServerProcess).url);
    await mobile.ready();
    expect(
      await outcome(sender.client.send({ type: 'signal', to: identity.publicKey, id: 'm2', data: 2 })),
    ).toBe('ack');
  }, 30_000);

  it('Redis killed -9: local relay goes on, cross-node gets peer-offline, and resumes once Redis is back', async () => {
    const a = await peer(nodes[0] as ServerProcess);
    const local = await peer(nodes[0] as ServerProcess);
    const far = await peer(nodes[2] as ServerProcess);
    expect(await outcome(a.client.send({ type: 'signal', to: far.key, id: 'r0', data: 1 }))).toBe('ack');

    const outagesLogged = () =>
      nodes.map((node) => node.warnings().filter((m) => m.startsWith('redis unreachable')).length);
    const loggedBefore = outagesLogged();
    await redis.kill();
    expect(await outcome(a.client.send({ type: 'signal', to: local.key, id: 'r1', data: 1 }))).toBe('ack');
    await eventually(
      async () =>
        (await outcome(a.client.send({ type: 'signal', to: far.key, id: `r2-${Date.now()}`, data: 1 }))) ===
        'peer-offline',
      5000,
    );
    // New peers still authenticate while Redis is away.
    const late = await peer(nodes[1] as ServerProcess);
    expect(late.client.state).toBe(ConnectionState.CONNECTED);
    // Long enough for several reconnect attempts (50, 100, 200, 400 ms…): each node says it once.
    await new Promise((r) => setTimeout(r, 1500));
    expect(outagesLogged().map((n, i) => n - (loggedBefore[i] as number))).toEqual([1, 1, 1]);

    // A session that closes while Redis is away: its node leaves its channel once Redis is back.
    await local.client.disconnect();
    await redis.restart();
    // Within the Redis client's reconnect backoff (≤ 2 s) and a renewal (lease/3), with room for load.
    expect(await sendOnceKnown(a.client, far.key, 'r3', 1, 15_000)).toBe('ack');
    expect(await sendOnceKnown(far.client, late.key, 'r4', 1, 15_000)).toBe('ack');
    const channels = async () =>
      (await promisify(execFile)('redis-cli', ['-p', String(redis.port), 'pubsub', 'shardchannels'])).stdout;
    await eventually(async () => (await channels()).includes(`{${far.key}}:d`));
    expect(await channels()).not.toContain(`{${local.key}}:d`);
  }, 45_000);

  it('a node frozen past its lease is reaped, and registers its sessions again when it thaws', async () => {
    const watcher = await peer(nodes[1] as ServerProcess);
    const target = await peer(nodes[0] as ServerProcess);
    const seen = await watchOnline(watcher.client, target.key);
    (nodes[0] as ServerProcess).pause();
    try {
      // Its lease ends, a survivor reaps it: the watcher hears the key go offline.
      await until(() => seen.at(-1)?.online === false, LEASE_MS * 4);
    } finally {
      (nodes[0] as ServerProcess).resume();
    }
    // Thawed, its sockets are still open (the clients' heartbeat is slower than this): the node finds
    // its lease was gone and registers its sessions again, and every node sees the key again.
    await until(() => seen.at(-1)?.online === true, LEASE_MS * 4);
    expect(target.client.state).toBe(ConnectionState.CONNECTED);
    const late = await peer(nodes[2] as ServerProcess);
    expect(await watchOnline(late.client, target.key)).toHaveLength(1);
    expect(await outcome(late.client.send({ type: 'signal', to: target.key, id: 'thawed', data: 1 }))).toBe(
      'ack',
    );
  }, 30_000);

  it('Redis frozen (SIGSTOP) past the lease: peer-offline across nodes meanwhile, and no node reaped once it thaws', async () => {
    const a = await peer(nodes[0] as ServerProcess);
    const local = await peer(nodes[0] as ServerProcess);
    const far = await peer(nodes[2] as ServerProcess);
    const seen = await watchOnline(a.client, far.key);
    expect(await outcome(a.client.send({ type: 'signal', to: far.key, id: 'z0', data: 1 }))).toBe('ack');
    const farSession = far.client.sessionId;
    const heardBefore = seen.length;

    redis.pause();
    try {
      expect(await outcome(a.client.send({ type: 'signal', to: local.key, id: 'z1', data: 1 }))).toBe('ack');
      // The node waits one lease for the other nodes' word, which cannot come, then says so.
      const asked = Date.now();
      expect(await outcome(a.client.send({ type: 'signal', to: far.key, id: 'z2', data: 1 }))).toBe(
        'peer-offline',
      );
      expect(Date.now() - asked).toBeGreaterThanOrEqual(LEASE_MS - 100);
      // A presence subscribe is answered within a second from the node's own view, not held by Redis.
      const fresh = (await Identity.generate()).publicKey;
      const answered = new Promise<Presence>((resolve) =>
        a.client.on('presence', (m) => m.key === fresh && resolve(m)),
      );
      const subscribedAt = Date.now();
      await a.client.send({ type: 'presence.subscribe', keys: [fresh] });
      expect(await answered).toMatchObject({ online: false });
      expect(Date.now() - subscribedAt).toBeLessThan(2500);
      await a.client.send({ type: 'presence.unsubscribe', keys: [fresh] });
      // A client authenticating meanwhile is not held by Redis past auth.ok's wait, and the node says
      // that other nodes may not find it yet.
      const lateNode = nodes[1] as ServerProcess;
      const authStarted = Date.now();
      await peer(lateNode);
      // It waited the bound (REGISTER_WAIT_MS, 1 s) and no longer.
      expect(Date.now() - authStarted).toBeGreaterThanOrEqual(950);
      expect(Date.now() - authStarted).toBeLessThan(2500);
      expect(lateNode.warnings().join('\n')).toMatch(
        /auth\.ok sent before its registration in redis completed/,
      );
      // Frozen for three leases: every lease in Redis is past its end when it thaws.
      await new Promise((r) => setTimeout(r, 3 * LEASE_MS));
    } finally {
      redis.resume();
    }
    // Thawed, the queued renewals land before any node reads the leases: nobody is reaped, so the far
    // session is known across nodes again without reconnecting, and was never announced offline.
    expect(await sendOnceKnown(a.client, far.key, 'z3', 1, 10_000)).toBe('ack');
    await new Promise((r) => setTimeout(r, 2 * LEASE_MS));
    expect(await outcome(a.client.send({ type: 'signal', to: far.key, id: 'z4', data: 1 }))).toBe('ack');
    expect(far.client.sessionId).toBe(farSession);
    expect(seen.slice(heardBefore)).toEqual([]);
  }, 45_000);
});

describe('the failed-handshake limit in a cluster', () => {
  it('is shared through Redis: an address cannot multiply its budget by the node count', async () => {
    const identity = await Identity.generate();
    const servers = await Promise.all(
      [0, 1, 2].map(() =>
        createSignalingServer({
          identity,
          cluster: { redis: redis.url, prefix: 'rate-limit-test:' },
          rateLimit: { maxFailures: 3, windowMs: 30_000 },
        }),
      ),
    );
    try {
      let failures = 0;
      let refusedEverywhere = false;
      for (let round = 0; round < 5 && !refusedEverywhere; round++) {
        refusedEverywhere = true;
        for (const server of servers) {
          const client = await RawClient.open(server.url);
          const first = await client.next();
          if (first.type === 'auth.error') {
            expect(first.code).toBe('rate-limited');
            continue;
          }
          refusedEverywhere = false;
          client.send('not json');
          failures++;
          await client.waitClosed();
          // The node counts it in Redis and takes the cluster's count back.
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      expect(refusedEverywhere).toBe(true);
      // Alone, each node would allow 3 (9 in all); shared, at most one more per other node.
      expect(failures).toBeGreaterThanOrEqual(3);
      expect(failures).toBeLessThanOrEqual(3 + 2);
    } finally {
      await Promise.all(servers.map((s) => s.close({ timeout: 200 })));
    }
  });
});
