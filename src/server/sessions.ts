import type { Peer } from './peer.js';

/**
 * Where relay, presence and the per-key session limit find sessions: this process's
 * {@link SessionRegistry}, or a cluster node's (`cluster/cluster-sessions.ts`), which also reaches the
 * other nodes' sessions through Redis.
 */
export interface Sessions {
  /**
   * Cluster only: makes `peer`'s session known to every node before its `auth.ok` (read-your-writes),
   * then `add` registers it here. Resolves when every node can see it, or after a bound if Redis
   * does not answer. `remove` undoes it if the socket closes meanwhile.
   */
  announce?(peer: Peer, maxPerKey: number): Promise<void>;
  /** Registers `peer`; returns this node's sessions it pushes beyond `maxPerKey`, to close as replaced. */
  add(peer: Peer, maxPerKey: number): Peer[];
  /** Unregisters `peer`; a no-op when it was not registered. */
  remove(peer: Peer): void;
  /** This node's live sessions of `key`, oldest first (live: copy it before sending, a send may close one). */
  sessionsOf(key: string): readonly Peer[] | undefined;
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
 * `onChange` callback hears each flip so presence can tell the watchers. Arrays, not Sets: most keys
 * have one session, and a one-element array is a third of an empty Set's heap (issue 14: memory per
 * idle session); at most `maxSessionsPerKey` (16 by default) makes the linear remove cheap.
 */
export class SessionRegistry implements Sessions {
  private readonly byKey = new Map<string, Peer[]>();
  private count = 0;

  constructor(private readonly onChange: (key: string, online: boolean) => void) {}

  /**
   * Registers `peer`. Returns the sessions it pushes beyond `maxPerKey` (the oldest), which the caller
   * closes as replaced.
   */
  add(peer: Peer, maxPerKey: number): Peer[] {
    const peers = this.byKey.get(peer.publicKey);
    this.count++;
    if (!peers) {
      this.byKey.set(peer.publicKey, [peer]);
      this.onChange(peer.publicKey, true);
      return [];
    }
    peers.push(peer);
    return peers.length > maxPerKey ? peers.slice(0, peers.length - maxPerKey) : [];
  }

  /** Unregisters `peer`; a no-op when it was not registered. */
  remove(peer: Peer): void {
    const peers = this.byKey.get(peer.publicKey);
    const at = peers?.indexOf(peer) ?? -1;
    if (!peers || at === -1) return;
    peers.splice(at, 1);
    this.count--;
    if (peers.length === 0) {
      this.byKey.delete(peer.publicKey);
      this.onChange(peer.publicKey, false);
    }
  }

  sessionsOf(key: string): readonly Peer[] | undefined {
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
