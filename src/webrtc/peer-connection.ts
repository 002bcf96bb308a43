import { type Actor, createActor, type InspectionEvent, type Observer } from 'xstate';
import type { SignalingClient } from '../client.js';
import { rethrowLater, SignalingError } from '../errors.js';
import type { Signer } from '../identity/identity.js';
import { peerMachine } from '../machines/peer.machine.js';
import {
  type IdentityFailure,
  type PeerCloseReason,
  type PeerEvent,
  type PeerSignalBody,
  PeerState,
  type RestartOptions,
  type SignalCheck,
} from '../machines/peer.types.js';
import { decodeExact, encodeBase64url } from '../protocol/base64url.js';
import { KEY_BYTES } from '../protocol/constants.js';
import type { Presence } from '../protocol/messages.js';
import type { TimerClock } from '../services/dispatcher.js';
import { DEFAULT_STUN_SERVERS } from '../stun/constants.js';
import { MAX_UNDELIVERED } from './constants.js';
import { type PeerRoute, registryOf } from './registry.js';
import { checkPeerSignal, type PeerSignal, signalKind, signPeerSignal } from './signal.js';

/** The running peer chart (`peer.actor`). */
export type PeerActor = Actor<typeof peerMachine>;

/**
 * Told each change of `peer.state`; `error` is the last failed negotiation step's message (also
 * `peer.error`) while the chart recovers from it (`negotiating`) or when it gave up (`failed`,
 * `closeReason` `'negotiation'`).
 */
export type PeerStateListener = (state: PeerState, previous: PeerState, error: string | undefined) => void;

/** What `createPeerConnection` takes; `peer` and `identity` are required. */
export interface PeerConnectionOptions {
  /**
   * The other side's Ed25519 public key (base64url); it calls `createPeerConnection` with this client's.
   * Every signal of the peer must carry this key's signature: one that does not is never applied.
   */
  peer: string;
  /**
   * Signs every signal this side sends: the `Identity` (or `Signer`) the client was created with. Its
   * secret stays in it; only signatures come out.
   */
  identity: Signer;
  /**
   * The `RTCPeerConnection` configuration. Default: `{ iceServers: client.iceServers }` (what the
   * server sent in `auth.ok`), else `DEFAULT_STUN_SERVERS` (what `getIceServers()` returns unconfigured).
   */
  rtcConfig?: RTCConfiguration;
  /** ICE restart delays and timeout. */
  restart?: RestartOptions;
  /**
   * Ms the impolite side waits for the answer to its offer while it holds the peer's colliding offer
   * before it rolls its own back and answers the peer's (the peer could not take ours). Default 5000.
   */
  answerTimeout?: number;
  /** An `RTCPeerConnection` class to use instead of the platform's. */
  RTCPeerConnection?: new (
    config?: RTCConfiguration,
  ) => RTCPeerConnection;
  /** XState inspection of the peer chart. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Timers for the chart (XState's `SimulatedClock` in tests). */
  clock?: TimerClock;
}

/** A WebRTC connection to one peer, negotiated over the signaling client. */
export interface PeerConnection {
  /** The `RTCPeerConnection`: add tracks, read stats. Negotiation is the chart's job. */
  readonly pc: RTCPeerConnection;
  /** The state now. */
  readonly state: PeerState;
  /** Why it closed, once `closed` (or `failed` with `'identity'`). */
  readonly closeReason: PeerCloseReason | undefined;
  /**
   * The last failed negotiation step's message (a description the connection refused), or undefined;
   * the chart rolls back and offers again, and gives up (`failed`, `'negotiation'`) after
   * `MAX_NEGOTIATION_FAILURES`.
   */
  readonly error: string | undefined;
  /** With `closeReason` `'identity'`: which check failed, on which kind of signal. */
  readonly identityFailure: IdentityFailure | undefined;
  /** The peer's candidates dropped so far for failing their check. */
  readonly droppedCandidates: number;
  /** The XState actor, for inspection or `useSelector`. */
  readonly actor: PeerActor;
  /** Called on every change of `state`. Returns an unsubscribe. */
  onStateChange(listener: PeerStateListener): () => void;
  /** Creates a data channel; the negotiation it needs runs by itself. */
  createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel;
  /** Called with each data channel the peer creates. Returns an unsubscribe. */
  onDataChannel(listener: (channel: RTCDataChannel) => void): () => void;
  /** Closes the connection and tells the peer (a `bye` signal). Safe to call more than once. */
  close(): void;
}

// The first tag the chart has is the state: a negotiation recovering from a failed step says
// `negotiating` even while ICE is connected, so the app hears of it.
const STATES: readonly PeerState[] = [
  PeerState.CLOSED,
  PeerState.FAILED,
  PeerState.NEGOTIATING,
  PeerState.CONNECTED,
  PeerState.DISCONNECTED,
  PeerState.NEW,
];

