import { type ActorRef, type AnyActorRef, assign, fromCallback, fromPromise, raise } from 'xstate';
import { SignalingError } from '../errors.js';
import { type VerifyServerProofResult, verifyServerProof } from '../protocol/auth.js';
import {
  type AuthResponse,
  CloseCode,
  DEFAULT_HEARTBEAT,
  DEFAULT_MAX_MESSAGE_BYTES,
} from '../protocol/index.js';
import { backoffDelay, DEFAULT_BACKOFF, MAX_TIMER_DELAY_MS, resolveBackoff } from './backoff.js';
import { closeAction } from './close-codes.js';
import { DEFAULT_AUTH_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, TIMEOUT_CLOSE_CODE } from './delays.js';
import { setup } from './setup.js';
import {
  ConnectionState,
  type FailureReason,
  type ReconnectReason,
  type SignalingContext,
  type SignalingEvent,
  type SignalingInput,
  type SignerInput,
  type SocketCommand,
  type SocketInput,
  type VerifierInput,
} from './signaling.types.js';

type Ctx = { context: SignalingContext };

/**
 * Hands a command to the invoked socket. XState's `sendTo` does the same but costs 411 B gzipped of
 * the browser bundle; the socket is a child of `session`, so it exists whenever an action sends to it.
 */
function toSocket({ self }: { self: AnyActorRef }, command: SocketCommand): void {
  const { children } = self.getSnapshot() as { children: { socket?: ActorRef<never, SocketCommand> } };
  children.socket?.send(command);
}

function mustBeProvided(name: string): never {
  throw new SignalingError(
    'protocol',
    `the '${name}' actor must be provided with machine.provide() or its body given as input`,
  );
}

/**
 * The connection as a statechart. The chart below holds names only; every implementation is in
 * `setup()`. The socket and signer are placeholders that must be provided (`machine.provide`), so the
 * machine itself does no I/O and holds no secret: `createSignalingClient` provides real ones.
 */
