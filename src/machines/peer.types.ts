/** Types, states and default timings of the peer chart (`peer.machine.ts`). */

/** What `peer.state` and `onStateChange` report: one tag of the peer chart. */
export const PeerState = {
  /** Created; nothing negotiated yet. */
  NEW: 'new',
  /**
   * Offer/answer or the first ICE checks under way, or recovering from a failed negotiation step
   * (`peer.error` says which; on an open connection data keeps flowing meanwhile).
   */
  NEGOTIATING: 'negotiating',
  /** ICE and DTLS are up: data flows peer to peer. */
  CONNECTED: 'connected',
  /** The connection was up and is interrupted, or an ICE restart is under way. */
  DISCONNECTED: 'disconnected',
  /**
   * ICE failed and the restart did not bring it back (only `close()` is left), a peer signal failed
   * its identity check (`closeReason` `'identity'`), or the negotiation failed again and again
   * (`closeReason` `'negotiation'`, `peer.error` the last failure): in both the connection is closed.
   */
  FAILED: 'failed',
  /** Closed by either side (a `bye`), or replaced by a new connection from the peer. */
  CLOSED: 'closed',
} as const;
/** One of {@link PeerState}'s values. */
export type PeerState = (typeof PeerState)[keyof typeof PeerState];

/**
 * Why a peer connection closed: `identity` when a signal failed its check (see `identityFailure`),
 * `negotiation` when {@link MAX_NEGOTIATION_FAILURES} negotiation steps failed with no offer of this
 * side answered in between (see `error`).
 */
export type PeerCloseReason = 'local' | 'remote' | 'replaced' | 'identity' | 'negotiation';

/**
 * Failed negotiation steps (a description the connection refused, or the peer's answer not coming
 * while its colliding offer waits) after which the connection gives up, unless an offer of this side
 * got answered in between.
 */
export const MAX_NEGOTIATION_FAILURES = 3;

/**
 * The identity check a peer signal failed: `unsigned` (no signature: the old format 1, or `sig`
 * stripped), `version` (a signed format this package does not speak), `signature` (not the pinned
 * key's signature over this signal for this receiver: forged, altered, signed by another key), or
 * `sign` (this side's own identity could not sign one).
 */
export type SignalCheck = 'unsigned' | 'version' | 'signature' | 'sign';

/** Which check failed, on which kind of signal. */
export interface IdentityFailure {
  check: SignalCheck;
  signal: 'description' | 'candidate' | 'bye';
}

/** A session description as it travels in a signal (`RTCSessionDescriptionInit`). */
export interface Description {
  /** `offer` or `answer` here; the chart never sends the other kinds. */
  type: RTCSdpType;
  /** The SDP text. */
  sdp?: string;
}

/**
 * The part of `RTCPeerConnection` the chart's services use. A real `RTCPeerConnection` is one; model
 * tests pass a fake of exactly this, so the chart is tested and the browser stood in for.
 */
export interface PeerConnectionLike {
  /** The description last set locally (W3C: after `setLocalDescription()` resolves). */
  readonly localDescription: Description | null;
  /** The local half of the last completed offer/answer exchange (W3C); absent in some implementations. */
  readonly currentLocalDescription?: Description | null;
  /** The peer's half of the last completed offer/answer exchange (W3C); absent in some implementations. */
  readonly currentRemoteDescription?: Description | null;
  /** Where the offer/answer exchange stands (W3C). */
  readonly signalingState: RTCSignalingState;
  /**
   * Without a description: creates and sets the fitting offer or answer (the implicit form, perfect
   * negotiation's need; an implementation without it throws a `TypeError` and gets the explicit form).
   * `{ type: 'rollback' }` drops the offer in progress.
   */
  setLocalDescription(description?: Description): Promise<void>;
  /** Sets the peer's description; an offer in `have-local-offer` rolls the local offer back (browsers). */
  setRemoteDescription(description: Description): Promise<void>;
  /** The explicit form, for implementations without the implicit `setLocalDescription()`. */
  createOffer(): Promise<Description>;
  /** The explicit form, for implementations without the implicit `setLocalDescription()`. */
  createAnswer(): Promise<Description>;
  /** Adds a candidate the peer trickled; chained after the remote description by the browser. */
  addIceCandidate(candidate?: RTCIceCandidateInit): Promise<void>;
  /** Asks for new ICE credentials: fires `negotiationneeded` with an ICE-restart offer. */
  restartIce(): void;
  /** Ends the connection for good. */
  close(): void;
}

/** What the chart asks its owner to relay to the peer: one description, candidate or bye. */
export type PeerSignalBody =
  | { description: Description; generation: number }
  | { candidate: RTCIceCandidateInit | null }
  | { bye: true };

