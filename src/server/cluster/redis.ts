import { withDeadline } from '../deadline.js';
import { importOptional } from '../optional-import.js';
import type { ClusterOptions } from './options.js';
import { CLUSTER_SCRIPTS, type UnregisterReply } from './scripts.js';

/** The node-redis calls a cluster node makes; a standalone client and a Redis Cluster client both have them. */
export interface RedisCommands {
  readonly isReady: boolean;
  zAdd(key: string, member: { score: number; value: string }): Promise<number>;
  zRem(key: string, member: string): Promise<number>;
  zScore(key: string, member: string): Promise<number | null>;
  zRangeWithScores(key: string, min: number, max: number): Promise<{ value: string; score: number }[]>;
  hSet(key: string, field: string, value: string): Promise<number>;
  hDel(key: string, field: string): Promise<number>;
  hGetAll(key: string): Promise<Record<string, string>>;
  del(key: string): Promise<number>;
  set(
    key: string,
    value: string,
    options: { condition: 'NX'; expiration: { type: 'PX'; value: number } },
  ): Promise<string | null>;
  incr(key: string): Promise<number>;
  pExpire(key: string, ms: number, mode?: 'NX'): Promise<number>;
  pTTL(key: string): Promise<number>;
  sPublish(channel: string, message: string): Promise<number>;
  /** The REGISTER script (scripts.ts): its answer is JSON, a `RegisterReply`. */
  register(key: string, args: readonly string[]): Promise<string>;
  unregister(key: string, args: readonly string[]): Promise<UnregisterReply>;
}

type Listener = (message: string, channel: string) => void;

interface RedisClientLike extends RedisCommands {
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  duplicate(): RedisClientLike;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  sSubscribe(channels: string | string[], listener: Listener): Promise<void>;
  sUnsubscribe(channels: string | string[]): Promise<void>;
  info(section: string): Promise<string>;
  close(): Promise<unknown>;
  destroy(): void;
}

/** What the rest of the cluster code holds: commands, shard-channel subscriptions, and how Redis is. */
export interface RedisLink {
  readonly commands: RedisCommands;
  /** True when the Redis named is a Redis Cluster (its keys spread over its masters). */
  readonly isCluster: boolean;
  /** Whether the connections for commands and for subscriptions are both up. */
  readonly isReady: boolean;
  /** Whether the client is still trying (a Redis Cluster client gives up when no node answers at start). */
  readonly isOpen: boolean;
  sSubscribe(channels: string[], listener: Listener): Promise<void>;
  sUnsubscribe(channels: string[]): Promise<void>;
  /** Connects (not awaited by the caller while Redis is away: each client retries by itself). */
  connect(): Promise<void>;
  /**
   * A Redis Cluster client that connected while the cluster was still forming keeps an empty slot map
   * and never asks again: closing it lets the next `connect()` discover the topology anew.
   */
  reset(): Promise<void>;
  /** Closes the connections after their pending replies. */
  close(): Promise<void>;
  /** Drops the connections at once (what `close` left open). */
  destroy(): void;
}

/**
 * How the link tells its owner about Redis. `down`: a connection failed (once per outage);
 * `up`: a connection is ready again after a failure — Redis came back, or in a Redis Cluster a
 * replica was promoted — so the node re-registers what it owns.
 */
export interface RedisEvents {
  down(error: Error | undefined): void;
  up(): void;
}

interface RedisModule {
  createClient(options: Record<string, unknown>): RedisClientLike;
  createCluster(options: Record<string, unknown>): RedisClientLike;
}

/** Reconnects with backoff: 50 ms doubling to 2 s, plus up to 100 ms of jitter. */
const reconnectStrategy = (retries: number) =>
  Math.min(2000, 50 * 2 ** retries) + Math.floor(Math.random() * 100);

/** A Redis Cluster client asks for the new topology this soon after a node fails (node-redis: 5 s). */
const TOPOLOGY_REFRESH_MS = 300;

/** How long start-up waits to learn whether the Redis named is a Redis Cluster. */
const DETECT_TIMEOUT_MS = 2000;

function loadRedis(): Promise<RedisModule> {
  return importOptional(() => import('@redis/client'), 'cluster', 'the Redis client', '@redis/client');
}

/** Connection settings every connection shares: credentials and TLS from the URL or the options. */
function credentials(url: string | undefined, password: string | undefined): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  if (url) {
    const parsed = new URL(url);
    if (parsed.username) settings.username = decodeURIComponent(parsed.username);
    if (parsed.password) settings.password = decodeURIComponent(parsed.password);
    if (parsed.protocol === 'rediss:') settings.socket = { tls: true };
  }
  if (password !== undefined) settings.password = password;
  return settings;
}

