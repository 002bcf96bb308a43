import { MAX_PRESENCE_KEYS } from '../protocol/constants.js';
import type { Peer } from './peer.js';

/**
 * Who watches whose presence. A subscribe answers at once with the current state of each key; every
 * change of a key between online (≥ 1 live session) and offline is sent to each of its watchers.
 */
export class PresenceHub {
  private readonly watchers = new Map<string, Set<Peer>>();

  constructor(private readonly isOnline: (key: string) => boolean) {}

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
        }
        set.add(peer);
      }
      if (!peer.send(presenceFrame(key, this.isOnline(key)))) return true;
    }
    return true;
  }

  unsubscribe(peer: Peer, keys: readonly string[]): void {
    for (const key of keys) {
      if (!peer.subscriptions?.delete(key)) continue;
      const set = this.watchers.get(key);
      set?.delete(peer);
      if (set?.size === 0) this.watchers.delete(key);
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
