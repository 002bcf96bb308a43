import { type Actor, createActor, type InspectionEvent, type Observer } from 'xstate';
import { rethrowLater, SignalingError } from './errors.js';
import type { Signer } from './identity/identity.js';
import { type BackoffOptions, MAX_TIMER_DELAY_MS, resolveBackoff } from './machines/backoff.js';
import { signalingMachine } from './machines/signaling.machine.js';
import {
  type ConnectionError,
  ConnectionState,
  type FailureReason,
  type ReconnectReason,
} from './machines/signaling.types.js';
import { decodeExact } from './protocol/base64url.js';
import { KEY_BYTES } from './protocol/constants.js';
import type {
  Ack,
  ApplicationMessage,
  ErrorMessage,
  HeartbeatSettings,
  IceServer,
  Presence,
  PresenceSubscribe,
  PresenceUnsubscribe,
  SignalIn,
  SignalOut,
} from './protocol/messages.js';
import { normalizeOrigin } from './protocol/origin.js';
import type { ParsedMessage } from './protocol/parse.js';
import { Dispatcher, type QueueOptions, type TimerClock } from './services/dispatcher.js';
import { authResponder } from './services/signer.js';
import { socketCallback, type WebSocketConstructor } from './services/socket.js';

/** Something with add/removeEventListener: `window` in browsers. */
export interface EventTargetLike {
  /** Starts calling `listener` on events of `type`. */
  addEventListener(type: string, listener: () => void): void;
  /** Stops calling `listener` on events of `type`. */
  removeEventListener(type: string, listener: () => void): void;
  /** The page's document, for `visibilitychange` and `visibilityState`. */
  document?: { visibilityState?: string } & Partial<EventTargetLike>;
}

/** What `createSignalingClient` takes; only `url` and `identity` are required. */
export interface SignalingClientOptions {
  /**
   * The ws: / wss: URL of the signaling server. A list (a cluster's nodes): each new attempt dials the
   * next one, round robin. A function: called for each attempt's URL. Each URL is its own transcript
   * origin, so the server must list every URL clients dial as an origin.
   */
  url: string | URL | readonly (string | URL)[] | (() => string | URL);
  /** Who signs the handshake: an `Identity` (e.g. `await Identity.fromSeed(seed)`) or a `Signer`. */
  identity: Signer;
  /** Pin the server's key (base64url); a mismatch fails with 'server-key-mismatch'. */
  serverKey?: string;
  backoff?: BackoffOptions;
  connectTimeout?: number;
  authTimeout?: number;
  /** Overrides the heartbeat the server announces. */
  heartbeat?: Partial<HeartbeatSettings>;
  /** Bounds of the send queue while not connected (1000 messages, 1 MiB, 60 s). */
  queue?: QueueOptions;
  /** XState inspection (e.g. `@statelyai/inspect`'s `inspector.inspect`). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** A WebSocket class to use instead of the default (`ws` on Node, the platform's in browsers). */
  WebSocket?: WebSocketConstructor;
  /** Timers for the chart and the queue (XState's `SimulatedClock` in tests). */
  clock?: TimerClock;
  /** Ms since the epoch (RTT, queue ages, `issuedAt`). Default `Date.now`. */
  now?: () => number;
  /** Uniform in [0, 1) for backoff jitter. Default `Math.random`. */
  random?: () => number;
  /** Where browser `online`/`offline`/`visibilitychange` come from; `false` to ignore them. Default `globalThis` when it has `addEventListener`. */
  globalEvents?: EventTargetLike | false;
}

/**
 * What `onStateChange` listeners are told besides the states: only what is true of this change. Set on
 * changes into `reconnecting` and `failed`; a new attempt (`connecting`, `authenticating`) and
 * `connected` carry none of them.
 */
export interface StateChangeDetails {
  /** In `reconnecting` and `failed`: why. */
  reason: ReconnectReason | FailureReason | undefined;
  /** In `reconnecting`: ms until the next attempt. */
  retryIn: number | undefined;
  /** The close code of the socket that ended, when the server closed it. */
  closeCode: number | undefined;
  /**
   * Why the last attempt's socket failed, when the platform says: `ECONNREFUSED`, `ENOTFOUND`,
   * `http-404`, `tls`, `socket-construct`, … (unset in browsers, which do not tell). Transport failures are
   * reported here, not through `on('error')`, which carries the server's `error` frames.
   */
  error: ConnectionError | undefined;
}

