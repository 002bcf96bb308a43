import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeClusterPorts, type RedisCluster, startRedisCluster } from '../scripts/lib/redis-cluster.js';
import { createSignalingClient, type SignalingClient } from '../src/client.js';
import { isSignalingError } from '../src/errors.js';
import { Identity } from '../src/identity/index.js';
import type { Presence, SignalIn } from '../src/protocol/messages.js';
import { clusterPeer } from './helpers/cluster-peer.js';
import { ensureDist } from './helpers/dist.js';
import { type RedisProcess, startRedis } from './helpers/redis.js';
import { type ServerProcess, startNodes } from './helpers/server-process.js';
import { eventually, until } from './helpers/until.js';

/**
 * The cluster routed per key, on both kinds of Redis it runs on: a standalone `redis-server` that
 * requires a password (given as `cluster.password`) and a Redis Cluster of 3 masters + 3 replicas
 * that requires one too (given in the URLs). Three real server processes each, real clients.
 */

const LEASE_MS = 1000;
const PASSWORD = 'not-open-to-the-world';

interface Backend {
  name: string;
  start(): Promise<{
    redis: string | string[];
    password?: string;
    stop(): Promise<void>;
    cluster?: RedisCluster;
  }>;
}

const backends: Backend[] = [
  {
    name: 'a standalone Redis with requirepass',
    async start() {
      const redis: RedisProcess = await startRedis({ password: PASSWORD });
      return { redis: redis.url, password: PASSWORD, stop: () => redis.stop() };
    },
  },
  {
    name: 'a Redis Cluster (3 masters + 3 replicas) with requirepass',
    async start() {
      const cluster = await startRedisCluster({ password: PASSWORD });
      return { redis: cluster.urls, stop: () => cluster.stop(), cluster };
    },
  },
];

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ack',
    (e: unknown) => (isSignalingError(e) ? e.code : String(e)),
  );

