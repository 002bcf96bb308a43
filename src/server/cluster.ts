import { randomUUID } from 'node:crypto';
import { SignalingError } from '../errors.js';
import type { Log } from './logger.js';
import type { Peer } from './peer.js';
import { FailureRateLimiter } from './rate-limit.js';
import type { SessionRegistry, Sessions } from './sessions.js';

/**
 * Several reference servers as one, over Redis (the `cluster` option): each node keeps its own
 * sockets and a mirror of every other node's sessions, so a local delivery never waits on Redis.
 *
 * Redis holds (prefix `signaling-actor:` by default; docs/cluster.md lists them):
 * - `nodes` (sorted set): node id → the end of its lease (ms since the epoch), renewed every lease/3.
 * - `node:ID` (hash): session id → `[publicKey, authenticatedAt]`, one per session on that node.
 * - `epochs` (hash): node id → a random id per join, so a node that missed a `sync` re-reads the hash.
 * - `fail:ADDRESS` (counter, expires with the window): failed handshakes of an address, all nodes.
 * - channel `events`: `add` / `del` of a session, `sync` (re-read my hash), `down` (a node is gone).
 * - channel `to:ID`: what one node asks another: `deliver` a frame, and (when asked) the `result`.
 * A node that stops renewing its lease is reaped by the first survivor to see it expired: its hash
 * deleted, `down` announced, and every node tells its own watchers that its keys went offline.
 */

/** The `cluster` option of `createSignalingServer`. */
export interface ClusterOptions {
  /** Redis: a URL (`redis://127.0.0.1:6379`) or node-redis client options. */
  redis: string | Record<string, unknown>;
  /** This node's id in Redis. Default: a random one per start (a restarted node is a new node). */
  nodeId?: string;
  /** Ms another node keeps this node's sessions after its last renewal (kill -9, power loss). Default 3000. */
  leaseMs?: number;
  /** Prefix of every Redis key and channel. Default `'signaling-actor:'`. */
  prefix?: string;
}

/** The Redis client calls this module makes (node-redis). */
interface Redis {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  duplicate(): Redis;
  on(event: 'error' | 'ready', listener: (error?: Error) => void): unknown;
  subscribe(channels: string[], listener: (message: string, channel: string) => void): Promise<void>;
  publish(channel: string, message: string): Promise<number>;
  zAdd(key: string, member: { score: number; value: string }): Promise<number>;
  zRem(key: string, member: string): Promise<number>;
  zRangeWithScores(key: string, min: number, max: number): Promise<{ value: string; score: number }[]>;
  hSet(key: string, field: string, value: string): Promise<number>;
  hDel(key: string, field: string): Promise<number>;
  hGetAll(key: string): Promise<Record<string, string>>;
  del(key: string): Promise<number>;
  incr(key: string): Promise<number>;
  pExpire(key: string, ms: number, mode?: 'NX'): Promise<number>;
  pTTL(key: string): Promise<number>;
  close(): Promise<unknown>;
  destroy(): void;
}

type Event =
  | { t: 'add'; n: string; s: string; k: string; at: number }
  | { t: 'del'; n: string; s: string; k: string }
  | { t: 'sync' | 'down'; n: string };
type Directed =
  | { t: 'deliver'; r: string; from: string; k: string; frame: string }
  | { t: 'result'; r: string; ok: boolean };

interface RemoteSession {
  node: string;
  key: string;
  at: number;
}

/** What a cross-node delivery waits for before it answers `peer-offline`. */
interface Pending {
  left: number;
  resolve(delivered: boolean): void;
  timer: ReturnType<typeof setTimeout>;
}

/** How long a node's sessions outlive its last lease renewal by default, ms. */
export const DEFAULT_LEASE_MS = 3000;

