import { withDefaults } from '../defaults.js';
import { isSignalingError, rethrowLater, SignalingError } from '../errors.js';
import { MAX_TIMER_DELAY_MS } from '../machines/backoff.js';
import { DEDUP_WINDOW, DEFAULT_MAX_MESSAGE_BYTES, MAX_PRESENCE_KEYS } from '../protocol/constants.js';
import type { ApplicationMessage } from '../protocol/messages.js';
import { type ParsedMessage, utf8Length, validateMessage } from '../protocol/parse.js';
import type { Channel, Link } from './link.js';

/**
 * The facade's side of the link: routes inbound frames to subscribers (dropping repeated signals),
 * settles sends on `ack` / `error`, and holds what the application sends while no authenticated socket
 * exists — bounded by count, bytes and age, every overflow or expiry an explicit rejection.
 */

export interface QueueOptions {
  /** Most messages held while not connected. Default 1000. */
  maxMessages?: number;
  /** Most UTF-8 bytes held while not connected. Default 1 MiB. */
  maxBytes?: number;
  /** Ms a message may wait (for a connection, or for its ack across a reconnect). Default 60 000. */
  maxAge?: number;
}

/** The send queue's bounds while not connected: 1000 messages, 1 MiB, 60 s. */
export const DEFAULT_QUEUE: Readonly<Required<QueueOptions>> = Object.freeze({
  maxMessages: 1000,
  maxBytes: 1024 * 1024,
  maxAge: 60_000,
});

/** setTimeout/clearTimeout, injectable so tests run on XState's `SimulatedClock`. */
export interface TimerClock {
  /** Calls `fn` after `ms`; returns an id for `clearTimeout`. */
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  /** Cancels a timer set by `setTimeout`. */
  clearTimeout(id: unknown): void;
}

export type Listener = (message: ParsedMessage<'server'>) => void;

interface Entry {
  text: string;
  bytes: number;
  /** When the application called send() (ms, `now()`). */
  at: number;
  /** A signal's id: settled by the server's ack / error instead of by the write. */
  signalId: string | undefined;
  /** A presence.subscribe (true) / unsubscribe (false): its keys are remembered once written. */
  watch?: [subscribe: boolean, keys: string[]];
  /** `waitForPeer`: the signal's recipient, whose coming online a `peer-offline` answer waits for. */
  peer?: string | undefined;
  /** The last `peer-offline` answer: the cause of an `expired` rejection. */
  offline?: SignalingError;
  resolve(): void;
  reject(error: SignalingError): void;
}

export interface DispatcherOptions {
  queue?: QueueOptions;
  clock?: TimerClock;
  now?: () => number;
}

export class Dispatcher implements Link {
  #channel: Channel | undefined;
  /** The last announced frame limit: a queued message larger than this could never be sent. */
  #maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
  readonly #queue: Entry[] = [];
  #queuedBytes = 0;
  // The maps and sets below are created on first use: thousands of clients in one process each hold
  // only what they use (an empty Map or Set costs 150 B).
  /**
   * Signals written and not yet acknowledged, by id, in send order: resent after re-authentication.
   * Starts as the shared empty NO_ENTRIES, which #trackUnacked (the one writer) replaces first.
   */
  #unacked = NO_ENTRIES;
  /**
   * Recently delivered signals, to drop a repeat (a resend after a reconnect): the ids seen per sender,
   * and a ring of the last DEDUP_WINDOW (sender, id) pairs, interleaved, saying which to forget next.
   * No string is built per signal: this runs for every relayed message. The ring grows as signals
   * come (a client that never receives one holds none of its 16 KiB).
   */
  #seen: Map<string, Set<string>> | undefined;
  readonly #ring: (string | undefined)[] = [];
  #ringAt = 0;
  // Copy-on-write arrays: iterating an array per frame is cheaper than a Set's iterator.
  #all: Listener[] = [];
  #byType: Map<string, Listener[]> | undefined;
  /**
   * The presence keys subscribed to (as written to a socket, in order): the server keeps subscriptions
   * per socket, so each new session starts by subscribing to all of them again.
   */
  #watched: Set<string> | undefined;
  /**
   * `waitForPeer` signals answered `peer-offline`, waiting for their peer's `presence` online (their
   * keys subscribed meanwhile, renewed with the others on each new session) until `maxAge`.
   */
  #waiting: Entry[] = [];
  /** Sockets started and not yet fully closed. */
  #alive = 0;
  /** whenIdle() callers since no socket was alive, each counting down the sockets alive when it asked. */
  #idle: (() => void)[] = [];
  #expiryTimer: unknown;
  readonly #limits: Required<QueueOptions>;
  readonly #clock: TimerClock;
  readonly #now: () => number;