/** Ms and counts of the ICE restart policy. */
export interface RestartOptions {
  /** Ms before an ICE restart after the first (the first starts at once). Default 1000. */
  initialDelay?: number;
  /** Ceiling of the doubling delay between restarts, ms. Default 30 000. */
  maxDelay?: number;
  /** Ms a restart may take before the connection counts as failed. Default 30 000. */
  timeout?: number;
}

/** {@link RestartOptions} with every value filled in. */
export interface ResolvedRestart {
  initialDelay: number;
  maxDelay: number;
  timeout: number;
}

/** The ICE restart policy used when none is given. */
export const DEFAULT_RESTART: ResolvedRestart = {
  initialDelay: 1000,
  maxDelay: 30_000,
  timeout: 30_000,
};

/** What the chart is started with. */
export interface PeerInput {
  /** The connection the chart drives. */
  pc: PeerConnectionLike;
  /** Relays one body to the peer (the adapter wraps it in a `signal`). */
  send: (body: PeerSignalBody) => void;
  /** The polite side yields when both offer at once (W3C perfect negotiation). */
  polite: boolean;
  restart?: RestartOptions;
  /** Ms the impolite side waits for the answer while it holds the peer's colliding offer. Default 5000. */
  answerTimeout?: number;
}

/** How long the impolite side waits for an answer while it holds the peer's colliding offer, ms. */
export const DEFAULT_ANSWER_TIMEOUT = 5000;

/** The chart's context: no secret, nothing that cannot be shown in an inspector. */
export interface PeerContext {
  /** The connection the chart drives. */
  pc: PeerConnectionLike;
  /** Relays one body to the peer. */
  send: (body: PeerSignalBody) => void;
  polite: boolean;
  restart: ResolvedRestart;
  /** Ms the impolite side waits for its answer while it holds the peer's colliding offer. */
  answerTimeout: number;
  /** Local descriptions sent so far: each one's generation, so the peer can drop older ones. */
  generation: number;
  /** Generation of the latest remote description taken; an older one is stale. */
  remoteGeneration: number;
  /** ICE restarts made so far (the delay before the next grows with it). */
  restarts: number;
  /** Why it closed, once closed. */
  reason: PeerCloseReason | undefined;
  /** The last failed negotiation step's message (the chart rolls back and offers again). */
  error: string | undefined;
  /** Failed negotiation steps since an offer of this side was last answered. */
  failures: number;
  /** A `negotiationneeded` came while busy: an offer follows once stable. */
  negotiationPending: boolean;
  /**
   * The peer's offer the impolite side ignored for its own, with the candidates that came after it:
   * answered if the peer's answer does not come within `answerTimeout` (the peer could not take this
   * side's offer), dropped once the peer's answer is taken.
   */
  heldOffer:
    | { description: Description; generation: number; candidates: (RTCIceCandidateInit | null)[] }
    | undefined;
  /** The check a signal failed, when one ended the connection (`reason` `'identity'`). */
  identityFailure: IdentityFailure | undefined;
  /** The peer's candidates dropped for failing their check (the connection goes on without them). */
  droppedCandidates: number;
}

/** The events the chart takes; the adapter turns `RTCPeerConnection` events and signals into these. */
export type PeerEvent =
  /** The browser's `negotiationneeded`. */
  | { type: 'NEGOTIATION_NEEDED' }
  /** A local ICE candidate to trickle (`null`: gathering finished). */
  | { type: 'LOCAL.CANDIDATE'; candidate: RTCIceCandidateInit | null }
  /** `connectionState` became `connected`. */
  | { type: 'ICE.CONNECTED' }
  /** `connectionState` became `disconnected`. */
  | { type: 'ICE.DISCONNECTED' }
  /** `connectionState` became `failed`. */
  | { type: 'ICE.FAILED' }
  /** The peer's offer or answer. */
  | { type: 'SIGNAL.DESCRIPTION'; description: Description; generation: number }
  /** The peer's ICE candidate. */
  | { type: 'SIGNAL.CANDIDATE'; candidate: RTCIceCandidateInit | null }
  /** The peer closed. */
  | { type: 'SIGNAL.BYE' }
  /** A signal of the peer failed its identity check: never applied (the adapter verifies first). */
  | { type: 'SIGNAL.REFUSED'; failure: IdentityFailure }
  /** This side's identity failed to sign a signal (`error`: its message). */
  | { type: 'SIGNING.FAILED'; failure: IdentityFailure; error: string }
  /** The peer started a new connection (a new session): this one is over. */
  | { type: 'REMOTE.REPLACED' }
  /** `close()`: says bye to the peer and closes. */
  | { type: 'CLOSE' };
