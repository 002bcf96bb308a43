import { describe, expect, it } from 'vitest';
import { createActor, type InspectionEvent, SimulatedClock, type SnapshotFrom } from 'xstate';
import type { TestPath } from 'xstate/graph';
import { type PeerMachine, peerMachine } from '../../src/machines/peer.machine.js';
import type { PeerEvent, PeerInput, PeerSignalBody } from '../../src/machines/peer.types.js';
import { type FakeFeatures, FakePeerConnection } from './fake-peer-connection.js';
import { invokeSources, machineUniverse, planModelPaths, pureScope, transitionKey } from './helpers.js';

/**
 * Model-based tests of the peer chart: the paths come from the machine (xstate/graph), once with the
 * polite side and once with the impolite one; each runs on a real actor of `peerMachine` (its own
 * services, its own delays) against a fake RTCPeerConnection on a `SimulatedClock`. After each step the
 * actor's state and tags, what it sent the peer and what it asked of the connection must equal the
 * pure machine's replay; the suite fails unless the real actors entered every state node and took
 * every transition.
 */

type Snapshot = SnapshotFrom<PeerMachine>;
type Path = TestPath<Snapshot, PeerEvent>;

const RESTART = { initialDelay: 1500, maxDelay: 6000, timeout: 9000 };
const CANDIDATE = { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 };
/** A description event marked stale carries the generation already taken (dropped by the chart). */
const STALE = Symbol('stale');

const ANSWER_TIMEOUT = 2500;

const inputFor = (polite: boolean, pc: FakePeerConnection | Recorder, send: (b: PeerSignalBody) => void) =>
  ({ pc, send, polite, restart: RESTART, answerTimeout: ANSWER_TIMEOUT }) as PeerInput;

function events(snapshot: Snapshot): PeerEvent[] {
  const types = new Set(snapshot._nodes.flatMap((node) => node.ownEvents));
  const sources = invokeSources(peerMachine);
  return [...types].flatMap((type): PeerEvent[] => {
    const next = snapshot.context.remoteGeneration + 1;
    switch (type) {
      case 'LOCAL.CANDIDATE':
      case 'SIGNAL.CANDIDATE':
        return [{ type, candidate: CANDIDATE }];
      // A signal that failed its identity check: a candidate (dropped) or a description (the end).
      case 'SIGNAL.REFUSED':
        return [
          { type, failure: { check: 'signature', signal: 'candidate' } },
          { type, failure: { check: 'unsigned', signal: 'description' } },
        ];
      case 'SIGNING.FAILED':
        return [{ type, failure: { check: 'sign', signal: 'candidate' }, error: 'Error: no key' }];
      case 'SIGNAL.DESCRIPTION':
        return [
          { type, description: { type: 'offer', sdp: 'remote offer' }, generation: next },
          { type, description: { type: 'answer', sdp: 'remote answer' }, generation: next },
          {
            type,
            description: { type: 'offer', sdp: 'old offer' },
            generation: next - 1,
            [STALE]: true,
          } as PeerEvent,
        ];
    }
    const settled = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
    if (settled) {
      const src = sources.get(settled[2] as string);
      if (settled[1] === 'error') return [{ type, error: new Error(`${src} failed`) } as never];
      const output = src === 'makeOffer' ? { type: 'offer', sdp: 'o' } : { type: 'answer', sdp: 'a' };
      const none = src === 'acceptAnswer' || src === 'rollBack';
      return [{ type, output: none ? undefined : output } as never];
    }
    return [{ type } as PeerEvent];
  });
}

/**
 * The state, politeness and what the negotiation guards read (failures so far, a remembered
 * negotiationneeded, a held offer) matter for what comes next; other counters are checked against
 * the replay.
 */
const serializeState = ({ value, context }: Snapshot) =>
  JSON.stringify({
    value,
    polite: context.polite,
    failures: context.failures,
    pending: context.negotiationPending,
    held: context.heldOffer !== undefined,
  });

const describeBody = (body: PeerSignalBody) =>
  'bye' in body ? 'bye' : 'candidate' in body ? 'candidate' : `${body.description.type} #${body.generation}`;

