/** The `cluster` option of `createSignalingServer`. */
export interface ClusterOptions {
  /**
   * Redis: a URL (`redis://host:6379`, `rediss://` for TLS, `redis://user:password@host` for ACL or
   * `requirepass`), a list of URLs (nodes of one Redis Cluster, or one standalone server), or
   * node-redis client options. Whether it is a Redis Cluster is found out at start (`INFO cluster`).
   */
  redis: string | readonly string[] | Record<string, unknown>;
  /**
   * Password for every Redis connection, when it is not in the URL (the CLI reads it from an
   * environment variable so that it never shows in a process list).
   */
  password?: string;
  /** This node's id in Redis. Default: a random one per start (a restarted node is a new node). */
  nodeId?: string;
  /** Ms another node keeps this node's sessions after its last renewal (kill -9, power loss). Default 3000. */
  leaseMs?: number;
  /** Prefix of every Redis key and channel. Default `'signaling-actor:'`. */
  prefix?: string;
}

/** How long a node's sessions outlive its last lease renewal by default, ms. */
export const DEFAULT_LEASE_MS = 3000;

/** The longest `auth.ok` waits for its session to be registered while Redis does not answer, ms. */
export const REGISTER_WAIT_MS = 1000;

/** At most one warning about registrations later than their auth.ok per this many ms (with a count). */
export const LATE_REGISTRATION_WARN_MS = 10_000;

/**
 * How long a key's hash is kept after its last session left, ms: it holds the key's presence version,
 * so a watcher can never take an old event for a new one. After a day, versions restart from Redis's
 * clock, which is later than any version written before.
 */
export const VERSION_TTL_MS = 86_400_000;

/** Between two tries of a signal to a key whose registered node has not subscribed yet, ms. */
export const RETRY_PUBLISH_MS = 50;

/** A `redis://` or `rediss://` URL with a host: what `cluster.redis` and the CLI's `--redis` take. */
export function isRedisUrl(value: unknown): value is string {
  return typeof value === 'string' && /^rediss?:\/\/[^/]/.test(value);
}
