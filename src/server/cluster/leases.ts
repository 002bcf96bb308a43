import type { Log } from '../logger.js';
import type { ClusterKeys } from './keys.js';
import type { RedisCommands } from './redis.js';
import { unregisterCall } from './scripts.js';

/**
 * Which nodes are alive: each renews its lease (a score in one sorted set) every lease/3 and reads
 * the others' back, O(nodes). A node whose lease ended is reaped by one survivor (a lock with expiry
 * picks it; if that survivor dies too, the lock lapses and another finishes): through the dead node's
 * index, each of its sessions is removed by the same script a node uses for its own, so each key's
 * watchers hear it went offline. No node scans the cluster's sessions.
 */
export class Leases {
  /** Other nodes → the end of their lease (ms since the epoch), as of the last renewal. */
  private ends = new Map<string, number>();

  constructor(
    private readonly nodeId: string,
    private readonly leaseMs: number,
    private readonly keys: ClusterKeys,
    private readonly log: Log,
  ) {}

  /**
   * Whether `node` may be alive: this node; a node whose lease had not ended at the last look; or a
   * node not seen yet (it joined since: its sessions must not be taken for a dead node's).
   */
  isLive(node: string, now = Date.now()): boolean {
    const end = this.ends.get(node);
    return node === this.nodeId || end === undefined || end > now;
  }

  /**
   * Whether one of `nodes` is alive. Nodes this node last saw expired are asked again (their lease's
   * score now): one may have been reaped while stalled and come back since, its sessions registered again.
   */
  async anyAlive(redis: RedisCommands, nodes: readonly string[]): Promise<boolean> {
    const now = Date.now();
    if (nodes.some((node) => this.isLive(node, now))) return true;
    for (const node of new Set(nodes)) {
      const score = await redis.zScore(this.keys.nodes, node);
      if (score !== null && score > now) return true;
    }
    return false;
  }

  /**
   * Renews this node's lease and reaps nodes whose lease ended before `now`. `now` is when the renewal
   * was due, not when Redis answered: after a freeze of Redis, every node's queued renewal lands before
   * any node reads the leases, so none is taken for dead. Resolves `true` when this node's lease was
   * gone (it was reaped while stalled, or Redis lost it): its sessions must be registered again.
   */
  async renew(redis: RedisCommands, now: number): Promise<boolean> {
    const added = await redis.zAdd(this.keys.nodes, { score: now + this.leaseMs, value: this.nodeId });
    const ends = new Map<string, number>();
    const expired: string[] = [];
    for (const { value: node, score } of await redis.zRangeWithScores(this.keys.nodes, 0, -1)) {
      if (node === this.nodeId) continue;
      ends.set(node, score);
      if (score <= now) expired.push(node);
    }
    this.ends = ends;
    for (const node of expired) await this.reap(redis, node);
    return added === 1;
  }

  /** Removes `node`'s sessions (unless another survivor is at it, or it renewed meanwhile) and then its lease. */
  async reap(redis: RedisCommands, node: string, except?: ReadonlySet<string>): Promise<void> {
    const mine = node === this.nodeId;
    if (!mine) {
      const lock = await redis.set(this.keys.reaping(node), this.nodeId, {
        condition: 'NX',
        expiration: { type: 'PX', value: this.leaseMs },
      });
      if (lock === null) return;
      // A node that was only stalled may have renewed since the look: it keeps its sessions.
      const score = await redis.zScore(this.keys.nodes, node);
      if (score !== null && score > Date.now()) return;
    }
    const index = this.keys.nodeIndex(node);
    const sessions = Object.entries(await redis.hGetAll(index)).filter(([id]) => !except?.has(id));
    await Promise.all(
      sessions.map(async ([id, key]) => {
        await redis.unregister(...unregisterCall(this.keys, key, id, node));
        await redis.hDel(index, id);
      }),
    );
    if (mine) return;
    await redis.del(index);
    await redis.zRem(this.keys.nodes, node);
    this.log.warn(
      { nodeId: node, sessions: sessions.length },
      'node lease expired: its sessions are offline',
    );
  }

  /** Leaves: this node's lease is gone at once (its sessions were removed one by one as they closed). */
  async leave(redis: RedisCommands): Promise<void> {
    await this.reap(redis, this.nodeId);
    await redis.del(this.keys.nodeIndex(this.nodeId));
    await redis.zRem(this.keys.nodes, this.nodeId);
  }
}
