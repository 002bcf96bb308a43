import {
  type AnyActorScope,
  type AnyEventObject as AnyEvent,
  type AnyMachineSnapshot as AnySnapshot,
  type AnyStateMachine,
  type AnyStateNode,
  type AnyTransitionDefinition,
  createEmptyActor,
  type InspectionEvent,
  type SnapshotFrom,
} from 'xstate';
import { getShortestPaths, type StatePath, TestModel, type TestPath } from 'xstate/graph';
import { Identity } from '../../src/identity/index.js';
import type { SignalingMachine } from '../../src/machines/signaling.machine.js';
import type { SignalingEvent, SignalingInput, SocketCommand } from '../../src/machines/signaling.types.js';
import { encodeBase64url } from '../../src/protocol/base64url.js';
import type { AuthChallenge, AuthResponse } from '../../src/protocol/messages.js';

/**
 * The model of the signaling chart for `xstate/graph`: the events it may be sent in each state (with
 * the payload variants that pick different guarded branches), the state key of the traversal, and the
 * choice of paths. Nothing here lists paths: they come from the machine, so they follow it as it grows.
 */

export type Snapshot = SnapshotFrom<SignalingMachine>;
export type ModelPath = TestPath<Snapshot, SignalingEvent>;

export const URL_ = 'ws://127.0.0.1:9/ws';
export const SESSION_ID = 'model-session';

/** Distinct delay values, so a timer in the simulated clock can be told apart by its length. */
export const TIMES = {
  connectTimeout: 3000,
  authTimeout: 4000,
  pingInterval: 6000,
  pongTimeout: 2000,
  resetAfter: 40_000,
  retryAfter: 7000,
} as const;

export interface Keys {
  /** The real server: its challenges and proofs. */
  server: Identity;
  /** Another key: a challenge announcing it breaks the pin, a proof signed with it is forged. */
  other: Identity;
  client: Identity;
}

export async function modelKeys(): Promise<Keys> {
  const seeded = (n: number) => Identity.fromSeed(new Uint8Array(32).fill(n));
  return { server: await seeded(1), other: await seeded(2), client: await seeded(3) };
}

/**
 * The input of the model and of every real actor. `maxRetries: 1` makes `retries-exhausted` two failed
 * attempts away, and the server key is pinned so a challenge can break the pin.
 */
export function modelInput(keys: Keys, now: () => number = () => 0): SignalingInput {
  return {
    url: URL_,
    serverKey: keys.server.publicKey,
    backoff: {
      maxRetries: 1,
      initialDelay: 1000,
      multiplier: 2,
      maxDelay: 8000,
      resetAfter: TIMES.resetAfter,
    },
    connectTimeout: TIMES.connectTimeout,
    authTimeout: TIMES.authTimeout,
    random: () => 0.5,
    now,
  };
}

export function challengeFrom(key: string): AuthChallenge {
  return {
    type: 'auth.challenge',
    v: 1,
    nonce: encodeBase64url(new Uint8Array(32).fill(9)),
    serverKey: key,
    heartbeat: { interval: TIMES.pingInterval, timeout: TIMES.pongTimeout },
    limits: { maxMessageBytes: 32_768 },
  };
}

/** Close codes, one per row of the spec's table the client acts on differently. */
export const CLOSE_CODES = [1006, 1012, 4002, 4029, 1008, 4001, 4009] as const;

/** Which service each invoke id runs (`xstate.done.actor.<id>` names the id, generated when unnamed). */
export function invokeSources(machine: AnyStateMachine): Map<string, string> {
  const map = new Map<string, string>();
  const walk = (node: AnyStateNode) => {
    for (const invoke of node.invoke) map.set(invoke.id, String(invoke.src));
    for (const child of Object.values(node.states) as AnyStateNode[]) walk(child);
  };
  walk(machine.root);
  return map;
}

/**
 * The events the model tries in `snapshot`: every event type the active states handle, each with the
 * payloads that matter. An event type the catalog does not know fails loudly, naming it.
 */