/** The connection's side of a pure replay: records what the chart's actions ask of it. */
class Recorder {
  localDescription = null;
  signalingState = 'stable';
  calls: string[] = [];
  setLocalDescription = () => Promise.resolve();
  setRemoteDescription = () => Promise.resolve();
  createOffer = () => Promise.resolve({ type: 'offer' });
  createAnswer = () => Promise.resolve({ type: 'answer' });
  addIceCandidate = () => {
    this.calls.push('addIceCandidate');
    return Promise.resolve();
  };
  restartIce = () => this.calls.push('restartIce');
  close = () => this.calls.push('close');
}

/** The pure machine's run of `path`, with what each step's actions sent and asked of the connection. */
function replay(polite: boolean, path: Path) {
  const pc = new Recorder();
  let sent: string[] = [];
  const scope = pureScope(undefined, (action) => action.exec?.(action.info, action.params));
  let snapshot = peerMachine.getInitialSnapshot(
    scope,
    inputFor(polite, pc, (b) => sent.push(describeBody(b))),
  ) as Snapshot;
  const steps: { value: unknown; tags: string[]; sent: string[]; calls: string[]; outcome: unknown }[] = [];
  const record = () => {
    steps.push({
      value: snapshot.value,
      tags: [...snapshot.tags],
      sent,
      calls: pc.calls.splice(0),
      outcome: outcome(snapshot),
    });
    sent = [];
  };
  record();
  for (const { event } of path.steps.slice(1)) {
    snapshot = peerMachine.transition(snapshot, concrete(event, snapshot), scope) as Snapshot;
    record();
  }
  return steps;
}

/** What the app reads of the chart's end: why it closed, which check failed, candidates dropped. */
const outcome = ({ context: { reason, identityFailure, droppedCandidates } }: Snapshot) => ({
  reason,
  identityFailure,
  droppedCandidates,
});

/** The event with the generation the model meant: one past the last taken, or (stale) the last taken. */
function concrete(event: PeerEvent, snapshot: Snapshot): PeerEvent {
  if (event.type !== 'SIGNAL.DESCRIPTION') return event;
  const stale = (event as { [STALE]?: boolean })[STALE] === true;
  return { ...event, generation: snapshot.context.remoteGeneration + (stale ? 0 : 1) };
}

interface Coverage {
  states: Set<string>;
  transitions: Set<string>;
}

