import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/index.js';
import { createAuthResponse } from '../src/protocol/auth.js';
import type { AuthChallenge } from '../src/protocol/messages.js';
import { createSignalingServer, type LogFields, type SignalingServer } from '../src/server/index.js';
import { type Frame, fuzzRuns, fuzzTimeout, hostileFrame } from './helpers/fuzz-frames.js';
import { authenticate, RawClient } from './helpers/server-client.js';

/**
 * The reference server under fuzzed client frames, before and after authentication: it never crashes or
 * logs an internal error, closes only with the spec's codes, answers `auth.ok` exactly when the first
 * frame is the valid `auth.response` (its signed fields untouched), and keeps serving everyone else.
 */

const SERVER_CLOSE_CODES = new Set([1000, 1001, 1002, 1003, 1007, 1008, 1009, 4001, 4002, 4010, 4029]);
const SIGNED = ['type', 'v', 'publicKey', 'clientNonce', 'issuedAt', 'signature'] as const;

let server: SignalingServer;
let identity: Identity;
const errors: LogFields[] = [];
const faults: unknown[] = [];
const onFault = (e: unknown) => faults.push(e);

beforeAll(async () => {
  process.on('unhandledRejection', onFault);
  process.on('uncaughtException', onFault);
  identity = await Identity.generate();
  const ignore = () => {};
  server = await createSignalingServer({
    identity: await Identity.generate(),
    rateLimit: false, // every fuzzed attempt reaches the checks instead of the limiter
    authTimeout: 2000,
    logger: { info: ignore, warn: ignore, error: (fields, msg) => errors.push({ ...fields, msg }) },
  });
});

afterAll(async () => {
  process.off('unhandledRejection', onFault);
  process.off('uncaughtException', onFault);
  await server.close();
});

function send(client: RawClient, frame: Frame) {
  if (client.ws.readyState !== client.ws.OPEN) return;
  client.ws.send(typeof frame === 'string' ? frame : Buffer.from(frame), {
    binary: typeof frame !== 'string',
  });
}

/** Ping, then wait for the pong (the socket is alive: true) or the close (false). */
async function probe(client: RawClient): Promise<boolean> {
  send(client, JSON.stringify({ type: 'ping', t: 42 }));
  for (;;) {
    try {
      const f = await client.next(undefined, 2000);
      if (f.type === 'pong' && f.t === 42) return true;
    } catch {
      return false;
    }
  }
}

function isValidResponse(frame: Frame, real: Record<string, unknown>): boolean {
  if (typeof frame !== 'string') return false;
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return false;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return SIGNED.every((k) => Object.hasOwn(v, k) && v[k] === real[k]);
}

function checkClose(client: RawClient) {
  return client.waitClosed(3000).then(({ code }) => {
    expect(SERVER_CLOSE_CODES.has(code)).toBe(true);
    return code;
  });
}

describe('the reference server under fuzzed client frames', () => {
  it(
    'before authentication: auth.ok exactly for the valid response; otherwise a spec close',
    async () => {
      // The real response depends on the socket's challenge, so cases are built per connection: the
      // fuzzer picks a frame recipe and it is applied to the response made for that challenge.
      const recipe = fc.record({
        first: fc.oneof(fc.constant('valid'), fc.constant('mutate'), fc.constant('random')),
        seed: fc.nat(),
        more: fc.array(hostileFrame(), { maxLength: 2 }),
      });
      await fc.assert(
        fc.asyncProperty(recipe, async ({ first, seed, more }) => {
          const client = await RawClient.open(server.url);
          const challenge = (await client.next('auth.challenge')) as unknown as AuthChallenge;
          const real = (await createAuthResponse(challenge, {
            identity,
            origin: server.url,
          })) as unknown as Record<string, unknown>;
          let frame: Frame;
          if (first === 'valid') frame = JSON.stringify(real);
          else {
            const arb = first === 'mutate' ? hostileFrame([real]) : hostileFrame();
            frame = fc.sample(arb, { seed, numRuns: 1 })[0] as Frame;
          }
          send(client, frame);
          // The verdict (auth.ok / auth.error) or the close comes before anything else is sent: a frame
          // sent while the server verifies is itself a violation (one frame before auth.ok).
          const verdict = await client.next(undefined, 3000).catch(() => undefined);
          expect(verdict?.type === 'auth.ok').toBe(isValidResponse(frame, real));
          for (const f of more) send(client, f);
          const alive = verdict?.type === 'auth.ok' ? await probe(client) : false;
          if (!alive) await checkClose(client);
          client.close();
        }),
        { numRuns: fuzzRuns(150) },
      );
      expect(errors).toEqual([]);
      expect(faults).toEqual([]);
    },
    fuzzTimeout(fuzzRuns(150), 15),
  );

  it(
    'after authentication: relays or refuses, never crashes; others keep being served',
    async () => {
      const peer = await authenticate(server.url);
      // The bystander pings like a live client, or a long (FUZZ_RUNS) run outlasts the server's heartbeat.
      const keepAlive = setInterval(() => send(peer.client, JSON.stringify({ type: 'ping', t: 7 })), 5000);
      const realFrames = [
        { type: 'signal', to: peer.identity.publicKey, id: 'a1', data: { sdp: 'x' } },
        { type: 'presence.subscribe', keys: [peer.identity.publicKey] },
        { type: 'presence.unsubscribe', keys: [peer.identity.publicKey] },
        { type: 'ping', t: 1 },
        { type: 'chat', text: 'hi' },
      ];
      await fc.assert(
        fc.asyncProperty(
          fc.array(hostileFrame(realFrames), { minLength: 1, maxLength: 5 }),
          async (frames) => {
            const { client } = await authenticate(server.url);
            for (const f of frames) send(client, f);
            const alive = await probe(client);
            if (!alive) await checkClose(client);
            for (const f of client.frames) expect(typeof f.type).toBe('string');
            client.close();
          },
        ),
        { numRuns: fuzzRuns(150) },
      );
      clearInterval(keepAlive);
      // The bystander was never disturbed: it still relays to itself and answers pings.
      peer.client.send({ type: 'signal', to: peer.identity.publicKey, id: 'after', data: 1 });
      expect((await peer.client.next('ack')).id).toBe('after');
      expect(await probe(peer.client)).toBe(true);
      peer.client.close();
      expect(errors).toEqual([]);
      expect(faults).toEqual([]);
    },
    fuzzTimeout(fuzzRuns(150), 15),
  );
});
