import { assign, fromPromise } from 'xstate';
import { answerOffer, rollBack, setLocal, setRemoteAnswer } from './peer.descriptions.js';
import {
  DEFAULT_ANSWER_TIMEOUT,
  DEFAULT_RESTART,
  type Description,
  MAX_NEGOTIATION_FAILURES,
  type PeerConnectionLike,
  type PeerContext,
  type PeerEvent,
  type PeerInput,
  PeerState,
} from './peer.types.js';
import { setup } from './setup.js';

type Ctx = { context: PeerContext };
type DescriptionEvent = Extract<PeerEvent, { type: 'SIGNAL.DESCRIPTION' }>;
/** What the services that set a remote description take. */
export interface Described {
  pc: PeerConnectionLike;
  description: Description;
}

/** The peer's description that entered the state, else (the impolite side giving in) its held offer. */
const remote = (context: PeerContext, event: PeerEvent) =>
  event.type === 'SIGNAL.DESCRIPTION' ? event.description : (context.heldOffer?.description as Description);

/** A description the peer sent after the last one taken (an older one belongs to a past negotiation). */
/**
 * Hands the peer's candidate to the connection, which chains it after any remote description being
 * set; one for a description this side ignored (glare) or of a past negotiation fails, and is dropped
 * as W3C's example drops it.
 */
const addRemoteCandidate = (pc: PeerConnectionLike, candidate: RTCIceCandidateInit | null) => {
  pc.addIceCandidate(candidate ?? undefined).catch(() => {});
};

const fresh = (context: PeerContext, event: PeerEvent, kind: RTCSdpType) =>
  event.type === 'SIGNAL.DESCRIPTION' &&
  event.description.type === kind &&
  event.generation > context.remoteGeneration;

/**
 * Perfect negotiation (W3C WebRTC §10.7, with the "setting remote answer pending" refinement) as a
 * statechart. Two regions run side by side: `negotiation` is the offer/answer exchange, `ice` the
 * connection's health and its restart policy. The tags are the {@link PeerState} the application sees.
 * The chart holds names only; it drives the `RTCPeerConnection` in its context through four services
 * and sends what the peer must hear through `context.send` (the adapter signs it and wraps it in a
 * `signal`). The adapter verifies each of the peer's signals before the chart sees it: one that fails
 * arrives as `SIGNAL.REFUSED` only, and ends the connection in `refused` unless it was a candidate.
 */
