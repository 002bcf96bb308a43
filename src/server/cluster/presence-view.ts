import { withDeadline } from '../deadline.js';
import type { PresenceSource } from '../presence.js';
import type { SessionRegistry } from '../sessions.js';
import type { ClusterKeys } from './keys.js';
import type { Leases } from './leases.js';
import { REGISTER_WAIT_MS } from './options.js';
import type { RedisLink } from './redis.js';
import { sessionNodes } from './scripts.js';

/** A watched key: its state and the version of the change that set it (−1: the snapshot is on its way). */
interface Watched {
  online: boolean;
  version: number;
  /** The snapshot being read; a subscribe meanwhile answers when it arrives (or after a bound). */
  reading: Promise<boolean> | undefined;
  /** A subscribe was answered from this node's own view before the snapshot came: tell what differs. */
  answeredEarly: boolean;
  /** The newest event that arrived before the snapshot, applied if it is newer. */
  early: { version: number; online: boolean } | undefined;
}

/**
 * A cluster node's presence: it follows only the keys its own clients watch. For each it subscribes
 * to the key's presence channel, then reads the key's hash (its sessions and version): an event older
 * than that snapshot is dropped, a newer one applied, so a snapshot and an event in flight cannot
 * reorder. While Redis is away it answers from this node's own sessions, and reads every watched key
 * again once Redis is back.
 */
export class PresenceView implements PresenceSource {
  private readonly watching = new Map<string, Watched>();
  private readonly onMessage = (message: string, channel: string) => this.onEvent(message, channel);

  constructor(
    private readonly link: () => RedisLink | undefined,
    private readonly keys: ClusterKeys,
    private readonly leases: Leases,
    private readonly local: SessionRegistry,
    /** The hub: tells this node's watchers of `key`. */
    private readonly changed: (key: string, online: boolean) => void,
    /** A read failed: the node rejoins, which reads every watched key again. */
    private readonly failed: () => void,
    /** A presence channel no longer needed could not be unsubscribed (Redis away): dropped on rejoin. */
    private readonly stale: (channel: string) => void,
  ) {}

  /**
   * A watched key's state; while its snapshot is on its way, a promise of it, answered from this
   * node's own view if Redis does not answer within {@link REGISTER_WAIT_MS} (a frozen Redis).
   */
  state(key: string): boolean | Promise<boolean> {
    const watched = this.watching.get(key);
    if (!watched) return this.local.isOnline(key);
    if (!watched.reading) return watched.online;
    return withDeadline(watched.reading, REGISTER_WAIT_MS, () => {
      watched.answeredEarly = true;
      return watched.online;
    });
  }

  watched(key: string): void {
    const watched: Watched = {
      online: this.local.isOnline(key),
      version: -1,
      reading: undefined,
      answeredEarly: false,
      early: undefined,
    };
    this.watching.set(key, watched);
    if (this.link()?.commands.isReady) {
      watched.reading = this.read(key, watched, false).then(() => watched.online);
    }
  }

  unwatched(key: string): void {
    this.watching.delete(key);
    const channel = this.keys.presence(key);
    const link = this.link();
    if (!link?.commands.isReady) this.stale(channel);
    else link.sUnsubscribe([channel]).catch(() => this.stale(channel));
  }

  /**
   * Subscribes, then reads the snapshot: online while a session of a node that may be alive is in
   * it. Never rejects: on failure it answers this node's own view and asks for a rejoin.
   */
  private async read(key: string, watched: Watched, tell: boolean): Promise<boolean> {
    const link = this.link() as RedisLink;
    try {
      await link.sSubscribe([this.keys.presence(key)], this.onMessage);
      const hash = await link.commands.hGetAll(this.keys.sessions(key));
      const nodes = sessionNodes(hash);
      const live = nodes.length > 0 && (await this.leases.anyAlive(link.commands, nodes));
      this.settle(key, watched, Number(hash.v ?? 0), live || this.local.isOnline(key), tell);
      return true;
    } catch {
      this.settle(key, watched, -1, this.local.isOnline(key), tell);
      this.failed();
      return false;
    }
  }

  /** With `tell` (a re-read once Redis is back), the watchers hear what changed while it was away. */
  private settle(key: string, watched: Watched, version: number, online: boolean, tell: boolean): void {
    const early = watched.early;
    const before = watched.online;
    watched.early = undefined;
    watched.reading = undefined;
    if (early && early.version > version) ({ version, online } = early);
    watched.version = version;
    watched.online = online;
    if ((tell || watched.answeredEarly) && before !== online && this.watching.get(key) === watched) {
      this.changed(key, online);
    }
    watched.answeredEarly = false;
  }

  private onEvent(message: string, channel: string): void {
    const key = this.keys.keyOfChannel(channel);
    const watched = this.watching.get(key);
    if (!watched) return;
    let event: { v: number; o: number };
    try {
      event = JSON.parse(message) as { v: number; o: number };
    } catch {
      return;
    }
    this.apply(key, watched, event.v, event.o === 1);
  }

  /** A change of `key` this node made itself (its script's answer): no need to wait for the event. */
  applied(key: string, version: number, online: boolean): void {
    const watched = this.watching.get(key);
    if (watched) this.apply(key, watched, version, online);
  }

  private apply(key: string, watched: Watched, version: number, online: boolean): void {
    if (watched.reading) {
      if (!watched.early || version > watched.early.version) watched.early = { version, online };
      return;
    }
    if (version <= watched.version) return;
    watched.version = version;
    if (watched.online === online) return;
    watched.online = online;
    this.changed(key, online);
  }

  /** Redis is away: this node's own sessions flipped `key`, and they are all it can know of. */
  localFlip(key: string, online: boolean): void {
    const watched = this.watching.get(key);
    if (!watched || watched.reading || watched.online === online) return;
    watched.online = online;
    this.changed(key, online);
  }

  /** Redis is back (or a replica was promoted): subscribe and read every watched key again; `false` if one failed. */
  async resync(): Promise<boolean> {
    const reads = await Promise.all(
      [...this.watching].map(async ([key, watched]) => {
        if (watched.reading) return watched.reading.then(() => true);
        const read = this.read(key, watched, true);
        watched.reading = read.then(() => watched.online);
        return read;
      }),
    );
    return reads.every(Boolean);
  }
}