const CONNECTION_EVENTS: Partial<Record<RTCPeerConnectionState, PeerEvent['type']>> = {
  connected: 'ICE.CONNECTED',
  disconnected: 'ICE.DISCONNECTED',
  failed: 'ICE.FAILED',
};

/**
 * werift (0.25) picks its SCTP stream parity, and whether it sends the SCTP INIT, from its ICE role,
 * where RFC 8832 §6 says the DTLS role (client even, server odd). After glare its ICE role moves while
 * its DTLS role stays: a role conflict repaired against it (Chromium, its offer rolled back, still
 * claims `controlling`), or its own re-offer before ICE nominates (that makes it `controlling`). Then
 * both sides open their channels on the same stream and none opens. So its transport takes the DTLS
 * role, read when it starts (once DTLS is up, after the description that made the connection stable).
 * Other implementations have no `isServer`.
 */
function sctpRoleFromDtls(pc: RTCPeerConnection): void {
  type WeriftSctp = { isServer?: boolean; dtlsTransport?: { role: string } };
  const sctp = (pc as { sctpTransport?: WeriftSctp | null }).sctpTransport;
  const dtls = sctp?.dtlsTransport;
  // werift's `isServer` means "takes even streams and waits for the peer's INIT": the DTLS client's part.
  if (dtls && 'isServer' in sctp)
    Object.defineProperty(sctp, 'isServer', { configurable: true, get: () => dtls.role === 'client' });
}

function newSession(): string {
  const bytes = new Uint8Array(12);
  globalThis.crypto.getRandomValues(bytes);
  return encodeBase64url(bytes);
}

/**
 * Opens a WebRTC connection to `options.peer` whose negotiation runs as the peer statechart over
 * `client`'s `signal` messages. Both sides call it with each other's key; either may create data
 * channels or add tracks at any time (perfect negotiation: the side with the smaller key is polite).
 * Signals the peer sent before this call were held and are replayed now.
 */