describe.each(backends)('the cluster on $name', (backend) => {
  let stopRedis: () => Promise<void>;
  let redisCluster: RedisCluster | undefined;
  let backendUrl: string | string[];
  const nodes: ServerProcess[] = [];
  const clients: SignalingClient[] = [];

  beforeAll(async () => {
    ensureDist();
    const started = await backend.start();
    stopRedis = started.stop;
    backendUrl = started.redis;
    redisCluster = started.cluster;
    await startNodes(nodes, 3, () => ({
      cluster: {
        redis: started.redis,
        leaseMs: LEASE_MS,
        ...(started.password ? { password: started.password } : {}),
      },
      limits: { maxSessionsPerKey: 2 },
      logWarnings: true,
    }));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.disconnect()));
    for (const node of nodes) await node.stop();
    await stopRedis?.();
  });

  const node = (i: number) => nodes[i] as ServerProcess;

  const peer = (at: ServerProcess, identity?: Identity) => clusterPeer(clients, at, identity);

  /** The first presence frame `watcher` hears about `key` after subscribing to it. */
  function firstPresence(watcher: SignalingClient, key: string): Promise<Presence> {
    return new Promise((resolve) => {
      const off = watcher.on('presence', (m) => {
        if (m.key !== key) return;
        off();
        resolve(m);
      });
      void watcher.send({ type: 'presence.subscribe', keys: [key] });
    });
  }

  it('read-your-writes: 100 of 100 signals acked and 100 presence answers online, the moment a peer is authenticated elsewhere', async () => {
    const sender = await peer(node(1));
    const watcher = await peer(node(2));
    const received = new Set<string>();
    let acked = 0;
    let online = 0;
    for (let i = 0; i < 100; i++) {
      const target = await peer(node(0));
      target.client.on('signal', (m: SignalIn) => received.add(m.id));
      // The moment its auth.ok is in: a signal from node 1 and a presence subscribe on node 2.
      const [sent, presence] = await Promise.all([
        outcome(sender.client.send({ type: 'signal', to: target.key, id: `ryw-${i}`, data: i })),
        firstPresence(watcher.client, target.key),
      ]);
      if (sent === 'ack') acked++;
      if (presence.online) online++;
      await watcher.client.send({ type: 'presence.unsubscribe', keys: [target.key] });
      await target.client.disconnect();
    }
    expect({ acked, online }).toEqual({ acked: 100, online: 100 });
    await until(() => received.size === 100);
  }, 60_000);

  it('a watcher that subscribed the moment a peer authenticated hears it go offline when its node is killed, every time', async () => {
    const watchers = [await peer(node(1)), await peer(node(2))];
    const trials = 10;
    let heard = 0;
    for (let i = 0; i < trials; i++) {
      const id = await Identity.generate();
      const target = createSignalingClient({
        url: node(0).url,
        identity: id,
        serverKey: node(0).publicKey,
        globalEvents: false,
        backoff: { initialDelay: 5000, maxDelay: 5000 },
      });
      target.connect();
      await target.ready();
      const seen = watchers.map(() => [] as boolean[]);
      const offs = watchers.map((w, j) =>
        w.client.on('presence', (m) => {
          if (m.key === id.publicKey) seen[j]?.push(m.online);
        }),
      );
      await Promise.all(
        watchers.map((w) => w.client.send({ type: 'presence.subscribe', keys: [id.publicKey] })),
      );
      await until(() => seen.every((s) => s.length > 0));
      expect(seen.map((s) => s[0])).toEqual([true, true]);
      await node(0).kill();
      target.actor.stop();
      // Within the lease plus a renewal period and round trips; 4× leaves room for a loaded machine.
      await until(() => seen.every((s) => s.at(-1) === false), LEASE_MS * 4).catch(() => {});
      heard += seen.filter((s) => s.at(-1) === false).length;
      for (const off of offs) off();
      await Promise.all(
        watchers.map((w) => w.client.send({ type: 'presence.unsubscribe', keys: [id.publicKey] })),
      );
      await node(0).restart();
    }
    expect(heard).toBe(trials * watchers.length);
  }, 120_000);

  it('relays across nodes to every session of a key, applies the per-key limit across nodes, and says peer-offline for nobody', async () => {
    const a = await peer(node(0));
    const identity = await Identity.generate();
    const b1 = await peer(node(1), identity);
    const b2 = await peer(node(2), identity);
    const seen1: string[] = [];
    const seen2: string[] = [];
    b1.client.on('signal', (m) => seen1.push(m.id));
    b2.client.on('signal', (m) => seen2.push(m.id));
    expect(await outcome(a.client.send({ type: 'signal', to: identity.publicKey, id: 'x1', data: 1 }))).toBe(
      'ack',
    );
    await until(() => seen1.includes('x1') && seen2.includes('x1'));
    // A key with a session on the sender's node too: delivered here at once, and still to the other
    // node's session (whichever registered first: one learns of the other from the answer, one from the note).
    for (const order of [
      [0, 1],
      [1, 0],
    ]) {
      const both = await Identity.generate();
      const seen = order.map(() => [] as string[]);
      for (const [j, at] of order.entries()) {
        const session = await peer(node(at), both);
        session.client.on('signal', (m) => seen[j]?.push(m.id));
      }
      expect(
        await outcome(a.client.send({ type: 'signal', to: both.publicKey, id: `both-${order}`, data: 1 })),
      ).toBe('ack');
      await until(() => seen.every((ids) => ids.includes(`both-${order}`)));
    }
    const nobody = (await Identity.generate()).publicKey;
    expect(await outcome(a.client.send({ type: 'signal', to: nobody, id: 'x2', data: 1 }))).toBe(
      'peer-offline',
    );
    // A third session of the key (limit 2): the oldest, on node 1, is closed 4009.
    await peer(node(0), identity);
    await until(() => b1.client.actor.getSnapshot().context.closeCode === 4009);
    expect(b2.client.state).toBe('connected');
  });

  it.runIf(!backend.name.includes('Cluster'))(
    "keeps a key's sessions in one hash under its hash tag and each node's in its index, and an emptied hash only for its version",
    async () => {
      const redis = createClient({ url: backendUrl as string, password: PASSWORD });
      await redis.connect();
      const failures = () => nodes.flatMap((n) => n.warnings()).filter((w) => w.includes('failed'));
      const failedBefore = failures().length;
      try {
        const asked = Date.now();
        const target = await peer(node(0));
        const took = Date.now() - asked;
        const sessionId = target.client.sessionId as string;
        const hash = `signaling-actor:{${target.key}}`;
        let held = await redis.hGetAll(hash);
        if (!(sessionId in held)) {
          // Only a Redis slower than auth.ok's wait for it (REGISTER_WAIT_MS, 1 s: a loaded machine)
          // leaves the registration for after auth.ok.
          expect(took, JSON.stringify(nodes.map((n) => n.warnings()))).toBeGreaterThanOrEqual(1000);
          await eventually(async () => (await redis.hExists(hash, sessionId)) === 1);
          held = await redis.hGetAll(hash);
        }
        // The nodes' warnings say why, should the hash ever hold something else.
        expect(Object.keys(held).sort(), JSON.stringify(nodes.map((n) => n.warnings()))).toEqual(
          [sessionId, 'v'].sort(),
        );
        expect(held[sessionId]).toMatch(/^[\w-]+\|\d{13}$/);
        const nodeId = (held[sessionId] as string).split('|')[0];
        expect(await redis.hGet(`signaling-actor:{node:${nodeId}}`, sessionId)).toBe(target.key);
        await target.client.disconnect();
        await eventually(async () => (await redis.hLen(hash)) === 1);
        expect(Object.keys(await redis.hGetAll(hash))).toEqual(['v']);
        const ttl = await redis.pTTL(hash);
        expect(ttl).toBeGreaterThan(86_000_000);
        expect(ttl).toBeLessThanOrEqual(86_400_000);
        expect(await redis.hGet(`signaling-actor:{node:${nodeId}}`, sessionId)).toBeNull();
        expect(failures().slice(failedBefore)).toEqual([]);
      } finally {
        await redis.close();
      }
    },
  );

  it.runIf(backend.name.includes('Cluster'))(
    'a Redis master killed -9 while signals stream between nodes: no acked signal lost or delivered twice, acked again within 10 s',
    async () => {
      const cluster = redisCluster as RedisCluster;
      const sender = await peer(node(0));
      const receiver = await peer(node(1));
      const received: number[] = [];
      receiver.client.on('signal', (m) => received.push(m.data as number));
      const acked: number[] = [];
      let refused = 0;
      let killedAt = 0;
      let ackedAgainAt = 0;
      const victim = await cluster.masterOf(`signaling-actor:{${receiver.key}}`);
      for (let i = 0; Date.now() - (killedAt || Date.now()) < 15_000; i++) {
        if (i === 50) {
          killedAt = Date.now();
          await cluster.kill(victim);
        }
        const result = await outcome(
          sender.client.send({ type: 'signal', to: receiver.key, id: `m-${i}`, data: i }),
        );
        if (result === 'ack') {
          acked.push(i);
          if (killedAt && !ackedAgainAt) ackedAgainAt = Date.now();
          if (killedAt && acked.filter((n) => n > 50).length >= 50) break;
        } else {
          refused++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await until(() => acked.every((n) => received.includes(n)), 5000).catch(() => {});
      const lost = acked.filter((n) => !received.includes(n));
      const duplicated = received.length - new Set(received).size;
      expect({ lost, duplicated }).toEqual({ lost: [], duplicated: 0 });
      expect(ackedAgainAt, `refused meanwhile: ${refused}`).toBeGreaterThan(0);
      expect(ackedAgainAt - killedAt).toBeLessThan(10_000);
      await cluster.healthy();
    },
    60_000,
  );

  it.runIf(backend.name.includes('Cluster'))(
    'spreads its state: with a few hundred sessions, every master holds part of the keys and shard channels',
    async () => {
      const many = await Promise.all(Array.from({ length: 200 }, (_, i) => peer(node(i % 3))));
      const cluster = redisCluster as RedisCluster;
      const held = await Promise.all((await cluster.masters()).map((port) => cluster.holds(port)));
      const holding = held.filter((h) => h.keys > 20 && h.channels > 20);
      expect(holding.length, JSON.stringify(held)).toBeGreaterThanOrEqual(2);
      await Promise.all(many.map((p) => p.client.disconnect()));
    },
    60_000,
  );
});

describe('a node started while its Redis Cluster is not up yet', () => {
  it('keeps trying, and relays across nodes once the Redis Cluster is there', async () => {
    ensureDist();
    const ports = await freeClusterPorts();
    const urls = ports.map((port) => `redis://127.0.0.1:${port}`);
    const early = await startNodes([], 2, () => ({ cluster: { redis: urls, leaseMs: LEASE_MS } }));
    const clients: SignalingClient[] = [];
    let cluster: RedisCluster | undefined;
    try {
      // The nodes serve their own peers meanwhile.
      const [a, b] = [
        await clusterPeer(clients, early[0] as ServerProcess),
        await clusterPeer(clients, early[1] as ServerProcess),
      ];
      cluster = await startRedisCluster({ ports });
      await eventually(
        async () =>
          (await outcome(a.client.send({ type: 'signal', to: b.key, id: `late-${Date.now()}`, data: 1 }))) ===
          'ack',
        15_000,
      );
    } finally {
      await Promise.all(clients.map((c) => c.disconnect()));
      for (const node of early) await node.stop();
      await cluster?.stop();
    }
  }, 60_000);
});