async function runPath(polite: boolean, features: FakeFeatures, path: Path, coverage: Coverage) {
  const clock = new SimulatedClock();
  const pc = new FakePeerConnection(features);
  let sent: string[] = [];
  let actor: ReturnType<typeof createActor<PeerMachine>> | undefined;
  const inspect = (inspection: InspectionEvent) => {
    if (inspection.type !== '@xstate.microstep' || inspection.actorRef !== actor) return;
    for (const t of inspection._transitions) coverage.transitions.add(transitionKey(t));
    for (const node of (inspection.snapshot as Snapshot)._nodes) coverage.states.add(node.id);
  };
  actor = createActor(peerMachine, {
    clock,
    inspect,
    input: inputFor(polite, pc, (b) => sent.push(describeBody(b))),
  });
  actor.start();
  const running = actor;
  for (const node of running.getSnapshot()._nodes) coverage.states.add(node.id);
  const expected = replay(polite, path);
  let calls = 0;

  const play = async (event: PeerEvent) => {
    const settled = /^xstate\.(done|error)\.actor\.(.+)$/.exec(event.type);
    if (settled) {
      // Settle the fake's operations (in order, as the browser's operations chain would) until the
      // service is gone: a result the chart takes, or a failure.
      const id = settled[2] as string;
      for (let i = 0; id in running.getSnapshot().children; i++) {
        if (i > 50) throw new Error(`${id} did not settle`);
        pc.settleNext(settled[1] === 'done');
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      return;
    }
    if (event.type.startsWith('xstate.after.')) {
      const name = event.type.slice('xstate.after.'.length).split('.')[0] as string;
      const delay = (peerMachine.implementations.delays as Record<string, (a: unknown) => number>)[name];
      const ms = (delay as (a: unknown) => number)({ context: running.getSnapshot().context });
      // The two regions' timers run side by side: the model may fire either first, so exactly this one
      // fires (the delays of RESTART and ANSWER_TIMEOUT differ, so its length names it).
      const { timeouts } = clock as unknown as { timeouts: Map<number, { timeout: number; fn(): void }> };
      const due = [...timeouts].find(([, timer]) => timer.timeout === ms);
      if (!due) throw new Error(`no ${name} timer of ${ms} ms pending`);
      timeouts.delete(due[0]);
      due[1].fn();
      return;
    }
    running.send(concrete(event, running.getSnapshot()));
  };

  for (const [i, step] of path.steps.entries()) {
    if (i > 0) await play(step.event);
    const want = expected[i] as (typeof expected)[number];
    const snapshot = running.getSnapshot();
    // The description steps are the services' (checked by their outcome); the rest are the actions'.
    const newCalls = pc.calls.slice(calls).filter((c) => !/^(set|create)/.test(c));
    calls = pc.calls.length;
    expect(snapshot.value, `step ${i}`).toEqual(step.state.value);
    expect(snapshot.value).toEqual(want.value);
    expect([...snapshot.tags]).toEqual(want.tags);
    expect(sent, `sent to the peer at step ${i}`).toEqual(want.sent);
    expect(newCalls, `asked of the connection at step ${i}`).toEqual(want.calls);
    expect(outcome(snapshot), `outcome at step ${i}`).toEqual(want.outcome);
    sent = [];
  }
  running.stop();
}

const universe = machineUniverse(peerMachine);
const coverage: Coverage = { states: new Set(), transitions: new Set() };
let ran = 0;
let planned = 0;

const label = (path: Path) =>
  path.steps
    .slice(1)
    .map(({ event }) => {
      const type = event.type
        .replace(/^xstate\.(done|error)\.actor\.(\w+)$/, '$1 $2')
        .replace(/^xstate\.after\.(\w+)\..*$/, 'after $1');
      if (event.type === 'SIGNAL.REFUSED') return `${type}(${event.failure.signal})`;
      if (event.type !== 'SIGNAL.DESCRIPTION') return type;
      const stale = (event as { [STALE]?: boolean })[STALE] ? ' stale' : '';
      return `${type}(${event.description.type}${stale})`;
    })
    .join(' → ');

// Each path runs against a browser-like fake and against one like @roamhq/wrtc: no implicit
// setLocalDescription(), no implicit rollback. The chart must take the same steps on both.
const FAKES: [string, FakeFeatures][] = [
  ['browser', { implicitDescription: true, implicitRollback: true }],
  ['explicit-only', { implicitDescription: false, implicitRollback: false }],
];

for (const polite of [true, false]) {
  const plan = planModelPaths<Snapshot, PeerEvent>(peerMachine, {
    input: inputFor(polite, new Recorder(), () => {}),
    events,
    serializeState,
  });
  for (const [fake, features] of FAKES) {
    planned += plan.paths.length;
    describe(`peer model (${polite ? 'polite' : 'impolite'}, ${fake} connection): ${plan.paths.length} paths (${plan.shortest} shortest + ${plan.extended} for transitions) over ${plan.states} model states`, () => {
      for (const path of plan.paths) {
        it(label(path) || '(initial)', async () => {
          await runPath(polite, features, path, coverage);
          ran++;
        });
      }
    });
  }
}

describe('peer model coverage', () => {
  it('glare: the polite side takes the offer over its own, the impolite side keeps its own', () => {
    const start = peerMachine.getInitialSnapshot(
      pureScope(),
      inputFor(true, new Recorder(), () => {}),
    );
    const offer = {
      type: 'SIGNAL.DESCRIPTION',
      description: { type: 'offer', sdp: 'x' },
      generation: 1,
    } as const;
    const making = peerMachine.transition(start, { type: 'NEGOTIATION_NEEDED' }, pureScope());
    expect(peerMachine.transition(making, offer, pureScope()).value).toMatchObject({
      open: { negotiation: 'answering' },
    });
    const impolite = { ...making, context: { ...making.context, polite: false } } as typeof making;
    expect(peerMachine.transition(impolite, offer, pureScope()).value).toMatchObject({
      open: { negotiation: 'makingOffer' },
    });
  });

  it('the real actors entered every state node and took every transition of the chart', () => {
    expect(ran, 'every path must have run (do not filter this file)').toBe(planned);
    const missingStates = universe.states.filter((s) => !coverage.states.has(s));
    const missingTransitions = universe.transitions.filter((t) => !coverage.transitions.has(t));
    const states = universe.states.length;
    const transitions = universe.transitions.length;
    console.log(
      `peer model coverage: states ${states - missingStates.length}/${states}, transitions ${transitions - missingTransitions.length}/${transitions}`,
    );
    expect(missingStates).toEqual([]);
    expect(missingTransitions).toEqual([]);
  });
});