export function modelEvents(machine: SignalingMachine, keys: Keys) {
  const sources = invokeSources(machine);
  const placeholderResponse: AuthResponse = {
    type: 'auth.response',
    v: 1,
    publicKey: keys.client.publicKey,
    clientNonce: encodeBase64url(new Uint8Array(32).fill(5)),
    issuedAt: 0,
    signature: encodeBase64url(new Uint8Array(64)),
  };
  const variants = (type: string, snapshot: Snapshot): SignalingEvent[] => {
    const plain = [{ type } as SignalingEvent];
    switch (type) {
      case 'CONNECT':
      case 'DISCONNECT':
      case 'ONLINE':
      case 'OFFLINE':
      case 'VISIBLE':
      case 'SOCKET.OPEN':
      case 'SOCKET.ALIVE':
        return plain;
      case 'SOCKET.CLOSE':
        return CLOSE_CODES.map((code) => ({ type, code, reason: '' }));
      case 'SOCKET.PROTOCOL_ERROR':
        return [{ type, code: 1007, message: 'not JSON' }];
      case 'SOCKET.UNSUPPORTED':
        return [{ type, error: { code: 'socket-construct', message: 'WebSocket is not defined' } }];
      case 'AUTH.CHALLENGE':
        return [keys.server, keys.other].map((k) => ({ type, challenge: challengeFrom(k.publicKey) }));
      case 'AUTH.OK':
        return [{ type, ok: { type: 'auth.ok', v: 1, sessionId: SESSION_ID, signature: 'model' } }];
      case 'AUTH.ERROR':
        return [
          { type, code: 'rate-limited', retryAfter: TIMES.retryAfter },
          { type, code: 'denied', retryAfter: undefined },
        ];
      case 'PONG':
        return [{ type, t: snapshot.context.pingSentAt ?? 0 }];
      // Raised by the chart's own abort/fail actions, never sent from outside: reached through those.
      case 'SESSION.ABORT':
      case 'SESSION.FAIL':
        return [];
    }
    if (type.startsWith('xstate.after.')) return plain;
    const done = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
    const src = done && sources.get(done[2] as string);
    if (done?.[1] === 'error' && src) return [{ type, error: new Error(`${src} failed`) } as never];
    if (src === 'signer') return [{ type, output: placeholderResponse } as never];
    if (src === 'verifier') {
      return [
        { type, output: { ok: true, serverKey: keys.server.publicKey } } as never,
        { type, output: { ok: false, code: 'server-key-mismatch' } } as never,
      ];
    }
    throw new Error(
      `the model has no events for '${type}': add them to modelEvents() in test/model/helpers.ts`,
    );
  };
  return (snapshot: Snapshot): SignalingEvent[] => {
    const types = new Set(snapshot._nodes.flatMap((node) => node.ownEvents));
    return [...types].flatMap((type) => variants(type, snapshot));
  };
}

/**
 * The traversal's state key: the state value plus the context that guards read or that changes what
 * happens next. `attempt` makes `reconnecting` with one retry left a different state from the one
 * with none, so the path to `failed` via `retries-exhausted` exists; `immediateRetryUsed` separates a
 * 4002's first immediate retry from the second.
 */
export function serializeModelState(snapshot: Snapshot): string {
  const { attempt, immediateRetryUsed } = snapshot.context;
  return JSON.stringify({ value: snapshot.value, attempt, immediateRetryUsed });
}

/** A stable name for a transition of the machine: source state, event, index among its branches. */
export function transitionKey(t: AnyTransitionDefinition): string {
  const source = t.source as AnyStateNode;
  const list = t.eventType === '' ? source.always : source.transitions.get(t.eventType);
  return `${source.id} on ${t.eventType || 'always'} #${list?.indexOf(t) ?? -1}`;
}

/** Every transition and every state node (root excluded) of the machine. */
export function machineUniverse(machine: AnyStateMachine): { states: string[]; transitions: string[] } {
  const states: string[] = [];
  const transitions: string[] = [];
  const walk = (node: AnyStateNode) => {
    if (node !== machine.root) states.push(node.id);
    for (const list of node.transitions.values()) for (const t of list) transitions.push(transitionKey(t));
    for (const t of node.always ?? []) transitions.push(transitionKey(t));
    for (const child of Object.values(node.states) as AnyStateNode[]) walk(child);
  };
  walk(machine.root);
  return { states, transitions };
}

/**
 * The transitions the machine takes for `event` in `snapshot`, computed on the pure machine (no actor,
 * nothing runs) by listening to the `@xstate.microstep` inspection events of one `transition()` call.
 */
function transitionsTaken(machine: AnyStateMachine, snapshot: AnySnapshot, event: AnyEvent): string[] {
  const taken: string[] = [];
  const scope = pureScope((inspection) => {
    if (inspection.type === '@xstate.microstep') {
      for (const t of inspection._transitions) taken.push(transitionKey(t));
    }
  });
  machine.transition(snapshot, event, scope);
  return taken;
}

/** An actor scope in which nothing runs (as xstate/graph's own), optionally inspected. */
export function pureScope(
  inspect?: (inspection: InspectionEvent) => void,
  onAction?: (action: {
    type: string;
    params?: unknown;
    info?: unknown;
    exec?: (info: unknown, params: unknown) => void;
  }) => void,
): AnyActorScope {
  const self = createEmptyActor();
  if (inspect) self.system.inspect(inspect);
  return {
    self,
    logger: () => {},
    id: '',
    sessionId: 'model',
    defer: () => {},
    system: self.system,
    stopChild: () => {},
    emit: () => {},
    actionExecutor: onAction ?? (() => {}),
  } as unknown as AnyActorScope;
}

export interface Replay {
  /** The pure machine's snapshot after each step of the path (index 0: the initial one). */
  snapshots: Snapshot[];
  /** The commands the chart sends its socket in each step. */
  commands: SocketCommand[][];
}

/**
 * The pure machine's run of `path`: nothing executes, but each step's snapshot and the commands the
 * chart would send its socket are recorded. The traversal's snapshots stand for every state with the
 * same key, so their context may come from another route; these are exact for the path.
 */