  constructor(options: DispatcherOptions = {}) {
    this.#limits = options.queue ? withDefaults(DEFAULT_QUEUE, options.queue) : DEFAULT_QUEUE;
    for (const [key, value] of Object.entries(this.#limits)) {
      if (!(typeof value === 'number' && value >= 0)) {
        throw new SignalingError('invalid-option', `queue.${key} must be a number ≥ 0`);
      }
    }
    this.#clock = options.clock ?? TIMERS;
    this.#now = options.now ?? Date.now;
  }

  // Subscribers

  subscribe(listener: Listener): () => void {
    this.#all = [...this.#all, listener];
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.#all = without(this.#all, listener);
    };
  }

  subscribeType(type: string, listener: Listener): () => void {
    this.#byType ??= new Map();
    const byType = this.#byType;
    byType.set(type, [...(byType.get(type) ?? []), listener]);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const rest = without(byType.get(type) ?? [], listener);
      if (rest.length > 0) byType.set(type, rest);
      else byType.delete(type);
    };
  }

  // Link (called by the socket service)

  deliver(message: ParsedMessage<'server'>): void {
    switch (message.type) {
      case 'signal': {
        const m = message as { from: string; id: string };
        if (this.#isRepeat(m.from, m.id)) return;
        break;
      }
      case 'ack':
        this.#settle((message as { id: string }).id, undefined);
        break;
      case 'error': {
        const m = message as { code: string; id?: string };
        if (m.id !== undefined) {
          const offline = m.code === 'peer-offline';
          const error = offline
            ? new SignalingError('peer-offline', `signal ${m.id}: the peer is offline`)
            : new SignalingError('send-failed', `signal ${m.id}: the server answered ${m.code}`);
          const entry = this.#unacked.get(m.id);
          // Synchronously, not in a rejection handler: the `presence` frame saying the peer is back may
          // be read in this same turn.
          if (offline && entry?.peer !== undefined) {
            this.#unacked.delete(m.id);
            this.#wait(entry, error);
          } else this.#settle(m.id, error);
        }
        break;
      }
      case 'presence': {
        const m = message as { key: string; online: boolean };
        if (m.online) this.#peerOnline(m.key);
        break;
      }
    }
    const all = this.#all;
    for (let i = 0; i < all.length; i++) call(all[i] as Listener, message);
    const typed = this.#byType?.get(message.type);
    if (typed !== undefined) for (let i = 0; i < typed.length; i++) call(typed[i] as Listener, message);
  }

  /** True when (from, id) was delivered among the last DEDUP_WINDOW signals; else remembers it. */
  #isRepeat(from: string, id: string): boolean {
    this.#seen ??= new Map();
    const seen = this.#seen;
    let ids = seen.get(from);
    if (ids === undefined) {
      ids = new Set();
      seen.set(from, ids);
    } else if (ids.has(id)) {
      return true;
    }
    ids.add(id);
    const ring = this.#ring;
    const at = this.#ringAt;
    // Past the end while the ring is still growing: undefined, and the writes below append.
    const oldFrom = ring[at];
    if (oldFrom !== undefined) {
      const oldIds = seen.get(oldFrom) as Set<string>;
      oldIds.delete(ring[at + 1] as string);
      if (oldIds.size === 0) seen.delete(oldFrom);
    }
    ring[at] = from;
    ring[at + 1] = id;
    this.#ringAt = (at + 2) % (2 * DEDUP_WINDOW);
    return false;
  }

  attach(channel: Channel): void {
    this.#channel = channel;
    this.#maxMessageBytes = channel.maxMessageBytes;
    if (!this.#resubscribe(channel)) return;
    const cutoff = this.#now() - this.#limits.maxAge;
    // Unacknowledged signals first (they are older), then the queue, each in order.
    for (const entry of [...this.#unacked.values()]) {
      if (entry.at < cutoff) {
        this.#unacked.delete(entry.signalId as string);
        entry.reject(expired());
        continue;
      }
      const outcome = this.#write(entry);
      if (outcome === 'closed') return;
      if (outcome === 'rejected') this.#unacked.delete(entry.signalId as string);
    }
    while (this.#queue.length > 0) {
      const entry = this.#queue[0] as Entry;
      if (entry.at < cutoff) {
        this.#shift();
        entry.reject(expired());
        continue;
      }
      if (entry.signalId !== undefined && this.#busy(entry.signalId)) {
        this.#shift();
        entry.reject(inFlight(entry.signalId));
        continue;
      }
      const outcome = this.#write(entry);
      if (outcome === 'closed') break;
      this.#shift();
      if (outcome === 'rejected') continue;
      if (entry.signalId !== undefined) this.#trackUnacked(entry);
      else entry.resolve();
    }
    this.#scheduleExpiry();
  }

  detach(channel: Channel): void {
    if (this.#channel === channel) this.#channel = undefined;
  }

  // A count rather than a promise per socket: nothing is allocated per connection unless someone
  // waits. A socket is started once and ended once.
  socketStarted(): number {
    this.#alive++;
    // Waiters from this index on come after this socket started: they count it.
    return this.#idle.length;
  }

  socketEnded(started: number): void {
    const idle = this.#idle;
    for (let i = started; i < idle.length; i++) (idle[i] as () => void)();
    if (--this.#alive === 0) this.#idle = [];
  }

  /** Resolves once every socket alive now has finished closing (not ones opened later). */
  whenIdle(): Promise<void> {
    let left = this.#alive;
    return new Promise((resolve) => (left ? this.#idle.push(() => --left || resolve()) : resolve()));
  }

  // Sending

  /** `waitForPeer`: a signal answered `peer-offline` waits for its peer instead of rejecting. */
  send(message: object, waitForPeer?: boolean): Promise<void> {
    let text: string;
    let signalId: string | undefined;
    try {
      signalId = checkOutbound(message);
      text = JSON.stringify(message);
    } catch (error) {
      return Promise.reject(asSignalingError(error));
    }
    const watch = watchOf(message);
    const peer = waitForPeer && signalId !== undefined ? (message as { to: string }).to : undefined;
    const channel = this.#channel;
    if (channel !== undefined && this.#queue.length === 0) {
      if (signalId === undefined) {
        // The hot path: one write, no entry, no bookkeeping.
        try {
          channel.send(text);
          if (watch) this.#remember(watch);
          return Promise.resolve();
        } catch (error) {
          if (!isSignalingError(error, 'closed')) return Promise.reject(error);
        }
      } else {
        if (this.#busy(signalId)) return Promise.reject(inFlight(signalId));
        return new Promise<void>((resolve, reject) => {
          const entry: Entry = { text, bytes: 0, at: this.#now(), signalId, peer, resolve, reject };
          try {
            channel.send(text);
            this.#trackUnacked(entry);
          } catch (error) {
            if (!isSignalingError(error, 'closed')) return reject(error);
            this.#enqueue(entry, text);
          }
        });
      }
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = { text, bytes: 0, at: this.#now(), signalId, peer, resolve, reject };
      if (watch) entry.watch = watch;
      this.#enqueue(entry, text);
    });
  }

  /**
   * Rejects everything queued or awaiting an ack (the client was told to stop, or failed). Takes a
   * factory: an error (its stack trace) is built only when something waits.
   */
  rejectAll(error: SignalingError | (() => SignalingError)): void {
    this.#cancelExpiry();
    if (this.#unacked.size === 0 && this.#queue.length === 0 && this.#waiting.length === 0) return;
    if (typeof error === 'function') error = error();
    const entries = [...this.#unacked.values(), ...this.#queue, ...this.#waiting];
    this.#unacked.clear();
    this.#queue.length = 0;
    this.#waiting = [];
    this.#queuedBytes = 0;
    for (const entry of entries) entry.reject(error);
  }

  // Internals

  #enqueue(entry: Entry, text: string): void {
    const bytes = utf8Length(text);
    entry.bytes = bytes;
    if (bytes > this.#maxMessageBytes) {
      entry.reject(
        new SignalingError('too-large', `message exceeds the server's ${this.#maxMessageBytes}-byte limit`),
      );
      return;
    }
    this.#expire();
    if (this.#queue.length >= this.#limits.maxMessages || this.#queuedBytes + bytes > this.#limits.maxBytes) {
      entry.reject(new SignalingError('queue-full', 'the send queue is full while not connected'));
      return;
    }
    this.#queue.push(entry);
    this.#queuedBytes += bytes;
    if (this.#queue.length === 1) this.#scheduleExpiry();
  }

  /** Writes one entry: `closed` when the socket went away meanwhile (the entry stays where it is). */
  #write(entry: Entry): 'written' | 'closed' | 'rejected' {
    const channel = this.#channel;
    if (channel === undefined) return 'closed';
    try {
      channel.send(entry.text);
      if (entry.watch) this.#remember(entry.watch);
      return 'written';
    } catch (error) {
      if (isSignalingError(error, 'closed')) return 'closed';
      // Too large for this server's limit (it may have lowered it): this one can never go.
      entry.reject(asSignalingError(error));
      return 'rejected';
    }
  }

  #remember([subscribe, keys]: [boolean, string[]]): void {
    this.#watched ??= new Set();
    const watched = this.#watched;
    for (const key of keys) {
      if (subscribe) watched.add(key);
      else watched.delete(key);
    }
    // The application stopped watching a key a waiting signal still needs: keep the server telling us.
    if (subscribe || this.#waiting.length === 0) return;
    const needed = keys.filter((key) => this.#waitsFor(key));
    if (needed.length > 0) this.#control('presence.subscribe', needed);
  }

  /** An id is taken while its signal awaits an ack or waits for its peer. */
  #busy(id: string): boolean {
    return (
      this.#unacked.has(id) || (this.#waiting.length > 0 && this.#waiting.some((e) => e.signalId === id))
    );
  }

  #waitsFor(key: string): boolean {
    return this.#waiting.length > 0 && this.#waiting.some((entry) => entry.peer === key);
  }

  /** A presence (un)subscription of the client's own: nobody awaits it; a new session renews what is needed. */
  #control(type: string, keys: string[]): void {
    try {
      this.#channel?.send(JSON.stringify({ type, keys }));
    } catch {
      // The socket is gone: the next session subscribes to every key still needed.
    }
  }

  /** A `waitForPeer` signal answered `peer-offline`: watch its peer (subscribing if nobody does yet). */
  #wait(entry: Entry, offline: SignalingError): void {
    const peer = entry.peer as string;
    const watched = this.#watched?.has(peer) || this.#waitsFor(peer);
    entry.offline = offline;
    this.#waiting.push(entry);
    if (!watched) this.#control('presence.subscribe', [peer]);
    this.#scheduleExpiry();
  }

  /** Resends every signal waiting for `key` (once each: a new `peer-offline` makes it wait again). */
  #peerOnline(key: string): void {
    if (!this.#waitsFor(key)) return;
    const ready = this.#waiting.filter((entry) => entry.peer === key);
    this.#waiting = this.#waiting.filter((entry) => entry.peer !== key);
    this.#release(key);
    for (const entry of ready) {
      // Tracked first: if the socket is gone, the next session resends it with the other unacked ones.
      this.#trackUnacked(entry);
      if (this.#write(entry) === 'rejected') this.#unacked.delete(entry.signalId as string);
    }
  }

  /** Unsubscribes from `key` once no waiting signal needs it, unless the application watches it. */
  #release(key: string): void {
    if (!this.#watched?.has(key) && !this.#waitsFor(key)) this.#control('presence.unsubscribe', [key]);
  }

  /** Subscribes the new session to every remembered key; false when the socket went away meanwhile. */
  #resubscribe(channel: Channel): boolean {
    const keys = [
      ...new Set([...(this.#watched ?? []), ...this.#waiting.map((entry) => entry.peer as string)]),
    ];
    for (let i = 0; i < keys.length; i += MAX_PRESENCE_KEYS) {
      const frame = { type: 'presence.subscribe', keys: keys.slice(i, i + MAX_PRESENCE_KEYS) };
      try {
        channel.send(JSON.stringify(frame));
      } catch (error) {
        if (isSignalingError(error, 'closed')) return false;
        // Over this server's frame limit: nothing to reject (no caller waits on it); the keys stay remembered.
      }
    }
    return true;
  }

  #settle(id: string, error: SignalingError | undefined): void {
    const entry = this.#unacked.get(id);
    if (entry === undefined) return;
    this.#unacked.delete(id);
    if (error === undefined) entry.resolve();
    else entry.reject(error);
  }

  #shift(): void {
    const entry = this.#queue.shift();
    if (entry) this.#queuedBytes -= entry.bytes;
  }

  /** Rejects every queued or unacknowledged entry older than maxAge: nothing waits forever. */
  #expire(): void {
    const cutoff = this.#now() - this.#limits.maxAge;
    while (this.#queue.length > 0 && (this.#queue[0] as Entry).at <= cutoff) {
      const entry = this.#queue[0] as Entry;
      this.#shift();
      entry.reject(expired());
    }
    // The map keeps send order, so the oldest unacknowledged signals come first.
    for (const [id, entry] of this.#unacked) {
      if (entry.at > cutoff) break;
      this.#unacked.delete(id);
      entry.reject(expired(entry.offline));
    }
    if (this.#waiting.length === 0) return;
    const late = this.#waiting.filter((entry) => entry.at <= cutoff);
    if (late.length === 0) return;
    this.#waiting = this.#waiting.filter((entry) => entry.at > cutoff);
    for (const entry of late) {
      this.#release(entry.peer as string);
      entry.reject(expired(entry.offline));
    }
  }

  #trackUnacked(entry: Entry): void {
    if (this.#unacked === NO_ENTRIES) this.#unacked = new Map();
    this.#unacked.set(entry.signalId as string, entry);
    if (this.#expiryTimer === undefined) this.#scheduleExpiry();
  }

  #scheduleExpiry(): void {
    this.#cancelExpiry();
    const oldest = Math.min(
      this.#queue[0]?.at ?? Number.POSITIVE_INFINITY,
      this.#unacked.values().next().value?.at ?? Number.POSITIVE_INFINITY,
      ...this.#waiting.map((entry) => entry.at),
    );
    if (oldest === Number.POSITIVE_INFINITY) return;
    // Capped: a longer timer fires at once (`maxAge: Infinity` would spin).
    const wait = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, oldest + this.#limits.maxAge - this.#now()));
    this.#expiryTimer = this.#clock.setTimeout(() => {
      this.#expiryTimer = undefined;
      this.#expire();
      this.#scheduleExpiry();
    }, wait);
  }

  #cancelExpiry(): void {
    if (this.#expiryTimer !== undefined) {
      this.#clock.clearTimeout(this.#expiryTimer);
      this.#expiryTimer = undefined;
    }
  }
}

/** Every dispatcher's `#unacked` until its first signal: empty, and never written. */
const NO_ENTRIES = new Map<string, Entry>();

/** The platform's timers, shared by every dispatcher (wrapped: browsers want `setTimeout` called on `window`). */
const TIMERS: TimerClock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/** Checks what the application may send; returns a signal's id. */
function checkOutbound(message: unknown): string | undefined {
  if (
    typeof message !== 'object' ||
    message === null ||
    typeof (message as { type?: unknown }).type !== 'string'
  ) {
    throw new SignalingError('malformed', 'a message is an object with a string `type`');
  }
  const type = (message as ApplicationMessage).type;
  if (type.startsWith('auth.') || type === 'ping' || type === 'pong') {
    throw new SignalingError('protocol', `${type} belongs to the connection, not the application`);
  }
  const result = validateMessage(message, 'client');
  // Refused here, before any socket: the close code a receiver would use does not apply.
  if (!result.ok) throw new SignalingError(result.error.code, result.error.message);
  return type === 'signal' ? (message as { id: string }).id : undefined;
}

/** A presence.subscribe / unsubscribe's direction and keys (copied: the caller may reuse its array). */
function watchOf(message: object): [boolean, string[]] | undefined {
  const { type, keys } = message as { type: string; keys: string[] };
  if (type === 'presence.subscribe') return [true, [...keys]];
  if (type === 'presence.unsubscribe') return [false, [...keys]];
  return undefined;
}

/** A copy without the first occurrence (the same function may be subscribed twice). */
function without(list: Listener[], listener: Listener): Listener[] {
  const i = list.indexOf(listener);
  return i < 0 ? list : [...list.slice(0, i), ...list.slice(i + 1)];
}

function call(listener: Listener, message: ParsedMessage<'server'>): void {
  try {
    listener(message);
  } catch (error) {
    rethrowLater(error);
  }
}

function asSignalingError(error: unknown): SignalingError {
  return error instanceof SignalingError
    ? error
    : new SignalingError('malformed', 'message cannot be serialized as JSON', { cause: error });
}

/** `cause`: the `peer-offline` answer a `waitForPeer` signal was waiting out. */
function expired(cause?: SignalingError): SignalingError {
  return new SignalingError('expired', 'the message waited longer than queue.maxAge', { cause });
}

function inFlight(id: string): SignalingError {
  return new SignalingError('send-failed', `a signal with id ${id} is already awaiting its ack`);
}
