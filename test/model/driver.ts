import { expect } from 'vitest';
import {
  type Actor,
  createActor,
  fromCallback,
  fromPromise,
  type InspectionEvent,
  SimulatedClock,
  type SnapshotFrom,
  waitFor,
} from 'xstate';
import type { SignalingMachine } from '../../src/machines/signaling.machine.js';
import type {
  SignalingEvent,
  SocketCommand,
  SocketEvent,
  SocketInput,
  VerifierInput,
} from '../../src/machines/signaling.types.js';
import { createServerProof, type VerifyServerProofResult } from '../../src/protocol/auth.js';
import { decodeBase64url, encodeBase64url } from '../../src/protocol/base64url.js';
import type { AuthChallenge } from '../../src/protocol/messages.js';
import { createSignerService } from '../../src/services/signer.js';
import {
  describeCommand,
  invokeSources,
  type Keys,
  type ModelPath,
  modelInput,
  replay,
  type Snapshot,
  transitionKey,
  URL_,
} from './helpers.js';

type PromiseCreator = (args: {
  input: unknown;
  system: unknown;
  self: unknown;
  signal: AbortSignal;
  emit: unknown;
}) => Promise<unknown>;

/**
 * Holds a service until the path releases it (true: go on, false: fail). A release lets every waiting
 * call go: one left over from a session the path abandoned belongs to a stopped actor and is ignored.
 */
class Gate {
  private waiting: ((go: boolean) => void)[] = [];
  wait(): Promise<boolean> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(go: boolean): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve(go);
  }
}

const T0 = 1_700_000_000_000;

interface ScriptedSocket {
  commands: SocketCommand[];
  report(event: SocketEvent): void;
}

export interface Coverage {
  states: Set<string>;
  transitions: Set<string>;
}

/**
 * Runs one model path on a real actor: `machine.provide()` with a scripted socket that reports the
 * path's events as a socket would (real challenges and real server proofs from the server's key), the
 * real signer and the machine's real verifier, on a `SimulatedClock`. After every step the actor's
 * state, tags, the context the step concerns and the commands it gave its socket must equal the pure
 * machine's replay. Coverage records what the real actor entered and took (`@xstate.microstep`).
 */