/** Asks the first URL whether it is a Redis Cluster; `undefined` when it cannot be reached in time. */
async function detectCluster(
  redis: RedisModule,
  url: string,
  shared: Record<string, unknown>,
): Promise<boolean | undefined> {
  const probe = redis.createClient({
    url,
    ...shared,
    socket: { ...(shared.socket as object), connectTimeout: DETECT_TIMEOUT_MS, reconnectStrategy: false },
  });
  probe.on('error', () => {});
  const asked = (async () => {
    await probe.connect();
    return /cluster_enabled:1/.test(await probe.info('cluster'));
  })().catch(() => undefined);
  // Bounded as a whole: a frozen Redis accepts the connection and never answers.
  const answer = await withDeadline(asked, DETECT_TIMEOUT_MS, () => undefined);
  probe.destroy();
  return answer;
}

/**
 * Connects to the Redis of `options.redis`: a standalone server (one client for commands, a duplicate
 * for subscriptions) or a Redis Cluster (node-redis's cluster client, which routes each key and shard
 * channel to its slot's master and subscribes again when a slot moves).
 */
export async function openRedis(options: ClusterOptions, events: RedisEvents): Promise<RedisLink> {
  const redis = await loadRedis();
  const given = options.redis;
  const urls = typeof given === 'string' ? [given] : Array.isArray(given) ? [...given] : [];
  const shared = credentials(urls[0], options.password);
  const settings: Record<string, unknown> = {
    // Fail fast while Redis is away (a relay then answers peer-offline) instead of queueing.
    disableOfflineQueue: true,
    scripts: CLUSTER_SCRIPTS,
    ...shared,
    socket: { ...(shared.socket as object), reconnectStrategy },
  };
  let isCluster: boolean;
  let client: RedisClientLike;
  if (urls.length === 0) {
    const object = given as Record<string, unknown>;
    isCluster = Array.isArray(object.rootNodes);
    client = isCluster
      ? redis.createCluster({
          topologyRefreshOnReconnectionAttemptStrategy: TOPOLOGY_REFRESH_MS,
          scripts: CLUSTER_SCRIPTS,
          ...object,
        })
      : redis.createClient({
          ...settings,
          ...object,
          socket: { reconnectStrategy, ...(object.socket as object) },
        });
  } else {
    // Unreachable at start: several URLs are taken for a Redis Cluster's nodes, one for a server.
    isCluster = (await detectCluster(redis, urls[0] as string, shared)) ?? urls.length > 1;
    client = isCluster
      ? redis.createCluster({
          rootNodes: urls.map((url) => ({ url })),
          defaults: settings,
          scripts: CLUSTER_SCRIPTS,
          topologyRefreshOnReconnectionAttemptStrategy: TOPOLOGY_REFRESH_MS,
        })
      : redis.createClient({ ...settings, url: urls[0] });
  }
  // A Redis Cluster client subscribes on its own connections per shard; a server needs a second one.
  const subscriber = isCluster ? client : client.duplicate();
  let down = false;
  let closed = false;
  const onError = (error: unknown) => {
    if (closed || down) return;
    down = true;
    events.down(error instanceof Error ? error : undefined);
  };
  const onReady = () => {
    if (closed || !down) return;
    down = false;
    events.up();
  };
  if (isCluster) {
    client.on('error', onError);
    client.on('node-error', onError);
    client.on('node-ready', onReady);
    // A shard channel that could not follow its slot after a failover: the node subscribes again.
    client.on('sharded-channel-moved-error', onError);
  } else {
    for (const c of [client, subscriber]) c.on('error', onError);
    client.on('ready', onReady);
  }
  return {
    commands: client,
    isCluster,
    get isReady() {
      return client.isReady && subscriber.isReady;
    },
    get isOpen() {
      return client.isOpen;
    },
    sSubscribe: (channels, listener) => subscriber.sSubscribe(channels, listener),
    sUnsubscribe: (channels) => subscriber.sUnsubscribe(channels),
    async connect() {
      if (subscriber !== client) await subscriber.connect();
      await client.connect();
    },
    async reset() {
      // Dropped, not closed: a close waits for replies a dead node never sends.
      for (const c of new Set([subscriber, client])) c.destroy();
    },
    async close() {
      closed = true;
      for (const c of new Set([subscriber, client])) {
        try {
          if (c.isReady) await c.close();
          else c.destroy();
        } catch {
          c.destroy();
        }
      }
    },
    destroy() {
      closed = true;
      for (const c of new Set([subscriber, client])) {
        try {
          c.destroy();
        } catch {
          // Already closed.
        }
      }
    },
  };
}
