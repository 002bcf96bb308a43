import { randomUUID } from 'node:crypto';
import { CloseCode } from '../../protocol/constants.js';
import { withDeadline } from '../deadline.js';
import type { Log } from '../logger.js';
import type { Peer } from '../peer.js';
import type { SessionRegistry, Sessions } from '../sessions.js';
import { Delivery } from './delivery.js';
import { ClusterKeys } from './keys.js';
import { Leases } from './leases.js';
import {
  type ClusterOptions,
  DEFAULT_LEASE_MS,
  LATE_REGISTRATION_WARN_MS,
  REGISTER_WAIT_MS,
} from './options.js';
import { PresenceView } from './presence-view.js';
import { openRedis, type RedisLink } from './redis.js';
import { type RegisterReply, registerCall, unregisterCall } from './scripts.js';

/**
 * Several reference servers as one, over Redis (the `cluster` option), routed per key: a node keeps
 * its own sockets, registers each session in its key's hash before the session's `auth.ok` (so any
 * node asked afterwards sees it), subscribes to the delivery channel of the keys it has sessions of
 * and to the presence channel of the keys its clients watch. What a node holds and hears grows with
 * its own sessions, the keys its clients watch and the number of nodes — never with the cluster's
 * sessions or churn. docs/cluster.md lists the keys and channels.
 */