export function replay(machine: SignalingMachine, keys: Keys, path: ModelPath): Replay {
  let sent: SocketCommand[] = [];
  // The chart's own actions talk to the socket child (see toSocket): run them against a recorder.
  const recorder = {
    getSnapshot: () => ({ children: { socket: { send: (c: SocketCommand) => sent.push(c) } } }),
  };
  const scope = pureScope(undefined, (action) => {
    action.exec?.({ ...(action.info as object), self: recorder }, action.params);
  });
  const snapshots: Snapshot[] = [machine.getInitialSnapshot(scope, modelInput(keys)) as Snapshot];
  const commands: SocketCommand[][] = [sent];
  for (const { event } of path.steps.slice(1)) {
    const previous = snapshots.at(-1) as Snapshot;
    // A pong answers the ping this run sent, whatever `t` the traversal saw.
    const e = event.type === 'PONG' ? { ...event, t: previous.context.pingSentAt ?? 0 } : event;
    sent = [];
    snapshots.push(machine.transition(previous, e, scope) as Snapshot);
    commands.push(sent);
  }
  return { snapshots, commands };
}

/** What a socket command does, without this run's values (nonces, signatures, times). */
export function describeCommand(command: SocketCommand): string {
  switch (command.type) {
    case 'SOCKET.SEND':
      return `send ${(command.frame as { type: string }).type}`;
    case 'SOCKET.CLOSE_WITH':
      return `close ${command.code} ${command.reason}`.trim();
    case 'SOCKET.AUTHENTICATED':
      return `authenticated ${command.maxMessageBytes}`;
    case 'SOCKET.PING':
      return 'ping';
  }
}

export interface Plan {
  paths: ModelPath[];
  /** Model states (serialized) and edges of the traversal. */
  states: number;
  edges: number;
  shortest: number;
  extended: number;
}

/**
 * The paths to run: `getShortestPaths` reaches every state of the model; then every edge of the
 * traversal that takes a transition no chosen path takes yet is appended to the shortest path to its
 * source state (`getPathsFromEvents`). So each transition of the machine is on some path, including
 * targetless ones (AUTH.ERROR, PONG while connected) and self-loops that no shortest path contains.
 */
export function planPaths(machine: SignalingMachine, keys: Keys): Plan {
  const options = {
    input: modelInput(keys),
    events: modelEvents(machine, keys),
    serializeState: serializeModelState,
  };
  return planModelPaths(machine, options) as Plan;
}

/** What {@link planModelPaths} traverses with: the machine's input, its events per state, its state key. */
export interface ModelOptions<S, E> {
  input: unknown;
  events: (snapshot: S) => E[];
  serializeState: (snapshot: S) => string;
}

/** {@link planPaths} for any machine. */
export function planModelPaths<S extends AnySnapshot, E extends AnyEvent>(
  machine: AnyStateMachine,
  options: ModelOptions<S, E>,
): { paths: TestPath<S, E>[]; states: number; edges: number; shortest: number; extended: number } {
  const { serializeState } = options;
  const model = new TestModel(machine, options as never) as unknown as TestModel<S, E, unknown>;
  const shortest = model.getShortestPaths();

  // Steps start with `xstate.init` on the initial state; each later step is an event and the state after it.
  const initial = shortest[0]?.steps[0]?.state as S;
  const covered = new Set<string>();
  const cover = (path: StatePath<S, E>) => {
    for (let i = 1; i < path.steps.length; i++) {
      const { state } = path.steps[i - 1] as { state: S };
      for (const key of transitionsTaken(machine, state, (path.steps[i] as { event: E }).event)) {
        covered.add(key);
      }
    }
  };
  for (const path of shortest) cover(path);

  const toState = new Map<string, StatePath<S, E>>();
  for (const path of getShortestPaths(machine, options as never) as unknown as StatePath<S, E>[]) {
    toState.set(serializeState(path.state), path);
  }

  const adjacency = model.getAdjacencyMap() as Record<
    string,
    { state: S; transitions: Record<string, { event: E; state: S }> }
  >;
  const extended: TestPath<S, E>[] = [];
  let edges = 0;
  for (const [key, { state, transitions }] of Object.entries(adjacency)) {
    for (const { event } of Object.values(transitions)) {
      edges++;
      const taken = transitionsTaken(machine, state, event);
      if (taken.every((t) => covered.has(t))) continue;
      const head = toState.get(key);
      if (!head) throw new Error(`no shortest path to ${key}`);
      // `fromState` given: getPathsFromEvents would otherwise start from a snapshot made without input.
      const [path] = model.getPathsFromEvents([...head.steps.slice(1).map((s) => s.event), event], {
        ...options,
        fromState: initial,
      });
      if (!path) throw new Error(`no path for ${key} + ${event.type}`);
      for (const t of taken) covered.add(t);
      extended.push(path);
    }
  }
  return {
    paths: [...shortest, ...extended],
    states: Object.keys(adjacency).length,
    edges,
    shortest: shortest.length,
    extended: extended.length,
  };
}