export const peerMachine = setup({
  types: {
    context: {} as PeerContext,
    events: {} as PeerEvent,
    input: {} as PeerInput,
    tags: {} as PeerState,
  },
  actors: {
    // setLocalDescription() without an argument creates the fitting offer (W3C implicit description).
    makeOffer: fromPromise<Description, { pc: PeerConnectionLike }>(({ input }) => setLocal(input.pc)),
    acceptOffer: fromPromise<Description, Described>(({ input: { pc, description } }) =>
      answerOffer(pc, description),
    ),
    acceptAnswer: fromPromise<void, Described>(({ input: { pc, description } }) =>
      setRemoteAnswer(pc, description),
    ),
    // After a failed step: back to `stable`, whatever was half set, so a fresh offer can go out.
    rollBack: fromPromise<void, { pc: PeerConnectionLike }>(({ input }) => rollBack(input.pc)),
  },
  delays: {
    // The first restart goes at once; each later one waits twice as long as the one before.
    restartDelay: ({ context: { restarts, restart } }: Ctx) =>
      restarts === 0 ? 0 : Math.min(restart.maxDelay, restart.initialDelay * 2 ** (restarts - 1)),
    restartTimeout: ({ context }: Ctx) => context.restart.timeout,
    answerTimeout: ({ context }: Ctx) => context.answerTimeout,
  },
  guards: {
    freshOffer: ({ context, event }) => fresh(context, event, 'offer'),
    // Glare: only the polite side takes the peer's offer over its own (rolled back implicitly).
    freshOfferAndPolite: ({ context, event }) => context.polite && fresh(context, event, 'offer'),
    freshAnswer: ({ context, event }) => fresh(context, event, 'answer'),
    negotiationPending: ({ context }) => context.negotiationPending,
    holdingOffer: ({ context }) => context.heldOffer !== undefined,
    // This failure is the last one allowed (it makes MAX_NEGOTIATION_FAILURES).
    lastFailure: ({ context }) => context.failures + 1 >= MAX_NEGOTIATION_FAILURES,
    lastStall: ({ context }) =>
      context.heldOffer !== undefined && context.failures + 1 >= MAX_NEGOTIATION_FAILURES,
    // A candidate that fails its check is only dropped: without it, ICE has one path fewer.
    refusedCandidate: ({ event }) => event.type === 'SIGNAL.REFUSED' && event.failure.signal === 'candidate',
  },
  actions: {
    takeRemote: assign({
      remoteGeneration: ({ event }) => (event as DescriptionEvent).generation,
      error: undefined,
    }),
    // The generation first (assign), then the send reads it: actions run in order in XState v5.
    nextGeneration: assign({ generation: ({ context }) => context.generation + 1 }),
    sendDescription: ({ context, event }) =>
      context.send({
        description: (event as unknown as { output: Description }).output,
        generation: context.generation,
      }),
    sendCandidate: ({ context, event }) => {
      if (event.type === 'LOCAL.CANDIDATE') context.send({ candidate: event.candidate });
    },
    addCandidate: ({ context, event }) => {
      if (event.type === 'SIGNAL.CANDIDATE') addRemoteCandidate(context.pc, event.candidate);
    },
    recordError: assign({
      error: ({ event }) => String((event as { error?: unknown }).error),
      failures: ({ context }) => context.failures + 1,
    }),
    // The impolite side's offer went unanswered while the peer's waited: the peer could not take ours.
    recordStall: assign({
      error: ({ context }) => `no answer within ${context.answerTimeout} ms; answering the peer's offer`,
      failures: ({ context }) => context.failures + 1,
    }),
    // An offer of ours answered: the negotiation works again.
    clearFailures: assign({ failures: 0 }),
    rememberNegotiation: assign({ negotiationPending: true }),
    startNegotiation: assign({ negotiationPending: false }),
    // The impolite side ignores the peer's colliding offer but keeps the latest, in case ours fails there.
    holdOffer: assign({
      heldOffer: ({ event }) => {
        const { description, generation } = event as DescriptionEvent;
        return { description, generation, candidates: [] };
      },
    }),
    // The held offer's candidates wait with it: an implementation that queues a candidate it cannot
    // place yet (werift) would fail the next remote description over it.
    holdCandidate: assign({
      heldOffer: ({ context: { heldOffer }, event }) =>
        heldOffer && event.type === 'SIGNAL.CANDIDATE'
          ? { ...heldOffer, candidates: [...heldOffer.candidates, event.candidate] }
          : heldOffer,
    }),
    // The held offer answered: its candidates now have their remote description.
    addHeldCandidates: ({ context }) => {
      for (const candidate of context.heldOffer?.candidates ?? []) addRemoteCandidate(context.pc, candidate);
    },
    // The held offer stays until `answering` is done with it: its input reads it on entry.
    takeHeldOffer: assign({
      remoteGeneration: ({ context }) => context.heldOffer?.generation ?? context.remoteGeneration,
    }),
    dropHeldOffer: assign({ heldOffer: undefined }),
    countRestart: assign({ restarts: ({ context }) => context.restarts + 1 }),
    restartIce: ({ context }) => context.pc.restartIce(),
    sendBye: ({ context }) => context.send({ bye: true }),
    closeLocal: assign({ reason: 'local' }),
    closeRemote: assign({ reason: 'remote' }),
    closeReplaced: assign({ reason: 'replaced' }),
    closeNegotiation: assign({ reason: 'negotiation' }),
    countDroppedCandidate: assign({ droppedCandidates: ({ context }) => context.droppedCandidates + 1 }),
    closeIdentity: assign({
      reason: 'identity',
      identityFailure: ({ event }) => (event as Extract<PeerEvent, { failure: unknown }>).failure,
      error: ({ event, context }) => (event.type === 'SIGNING.FAILED' ? event.error : context.error),
    }),
    closeConnection: ({ context }) => context.pc.close(),
  },
}).createMachine({
  id: 'peer',
  /** The initial context: the input, the restart policy with defaults, the counters at zero. */
  context: ({ input }) => ({
    pc: input.pc,
    /** Relays one body to the peer. */
    send: input.send,
    polite: input.polite,
    restart: { ...DEFAULT_RESTART, ...input.restart },
    answerTimeout: input.answerTimeout ?? DEFAULT_ANSWER_TIMEOUT,
    generation: 0,
    remoteGeneration: 0,
    restarts: 0,
    reason: undefined,
    error: undefined,
    failures: 0,
    negotiationPending: false,
    heldOffer: undefined,
    identityFailure: undefined,
    droppedCandidates: 0,
  }),
  initial: 'open',
  states: {
    open: {
      type: 'parallel',
      on: {
        'LOCAL.CANDIDATE': { actions: 'sendCandidate' },
        'SIGNAL.CANDIDATE': [
          { guard: 'holdingOffer', actions: 'holdCandidate' },
          { actions: 'addCandidate' },
        ],
        CLOSE: { target: 'closed', actions: ['closeLocal', 'sendBye'] },
        'SIGNAL.BYE': { target: 'closed', actions: 'closeRemote' },
        'REMOTE.REPLACED': { target: 'closed', actions: 'closeReplaced' },
        // A description or bye that fails its check ends the connection at once (the peer is told
        // with a bye); a candidate is dropped and counted.
        'SIGNAL.REFUSED': [
          { guard: 'refusedCandidate', actions: 'countDroppedCandidate' },
          { target: 'refused', actions: ['closeIdentity', 'sendBye'] },
        ],
        'SIGNING.FAILED': { target: 'refused', actions: 'closeIdentity' },
      },
      states: {
        negotiation: {
          initial: 'stable',
          // A negotiationneeded while busy is remembered: the offer follows once stable.
          on: { NEGOTIATION_NEEDED: { actions: 'rememberNegotiation' } },
          states: {
            stable: {
              always: { guard: 'negotiationPending', target: 'makingOffer' },
              on: {
                NEGOTIATION_NEEDED: 'makingOffer',
                'SIGNAL.DESCRIPTION': { guard: 'freshOffer', target: 'answering', actions: 'takeRemote' },
              },
            },
            makingOffer: {
              entry: 'startNegotiation',
              invoke: {
                id: 'makeOffer',
                src: 'makeOffer',
                /** The connection to make the offer on. */
                input: ({ context }) => ({ pc: context.pc }),
                onDone: { target: 'awaitingAnswer', actions: ['nextGeneration', 'sendDescription'] },
                onError: [
                  { guard: 'lastFailure', target: '#peer.unnegotiable', actions: 'recordError' },
                  { target: 'recovering', actions: 'recordError' },
                ],
              },
              on: {
                'SIGNAL.DESCRIPTION': [
                  { guard: 'freshOfferAndPolite', target: 'answering', actions: 'takeRemote' },
                  { guard: 'freshOffer', actions: 'holdOffer' },
                ],
              },
            },
            awaitingAnswer: {
              // Only while an offer of the peer waits: without one, the peer may just be offline and
              // its answer comes after the signaling server's reconnect.
              after: {
                answerTimeout: [
                  { guard: 'lastStall', target: '#peer.unnegotiable', actions: 'recordStall' },
                  // Ours rolled back, the peer's offer answered; ours follows (negotiationneeded).
                  {
                    guard: 'holdingOffer',
                    target: 'answering',
                    actions: ['recordStall', 'takeHeldOffer', 'rememberNegotiation'],
                  },
                ],
              },
              on: {
                'SIGNAL.DESCRIPTION': [
                  // The peer answered ours: the offer it made meanwhile is void (it rolled it back).
                  {
                    guard: 'freshAnswer',
                    target: 'applyingAnswer',
                    actions: ['takeRemote', 'dropHeldOffer'],
                  },
                  { guard: 'freshOfferAndPolite', target: 'answering', actions: 'takeRemote' },
                  // The timer starts again with the peer's latest offer.
                  { guard: 'freshOffer', target: 'awaitingAnswer', reenter: true, actions: 'holdOffer' },
                ],
              },
            },
            applyingAnswer: {
              invoke: {
                id: 'acceptAnswer',
                src: 'acceptAnswer',
                /** The connection and the peer's description that entered this state. */
                input: ({ context, event }) => ({ pc: context.pc, description: remote(context, event) }),
                onDone: { target: 'stable', actions: 'clearFailures' },
                onError: [
                  { guard: 'lastFailure', target: '#peer.unnegotiable', actions: 'recordError' },
                  { target: 'recovering', actions: 'recordError' },
                ],
              },
              // Not a collision: the answer being set makes the connection stable (W3C
              // isSettingRemoteAnswerPending), and the browser chains the offer after it.
              on: {
                'SIGNAL.DESCRIPTION': { guard: 'freshOffer', target: 'answering', actions: 'takeRemote' },
              },
            },
            answering: {
              invoke: {
                id: 'acceptOffer',
                src: 'acceptOffer',
                /** The connection and the peer's offer: the one that entered this state, or the held one. */
                input: ({ context, event }) => ({ pc: context.pc, description: remote(context, event) }),
                onDone: {
                  target: 'stable',
                  actions: ['addHeldCandidates', 'dropHeldOffer', 'nextGeneration', 'sendDescription'],
                },
                onError: [
                  {
                    guard: 'lastFailure',
                    target: '#peer.unnegotiable',
                    actions: ['recordError', 'dropHeldOffer'],
                  },
                  { target: 'recovering', actions: ['recordError', 'dropHeldOffer'] },
                ],
              },
            },
            // A step failed (`error` says which): roll back whatever was half set, then offer afresh,
            // so the peer (waiting for an answer, or holding our offer) always hears from this side.
            recovering: {
              tags: PeerState.NEGOTIATING,
              invoke: {
                id: 'rollBack',
                src: 'rollBack',
                /** The connection to bring back to `stable`. */
                input: ({ context }) => ({ pc: context.pc }),
                onDone: 'makingOffer',
                onError: { target: '#peer.unnegotiable', actions: 'recordError' },
              },
            },
          },
        },
        ice: {
          initial: 'new',
          states: {
            new: {
              tags: PeerState.NEW,
              on: {
                NEGOTIATION_NEEDED: 'checking',
                'SIGNAL.DESCRIPTION': { guard: 'freshOffer', target: 'checking' },
                'ICE.CONNECTED': 'connected',
              },
            },
            checking: {
              tags: PeerState.NEGOTIATING,
              on: { 'ICE.CONNECTED': 'connected', 'ICE.FAILED': 'restarting' },
            },
            connected: {
              tags: PeerState.CONNECTED,
              on: { 'ICE.DISCONNECTED': 'disconnected', 'ICE.FAILED': 'restarting' },
            },
            disconnected: {
              tags: PeerState.DISCONNECTED,
              on: { 'ICE.CONNECTED': 'connected', 'ICE.FAILED': 'restarting' },
            },
            restarting: {
              tags: PeerState.DISCONNECTED,
              after: { restartDelay: { target: 'recovering', actions: ['countRestart', 'restartIce'] } },
              on: { 'ICE.CONNECTED': 'connected' },
            },
            recovering: {
              tags: PeerState.DISCONNECTED,
              after: { restartTimeout: 'failed' },
              on: { 'ICE.CONNECTED': 'connected', 'ICE.FAILED': 'failed' },
            },
            failed: { tags: PeerState.FAILED },
          },
        },
      },
    },
    closed: { type: 'final', tags: PeerState.CLOSED, entry: 'closeConnection' },
    // Ended by an identity check (`reason` 'identity', `identityFailure` says which): `failed` to the app.
    refused: { type: 'final', tags: PeerState.FAILED, entry: 'closeConnection' },
    // MAX_NEGOTIATION_FAILURES failed steps (`reason` 'negotiation', `error` the last): the peer is told.
    unnegotiable: {
      type: 'final',
      tags: PeerState.FAILED,
      entry: ['closeNegotiation', 'sendBye', 'closeConnection'],
    },
  },
});

/** The peer chart's type. */
export type PeerMachine = typeof peerMachine;