/** Told each change of the connection state, with the state before it and why. */
export type StateChangeListener = (
  state: ConnectionState,
  previous: ConnectionState,
  details: StateChangeDetails,
) => void;

/** Inbound messages by `type`; any other type is an application message. */
export interface InboundMessages {
  signal: SignalIn;
  presence: Presence;
  ack: Ack;
  error: ErrorMessage;
}
/** The inbound message of `type` T: one of {@link InboundMessages}, else an application message. */
export type Inbound<T extends string> = T extends keyof InboundMessages
  ? InboundMessages[T]
  : ApplicationMessage;

/** Options of {@link SignalingClient.send}. */
export interface SendOptions {
  /**
   * For a `signal`: when the server answers `peer-offline`, watch the peer's presence (subscribing to
   * it if the application does not, unsubscribing after) and send the signal again once the peer is
   * online, until it is acknowledged; `queue.maxAge` after `send()` it rejects `expired`, with the
   * `peer-offline` answer as its `cause`. Other messages ignore it. Default `false`: `peer-offline`
   * rejects at once.
   */
  waitForPeer?: boolean;
}

/** What `send` accepts: a signal, a presence (un)subscription, or an application message. */
export type OutboundMessage = SignalOut | PresenceSubscribe | PresenceUnsubscribe | ApplicationMessage;

/** The running statechart behind a client (`client.actor`). */
export type SignalingActor = Actor<typeof signalingMachine>;

const STATES = Object.values(ConnectionState);

/**
 * The public API: a thin adapter over the signaling actor. The chart decides every state; this class
 * only maps snapshots to `ConnectionState`, forwards commands, and owns the dispatcher that carries
 * application frames past the chart.
 */
export class SignalingClient {
  // `declare`: assigned in the constructor only, so no class-field declarations are emitted (bundle bytes).
  /** The XState actor, e.g. for `@xstate/react`'s `useSelector`. */
  declare readonly actor: SignalingActor;
  /** This client's Ed25519 public key (base64url), its identity's. */
  declare readonly publicKey: string;
  readonly #dispatcher: Dispatcher;
  readonly #listeners = new Set<StateChangeListener>();
  readonly #globalEvents: EventTargetLike | undefined;
  #current: ConnectionState = ConnectionState.DISCONNECTED;
  #listening = false;
  /** Between disconnect() and the next connect(): sends are refused, nothing would carry them. */
  #stopped = false;

