import { type Actor, createActor, fromCallback, SimulatedClock, waitFor } from 'xstate';
import { Identity } from '../../src/identity/index.js';
import { signalingMachine } from '../../src/machines/signaling.machine.js';
import type {
  SignalingInput,
  SocketCommand,
  SocketEvent,
  SocketInput,
} from '../../src/machines/signaling.types.js';
import { createServerProof } from '../../src/protocol/auth.js';
import { decodeBase64url } from '../../src/protocol/base64url.js';
import type { AuthChallenge, AuthResponse } from '../../src/protocol/messages.js';
import { createSignerService } from '../../src/services/signer.js';
import { challengeFrom } from './challenge.js';

/**
 * A real signaling actor on a `SimulatedClock`, whose socket is scripted: the test plays the server by
 * sending the events a socket would report, and reads the commands the chart gave the socket. The
 * signer and the proof verifier are the real ones.
 */

export const URL_ = 'ws://127.0.0.1:9/';

export interface ScriptedSocket {
  commands: SocketCommand[];
  stopped: boolean;
  report(event: SocketEvent): void;
}

export interface Harness {
  actor: Actor<typeof signalingMachine>;
  clock: SimulatedClock;
  sockets: ScriptedSocket[];
  socket(): ScriptedSocket;
  server: Identity;
  client: Identity;
  /** Opens the current socket and completes the handshake → connected. */
  authenticate(options?: Partial<AuthChallenge>): Promise<void>;
  /** Sends a challenge and waits for the real signer's auth.response. */
  challenge(options?: Partial<AuthChallenge>): Promise<{ challenge: AuthChallenge; response: AuthResponse }>;
  value(): unknown;
  advance(ms: number): void;
}

let shared: Promise<{ server: Identity; client: Identity }> | undefined;

export async function harness(input: Partial<SignalingInput> = {}): Promise<Harness> {
  shared ??= (async () => ({ server: await Identity.generate(), client: await Identity.generate() }))();
  const { server, client } = await shared;
  const clock = new SimulatedClock();
  const sockets: ScriptedSocket[] = [];
  const machine = signalingMachine.provide({
    actors: {
      socket: fromCallback<SocketCommand, SocketInput>(({ sendBack, receive }) => {
        const s: ScriptedSocket = {
          commands: [],
          stopped: false,
          report: (event) => {
            if (!s.stopped) sendBack(event);
          },
        };
        sockets.push(s);
        receive((command) => s.commands.push(command));
        return () => {
          s.stopped = true;
        };
      }),
      signer: createSignerService({ identity: client, url: URL_ }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { url: URL_, random: () => 0.5, now: () => 1_700_000_000_000 + clock.now(), ...input },
  });
  actor.start();

  const socket = () => {
    const s = sockets.at(-1);
    if (!s) throw new Error('no socket was invoked');
    return s;
  };

  const challenge = async (overrides: Partial<AuthChallenge> = {}) => {
    const nonce = new Uint8Array(32);
    globalThis.crypto.getRandomValues(nonce);
    const c = challengeFrom(nonce, server.publicKey, overrides);
    const s = socket();
    s.report({ type: 'AUTH.CHALLENGE', challenge: c });
    await waitFor(actor, (snap) => !snap.matches({ session: { authenticating: 'signing' } }));
    const sent = s.commands.find(
      (cmd) => cmd.type === 'SOCKET.SEND' && (cmd.frame as { type: string }).type === 'auth.response',
    );
    return { challenge: c, response: (sent as { frame: AuthResponse } | undefined)?.frame as AuthResponse };
  };

  const authenticate = async (overrides: Partial<AuthChallenge> = {}) => {
    if (actor.getSnapshot().hasTag('connecting')) socket().report({ type: 'SOCKET.OPEN' });
    const { challenge: c, response } = await challenge(overrides);
    const signature = await createServerProof({
      identity: server,
      // The URL this session dialed (a list's next one with `nextUrl`): the transcript's origin.
      origin: actor.getSnapshot().context.config.url,
      nonce: decodeBase64url(c.nonce, 32),
      response,
    });
    socket().report({ type: 'AUTH.OK', ok: { type: 'auth.ok', v: 1, sessionId: 's1', signature } });
    await waitFor(actor, (snap) => !snap.matches({ session: { authenticating: 'verifying' } }));
  };

  return {
    actor,
    clock,
    sockets,
    socket,
    server,
    client,
    authenticate,
    challenge,
    value: () => actor.getSnapshot().value,
    advance: (ms) => advance(clock, ms),
  };
}

/** The state's ConnectionState tag. */
export function tag(actor: Harness['actor']): string | undefined {
  return [...actor.getSnapshot().tags][0];
}

/**
 * Advances a SimulatedClock timer by timer: `increment` jumps straight to the end, so a timer set by
 * a timer that fired on the way would start late. Here each deadline is reached in order.
 */
export function advance(clock: SimulatedClock, ms: number): void {
  const end = clock.now() + ms;
  const timeouts = (clock as unknown as { timeouts: Map<number, { start: number; timeout: number }> })
    .timeouts;
  for (;;) {
    let next = Number.POSITIVE_INFINITY;
    for (const t of timeouts.values()) next = Math.min(next, t.start + t.timeout);
    if (next > end) break;
    clock.set(Math.max(next, clock.now()));
  }
  clock.set(end);
}