/** A cluster node's view of the sessions: this node's registry plus the mirror of the others'. */
export class ClusterSessions implements Sessions {
  readonly nodeId: string;
  private readonly leaseMs: number;
  private readonly prefix: string;
  private redis: Redis | undefined;
  private subscriber: Redis | undefined;
  /** Other nodes' sessions: session id → where and whose. */
  private readonly remote = new Map<string, RemoteSession>();
  /** Key → other nodes' sessions of it (session id → where): relay and the limit look up by key. */
  private readonly remoteByKey = new Map<string, Map<string, RemoteSession>>();
  /** When each local session authenticated (the limit closes the oldest). */
  private readonly authenticatedAt = new WeakMap<Peer, number>();
  private readonly pending = new Map<string, Pending>();
  private readonly bySessionId = new Map<string, Peer>();
  private leaseTimer: ReturnType<typeof setInterval> | undefined;
  private downLogged = false;
  private closed = false;

  constructor(
    private readonly local: SessionRegistry,
    /** A key went online or offline cluster-wide: presence tells this node's watchers. */
    private readonly changed: (key: string, online: boolean) => void,
    private readonly log: Log,
    private readonly options: ClusterOptions,
  ) {
    this.nodeId = options.nodeId ?? randomUUID();
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.prefix = options.prefix ?? 'signaling-actor:';
  }

  /** Whether both Redis connections (commands and subscriptions) are up: `/healthz` and `redis_up` read it. */
  get redisReady(): boolean {
    return this.redis?.isReady === true && this.subscriber?.isReady === true;
  }

  /** This node's registry calls this on each local flip; it is a cluster flip unless another node has the key. */
  localChanged(key: string, online: boolean): void {
    if (!this.remoteByKey.has(key)) this.changed(key, online);
  }

