import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { createSignalingClient } from '../src/client.js';
import { Identity } from '../src/identity/index.js';
import type { ConnectionState } from '../src/machines/signaling.types.js';
import { createServerProof, verifyChallenge } from '../src/protocol/auth.js';
import { encodeBase64url } from '../src/protocol/base64url.js';
import type { AuthResponse } from '../src/protocol/messages.js';
import { challengeFrom } from './helpers/challenge.js';
import { type Frame, fuzzRuns, fuzzTimeout, hostileFrame } from './helpers/fuzz-frames.js';

/**
 * A running client against a hostile server that sends fuzzed frames at each stage of the handshake
 * and in the session. Whatever arrives: no crash, no unhandled error, a close code of the spec when
 * the client hangs up, subscribers see only well-formed messages, and with a pinned server key the
 * client never reaches `connected` without the server's valid proof.
 */

type Stage = 'before-challenge' | 'before-verdict' | 'session';
interface Case {
  stage: Stage;
  frames: Frame[];
  /** Resolves when the client hung up (its close code), answered the challenge, or saw the end marker. */
  done: Promise<string>;
  finish(what: string): void;
  used: boolean;
  /** Dialed as `?case=id`: a late connection of an earlier case (a SYN retried after 1 s) is not this one's. */
  id: number;
}

const CLIENT_CLOSE_CODES = new Set([1000, 1002, 1003, 1007, 1008, 1009, 4008, 4010]);
const faults: unknown[] = [];
const onFault = (e: unknown) => faults.push(e);

/**
 * Several listening ports, used in turn: a long run (FUZZ_RUNS=100000) opens about a thousand loopback
 * connections a second, and a reused client port can meet its old connection in TIME_WAIT, whose
 * answer makes the new SYN wait a second; spreading over ports makes that rarer (and `?case=` keeps a
 * late connection from being taken for the next case's).
 */
const PORTS = 8;
const servers: WebSocketServer[] = [];
const urls: string[] = [];
let caseNo = 0;
/** The URL of the case running now (also the origin its proofs are made for). */
let url: string;
let serverIdentity: Identity;
let otherIdentity: Identity;
let clientIdentity: Identity;
let current: Case | undefined;

function challengeFor(nonce: Uint8Array) {
  // A plain record: the fuzzer mutates its fields freely.
  return { ...challengeFrom(nonce, serverIdentity.publicKey) } as Record<string, unknown>;
}

function send(ws: WebSocket, frame: Frame) {
  ws.send(typeof frame === 'string' ? frame : Buffer.from(frame), { binary: typeof frame !== 'string' });
}

