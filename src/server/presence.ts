import { MAX_PRESENCE_KEYS } from '../protocol/constants.js';
import type { Peer } from './peer.js';

/**
 * Where the hub learns whether a key is online. A single node answers from its own sessions at once;
 * a cluster node may first have to read the key's state from Redis (a promise then), and it follows
 * only the keys someone here watches: `watched` / `unwatched` say when the first watcher of a key
 * comes and the last goes.
 */
export interface PresenceSource {
  state(key: string): boolean | Promise<boolean>;
  watched?(key: string): void;
  unwatched?(key: string): void;
}

/**
 * Who watches whose presence. A subscribe answers with the current state of each key; every change of
 * a key between online (≥ 1 live session) and offline is sent to each of its watchers.
 */
export class PresenceHub {
  private readonly watchers = new Map<string, Set<Peer>>();

  constructor(private readonly source: PresenceSource) {}

  /**
   * Adds `keys` to what `peer` watches and sends their state. `false` (nothing added) when the socket
   * would watch more than 1024 keys.
   */
  subscribe(peer: Peer, keys: readonly string[]): boolean {
    const watched = peer.subscriptions ?? new Set<string>();
    let added = 0;
    for (const key of new Set(keys)) if (!watched.has(key)) added++;
    if (watched.size + added > MAX_PRESENCE_KEYS) return false;
    if (added > 0) peer.subscriptions = watched;
    for (const key of keys) {
      if (!watched.has(key)) {
        watched.add(key);
        let set = this.watchers.get(key);
        if (!set) {
          set = new Set();
          this.watchers.set(key, set);
          this.source.watched?.(key);
        }
        set.add(peer);
      }
      const online = this.source.state(key);
      if (typeof online === 'boolean') {
        if (!peer.send(presenceFrame(key, online))) return true;
      } else {
        // Answered once the state is read; a watcher that left or unsubscribed meanwhile gets nothing.
        void online.then((state) => {
          if (peer.subscriptions?.has(key)) peer.send(presenceFrame(key, state));
        });
      }
    }
    return true;
  }

  unsubscribe(peer: Peer, keys: readonly string[]): void {
    for (const key of keys) {
      if (!peer.subscriptions?.delete(key)) continue;
      const set = this.watchers.get(key);
      set?.delete(peer);
      if (set?.size === 0) {
        this.watchers.delete(key);
        this.source.unwatched?.(key);
      }
    }
    if (peer.subscriptions?.size === 0) peer.subscriptions = undefined;
  }

  /** Forgets everything `peer` watches (it is closing). */
  removePeer(peer: Peer): void {
    if (peer.subscriptions) this.unsubscribe(peer, [...peer.subscriptions]);
  }

  /** Tells every watcher of `key` that it went online or offline. */
  changed(key: string, online: boolean): void {
    const set = this.watchers.get(key);
    if (!set) return;
    const frame = presenceFrame(key, online);
    // A copy: a send that overflows closes that watcher, which removes it from `set`.
    for (const watcher of [...set]) watcher.send(frame);
  }

  /** Number of keys someone watches. */
  get watchedKeys(): number {
    return this.watchers.size;
  }
}

function presenceFrame(key: string, online: boolean): string {
  return JSON.stringify({ type: 'presence', key, online });
}
