import type { SignalingClient } from '../client.js';
import { SignalingError } from '../errors.js';
import { decodeExact } from '../protocol/base64url.js';
import { KEY_BYTES } from '../protocol/constants.js';
import type { SignalIn } from '../protocol/messages.js';
import { HELD_SIGNAL_MAX_AGE, MAX_HELD_PEERS, MAX_HELD_SIGNALS, MAX_RETIRED_SESSIONS } from './constants.js';
import { checkPeerSignal, type PeerSignal, parsePeerSignal } from './signal.js';

/** A live peer connection's side of the registry. */
export interface PeerRoute {
  deliver(signal: PeerSignal): void;
}

/** Told of a key that sent a WebRTC signal with no `createPeerConnection` for it yet. */
export type PeerRequestListener = (peer: string) => void;

interface Held {
  at: number;
  signal: PeerSignal;
}

/**
 * One per client: routes inbound WebRTC signals to the peer connection made for their sender, and
 * holds (bounded by count and age) those of senders without one, to replay when it is made.
 */
export class PeerRegistry {
  readonly #routes = new Map<string, PeerRoute>();
  readonly #held = new Map<string, Held[]>();
  readonly #retired = new Map<string, string[]>();
  readonly #listeners = new Set<PeerRequestListener>();
  readonly #now: () => number;
  readonly #ownKey: Uint8Array | undefined;

  constructor(client: SignalingClient, now: () => number = Date.now) {
    this.#now = now;
    this.#ownKey = decodeExact(client.publicKey, KEY_BYTES);
    client.on('signal', (message: SignalIn) => this.#receive(message.from, message.data));
  }

  /** Starts routing `peer`'s signals to `route`; returns those held for it, oldest first. */
  attach(peer: string, route: PeerRoute): PeerSignal[] {
    if (this.#routes.has(peer)) {
      throw new SignalingError(
        'invalid-option',
        `a peer connection to ${peer} is open already: close() it first`,
      );
    }
    this.#routes.set(peer, route);
    const held = this.#fresh(peer);
    this.#held.delete(peer);
    return held.map((h) => h.signal);
  }

  /** Stops routing to `route`; `session` (the peer's, if known) is over: its late signals are dropped. */
  detach(peer: string, route: PeerRoute, session: string | undefined): void {
    if (this.#routes.get(peer) === route) this.#routes.delete(peer);
    if (session !== undefined) this.retire(peer, session);
  }

  /** Whether `session` of `peer` has ended. */
  isRetired(peer: string, session: string): boolean {
    return this.#retired.get(peer)?.includes(session) ?? false;
  }

  retire(peer: string, session: string): void {
    const list = this.#retired.get(peer) ?? [];
    if (list.includes(session)) return;
    list.push(session);
    if (list.length > MAX_RETIRED_SESSIONS) list.shift();
    this.#retired.set(peer, list);
  }

  /** Holds `signal` of a peer with no connection; tells the listeners when it is the first one held. */
  hold(peer: string, signal: PeerSignal): void {
    // A bye for a connection never made ends what is held of that session, once its signature is
    // checked (anything else held is checked when replayed, against the key then pinned).
    if ('bye' in signal.body) {
      const from = decodeExact(peer, KEY_BYTES);
      if (!from || !this.#ownKey) return;
      void checkPeerSignal(signal, from, this.#ownKey).then((check) => {
        if (check !== undefined) return;
        const route = this.#routes.get(peer);
        if (route) route.deliver(signal);
        else this.#dropSession(peer, signal.session);
      });
      return;
    }
    const list = this.#fresh(peer);
    const first = list.length === 0;
    list.push({ at: this.#now(), signal });
    if (list.length > MAX_HELD_SIGNALS) list.shift();
    this.#held.delete(peer); // re-inserted last: the map's order is "heard from longest ago" first
    this.#held.set(peer, list);
    if (this.#held.size > MAX_HELD_PEERS) this.#held.delete(this.#held.keys().next().value as string);
    if (first) for (const listener of [...this.#listeners]) listener(peer);
  }

  /** The keys with held signals now (each told to `onPeerRequest` listeners when first held). */
  pending(): string[] {
    return [...this.#held.keys()].filter((peer) => this.#fresh(peer).length > 0);
  }

  onRequest(listener: PeerRequestListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #receive(from: string, data: unknown): void {
    const signal = parsePeerSignal(data);
    if (!signal) return; // not a WebRTC signal of this package: the application's own
    if (this.isRetired(from, signal.session)) return;
    const route = this.#routes.get(from);
    if (route) route.deliver(signal);
    else this.hold(from, signal);
  }

  /** Ends `session` of `peer` and what is held of it. */
  #dropSession(peer: string, session: string): void {
    this.retire(peer, session);
    const kept = this.#fresh(peer).filter((h) => h.signal.session !== session);
    if (kept.length > 0) this.#held.set(peer, kept);
    else this.#held.delete(peer);
  }

  /** The held signals of `peer` young enough to replay. */
  #fresh(peer: string): Held[] {
    const oldest = this.#now() - HELD_SIGNAL_MAX_AGE;
    return (this.#held.get(peer) ?? []).filter((h) => h.at >= oldest);
  }
}

const registries = new WeakMap<SignalingClient, PeerRegistry>();

/** The client's registry, made (and subscribed to its signals) on first use. */
export function registryOf(client: SignalingClient): PeerRegistry {
  let registry = registries.get(client);
  if (!registry) {
    registry = new PeerRegistry(client);
    registries.set(client, registry);
  }
  return registry;
}

/**
 * Tells `listener` of each key that sends a WebRTC signal while no `createPeerConnection` exists for
 * it (at most once per run of held signals). Call `createPeerConnection(client, { peer })` to accept:
 * what was held is replayed. Keys already waiting are told at once. Returns an unsubscribe.
 */
export function onPeerRequest(client: SignalingClient, listener: PeerRequestListener): () => void {
  const registry = registryOf(client);
  const off = registry.onRequest(listener);
  for (const peer of registry.pending()) listener(peer);
  return off;
}
