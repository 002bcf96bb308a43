import { assign, fromPromise } from 'xstate';
import {
  DEFAULT_RESTART,
  type Description,
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

const description = (event: PeerEvent) => (event as DescriptionEvent).description;

/** A description the peer sent after the last one taken (an older one belongs to a past negotiation). */
const fresh = (context: PeerContext, event: PeerEvent, kind: RTCSdpType) =>
  event.type === 'SIGNAL.DESCRIPTION' &&
  event.description.type === kind &&
  event.generation > context.remoteGeneration;

/** The local description a service just set, as it goes on the wire. */
function local(pc: PeerConnectionLike): Description {
  const d = pc.localDescription;
  if (!d) throw new Error('no local description after setLocalDescription()');
  return { type: d.type, sdp: d.sdp };
}

/**
 * Perfect negotiation (W3C WebRTC §10.7, with the "setting remote answer pending" refinement) as a
 * statechart. Two regions run side by side: `negotiation` is the offer/answer exchange, `ice` the
 * connection's health and its restart policy. The tags are the {@link PeerState} the application sees.
 * The chart holds names only; it drives the `RTCPeerConnection` in its context through three services
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
    makeOffer: fromPromise<Description, { pc: PeerConnectionLike }>(async ({ input }) => {
      await input.pc.setLocalDescription();
      return local(input.pc);
    }),
    acceptOffer: fromPromise<Description, Described>(async ({ input: { pc, description } }) => {
      await pc.setRemoteDescription(description);
      await pc.setLocalDescription();
      return local(pc);
    }),
    acceptAnswer: fromPromise<void, Described>(({ input: { pc, description } }) =>
      pc.setRemoteDescription(description),
    ),
  },
  delays: {
    // The first restart goes at once; each later one waits twice as long as the one before.
    restartDelay: ({ context: { restarts, restart } }: Ctx) =>
      restarts === 0 ? 0 : Math.min(restart.maxDelay, restart.initialDelay * 2 ** (restarts - 1)),
    restartTimeout: ({ context }: Ctx) => context.restart.timeout,
  },
  guards: {
    freshOffer: ({ context, event }) => fresh(context, event, 'offer'),
    // Glare: only the polite side takes the peer's offer over its own (rolled back implicitly).
    freshOfferAndPolite: ({ context, event }) => context.polite && fresh(context, event, 'offer'),
    freshAnswer: ({ context, event }) => fresh(context, event, 'answer'),
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
    // Chained by the browser after any remote description being set; one for a description this side
    // ignored (glare) or of a past negotiation fails, and is dropped as W3C's example drops it.
    addCandidate: ({ context, event }) => {
      if (event.type !== 'SIGNAL.CANDIDATE') return;
      context.pc.addIceCandidate(event.candidate ?? undefined).catch(() => {});
    },
    recordError: assign({
      error: ({ event }) => String((event as { error?: unknown }).error),
    }),
    countRestart: assign({ restarts: ({ context }) => context.restarts + 1 }),
    restartIce: ({ context }) => context.pc.restartIce(),
    sendBye: ({ context }) => context.send({ bye: true }),
    closeLocal: assign({ reason: 'local' }),
    closeRemote: assign({ reason: 'remote' }),
    closeReplaced: assign({ reason: 'replaced' }),
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
    generation: 0,
    remoteGeneration: 0,
    restarts: 0,
    reason: undefined,
    error: undefined,
    identityFailure: undefined,
    droppedCandidates: 0,
  }),
  initial: 'open',
  states: {
    open: {
      type: 'parallel',
      on: {
        'LOCAL.CANDIDATE': { actions: 'sendCandidate' },
        'SIGNAL.CANDIDATE': { actions: 'addCandidate' },
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
          states: {
            stable: {
              on: {
                NEGOTIATION_NEEDED: 'makingOffer',
                'SIGNAL.DESCRIPTION': { guard: 'freshOffer', target: 'answering', actions: 'takeRemote' },
              },
            },
            makingOffer: {
              invoke: {
                id: 'makeOffer',
                src: 'makeOffer',
                /** The connection to make the offer on. */
                input: ({ context }) => ({ pc: context.pc }),
                onDone: { target: 'awaitingAnswer', actions: ['nextGeneration', 'sendDescription'] },
                onError: { target: 'stable', actions: 'recordError' },
              },
              on: {
                'SIGNAL.DESCRIPTION': {
                  guard: 'freshOfferAndPolite',
                  target: 'answering',
                  actions: 'takeRemote',
                },
              },
            },
            awaitingAnswer: {
              on: {
                'SIGNAL.DESCRIPTION': [
                  { guard: 'freshAnswer', target: 'applyingAnswer', actions: 'takeRemote' },
                  { guard: 'freshOfferAndPolite', target: 'answering', actions: 'takeRemote' },
                ],
              },
            },
            applyingAnswer: {
              invoke: {
                id: 'acceptAnswer',
                src: 'acceptAnswer',
                /** The connection and the peer's description that entered this state. */
                input: ({ context, event }) => ({ pc: context.pc, description: description(event) }),
                onDone: 'stable',
                onError: { target: 'stable', actions: 'recordError' },
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
                /** The connection and the peer's description that entered this state. */
                input: ({ context, event }) => ({ pc: context.pc, description: description(event) }),
                onDone: { target: 'stable', actions: ['nextGeneration', 'sendDescription'] },
                onError: { target: 'stable', actions: 'recordError' },
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
  },
});

/** The peer chart's type. */
export type PeerMachine = typeof peerMachine;