export async function runPath(
  machine: SignalingMachine,
  keys: Keys,
  path: ModelPath,
  coverage: Coverage,
): Promise<void> {
  const sources = invokeSources(machine);
  const clock = new SimulatedClock();
  const now = () => T0 + clock.now();
  const sockets: ScriptedSocket[] = [];
  const allCommands: SocketCommand[] = [];
  // The signer and verifier are real but wait for the path to say when they finish, so every step
  // sees the actor exactly where the model is (a fast signature would otherwise race the checks).
  const signing = new Gate();
  const verifying = new Gate();
  const client = {
    publicKey: keys.client.publicKey,
    async sign(message: Uint8Array) {
      if (!(await signing.wait())) throw new Error('the user declined to sign');
      return keys.client.sign(message);
    },
  };
  const verifier = (machine.implementations.actors.verifier as unknown as { config?: PromiseCreator }).config;
  if (typeof verifier !== 'function') throw new Error("cannot reach the machine's verifier");
  const real = machine.provide({
    actors: {
      socket: fromCallback<SocketCommand, SocketInput>(({ sendBack, receive }) => {
        let stopped = false;
        const socket: ScriptedSocket = {
          commands: [],
          report: (event) => {
            if (!stopped) sendBack(event);
          },
        };
        sockets.push(socket);
        receive((command) => {
          socket.commands.push(command);
          allCommands.push(command);
        });
        return () => {
          stopped = true;
        };
      }),
      signer: createSignerService({ identity: client, url: URL_, now }),
      verifier: fromPromise<VerifyServerProofResult, VerifierInput>(async (args) => {
        // No auth.ok the socket can parse makes the real verifier throw (it answers ok: false), so a
        // failing verifier service is played here, at the service boundary, like the declining signer.
        if (!(await verifying.wait())) throw new Error('the verifier failed');
        return (await verifier(args as never)) as VerifyServerProofResult;
      }),
    },
  });
  let actor: Actor<SignalingMachine> | undefined;
  const inspect = (inspection: InspectionEvent) => {
    if (inspection.type !== '@xstate.microstep' || inspection.actorRef !== actor) return;
    for (const t of inspection._transitions) coverage.transitions.add(transitionKey(t));
    for (const node of (inspection.snapshot as Snapshot)._nodes) coverage.states.add(node.id);
  };
  actor = createActor(real, { clock, input: modelInput(keys, now), inspect });
  actor.start();
  for (const node of actor.getSnapshot()._nodes) coverage.states.add(node.id);
  const running = actor;

  const socket = () => {
    const s = sockets.at(-1);
    if (!s) throw new Error('no socket was invoked');
    return s;
  };
  let challenge: AuthChallenge | undefined;

  const play = async (event: SignalingEvent, next: SignalingEvent | undefined) => {
    const { type } = event;
    switch (type) {
      case 'CONNECT':
      case 'DISCONNECT':
      case 'ONLINE':
      case 'OFFLINE':
      case 'VISIBLE':
        running.send({ type });
        return;
      case 'SOCKET.OPEN':
      case 'SOCKET.ALIVE':
      case 'SOCKET.CLOSE':
      case 'SOCKET.PROTOCOL_ERROR':
      case 'SOCKET.UNSUPPORTED':
      case 'AUTH.ERROR':
        socket().report(event);
        return;
      case 'PONG':
        socket().report({ type, t: running.getSnapshot().context.pingSentAt ?? 0 });
        return;
      case 'AUTH.CHALLENGE': {
        // A real challenge: a fresh nonce and the key the model's event announces.
        const nonce = new Uint8Array(32);
        globalThis.crypto.getRandomValues(nonce);
        challenge = { ...event.challenge, nonce: encodeBase64url(nonce) };
        socket().report({ type, challenge });
        return;
      }
      case 'AUTH.OK': {
        const response = running.getSnapshot().context.response;
        if (!challenge || !response) throw new Error('AUTH.OK before the handshake was answered');
        const verdict = next as { type: string; output?: { ok: boolean } } | undefined;
        // The server's real proof, or, when the model has the proof rejected, one signed with another key.
        const signer = verdict?.output?.ok === false ? keys.other : keys.server;
        const signature = await createServerProof({
          identity: signer,
          origin: URL_,
          nonce: decodeBase64url(challenge.nonce, 32),
          response,
        });
        socket().report({ type, ok: { type: 'auth.ok', v: 1, sessionId: event.ok.sessionId, signature } });
        return;
      }
    }
    const settled = /^xstate\.(done|error)\.actor\.(.+)$/.exec(type);
    if (settled) {
      // Let the real signer / verifier finish (or fail, when the model has it fail; a verdict was decided
      // by the auth.ok sent), and wait for the actor to take the result.
      const id = settled[2] as string;
      const src = sources.get(id);
      if (src === 'signer') signing.release(settled[1] === 'done');
      else if (src === 'verifier') verifying.release(settled[1] === 'done');
      else throw new Error(`the driver cannot settle '${id}'`);
      await waitFor(running, (s) => !(id in s.children), { timeout: 5000 });
      return;
    }
    if (type.startsWith('xstate.after.')) return fireDelay(type);
    throw new Error(`the driver cannot play '${type}'`);
  };

  // A delay fires by letting simulated time pass when its timer is the next one due. When the model
  // fires a later timer first (which real time cannot do), the delayed event is sent as the timer would.
  const fireDelay = (type: string) => {
    const name = type.slice('xstate.after.'.length).split('.')[0] as string;
    const delays = machine.implementations.delays as Record<
      string,
      (args: { context: Snapshot['context']; event: unknown }) => number
    >;
    const delay = delays[name];
    if (!delay) throw new Error(`unknown delay ${name}`);
    const ms = delay({ context: running.getSnapshot().context, event: { type } });
    const timeouts = [
      ...(
        clock as unknown as { timeouts: Map<number, { start: number; timeout: number }> }
      ).timeouts.values(),
    ];
    const due = Math.min(...timeouts.map((t) => t.start + t.timeout));
    const mine = timeouts.find((t) => t.timeout === ms && t.start + t.timeout === due);
    if (mine) clock.set(due);
    else running.send({ type } as unknown as SignalingEvent);
  };

  const expected = replay(machine, keys, path);
  let at = 0;
  let commandsSeen = 0;
  const check = (traversed: Snapshot) => {
    const model = expected.snapshots[at] as Snapshot;
    // The commands the real chart gave its sockets in this step are the ones the pure machine gives.
    const sent = allCommands.slice(commandsSeen);
    commandsSeen = allCommands.length;
    expect(sent.map(describeCommand), 'socket commands').toEqual(
      (expected.commands[at] ?? []).map(describeCommand),
    );
    expect(model.value, 'replay and traversal agree').toEqual(traversed.value);
    const snapshot = running.getSnapshot() as SnapshotFrom<SignalingMachine>;
    expect(snapshot.status).toBe('active');
    expect(snapshot.value).toEqual(model.value);
    const pick = (c: Snapshot['context']) => ({
      attempt: c.attempt,
      retryIn: c.retryIn,
      previousDelay: c.previousDelay,
      immediateRetryUsed: c.immediateRetryUsed,
      retryAfter: c.retryAfter,
      reason: c.reason,
      closeCode: c.closeCode,
      heartbeat: c.heartbeat,
      maxMessageBytes: c.maxMessageBytes,
      serverKey: c.serverKey,
      sessionId: c.sessionId,
      // The handshake's values are fresh in the real run: only whether each is there must agree.
      has: [c.challenge, c.response, c.ok, c.pingSentAt, c.rtt].map((v) => v !== undefined),
    });
    expect(pick(snapshot.context)).toEqual(pick(model.context));
    expect([...snapshot.tags]).toEqual([...model.tags]);
  };

  const steps = path.steps;
  const events = Object.fromEntries(
    [...new Set(steps.map((s) => s.event.type))].map((type) => [
      type,
      async (step: (typeof steps)[number]) => {
        at = steps.indexOf(step);
        if ((type as string) === 'xstate.init') return;
        await play(step.event, steps[steps.indexOf(step) + 1]?.event);
      },
    ]),
  );
  try {
    await path.test({ events, states: { '*': check } });
  } finally {
    actor.stop();
  }
}