export function createPeerConnection(
  client: SignalingClient,
  options: PeerConnectionOptions,
): PeerConnection {
  const { peer, identity } = options;
  const peerKey = decodeExact(peer, KEY_BYTES);
  if (!peerKey || peer === client.publicKey) {
    throw new SignalingError('invalid-option', 'peer must be the public key of another client');
  }
  if (typeof identity?.sign !== 'function' || identity.publicKey !== client.publicKey) {
    throw new SignalingError(
      'invalid-option',
      "identity must be the client's own Identity or Signer: every peer signal is signed with it",
    );
  }
  const ownKey = decodeExact(client.publicKey, KEY_BYTES) as Uint8Array;
  const registry = registryOf(client);
  const Ctor = options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
  if (typeof Ctor !== 'function') {
    throw new SignalingError('invalid-option', 'no RTCPeerConnection here: pass options.RTCPeerConnection');
  }
  const rtcConfig = options.rtcConfig ?? { iceServers: client.iceServers ?? [...DEFAULT_STUN_SERVERS] };
  const pc = new Ctor(rtcConfig);
  const session = newSession();
  let remoteSession: string | undefined;
  let seq = 0;
  let done = false;

  // Signals the server could not deliver (the peer was offline) wait for its presence to come back.
  const undelivered: object[] = [];
  let watching: (() => void) | undefined;
  const transmit = (data: object, bye: boolean) => {
    client.send({ type: 'signal', to: peer, id: `${session}.${seq++}`, data }).catch((error: unknown) => {
      if ((error as SignalingError).code !== 'peer-offline' || bye || done) return;
      if (undelivered.push(data) > MAX_UNDELIVERED) undelivered.shift();
      watchPresence();
    });
  };
  // Each body is signed at once (signatures are made side by side, off the chart's path: WebCrypto
  // works off the main thread) and sent in the chart's order once its own and every earlier one's
  // signature is made.
  let outbox: Promise<unknown> = Promise.resolve();
  const relay = (body: PeerSignalBody) => {
    const head = { from: ownKey, to: peerKey, session, remoteSession };
    const signing = signPeerSignal(identity, head, body);
    signing.catch(() => {}); // handled below, in order
    outbox = outbox
      .then(() => signing)
      .then(
        (data) => transmit(data, 'bye' in body),
        (error: unknown) => {
          if (done) return;
          const failure = { check: 'sign', signal: signalKind(body) } as const;
          actor.send({ type: 'SIGNING.FAILED', failure, error: String(error) });
        },
      )
      .catch(rethrowLater);
  };
  const watchPresence = () => {
    if (watching) return;
    const off = client.on('presence', (p: Presence) => {
      if (p.key !== peer || !p.online) return;
      for (const data of undelivered.splice(0)) transmit(data, false);
    });
    client.send({ type: 'presence.subscribe', keys: [peer] }).catch(() => {});
    watching = () => {
      off();
      client.send({ type: 'presence.unsubscribe', keys: [peer] }).catch(() => {});
    };
  };

  const actor = createActor(peerMachine, {
    input: {
      pc,
      send: relay,
      polite: client.publicKey < peer,
      restart: options.restart,
      ...(options.answerTimeout !== undefined ? { answerTimeout: options.answerTimeout } : {}),
    },
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });

  // Each signal of the peer is verified against the pinned key before the chart sees it; verifications
  // run side by side, and their verdicts are taken in the order the signals came.
  let inbox: Promise<unknown> = Promise.resolve();
  const route: PeerRoute = {
    deliver(signal: PeerSignal) {
      if (signal.to !== undefined && signal.to !== session) return; // for an earlier connection of ours
      const verdict = checkPeerSignal(signal, peerKey, ownKey);
      inbox = inbox
        .then(() => verdict)
        .then((check) => take(signal, check))
        .catch(rethrowLater);
    },
  };
  const take = (signal: PeerSignal, check: SignalCheck | undefined) => {
    if (done) return;
    const { body } = signal;
    if (check !== undefined) {
      actor.send({ type: 'SIGNAL.REFUSED', failure: { check, signal: signalKind(body) } });
    } else if (remoteSession !== undefined && signal.session !== remoteSession) {
      // The peer made a new connection: this one is over, and the new one waits to be accepted.
      if ('bye' in body) return;
      actor.send({ type: 'REMOTE.REPLACED' });
      registry.hold(peer, signal);
    } else {
      remoteSession = signal.session;
      if ('bye' in body) actor.send({ type: 'SIGNAL.BYE' });
      else if ('candidate' in body) actor.send({ type: 'SIGNAL.CANDIDATE', candidate: body.candidate });
      else actor.send({ type: 'SIGNAL.DESCRIPTION', ...body });
    }
  };

  const stateListeners = new Set<PeerStateListener>();
  const channelListeners = new Set<(channel: RTCDataChannel) => void>();
  let current: PeerState = PeerState.NEW;

  const onNegotiationNeeded = () => actor.send({ type: 'NEGOTIATION_NEEDED' });
  const onIceCandidate = (e: RTCPeerConnectionIceEvent) =>
    actor.send({ type: 'LOCAL.CANDIDATE', candidate: e.candidate ? e.candidate.toJSON() : null });
  const onConnectionState = () => {
    const type = CONNECTION_EVENTS[pc.connectionState];
    if (type) actor.send({ type } as PeerEvent);
  };
  const onSignalingState = () => sctpRoleFromDtls(pc);
  const onDataChannelEvent = (e: RTCDataChannelEvent) => {
    for (const listener of [...channelListeners]) listener(e.channel);
  };
  pc.addEventListener('negotiationneeded', onNegotiationNeeded);
  pc.addEventListener('icecandidate', onIceCandidate);
  pc.addEventListener('connectionstatechange', onConnectionState);
  pc.addEventListener('datachannel', onDataChannelEvent);
  pc.addEventListener('signalingstatechange', onSignalingState);

  const finish = () => {
    done = true;
    pc.removeEventListener('negotiationneeded', onNegotiationNeeded);
    pc.removeEventListener('icecandidate', onIceCandidate);
    pc.removeEventListener('connectionstatechange', onConnectionState);
    pc.removeEventListener('datachannel', onDataChannelEvent);
    pc.removeEventListener('signalingstatechange', onSignalingState);
    watching?.();
    registry.detach(peer, route, remoteSession);
  };

  actor.subscribe((snapshot) => {
    const state = STATES.find((s) => snapshot.hasTag(s)) ?? PeerState.NEW;
    if (snapshot.status === 'done' && !done) finish();
    if (state === current) return;
    const previous = current;
    current = state;
    for (const listener of [...stateListeners]) {
      try {
        listener(state, previous, snapshot.context.error);
      } catch (error) {
        rethrowLater(error);
      }
    }
  });

  const held = registry.attach(peer, route);
  actor.start();
  for (const signal of held) route.deliver(signal);

  return {
    pc,
    actor,
    get state() {
      return current;
    },
    get closeReason() {
      return actor.getSnapshot().context.reason;
    },
    get error() {
      return actor.getSnapshot().context.error;
    },
    get identityFailure() {
      return actor.getSnapshot().context.identityFailure;
    },
    get droppedCandidates() {
      return actor.getSnapshot().context.droppedCandidates;
    },
    onStateChange(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    createDataChannel: (label, init) => pc.createDataChannel(label, init),
    onDataChannel(listener) {
      channelListeners.add(listener);
      return () => channelListeners.delete(listener);
    },
    close: () => actor.send({ type: 'CLOSE' }),
  };
}
