import type { Peer } from './peer.js';

/**
 * Where relay, presence and the per-key session limit find sessions: this process's
 * {@link SessionRegistry}, or a cluster's view over Redis (`cluster.ts`) that also knows other nodes'.
 */
export interface Sessions {
  /** Registers `peer`; returns this node's sessions it pushes beyond `maxPerKey`, to close as replaced. */
  add(peer: Peer, maxPerKey: number): Peer[];
  /** Unregisters `peer`; a no-op when it was not registered. */
  remove(peer: Peer): void;
  /** This node's live sessions of `key` (do not modify). */
  sessionsOf(key: string): ReadonlySet<Peer> | undefined;
  /** Whether `key` has a session anywhere (in a cluster: on any node). */
  isOnline(key: string): boolean;
  /** This node's authenticated sessions. */
  readonly size: number;
  /** Distinct keys online on this node. */
  readonly keys: number;
  /**
   * Hands `frame` to `key`'s sessions on other nodes (cluster only). With `answer`, resolves `true`
   * once one of them wrote it to a socket, `false` when none did; without, asks for no answer and
   * returns `undefined`. `undefined` too when no other node has `key` (or the cluster cannot be reached).
   */
  deliverElsewhere?(key: string, frame: string, answer: boolean): Promise<boolean> | undefined;
}

/**
 * Public key → its live sessions, oldest first. A key is online while it has at least one; the
 * `onChange` callback hears each flip so presence can tell the watchers.
 */
export class SessionRegistry implements Sessions {
  private readonly byKey = new Map<string, Set<Peer>>();
  private count = 0;

  constructor(private readonly onChange: (key: string, online: boolean) => void) {}

  /**
   * Registers `peer`. Returns the sessions it pushes beyond `maxPerKey` (the oldest), which the caller
   * closes as replaced.
   */
  add(peer: Peer, maxPerKey: number): Peer[] {
    let set = this.byKey.get(peer.publicKey);
    const first = !set;
    if (!set) {
      set = new Set();
      this.byKey.set(peer.publicKey, set);
    }
    set.add(peer);
    this.count++;
    if (first) this.onChange(peer.publicKey, true);
    const replaced: Peer[] = [];
    for (const old of set) {
      if (set.size - replaced.length <= maxPerKey) break;
      replaced.push(old);
    }
    return replaced;
  }

  /** Unregisters `peer`; a no-op when it was not registered. */
  remove(peer: Peer): void {
    const set = this.byKey.get(peer.publicKey);
    if (!set?.delete(peer)) return;
    this.count--;
    if (set.size === 0) {
      this.byKey.delete(peer.publicKey);
      this.onChange(peer.publicKey, false);
    }
  }

  /** The live sessions of `key` (do not modify). */
  sessionsOf(key: string): ReadonlySet<Peer> | undefined {
    return this.byKey.get(key);
  }

  isOnline(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Number of authenticated sessions. */
  get size(): number {
    return this.count;
  }

  /** Number of distinct keys online. */
  get keys(): number {
    return this.byKey.size;
  }
}