  /** Connects to Redis and joins the cluster. @throws SignalingError `invalid-option` without the Redis client installed */
  async start(): Promise<void> {
    let createClient: (options: Record<string, unknown>) => Redis;
    try {
      ({ createClient } = (await import('@redis/client')) as unknown as {
        createClient: (options: Record<string, unknown>) => Redis;
      });
    } catch (cause) {
      throw new SignalingError(
        'invalid-option',
        'the cluster option needs the Redis client: npm install @redis/client',
        { cause },
      );
    }
    const given = this.options.redis;
    const redis = createClient({
      ...(typeof given === 'string' ? { url: given } : given),
      // Fail fast while Redis is away (a relay then answers peer-offline), and retry with backoff.
      disableOfflineQueue: true,
      socket: {
        ...(typeof given === 'object' ? (given.socket as object) : {}),
        reconnectStrategy: (retries: number) =>
          Math.min(2000, 50 * 2 ** retries) + Math.floor(Math.random() * 100),
      },
    });
    const subscriber = redis.duplicate();
    this.redis = redis;
    this.subscriber = subscriber;
    for (const client of [redis, subscriber]) {
      client.on('error', (error) => {
        if (this.downLogged || this.closed) return;
        this.downLogged = true;
        this.log.error(
          { err: error?.message, nodeId: this.nodeId },
          'redis unreachable: relaying between local peers only',
        );
      });
    }
    redis.on('ready', () => {
      if (this.downLogged)
        this.log.info({ nodeId: this.nodeId }, 'redis reachable again: rejoining the cluster');
      this.downLogged = false;
      this.join().catch((error: unknown) =>
        this.log.warn({ err: String(error) }, 'rejoining the cluster failed'),
      );
    });
    const joined = new Promise<void>((resolve) => {
      this.joined = resolve;
    });
    this.leaseTimer = setInterval(() => this.renew(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.leaseTimer.unref();
    // Not awaited: with Redis away the node serves its own peers now and joins when it can.
    subscriber
      .connect()
      .then(() =>
        subscriber.subscribe([this.key('events'), this.key(`to:${this.nodeId}`)], (message, channel) =>
          this.onMessage(message, channel),
        ),
      )
      .then(() => redis.connect())
      .catch(() => {});
    // The first join, briefly: a node that starts beside a reachable Redis is in the cluster when it listens.
    await Promise.race([joined, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  }

  private joined: (() => void) | undefined;

  /** (Re)joins: lease, this node's sessions written anew, the others' read, `sync` announced. */
  private async join(): Promise<void> {
    const redis = this.redis as Redis;
    await redis.zAdd(this.key('nodes'), { score: Date.now() + this.leaseMs, value: this.nodeId });
    await redis.del(this.key(`node:${this.nodeId}`));
    for (const [id, peer] of this.bySessionId) {
      await redis.hSet(
        this.key(`node:${this.nodeId}`),
        id,
        JSON.stringify([peer.publicKey, this.authenticatedAt.get(peer) ?? 0]),
      );
    }
    // A new epoch says "my hash was rewritten": nodes that miss the `sync` (their subscription not back
    // yet after Redis returned) see the epoch change on their next renewal and re-read it.
    await redis.hSet(this.key('epochs'), this.nodeId, randomUUID());
    await redis.publish(this.key('events'), JSON.stringify({ t: 'sync', n: this.nodeId }));
    const nodes = await redis.zRangeWithScores(this.key('nodes'), 0, -1);
    const alive = new Set(
      nodes.filter((n) => n.score > Date.now() && n.value !== this.nodeId).map((n) => n.value),
    );
    for (const session of [...this.remote.values()])
      if (!alive.has(session.node)) this.dropNode(session.node);
    for (const node of alive) await this.readNode(node);
    this.joined?.();
  }

  /** Replaces the mirror of `node`'s sessions with what its hash holds now. */
  private async readNode(node: string): Promise<void> {
    const redis = this.redis as Redis;
    const epoch = (await redis.hGetAll(this.key('epochs')))[node];
    const entries = await redis.hGetAll(this.key(`node:${node}`));
    if (epoch !== undefined) this.epochs.set(node, epoch);
    const now = new Set(Object.keys(entries));
    for (const [id, session] of [...this.remote]) if (session.node === node && !now.has(id)) this.forget(id);
    for (const [id, value] of Object.entries(entries)) {
      const [key, at] = JSON.parse(value) as [string, number];
      this.mirror(id, { node, key, at });
    }
  }

  /** The join epoch of each other node whose hash this node last read. */
  private readonly epochs = new Map<string, string>();

  /** Renews the lease, re-reads nodes that rejoined since, and reaps nodes whose lease ended. */
  private renew(): void {
    const redis = this.redis;
    if (!redis?.isReady || this.closed) return;
    const now = Date.now();
    void (async () => {
      await redis.zAdd(this.key('nodes'), { score: now + this.leaseMs, value: this.nodeId });
      const epochs = await redis.hGetAll(this.key('epochs'));
      for (const { value: node, score } of await redis.zRangeWithScores(this.key('nodes'), 0, -1)) {
        if (node === this.nodeId) continue;
        if (score > now) {
          if (epochs[node] !== undefined && epochs[node] !== this.epochs.get(node)) await this.readNode(node);
          continue;
        }
        // One survivor wins the ZREM and cleans up; every node drops the node from its mirror.
        if ((await redis.zRem(this.key('nodes'), node)) === 1) {
          await redis.del(this.key(`node:${node}`));
          await redis.hDel(this.key('epochs'), node);
          await redis.publish(this.key('events'), JSON.stringify({ t: 'down', n: node }));
          this.log.warn({ nodeId: node }, 'node lease expired: its sessions are offline');
        }
        this.dropNode(node);
      }
    })().catch(() => {});
  }

  private onMessage(message: string, channel: string): void {
    let value: Event | Directed;
    try {
      value = JSON.parse(message) as Event | Directed;
    } catch {
      return;
    }
    if (channel === this.key('events')) this.onEvent(value as Event);
    else this.onDirected(value as Directed);
  }

  private onEvent(event: Event): void {
    if (event.n === this.nodeId) return;
    switch (event.t) {
      case 'add':
        this.mirror(event.s, { node: event.n, key: event.k, at: event.at });
        for (const old of this.enforceLimit(event.k)) old.close(4009, 'replaced by a newer session');
        return;
      case 'del':
        this.forget(event.s);
        return;
      case 'sync':
        this.readNode(event.n).catch(() => {});
        return;
      case 'down':
        this.dropNode(event.n);
        return;
    }
  }

  private onDirected(message: Directed): void {
    switch (message.t) {
      case 'deliver': {
        let ok = false;
        const targets = this.local.sessionsOf(message.k);
        if (targets) for (const target of [...targets]) if (target.send(message.frame)) ok = true;
        if (message.r) this.publish(`to:${message.from}`, { t: 'result', r: message.r, ok });
        return;
      }
      case 'result': {
        const pending = this.pending.get(message.r);
        if (!pending) return;
        if (message.ok) this.settle(message.r, true);
        else if (--pending.left === 0) this.settle(message.r, false);
        return;
      }
    }
  }

  private settle(request: string, delivered: boolean): void {
    const pending = this.pending.get(request);
    if (!pending) return;
    this.pending.delete(request);
    clearTimeout(pending.timer);
    pending.resolve(delivered);
  }

  private mirror(id: string, session: RemoteSession): void {
    if (this.remote.has(id)) return;
    this.remote.set(id, session);
    let sessions = this.remoteByKey.get(session.key);
    if (!sessions) {
      sessions = new Map();
      this.remoteByKey.set(session.key, sessions);
      if (!this.local.isOnline(session.key)) this.changed(session.key, true);
    }
    sessions.set(id, session);
  }

  private forget(id: string): void {
    const session = this.remote.get(id);
    if (!session) return;
    this.remote.delete(id);
    const sessions = this.remoteByKey.get(session.key);
    sessions?.delete(id);
    if (sessions?.size !== 0) return;
    this.remoteByKey.delete(session.key);
    if (!this.local.isOnline(session.key)) this.changed(session.key, false);
  }

  private dropNode(node: string): void {
    this.epochs.delete(node);
    for (const [id, session] of [...this.remote]) if (session.node === node) this.forget(id);
  }

  /**
   * Closes the oldest sessions of `key` beyond the limit, wherever they are. Every node runs it on
   * each new session and closes only its own, so they agree without asking one another.
   */
  private enforceLimit(key: string, max = this.maxPerKey): Peer[] {
    const all: { at: number; id: string; peer?: Peer }[] = [];
    for (const peer of this.local.sessionsOf(key) ?? []) {
      all.push({ at: this.authenticatedAt.get(peer) ?? 0, id: peer.sessionId, peer });
    }
    for (const [id, session] of this.remoteByKey.get(key) ?? []) all.push({ at: session.at, id });
    if (all.length <= max) return [];
    all.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1));
    const replaced: Peer[] = [];
    for (const entry of all.slice(0, all.length - max)) if (entry.peer) replaced.push(entry.peer);
    return replaced;
  }

  private maxPerKey = Number.POSITIVE_INFINITY;

  add(peer: Peer, maxPerKey: number): Peer[] {
    this.maxPerKey = maxPerKey;
    const at = Date.now();
    this.authenticatedAt.set(peer, at);
    this.bySessionId.set(peer.sessionId, peer);
    this.local.add(peer, Number.POSITIVE_INFINITY);
    const value = JSON.stringify([peer.publicKey, at]);
    const redis = this.redis;
    if (redis?.isReady) {
      redis
        .hSet(this.key(`node:${this.nodeId}`), peer.sessionId, value)
        .then(() =>
          this.publish('events', { t: 'add', n: this.nodeId, s: peer.sessionId, k: peer.publicKey, at }),
        )
        .catch(() => {});
    }
    return this.enforceLimit(peer.publicKey, maxPerKey);
  }

  remove(peer: Peer): void {
    if (!this.bySessionId.delete(peer.sessionId)) return;
    this.local.remove(peer);
    const redis = this.redis;
    if (redis?.isReady) {
      redis
        .hDel(this.key(`node:${this.nodeId}`), peer.sessionId)
        .then(() =>
          this.publish('events', { t: 'del', n: this.nodeId, s: peer.sessionId, k: peer.publicKey }),
        )
        .catch(() => {});
    }
  }

  sessionsOf(key: string): readonly Peer[] | undefined {
    return this.local.sessionsOf(key);
  }

  isOnline(key: string): boolean {
    return this.local.isOnline(key) || this.remoteByKey.has(key);
  }

  get size(): number {
    return this.local.size;
  }

  get keys(): number {
    return this.local.keys;
  }

  deliverElsewhere(key: string, frame: string, answer: boolean): Promise<boolean> | undefined {
    const sessions = this.remoteByKey.get(key);
    if (!sessions || !this.redis?.isReady) return undefined;
    const nodes = new Set<string>();
    for (const session of sessions.values()) nodes.add(session.node);
    if (!answer) {
      // Delivered here already: the other nodes' sessions get it too, and nobody waits for their word.
      for (const node of nodes)
        this.publish(`to:${node}`, { t: 'deliver', r: '', from: this.nodeId, k: key, frame });
      return undefined;
    }
    const request = randomUUID();
    return new Promise((resolve) => {
      // A node that never answers (dead, its lease not yet over) counts as one that did not deliver.
      const timer = setTimeout(() => this.settle(request, false), this.leaseMs);
      timer.unref();
      this.pending.set(request, { left: nodes.size, resolve, timer });
      for (const node of nodes) {
        this.publish(`to:${node}`, { t: 'deliver', r: request, from: this.nodeId, k: key, frame });
      }
    });
  }

  /**
   * Shares the failed-handshake count of `address` with every node: counts it in Redis and takes the
   * cluster's count back into `limiter`, so an attacker's budget does not grow with the node count.
   */
  recordFailure(limiter: FailureRateLimiter, address: string, windowMs: number): void {
    const redis = this.redis;
    if (!redis?.isReady) return;
    const key = this.key(`fail:${address}`);
    void (async () => {
      const failures = await redis.incr(key);
      if (failures === 1) await redis.pExpire(key, windowMs);
      const left = await redis.pTTL(key);
      limiter.adopt(address, failures, left > 0 ? left : windowMs);
    })().catch(() => {});
  }

  /** Leaves the cluster: this node's sessions are gone for every other node at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.leaseTimer);
    for (const request of [...this.pending.keys()]) this.settle(request, false);
    const redis = this.redis;
    try {
      if (redis?.isReady) {
        await redis.zRem(this.key('nodes'), this.nodeId);
        await redis.del(this.key(`node:${this.nodeId}`));
        await redis.hDel(this.key('epochs'), this.nodeId);
        await redis.publish(this.key('events'), JSON.stringify({ t: 'down', n: this.nodeId }));
      }
    } catch {
      // Redis is away: the lease ends by itself.
    }
    for (const client of [this.subscriber, redis]) {
      try {
        if (client?.isReady) await client.close();
        else client?.destroy();
      } catch {
        client?.destroy();
      }
    }
  }

  private publish(channel: string, message: Event | Directed): void {
    if (this.redis?.isReady) this.redis.publish(this.key(channel), JSON.stringify(message)).catch(() => {});
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }
}

/** The failed-handshake limiter of a cluster node: each failure is also counted in Redis (see recordFailure). */
export class SharedFailureRateLimiter extends FailureRateLimiter {
  constructor(
    settings: ConstructorParameters<typeof FailureRateLimiter>[0],
    private readonly cluster: ClusterSessions,
  ) {
    super(settings);
  }

  override recordFailure(address: string): void {
    super.recordFailure(address);
    this.cluster.recordFailure(this, address, this.windowMs);
  }
}