beforeAll(async () => {
  process.on('unhandledRejection', onFault);
  process.on('uncaughtException', onFault);
  serverIdentity = await Identity.generate();
  otherIdentity = await Identity.generate();
  clientIdentity = await Identity.generate();
  for (let i = 0; i < PORTS; i++) {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    servers.push(server);
    urls.push(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    server.on('connection', onConnection);
  }
  url = urls[0] as string;
});

function onConnection(ws: WebSocket, request: IncomingMessage) {
  const c = current;
  ws.on('error', () => {});
  const id = Number(new URL(request.url ?? '/', 'ws://x').searchParams.get('case'));
  // Another case's late connection, or a reconnect within this case: stay silent.
  if (c === undefined || c.used || c.id !== id) return;
  c.used = true;
  ws.on('close', (code) => c.finish(`closed ${code}`));
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  if (c.stage === 'before-challenge') {
    for (const f of c.frames) send(ws, f);
    send(ws, JSON.stringify(challengeFor(nonce)));
    ws.on('message', () => c.finish('answered'));
    return;
  }
  send(ws, JSON.stringify(challengeFor(nonce)));
  ws.once('message', async (data) => {
    const verdict = await verifyChallenge(JSON.parse(String(data)), {
      nonce,
      origins: [url],
      serverKey: serverIdentity.publicKey,
      now: Date.now(),
    });
    if (!verdict.ok) return c.finish('client proof refused');
    if (c.stage === 'before-verdict') {
      for (const f of c.frames) send(ws, f);
      // No end marker here: the client's verdict on the last frame is awaited by the caller.
      return;
    }
    const signature = await createServerProof({
      identity: serverIdentity,
      origin: url,
      nonce,
      response: verdict.response,
    });
    send(ws, JSON.stringify({ type: 'auth.ok', v: 1, sessionId: 's', signature }));
    // Fuzz once the client says it verified the proof (earlier frames are held and checked too, but
    // this stage is about a session).
    ws.once('message', () => {
      for (const f of c.frames) send(ws, f);
      send(ws, '{"type":"fuzz.end"}');
    });
  });
}

afterAll(async () => {
  process.off('unhandledRejection', onFault);
  process.off('uncaughtException', onFault);
  for (const server of servers) {
    for (const ws of server.clients) ws.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** Runs one case against a fresh client; returns what happened. */
/** `patience`: the client's authTimeout and the case's wait, ms (a case ends sooner when something happens). */
async function run(stage: Stage, frames: Frame[], patience = { auth: 150, quiet: 400 }) {
  let finish: (what: string) => void = () => {};
  const done = new Promise<string>((resolve) => {
    finish = resolve;
  });
  const id = caseNo++;
  current = { stage, frames, done, finish, used: false, id };
  url = urls[id % urls.length] as string;
  const client = createSignalingClient({
    url: `${url}?case=${id}`, // the query is not part of the origin the proofs cover
    identity: clientIdentity,
    serverKey: serverIdentity.publicKey,
    globalEvents: false,
    authTimeout: patience.auth,
    backoff: { initialDelay: 10_000, maxDelay: 10_000 },
  });
  const states: ConnectionState[] = [];
  const delivered: unknown[] = [];
  client.onStateChange((s) => {
    states.push(s);
    if (s === 'connected' && stage === 'session') client.send({ type: 'fuzz.go' }).catch(() => {});
  });
  client.onMessage((m) => {
    delivered.push(m);
    if ((m as { type: string }).type === 'fuzz.end') finish('end marker');
  });
  client.onStateChange((s) => {
    // Before the verdict, the case ends when the client leaves `authenticating` either way.
    if (stage === 'before-verdict' && s !== 'authenticating' && s !== 'connecting') finish(`state ${s}`);
  });
  client.connect();
  const outcome = await Promise.race([
    done,
    new Promise<string>((r) => setTimeout(() => r('quiet'), patience.quiet)),
  ]);
  const seen = [...states]; // before disconnect() adds its own
  await client.disconnect();
  current = undefined;
  return { outcome, states: seen, delivered };
}

function checkCommon(r: Awaited<ReturnType<typeof run>>) {
  expect(faults).toEqual([]);
  const code = /^closed (\d+)$/.exec(r.outcome)?.[1];
  if (code !== undefined) expect([...CLIENT_CLOSE_CODES]).toContain(Number(code));
  for (const m of r.delivered) {
    expect(typeof m).toBe('object');
    expect(typeof (m as { type: unknown }).type).toBe('string');
  }
}

describe('a running client against fuzzed server frames', () => {
  it(
    'before the challenge: no crash, never connected',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(hostileFrame([challengeFor(new Uint8Array(32))]), { minLength: 1, maxLength: 4 }),
          async (frames) => {
            const r = await run('before-challenge', frames);
            checkCommon(r);
            expect(r.states).not.toContain('connected');
          },
        ),
        { numRuns: fuzzRuns(100) },
      );
    },
    fuzzTimeout(fuzzRuns(100), 20),
  );

  it(
    'instead of a valid auth.ok (pinned key): never connected without the valid proof',
    async () => {
      // Real-looking verdicts that carry no valid proof: other keys, other origins, flipped bits.
      const bogusOk = fc.oneof(
        fc
          .uint8Array({ minLength: 64, maxLength: 64 })
          .map((b) => ({ type: 'auth.ok', v: 1, sessionId: 'x', signature: encodeBase64url(b) })),
        fc.constant('other-key'),
        fc.constant('other-origin'),
        fc.nat(63),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              hostileFrame([
                { type: 'auth.ok', v: 1, sessionId: 's', signature: encodeBase64url(new Uint8Array(64)) },
              ]),
              bogusOk.map((b) => (typeof b === 'object' ? JSON.stringify(b) : `bogus:${b}`)),
            ),
            { minLength: 1, maxLength: 3 },
          ),
          async (frames) => {
            const r = await run('before-verdict', await Promise.all(frames.map(forge)));
            checkCommon(r);
            expect(r.states).not.toContain('connected');
          },
        ),
        { numRuns: fuzzRuns(100) },
      );
    },
    fuzzTimeout(fuzzRuns(100), 20),
  );

  it(
    'a forged auth.ok alone (other key, other origin, a flipped bit, random bytes) → failed (server-key-mismatch)',
    async () => {
      const forged = fc.oneof(
        fc.constantFrom('bogus:other-key', 'bogus:other-origin'),
        fc.nat(63).map((i) => `bogus:${i}`),
        fc
          .uint8Array({ minLength: 64, maxLength: 64 })
          .map((b) =>
            JSON.stringify({ type: 'auth.ok', v: 1, sessionId: 'x', signature: encodeBase64url(b) }),
          ),
      );
      await fc.assert(
        fc.asyncProperty(forged, async (frame) => {
          // Generous timeouts: a verdict slowed by a loaded machine must not pass for an auth timeout.
          const r = await run('before-verdict', [await forge(frame)], { auth: 3000, quiet: 4000 });
          checkCommon(r);
          expect(r.states).not.toContain('connected');
          expect(r.outcome).toBe('state failed');
        }),
        { numRuns: fuzzRuns(30) },
      );
    },
    fuzzTimeout(fuzzRuns(30), 20),
  );

  it(
    'in a session: no crash; the client stays connected or hangs up with a spec close code',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            hostileFrame([
              { type: 'signal', from: serverIdentity.publicKey, id: '1', data: {} },
              { type: 'presence', key: serverIdentity.publicKey, online: true },
              { type: 'ack', id: '1' },
              { type: 'error', code: 'peer-offline', id: '1' },
              { type: 'pong', t: 1 },
            ]),
            { minLength: 1, maxLength: 5 },
          ),
          async (frames) => {
            const r = await run('session', frames);
            checkCommon(r);
            expect(r.states).toContain('connected');
            if (r.outcome === 'end marker') expect(r.states.at(-1)).toBe('connected');
            else expect(r.outcome).toMatch(/^closed /);
          },
        ),
        { numRuns: fuzzRuns(100) },
      );
    },
    fuzzTimeout(fuzzRuns(100), 20),
  );
});

/**
 * `bogus:*` placeholders become auth.ok frames signed for this very handshake but wrong in one way; the
 * handshake's values are only known inside the server, so they are signed over a stand-in response.
 */
async function forge(frame: Frame): Promise<Frame> {
  if (typeof frame !== 'string' || !frame.startsWith('bogus:')) return frame;
  const kind = frame.slice('bogus:'.length);
  const response: AuthResponse = {
    type: 'auth.response',
    v: 1,
    publicKey: clientIdentity.publicKey,
    clientNonce: encodeBase64url(new Uint8Array(32)),
    issuedAt: Date.now(),
    signature: encodeBase64url(new Uint8Array(64)),
  };
  const nonce = new Uint8Array(32);
  const identity = kind === 'other-key' ? otherIdentity : serverIdentity;
  const origin = kind === 'other-origin' ? 'ws://evil.example/' : url;
  const signature = await createServerProof({ identity, origin, nonce, response });
  const bytes = Buffer.from(signature, 'base64url');
  if (/^\d+$/.test(kind)) bytes[Number(kind)] = (bytes[Number(kind)] as number) ^ 1;
  return JSON.stringify({ type: 'auth.ok', v: 1, sessionId: 'x', signature: encodeBase64url(bytes) });
}
