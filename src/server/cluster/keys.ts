/**
 * The names of everything a cluster keeps in Redis. A key's hash and its two shard channels share
 * the hash tag `{KEY}`, so in a Redis Cluster they live in one slot (one script can touch them all)
 * and different keys spread over every master. docs/cluster.md lists them and how long each lives.
 */
export class ClusterKeys {
  constructor(private readonly prefix: string) {}

  /** Hash: session id → `NODE|AUTHENTICATED_AT` for each session of `key`, plus `v`, its presence version. */
  sessions(key: string): string {
    return `${this.prefix}{${key}}`;
  }

  /** Shard channel: frames for `key`'s sessions, and which of them to close as replaced. */
  delivery(key: string): string {
    return `${this.prefix}{${key}}:d`;
  }

  /** Shard channel: `key` went online or offline, with the version of that change. */
  presence(key: string): string {
    return `${this.prefix}{${key}}:p`;
  }

  /** The key a {@link delivery} or {@link presence} channel is of. */
  keyOfChannel(channel: string): string {
    return channel.slice(this.prefix.length + 1, -3);
  }

  /** Hash: session id → public key, each session on `node` (what a reaper removes when it dies). */
  nodeIndex(node: string): string {
    return `${this.prefix}{node:${node}}`;
  }

  /** Shard channel: answers to `node`'s cross-node deliveries. */
  results(node: string): string {
    return `${this.prefix}{node:${node}}:r`;
  }

  /** String with expiry: the one survivor reaping `node`. */
  reaping(node: string): string {
    return `${this.prefix}{node:${node}}:reap`;
  }

  /** Sorted set: node id → the end of its lease (ms since the epoch). */
  get nodes(): string {
    return `${this.prefix}nodes`;
  }

  /** Counter with expiry: failed handshakes of `address` on every node. */
  failures(address: string): string {
    return `${this.prefix}fail:${address}`;
  }
}