export class ClusterSessions implements Sessions {
  readonly nodeId: string;
  private readonly leaseMs: number;
  private readonly names: ClusterKeys;
  private link: RedisLink | undefined;
  private readonly leases: Leases;
  private readonly delivery: Delivery;
  /** What presence asks: the keys this node's clients watch. */
  readonly presence: PresenceView;
  /** This node's sessions, announced or added, by session id. */
  private readonly own = new Map<string, Peer>();
  /** Each key this node subscribes to the delivery channel of → how many of its sessions need it. */
  private readonly subscribedKeys = new Map<string, number>();
  private readonly authenticatedAt = new WeakMap<Peer, number>();
  /** Sessions whose registration Redis confirmed (the rest are registered when Redis is back). */
  private readonly registered = new WeakSet<Peer>();
  /** Removals on their way to Redis: `close()` waits for them. */
  private readonly removing = new Set<Promise<unknown>>();
  private renewTimer: ReturnType<typeof setInterval> | undefined;
  private needsJoin = true;
  private joining: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly local: SessionRegistry,
    /** A watched key went online or offline cluster-wide: presence tells this node's watchers. */
    changed: (key: string, online: boolean) => void,
    private readonly log: Log,
    private readonly options: ClusterOptions,
  ) {
    this.nodeId = options.nodeId ?? randomUUID();
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    const prefix = options.prefix ?? 'signaling-actor:';
    this.names = new ClusterKeys(prefix);
    this.leases = new Leases(this.nodeId, this.leaseMs, this.names, log);
    const link = () => this.link;
    this.presence = new PresenceView(
      link,
      this.names,
      this.leases,
      local,
      changed,
      () => {
        this.needsJoin = true;
      },
      (channel) => this.staleChannels.add(channel),
    );
    this.delivery = new Delivery(this.nodeId, this.leaseMs, this.names, this.leases, local, link, (id) =>
      this.own.get(id)?.close(CloseCode.REPLACED, 'replaced by a newer session'),
    );
  }

  /** Whether Redis is reachable for commands and subscriptions: `/healthz` and `redis_up` read it. */
  get redisReady(): boolean {
    return this.link?.isReady === true;
  }

  /** This node's registry calls this on each local flip; only while Redis is away is it news here. */
  localChanged(key: string, online: boolean): void {
    if (!this.link?.commands.isReady) this.presence.localFlip(key, online);
  }

  /** Connects to Redis and joins the cluster. @throws SignalingError `invalid-option` without the Redis client installed */
  async start(): Promise<void> {
    // openRedis reports each outage once: `down`, then `up` once it is over.
    this.link = await openRedis(this.options, {
      down: (error) => {
        if (this.closed) return;
        this.needsJoin = true;
        this.log.error(
          { err: error?.message, nodeId: this.nodeId },
          'redis unreachable: relaying between local peers only',
        );
      },
      up: () => {
        if (this.closed) return;
        this.log.info({ nodeId: this.nodeId }, 'redis reachable again: rejoining the cluster');
        this.needsJoin = true;
        void this.join();
      },
    });
    this.renewTimer = setInterval(() => this.renew(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref();
    // Not awaited past a bound: with Redis away the node serves its own peers now and joins when it can.
    await withDeadline(this.connect(), 2000, () => undefined);
  }

  /**
   * Connects and joins. A standalone client retries by itself; a Redis Cluster client gives up when no
   * node it was given answers, so the renewal timer calls this again while the link is not open.
   */
  private connecting: Promise<void> | undefined;
  private connect(): Promise<void> {
    const link = this.link as RedisLink;
    this.connecting ??= link
      .connect()
      .then(() => this.join())
      .catch(() => {})
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  /**
   * (Re)joins: the lease, this node's results channel, its own sessions registered again (a restarted
   * Redis or a promoted replica may have lost them) and sessions it no longer has removed, then every
   * watched key read again. O(own sessions + watched keys), pipelined.
   */
  private join(): Promise<void> {
    // A join asked for while one runs runs again after it: what changed meanwhile is not lost.
    this.joinAgain = this.joining !== undefined;
    this.joining ??= (async () => {
      const link = this.link as RedisLink;
      do {
        this.joinAgain = false;
        this.needsJoin = false;
        try {
          await this.leases.renew(link.commands, Date.now());
          await link.sSubscribe([this.names.results(this.nodeId)], this.delivery.onResult);
          await this.leases.reap(link.commands, this.nodeId, new Set(this.own.keys()));
          // Channels left subscribed by removals and unwatches that could not reach Redis.
          const stale = [...this.staleChannels];
          this.staleChannels.clear();
          if (stale.length > 0) await link.sUnsubscribe(stale);
          await Promise.all([...this.subscribedKeys.keys()].map((key) => this.subscribe(link, key)));
          await Promise.all([...this.own.values()].map((peer) => this.register(link, peer)));
          if (!(await this.presence.resync())) throw new Error('a watched key could not be read');
          this.everJoined = true;
          this.failedJoins = 0;
        } catch (error) {
          this.needsJoin = true;
          // Once per streak: during a failover every renewal tries again until the new master answers.
          if (++this.failedJoins === 1) {
            this.log.warn(
              { err: String(error), nodeId: this.nodeId },
              'joining the cluster failed; retrying',
            );
          }
          // A Redis Cluster client that connected while the cluster was forming holds an empty slot map
          // and never asks again: until the first join, a few failures in a row connect it anew. (Later,
          // in a failover, the client follows the promoted replica by itself.)
          if (link.isCluster && !this.everJoined && this.failedJoins % 3 === 0) await link.reset();
        }
      } while (this.joinAgain && !this.needsJoin && !this.closed);
      this.joining = undefined;
    })();
    return this.joining;
  }

  private joinAgain = false;
  /** Joins that failed in a row (0 after one succeeds). */
  private failedJoins = 0;
  /** Whether this node has joined once: a lease found missing afterwards means it was reaped. */
  private everJoined = false;
  /** Shard channels this node no longer needs but could not unsubscribe from (Redis was away). */
  private readonly staleChannels = new Set<string>();

  private renew(): void {
    const link = this.link;
    if (!link || this.closed) return;
    if (!link.isOpen) {
      void this.connect();
      return;
    }
    if (!link.commands.isReady) return;
    if (this.needsJoin) {
      void this.join();
      return;
    }
    this.leases
      .renew(link.commands, Date.now())
      .then((lost) => {
        // Stalled past its lease and reaped (or Redis lost the lease): register everything again.
        if (lost && this.everJoined) {
          this.log.warn(
            { nodeId: this.nodeId },
            'this node was taken for dead: registering its sessions again',
          );
          void this.join();
        }
      })
      .catch(() => {});
  }

  private subscribe(link: RedisLink, key: string): Promise<void> {
    return link.sSubscribe([this.names.delivery(key)], this.delivery.onDeliveryMessage);
  }

  /** Writes `peer`'s session into its key's hash (and this node's index); closes what the limit replaced here. */
  private async register(link: RedisLink, peer: Peer, maxPerKey = this.maxPerKey): Promise<void> {
    const key = peer.publicKey;
    const session = {
      id: peer.sessionId,
      node: this.nodeId,
      at: this.authenticatedAt.get(peer) ?? Date.now(),
      maxPerKey,
    };
    // Pipelined, the index first: a node that dies after sending both leaves nothing a reaper misses.
    const [, raw] = await Promise.all([
      link.commands.hSet(this.names.nodeIndex(this.nodeId), peer.sessionId, key),
      link.commands.register(...registerCall(this.names, key, session)),
    ]);
    const reply = JSON.parse(raw) as RegisterReply;
    const version = Number(reply.v);
    this.delivery.snapshot(key, version, Array.isArray(reply.s) ? reply.s : []);
    if (!this.own.has(peer.sessionId)) return;
    this.registered.add(peer);
    this.presence.applied(key, version, true);
    for (const [id, node] of Array.isArray(reply.x) ? reply.x : []) {
      if (node === this.nodeId) this.own.get(id)?.close(CloseCode.REPLACED, 'replaced by a newer session');
    }
  }

  private maxPerKey = Number.POSITIVE_INFINITY;

  /**
   * Before `peer`'s `auth.ok`: subscribes to its key's deliveries (first session of the key here) and
   * registers it, so that every node asked after `auth.ok` finds it. Waits at most
   * {@link REGISTER_WAIT_MS} for a Redis that does not answer; with Redis away, not at all (the
   * session is registered when Redis is back).
   */
  async announce(peer: Peer, maxPerKey: number): Promise<void> {
    this.maxPerKey = maxPerKey;
    const key = peer.publicKey;
    this.own.set(peer.sessionId, peer);
    this.authenticatedAt.set(peer, Date.now());
    const count = this.subscribedKeys.get(key) ?? 0;
    this.subscribedKeys.set(key, count + 1);
    const link = this.link;
    if (count === 0) this.delivery.track(key);
    if (!link?.commands.isReady) return;
    this.delivery.hold(key);
    const registered = (async () => {
      if (count === 0) await this.subscribe(link, key);
      await this.register(link, peer, maxPerKey);
    })().catch((error: unknown) => {
      // auth.ok goes out all the same (this node serves it); the next renewal registers it again.
      this.needsJoin = true;
      this.log.warn({ err: String(error), nodeId: this.nodeId }, 'registering a session in redis failed');
    });
    if (
      await withDeadline(
        registered.then(() => false),
        REGISTER_WAIT_MS,
        () => true,
      )
    ) {
      this.noteLateRegistration(peer);
    }
  }

  /** Registrations that came after their auth.ok since the last warning about them. */
  private lateRegistrations = 0;
  private lateWarnedAt = Number.NEGATIVE_INFINITY;

  /**
   * Other nodes may not find a session for a moment after its auth.ok: said, since it explains a
   * `peer-offline` that read-your-writes would otherwise rule out; at most once per
   * LATE_REGISTRATION_WARN_MS with a count, so a slow Redis under a reconnect storm is one line.
   */
  private noteLateRegistration(peer: Peer): void {
    this.lateRegistrations++;
    const now = Date.now();
    if (now - this.lateWarnedAt < LATE_REGISTRATION_WARN_MS) return;
    this.log.warn(
      {
        nodeId: this.nodeId,
        sessionId: peer.sessionId,
        late: this.lateRegistrations,
        waitedMs: REGISTER_WAIT_MS,
      },
      'auth.ok sent before its registration in redis completed (redis slow)',
    );
    this.lateRegistrations = 0;
    this.lateWarnedAt = now;
  }

  add(peer: Peer, maxPerKey: number): Peer[] {
    // Registered: the limit was applied in Redis, across the nodes. Not (Redis away): here only.
    const replaced = this.local.add(peer, this.registered.has(peer) ? Number.POSITIVE_INFINITY : maxPerKey);
    this.delivery.release(peer.publicKey);
    return replaced;
  }

  remove(peer: Peer): void {
    if (!this.own.delete(peer.sessionId)) return;
    this.local.remove(peer);
    const key = peer.publicKey;
    this.delivery.release(key);
    const left = (this.subscribedKeys.get(key) ?? 1) - 1;
    if (left > 0) this.subscribedKeys.set(key, left);
    else {
      this.subscribedKeys.delete(key);
      this.delivery.untrack(key);
    }
    const link = this.link;
    if (!link?.commands.isReady) {
      // Redis away: a rejoin removes the session through this node's index; the channel is dropped then.
      if (left === 0) this.staleChannels.add(this.names.delivery(key));
      return;
    }
    const removal = (async () => {
      const reply = await link.commands.unregister(
        ...unregisterCall(this.names, key, peer.sessionId, this.nodeId),
      );
      if (reply[1] === 1) this.presence.applied(key, Number(reply[0]), false);
      await link.commands.hDel(this.names.nodeIndex(this.nodeId), peer.sessionId);
      // Another session of the key may have come meanwhile: it needs the subscription.
      if (!this.subscribedKeys.has(key)) await link.sUnsubscribe([this.names.delivery(key)]);
    })()
      .catch((error: unknown) => {
        // The next renewal rejoins, which removes what this node's index still lists.
        this.needsJoin = true;
        if (!this.subscribedKeys.has(key)) this.staleChannels.add(this.names.delivery(key));
        this.log.warn({ err: String(error), nodeId: this.nodeId }, 'removing a session from redis failed');
      })
      .finally(() => this.removing.delete(removal));
    this.removing.add(removal);
  }

  sessionsOf(key: string): readonly Peer[] | undefined {
    return this.local.sessionsOf(key);
  }

  get size(): number {
    return this.local.size;
  }

  get keys(): number {
    return this.local.keys;
  }

  deliverElsewhere(key: string, frame: string, answer: boolean): Promise<boolean> | undefined {
    return this.delivery.send(key, frame, answer);
  }

  /**
   * Shares the failed-handshake count of `address` with every node: counts it in Redis and hands the
   * cluster's count and the window left to `adopt`, so an attacker's budget does not grow with the node count.
   */
  countFailure(address: string, windowMs: number, adopt: (failures: number, leftMs: number) => void): void {
    const redis = this.link?.commands;
    if (!redis?.isReady) return;
    const key = this.names.failures(address);
    // One round trip: the three go out together on the key's connection and run in this order. The
    // expiry is set every time, not only on the first: a counter whose expiry was lost would lock the
    // address out for good.
    Promise.all([redis.incr(key), redis.pExpire(key, windowMs, 'NX'), redis.pTTL(key)]).then(
      ([failures, , left]) => adopt(failures, left > 0 ? left : windowMs),
      () => {},
    );
  }

  /** Leaves the cluster: this node's sessions and lease are gone for every other node at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.renewTimer);
    this.delivery.settleAll();
    const link = this.link;
    // Bounded: with Redis away or going away, the lease ends by itself and a survivor reaps what is left.
    await within(this.leaseMs, async () => {
      await Promise.all(this.removing);
      if (link?.commands.isReady) await this.leases.leave(link.commands);
    });
    await within(this.leaseMs, async () => link?.close());
    link?.destroy();
  }
}

/** Runs `work`, giving up on it (and on any error) after `ms`. */
async function within(ms: number, work: () => Promise<unknown>): Promise<void> {
  await withDeadline(
    work().catch(() => {}),
    ms,
    () => undefined,
  );
}