  constructor(options: SignalingClientOptions) {
    checkOptions(options);
    const given = options.url;
    const urls =
      typeof given === 'function' ? [] : Array.isArray(given) ? given.map(String) : [String(given)];
    // Checked now (`invalid-origin`) rather than on an attempt; a function's URLs when it is called.
    for (const u of urls) normalizeOrigin(u);
    if (urls.length === 0 && typeof given !== 'function') {
      throw new SignalingError('invalid-origin', '`url` is an empty list');
    }
    let next = 0;
    const nextUrl =
      typeof given === 'function'
        ? () => String(given())
        : urls.length > 1
          ? () => urls[next++ % urls.length] as string
          : undefined;
    const url = nextUrl ? '' : (urls[0] as string);
    this.publicKey = options.identity.publicKey;
    this.#dispatcher = new Dispatcher({ queue: options.queue, clock: options.clock, now: options.now });
    // The services go in as input, not through machine.provide(): every client shares one machine.
    this.actor = createActor(signalingMachine, {
      input: {
        url,
        nextUrl,
        socket: socketCallback({ link: this.#dispatcher, WebSocket: options.WebSocket }),
        signer: authResponder({ identity: options.identity, url, now: options.now }),
        serverKey: options.serverKey,
        backoff: options.backoff,
        connectTimeout: options.connectTimeout,
        authTimeout: options.authTimeout,
        heartbeat: options.heartbeat,
        random: options.random,
        now: options.now,
      },
      // Spread only when given: XState spreads these over its defaults, so `clock: undefined` would win.
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    const g = globalThis as unknown as Partial<EventTargetLike>;
    this.#globalEvents =
      options.globalEvents === false
        ? undefined
        : (options.globalEvents ??
          (typeof g.addEventListener === 'function' ? (g as EventTargetLike) : undefined));
    this.actor.subscribe((snapshot) => this.#onSnapshot(snapshot));
    this.actor.start();
  }

  /** The connection state now. */
  get state(): ConnectionState {
    return this.#current;
  }

  /** The server key learned on the last authentication (pin it for next time), or the pinned one. */
  get serverKey(): string | undefined {
    return this.actor.getSnapshot().context.serverKey;
  }

  /** The last heartbeat round-trip time, ms. */
  get rtt(): number | undefined {
    return this.actor.getSnapshot().context.rtt;
  }

  /**
   * The ICE servers the server handed this client in its last `auth.ok`, if any. The reference server
   * sends only entries that pass `validateIceServers`; with another server, run them through it first.
   */
  get iceServers(): IceServer[] | undefined {
    return this.actor.getSnapshot().context.iceServers;
  }

  /** The id the server gave the current (or last) session in `auth.ok`. */
  get sessionId(): string | undefined {
    return this.actor.getSnapshot().context.sessionId;
  }

  /**
   * Starts connecting (or retries now when waiting to reconnect). Safe in every state. Returns nothing
   * (so a failure never becomes an unhandled rejection): `await client.ready()` to wait for it.
   */
  connect(): void {
    this.#stopped = false;
    this.#listen(true);
    this.actor.send({ type: 'CONNECT' });
  }

  /**
   * Resolves once the client is connected (at once if it is). Rejects with `failed` when the
   * connection fails (the message says why: the reason and the socket's error), and with
   * `disconnected` when the client is, or becomes, disconnected: call `connect()` first.
   */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      const settle = (state: ConnectionState) => {
        const { reason, error } = this.actor.getSnapshot().context;
        if (state === ConnectionState.CONNECTED) resolve();
        else if (state === ConnectionState.FAILED) {
          reject(new SignalingError('failed', `connection failed: ${reason} ${error?.message ?? ''}`));
        } else if (state === ConnectionState.DISCONNECTED) reject(disconnectedError());
        else return false;
        return true;
      };
      if (!settle(this.#current)) {
        const off = this.onStateChange((state) => settle(state) && off());
      }
    });
  }

  /**
   * Closes with 1000 and stays disconnected. Resolves once the socket has closed and no timer is left;
   * queued and unacknowledged sends are rejected with `closed`, and later ones with `disconnected`
   * until the next `connect()`.
   */
  async disconnect(): Promise<void> {
    this.#stopped = true;
    this.#listen(false);
    this.actor.send({ type: 'DISCONNECT' });
    this.#dispatcher.rejectAll(() => new SignalingError('closed', 'the client was disconnected'));
    await this.#dispatcher.whenIdle();
  }

  /** `await using client = createSignalingClient(…)`: disconnects when the scope ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }

  /**
   * Sends a message. Connected, it is written at once; otherwise it queues until the connection is
   * authenticated. A `signal` resolves on the server's `ack` and rejects with `peer-offline` when the
   * peer is not connected (with `waitForPeer`, it waits for the peer instead); it is resent after a
   * reconnect until acknowledged or `queue.maxAge` has passed. The keys of the `presence.subscribe`s
   * written (less those unsubscribed) are remembered: every new session starts with one
   * `presence.subscribe` of all of them, before the queue, since the server forgets them.
   */
  send(message: OutboundMessage, options?: SendOptions): Promise<void> {
    return this.#stopped
      ? Promise.reject(disconnectedError())
      : this.#dispatcher.send(message, options?.waitForPeer);
  }

  /** Every inbound message that is not part of the connection itself. Returns an unsubscribe. */
  onMessage(listener: (message: ParsedMessage<'server'>) => void): () => void {
    return this.#dispatcher.subscribe(listener);
  }

  /**
   * Inbound messages of one `type`. Returns an unsubscribe. `on('error')` hears the server's `error`
   * frames (protocol errors such as `unknown-type`), not transport failures: those are the `error`
   * of {@link onStateChange}'s details.
   */
  on<T extends string>(type: T, listener: (message: Inbound<T>) => void): () => void {
    return this.#dispatcher.subscribeType(type, listener as (message: ParsedMessage<'server'>) => void);
  }

  /** The next inbound message of `type` (like `on`, once). */
  once<T extends string>(type: T): Promise<Inbound<T>> {
    return new Promise((resolve) => {
      const off = this.on(type, (message) => {
        off();
        resolve(message);
      });
    });
  }

  /** Called on every change of `state`. Returns an unsubscribe. */
  onStateChange(listener: StateChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #onSnapshot(snapshot: ReturnType<SignalingActor['getSnapshot']>): void {
    const state = STATES.find((s) => snapshot.hasTag(s)) ?? ConnectionState.DISCONNECTED;
    if (state === this.#current) return;
    const previous = this.#current;
    this.#current = state;
    if (state === ConnectionState.FAILED) {
      this.#dispatcher.rejectAll(
        () => new SignalingError('closed', `the connection failed (${snapshot.context.reason ?? 'unknown'})`),
      );
    }
    const { reason, retryIn, closeCode, error } = snapshot.context;
    const details: StateChangeDetails = { reason, retryIn, closeCode, error };
    for (const listener of [...this.#listeners]) {
      try {
        listener(state, previous, details);
      } catch (error) {
        rethrowLater(error);
      }
    }
  }

  /**
   * Browser hints: offline → drop the dead socket now; online → retry now; visible → ping now. Made on
   * the first connect() with a target, so clients without one (Node) carry none of them.
   */
  #hints: [online: () => void, offline: () => void, visibility: () => void] | undefined;

  #document() {
    return (
      this.#globalEvents?.document ?? (globalThis as { document?: EventTargetLike['document'] }).document
    );
  }

  #listen(on: boolean): void {
    const target = this.#globalEvents;
    if (target === undefined || on === this.#listening) return;
    this.#listening = on;
    this.#hints ??= [
      () => this.actor.send({ type: 'ONLINE' }),
      () => this.actor.send({ type: 'OFFLINE' }),
      () => {
        if (this.#document()?.visibilityState === 'visible') this.actor.send({ type: 'VISIBLE' });
      },
    ];
    const [online, offline, visibility] = this.#hints;
    const method = on ? 'addEventListener' : 'removeEventListener';
    target[method]('online', online);
    target[method]('offline', offline);
    this.#document()?.[method]?.('visibilitychange', visibility);
  }
}

function disconnectedError(): SignalingError {
  return new SignalingError('disconnected', 'call connect() first');
}

/**
 * Fails at creation on every option that would otherwise surface later, as a retry loop (a seed string
 * for `identity`, a malformed `serverKey`) or as an error thrown inside the running actor (a negative
 * `backoff.maxRetries`, a `heartbeat` of NaN). `queue` is checked by the Dispatcher, `url` strings by
 * normalizeOrigin (`invalid-origin`).
 * @throws SignalingError `invalid-option` naming the option and what it takes
 */
function checkOptions(o: SignalingClientOptions): void {
  const bad = (name: string, expected: string) => {
    throw new SignalingError('invalid-option', `\`${name}\` must be ${expected}`);
  };
  const is = (name: string, ok: unknown, expected: string) => ok || bad(name, expected);
  const optional = (v: unknown, type: string) => v === undefined || typeof v === type;
  // `v === +v`: a number and not NaN (a numeric string is not).
  const ms = (name: string, v: number | undefined) =>
    is(name, v === undefined || (v === +v && v > 0 && v <= MAX_TIMER_DELAY_MS), 'ms > 0');
  const identity = o?.identity;
  if (typeof identity?.sign !== 'function') {
    bad('identity', `an Identity or Signer (\`await Identity.fromSeed(seed)\`), not ${typeof identity}`);
  }
  is('identity.publicKey', typeof identity.publicKey === 'string', 'a string');
  if (o.serverKey !== undefined && decodeExact(o.serverKey, KEY_BYTES) === undefined) {
    bad('serverKey', "the server's public key: 43 base64url characters");
  }
  const { url, inspect, clock, globalEvents } = o;
  is(
    'url',
    typeof url === 'function' || [url].flat().every((u) => typeof u === 'string' || u instanceof URL),
    'a URL, a list of them or a function',
  );
  for (const name of ['backoff', 'heartbeat', 'queue'] as const)
    is(name, optional(o[name], 'object') && o[name] !== null, 'an object');
  if (o.backoff) resolveBackoff(o.backoff);
  ms('connectTimeout', o.connectTimeout);
  ms('authTimeout', o.authTimeout);
  ms('heartbeat.interval', o.heartbeat?.interval);
  ms('heartbeat.timeout', o.heartbeat?.timeout);
  for (const name of ['WebSocket', 'now', 'random'] as const)
    is(name, optional(o[name], 'function'), 'a function');
  is(
    'inspect',
    optional(inspect, 'function') || typeof (inspect as Observer<InspectionEvent>)?.next === 'function',
    'a function or an observer',
  );
  is('clock', !clock || typeof clock.setTimeout === 'function', 'a TimerClock');
  is('globalEvents', !globalEvents || typeof globalEvents.addEventListener === 'function', 'an EventTarget');
}

/** Creates a client; call `connect()` to start. */
export function createSignalingClient(options: SignalingClientOptions): SignalingClient {
  return new SignalingClient(options);
}