export const signalingMachine = setup({
  types: {
    context: {} as SignalingContext,
    events: {} as SignalingEvent,
    input: {} as SignalingInput,
    tags: {} as ConnectionState,
  },
  actors: {
    // Run the bodies given as input (one machine shared by every client), unless provided instead.
    socket: fromCallback<SocketCommand, SocketInput>((args) =>
      args.input.open ? args.input.open(args) : mustBeProvided('socket'),
    ),
    signer: fromPromise<AuthResponse, SignerInput>(({ input }) =>
      input.respond ? input.respond(input.challenge, input.origin) : mustBeProvided('signer'),
    ),
    verifier: fromPromise<VerifyServerProofResult, VerifierInput>(({ input }) =>
      verifyServerProof(input.ok, {
        challenge: input.challenge,
        response: input.response,
        origin: input.url,
        pinnedKey: input.pinnedKey,
      }),
    ),
  },
  delays: {
    connectTimeout: ({ context }: Ctx) => context.config.connectTimeout,
    authTimeout: ({ context }: Ctx) => context.config.authTimeout,
    pingInterval: ({ context }: Ctx) => context.heartbeat.interval,
    pongTimeout: ({ context }: Ctx) => context.heartbeat.timeout,
    resetAfter: ({ context }: Ctx) => context.config.backoff.resetAfter,
    backoff: ({ context }: Ctx) => context.retryIn ?? 0,
  },
  guards: {
    closeIsFatal: ({ event }) => event.type === 'SOCKET.CLOSE' && closeAction(event.code).kind === 'fail',
    pinMismatch: ({ context, event }) =>
      event.type === 'AUTH.CHALLENGE' &&
      context.config.pinnedKey !== undefined &&
      event.challenge.serverKey !== context.config.pinnedKey,
    proofValid: ({ event }) => event.type === 'xstate.done.actor.verifier' && event.output.ok,
    retriesExhausted: ({ context }) => context.attempt > context.config.backoff.maxRetries,
  },
  actions: {
    resetSession: assign({
      attempt: 0,
      previousDelay: 0,
      immediateRetryUsed: false,
      retryAfter: undefined,
      retryIn: undefined,
      reason: undefined,
      closeCode: undefined,
      error: undefined,
    }),
    // A list's next URL goes into config (one copy per attempt): a context key more would make every
    // other assign's copy slower.
    pickUrl: assign(({ context: { config } }) =>
      config.nextUrl ? { config: { ...config, url: config.nextUrl() } } : {},
    ),
    // Each attempt starts with nothing from the one before: its state changes must not report the
    // last attempt's close code, error or reason as their own.
    clearAttempt: assign({
      challenge: undefined,
      response: undefined,
      ok: undefined,
      sessionId: undefined,
      reason: undefined,
      closeCode: undefined,
      error: undefined,
    }),
    storeChallenge: assign(({ context, event }) => {
      if (event.type !== 'AUTH.CHALLENGE') return {};
      const { challenge } = event;
      const override = context.config.heartbeatOverride;
      return {
        challenge,
        heartbeat: {
          interval: override?.interval ?? challenge.heartbeat.interval,
          timeout: override?.timeout ?? challenge.heartbeat.timeout,
        },
        maxMessageBytes: challenge.limits.maxMessageBytes,
      };
    }),
    sendResponse: (args) => toSocket(args, { type: 'SOCKET.SEND', frame: args.context.response as object }),
    storeResponse: assign({
      response: ({ event }) => (event.type === 'xstate.done.actor.signer' ? event.output : undefined),
    }),
    storeAuthError: assign(({ event }) =>
      // Only `rate-limited` carries a wait the next retry must honour (protocol v1).
      event.type === 'AUTH.ERROR' && event.code === 'rate-limited' ? { retryAfter: event.retryAfter } : {},
    ),
    storeSession: assign(({ context, event }) => {
      const verified =
        event.type === 'xstate.done.actor.verifier' && event.output.ok ? event.output : undefined;
      return {
        serverKey: verified?.serverKey ?? context.serverKey,
        sessionId: context.ok?.sessionId,
        iceServers: Array.isArray(context.ok?.iceServers) ? context.ok.iceServers : undefined,
        // Verified: the handshake's frames are spent (about 0.6 KiB a client, held for the whole session).
        challenge: undefined,
        response: undefined,
        ok: undefined,
      };
    }),
    storeOk: assign({ ok: ({ event }) => (event.type === 'AUTH.OK' ? event.ok : undefined) }),
    openChannel: (args) =>
      toSocket(args, { type: 'SOCKET.AUTHENTICATED', maxMessageBytes: args.context.maxMessageBytes }),
    stampPing: assign({ pingSentAt: ({ context }) => context.config.now() }),
    sendPing: (args) => {
      const t = args.context.pingSentAt as number;
      toSocket(args, { type: 'SOCKET.PING', t });
      toSocket(args, { type: 'SOCKET.SEND', frame: { type: 'ping', t } });
    },
    measureRtt: assign({
      rtt: ({ context, event }) =>
        event.type === 'PONG' && event.t === context.pingSentAt
          ? Math.max(0, context.config.now() - event.t)
          : context.rtt,
    }),
    resetAttempts: assign({ attempt: 0, previousDelay: 0, immediateRetryUsed: false }),
    abort: raise((_, params: { code: number; reason: ReconnectReason }) => ({
      type: 'SESSION.ABORT' as const,
      code: params.code,
      reason: params.reason,
    })),
    fail: raise((_, params: { code: number; reason: FailureReason }) => ({
      type: 'SESSION.FAIL' as const,
      code: params.code,
      reason: params.reason,
    })),
    // Exit of `session`: the close code comes from the event that ends it (DISCONNECT → 1000).
    closeSocket: (args) => {
      const { event } = args;
      const ended = event.type === 'SESSION.ABORT' || event.type === 'SESSION.FAIL';
      toSocket(args, {
        type: 'SOCKET.CLOSE_WITH',
        code: ended || event.type === 'SOCKET.PROTOCOL_ERROR' ? event.code : CloseCode.NORMAL,
        reason: ended ? event.reason : '',
      });
    },
    recordClose: assign(({ event }) => {
      if (event.type === 'SOCKET.CLOSE') {
        return { closeCode: event.code, reason: 'closed' as const, error: event.error };
      }
      if (event.type === 'SESSION.ABORT' || event.type === 'SOCKET.PROTOCOL_ERROR') {
        return {
          closeCode: undefined,
          reason: event.type === 'SESSION.ABORT' ? event.reason : ('protocol-error' as const),
        };
      }
      if (event.type === 'OFFLINE') return { closeCode: undefined, reason: 'offline' as const };
      return {};
    }),
    recordFailure: assign(({ event }) => {
      if (event.type === 'SOCKET.CLOSE') {
        const action = closeAction(event.code);
        return {
          closeCode: event.code,
          reason: action.kind === 'fail' ? action.reason : 'protocol',
          error: event.error,
        };
      }
      if (event.type === 'SOCKET.UNSUPPORTED') {
        return { closeCode: undefined, reason: 'unsupported-runtime' as const, error: event.error };
      }
      if (event.type === 'SESSION.FAIL') return { reason: event.reason };
      return {};
    }),
    failRetriesExhausted: assign({ reason: 'retries-exhausted' as const, retryIn: undefined }),
    scheduleRetry: assign(({ context }) => {
      const attempt = context.attempt + 1;
      const code = context.reason === 'closed' ? context.closeCode : undefined;
      const action = code === undefined ? undefined : closeAction(code);
      if (action?.kind === 'retry-now' && !context.immediateRetryUsed) {
        return { attempt, retryIn: 0, immediateRetryUsed: true, retryAfter: undefined };
      }
      if (action?.kind === 'restart') {
        // A draining server spreads its closes already: the first step's jitter is enough, no attempt counts.
        return {
          retryIn: backoffDelay(context.config.backoff, 0, 0, context.config.random),
          retryAfter: undefined,
        };
      }
      let delay = backoffDelay(
        context.config.backoff,
        attempt - 1,
        context.previousDelay,
        context.config.random,
      );
      const previousDelay = delay;
      if (context.retryAfter !== undefined) delay = Math.max(delay, context.retryAfter);
      return { attempt, retryIn: Math.min(delay, MAX_TIMER_DELAY_MS), previousDelay, retryAfter: undefined };
    }),
    clearRetry: assign({ retryIn: undefined }),
  },
}).createMachine({
  id: 'signaling',
  /** The initial context: the input's settings fixed in `config`, the session state empty. */
  context: ({ input }) => ({
    config: {
      url: input.url,
      /** Where each new session dials, when given (a list's next URL). */
      nextUrl: input.nextUrl,
      pinnedKey: input.serverKey,
      // Without options, the shared defaults: no copy per client.
      backoff: input.backoff ? resolveBackoff(input.backoff) : DEFAULT_BACKOFF,
      connectTimeout: input.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT,
      authTimeout: input.authTimeout ?? DEFAULT_AUTH_TIMEOUT,
      heartbeatOverride: input.heartbeat && { ...input.heartbeat },
      /** Uniform in [0, 1), for jitter. */
      random: input.random ?? Math.random,
      /** Ms since the epoch. */
      now: input.now ?? Date.now,
      /** The socket body, if given as input. */
      socket: input.socket,
      /** The signer body, if given as input. */
      signer: input.signer,
    },
    attempt: 0,
    retryIn: undefined,
    previousDelay: 0,
    immediateRetryUsed: false,
    retryAfter: undefined,
    reason: undefined,
    closeCode: undefined,
    error: undefined,
    challenge: undefined,
    response: undefined,
    ok: undefined,
    heartbeat: { ...DEFAULT_HEARTBEAT, ...input.heartbeat },
    maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    serverKey: input.serverKey,
    sessionId: undefined,
    iceServers: undefined,
    pingSentAt: undefined,
    rtt: undefined,
  }),
  initial: 'disconnected',
  on: {
    DISCONNECT: { target: '.disconnected', actions: 'resetSession' },
  },
  states: {
    disconnected: {
      tags: ConnectionState.DISCONNECTED,
      on: { CONNECT: { target: 'session', actions: 'resetSession' } },
    },
    session: {
      entry: ['pickUrl', 'clearAttempt'],
      exit: 'closeSocket',
      invoke: {
        id: 'socket',
        src: 'socket',
        /** The socket dials this session's URL. */
        input: ({ context }) => ({ url: context.config.url, open: context.config.socket }),
      },
      initial: 'connecting',
      on: {
        'SOCKET.CLOSE': [
          { guard: 'closeIsFatal', target: 'failed', actions: 'recordFailure' },
          { target: 'reconnecting', actions: 'recordClose' },
        ],
        'SOCKET.UNSUPPORTED': { target: 'failed', actions: 'recordFailure' },
        'SOCKET.PROTOCOL_ERROR': { target: 'reconnecting', actions: 'recordClose' },
        'SESSION.ABORT': { target: 'reconnecting', actions: 'recordClose' },
        'SESSION.FAIL': { target: 'failed', actions: 'recordFailure' },
        'AUTH.ERROR': { actions: 'storeAuthError' },
        OFFLINE: {
          actions: { type: 'abort', params: { code: CloseCode.GOING_AWAY, reason: 'offline' } },
        },
      },
      states: {
        connecting: {
          tags: ConnectionState.CONNECTING,
          on: { 'SOCKET.OPEN': 'authenticating' },
          after: {
            connectTimeout: {
              actions: { type: 'abort', params: { code: TIMEOUT_CLOSE_CODE, reason: 'connect-timeout' } },
            },
          },
        },
        authenticating: {
          tags: ConnectionState.AUTHENTICATING,
          initial: 'awaitingChallenge',
          states: {
            awaitingChallenge: {
              on: {
                'AUTH.CHALLENGE': [
                  {
                    guard: 'pinMismatch',
                    actions: {
                      type: 'fail',
                      params: { code: CloseCode.POLICY, reason: 'server-key-mismatch' },
                    },
                  },
                  { target: 'signing', actions: 'storeChallenge' },
                ],
              },
              after: {
                authTimeout: {
                  actions: { type: 'abort', params: { code: TIMEOUT_CLOSE_CODE, reason: 'auth-timeout' } },
                },
              },
            },
            signing: {
              invoke: {
                id: 'signer',
                src: 'signer',
                /** The challenge to answer. */
                input: ({ context }) => ({
                  challenge: context.challenge as NonNullable<typeof context.challenge>,
                  origin: context.config.url,
                  respond: context.config.signer,
                }),
                onDone: { target: 'awaitingVerdict', actions: ['storeResponse', 'sendResponse'] },
                onError: {
                  actions: {
                    type: 'abort',
                    params: { code: CloseCode.INVALID_PAYLOAD, reason: 'signer-error' },
                  },
                },
              },
            },
            awaitingVerdict: {
              on: { 'AUTH.OK': { target: 'verifying', actions: 'storeOk' } },
              after: {
                authTimeout: {
                  actions: { type: 'abort', params: { code: TIMEOUT_CLOSE_CODE, reason: 'auth-timeout' } },
                },
              },
            },
            verifying: {
              invoke: {
                id: 'verifier',
                src: 'verifier',
                /** The handshake to check the server's proof against. */
                input: ({ context }) => ({
                  ok: context.ok as NonNullable<typeof context.ok>,
                  challenge: context.challenge as NonNullable<typeof context.challenge>,
                  response: context.response as NonNullable<typeof context.response>,
                  url: context.config.url,
                  pinnedKey: context.config.pinnedKey,
                }),
                onDone: [
                  { guard: 'proofValid', target: '#signaling.session.connected', actions: 'storeSession' },
                  {
                    actions: {
                      type: 'fail',
                      params: { code: CloseCode.POLICY, reason: 'server-key-mismatch' },
                    },
                  },
                ],
                onError: {
                  actions: {
                    type: 'fail',
                    params: { code: CloseCode.POLICY, reason: 'server-key-mismatch' },
                  },
                },
              },
            },
          },
        },
        connected: {
          tags: ConnectionState.CONNECTED,
          entry: 'openChannel',
          after: { resetAfter: { actions: 'resetAttempts' } },
          initial: 'idle',
          states: {
            idle: {
              after: { pingInterval: { target: 'awaitingPong', actions: ['stampPing', 'sendPing'] } },
              on: { VISIBLE: { target: 'awaitingPong', actions: ['stampPing', 'sendPing'] } },
            },
            awaitingPong: {
              on: {
                PONG: { target: 'idle', actions: 'measureRtt' },
                'SOCKET.ALIVE': 'idle',
              },
              after: {
                pongTimeout: {
                  actions: {
                    type: 'abort',
                    params: { code: CloseCode.HEARTBEAT_TIMEOUT, reason: 'heartbeat-timeout' },
                  },
                },
              },
            },
          },
          on: { PONG: { actions: 'measureRtt' } },
        },
      },
    },
    reconnecting: {
      tags: ConnectionState.RECONNECTING,
      entry: 'scheduleRetry',
      always: { guard: 'retriesExhausted', target: 'failed', actions: 'failRetriesExhausted' },
      after: { backoff: 'session' },
      on: {
        CONNECT: 'session',
        ONLINE: 'session',
      },
      exit: 'clearRetry',
    },
    failed: {
      tags: ConnectionState.FAILED,
      on: { CONNECT: { target: 'session', actions: 'resetSession' } },
    },
  },
});

/** The type of {@link signalingMachine}, e.g. for `Actor<SignalingMachine>`. */
export type SignalingMachine = typeof signalingMachine;
