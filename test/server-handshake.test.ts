import { describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/index.js';
import {
  type AuthChallenge,
  type AuthOk,
  createAuthResponse,
  decodeBase64url,
  encodeBase64url,
  transcript,
  verifyServerProof,
} from '../src/protocol/index.js';
import { authenticate, RawClient } from './helpers/server-client.js';
import { serverFixture } from './helpers/server-fixture.js';

const { clients, start } = serverFixture({ host: '127.0.0.1', rateLimit: false });

async function open(url: string): Promise<{ client: RawClient; challenge: AuthChallenge }> {
  const client = await RawClient.open(url);
  clients.push(client);
  const challenge = (await client.next('auth.challenge')) as unknown as AuthChallenge;
  return { client, challenge };
}

/** The refusal the spec prescribes: exactly one `auth.error` with `code`, then the close `closeCode`. */
async function expectRefusal(client: RawClient, code: string, closeCode: number): Promise<void> {
  const error = await client.next();
  expect(error).toMatchObject({ type: 'auth.error', code });
  const closed = await client.waitClosed();
  expect(closed.code).toBe(closeCode);
  expect(client.frames).toEqual([]);
}

describe('server handshake: success', () => {
  it('challenges with its key, the heartbeat and limits, and proves itself in auth.ok', async () => {
    const server = await start({ heartbeat: { interval: 5000, timeout: 2000 } });
    const { client, challenge, response, ok } = await authenticate(server.url);
    clients.push(client);
    expect(challenge).toMatchObject({
      type: 'auth.challenge',
      v: 1,
      serverKey: server.publicKey,
      heartbeat: { interval: 5000, timeout: 2000 },
      limits: { maxMessageBytes: 65536 },
    });
    expect(decodeBase64url(challenge.nonce)).toHaveLength(32);
    expect(ok).toMatchObject({ type: 'auth.ok', v: 1 });
    expect(typeof ok.sessionId).toBe('string');
    expect(ok).not.toHaveProperty('iceServers');
    const proof = await verifyServerProof(ok, {
      challenge,
      response,
      origin: server.url,
      pinnedKey: server.publicKey,
    });
    expect(proof).toEqual({ ok: true, serverKey: server.publicKey });
    // The proof is bound to the key: pinning another key fails.
    const other = await Identity.generate();
    expect(
      (await verifyServerProof(ok, { challenge, response, origin: server.url, pinnedKey: other.publicKey }))
        .ok,
    ).toBe(false);
    expect(server.stats()).toEqual({ connections: 1, sessions: 1, keysOnline: 1 });
  });

  it('gives every socket a fresh nonce and every session its own id', async () => {
    const server = await start();
    const a = await authenticate(server.url);
    const b = await authenticate(server.url, { identity: a.identity });
    clients.push(a.client, b.client);
    expect(a.challenge.nonce).not.toBe(b.challenge.nonce);
    expect(a.ok.sessionId).not.toBe(b.ok.sessionId);
  });

  it('accepts every default loopback origin of the bound port, and a configured path', async () => {
    const server = await start({ path: '/ws' });
    expect(server.url).toBe(`ws://127.0.0.1:${server.port}/ws`);
    expect(server.origins).toEqual([`ws://127.0.0.1:${server.port}/ws`, `ws://localhost:${server.port}/ws`]);
    const viaLocalhost = await authenticate(`ws://localhost:${server.port}/ws`);
    clients.push(viaLocalhost.client);
    expect(viaLocalhost.ok.type).toBe('auth.ok');
  });

  it('accepts configured origins (e.g. the public URL behind a proxy)', async () => {
    const server = await start({ origins: ['wss://signal.example.com/ws'] });
    const { client, ok } = await authenticate(server.url, { origin: 'wss://signal.example.com/ws' });
    clients.push(client);
    expect(ok.type).toBe('auth.ok');
  });

  it('hands out ICE servers from the iceServers option, keyed by the client', async () => {
    const seen: string[] = [];
    const server = await start({
      iceServers: async (publicKey) => {
        seen.push(publicKey);
        return [
          { urls: 'turn:turn.example.com:3478', username: `u-${publicKey.slice(0, 4)}`, credential: 'c' },
        ];
      },
    });
    const { client, identity, ok } = await authenticate(server.url);
    clients.push(client);
    expect(seen).toEqual([identity.publicKey]);
    expect((ok as AuthOk).iceServers).toEqual([
      {
        urls: 'turn:turn.example.com:3478',
        username: `u-${identity.publicKey.slice(0, 4)}`,
        credential: 'c',
      },
    ]);
  });

  it('still accepts the client when iceServers throws (auth.ok without them)', async () => {
    const server = await start({
      iceServers: () => {
        throw new Error('TURN backend down');
      },
    });
    const { client, ok } = await authenticate(server.url);
    clients.push(client);
    expect(ok.type).toBe('auth.ok');
    expect(ok).not.toHaveProperty('iceServers');
  });

  it('asks authorize() with the key and context, and admits when it says yes', async () => {
    const asked: Array<{ key: string; origin: string }> = [];
    const server = await start({
      authorize: async (key, context) => {
        asked.push({ key, origin: context.origin });
        return true;
      },
    });
    const { client, identity } = await authenticate(server.url);
    clients.push(client);
    expect(asked).toEqual([{ key: identity.publicKey, origin: server.url }]);
  });
});

describe('server handshake: every refusal of the spec', () => {
  it('replay: a response signed for another socket’s nonce is denied (4001)', async () => {
    const server = await start();
    const identity = await Identity.generate();
    const a = await open(server.url);
    const b = await open(server.url);
    const forA = await createAuthResponse(a.challenge, { identity, origin: server.url });
    b.client.send(forA);
    await expectRefusal(b.client, 'denied', 4001);
  });

  it('replay: a response that already succeeded cannot be used on a new socket (4001)', async () => {
    const server = await start();
    const first = await authenticate(server.url);
    clients.push(first.client);
    const again = await open(server.url);
    again.client.send(first.response);
    await expectRefusal(again.client, 'denied', 4001);
  });

  it('wrong origin: a proof for another server’s URL is denied (4001)', async () => {
    const server = await start();
    const { client, challenge } = await open(server.url);
    const identity = await Identity.generate();
    client.send(await createAuthResponse(challenge, { identity, origin: 'ws://evil.example.com/' }));
    await expectRefusal(client, 'denied', 4001);
  });

  it('role reflection: a signature over the server-role transcript is denied (4001)', async () => {
    const server = await start();
    const { client, challenge } = await open(server.url);
    const identity = await Identity.generate();
    const honest = await createAuthResponse(challenge, { identity, origin: server.url });
    const reflected = transcript('S', {
      origin: server.url,
      serverNonce: decodeBase64url(challenge.nonce),
      clientNonce: decodeBase64url(honest.clientNonce),
      issuedAt: honest.issuedAt,
      clientPublicKey: identity.publicKeyBytes,
      serverPublicKey: decodeBase64url(server.publicKey),
    });
    client.send({ ...honest, signature: encodeBase64url(await identity.sign(reflected)) });
    await expectRefusal(client, 'denied', 4001);
  });

  it.each([
    ['issuedAt', (r: Record<string, unknown>) => ({ ...r, issuedAt: (r.issuedAt as number) + 1 })],
    ['clientNonce', (r: Record<string, unknown>) => ({ ...r, clientNonce: flip(r.clientNonce as string) })],
    ['signature', (r: Record<string, unknown>) => ({ ...r, signature: flip(r.signature as string) })],
  ])('tampered %s: denied (4001)', async (_field, tamper) => {
    const server = await start();
    const { client, challenge } = await open(server.url);
    const response = await createAuthResponse(challenge, {
      identity: await Identity.generate(),
      origin: server.url,
    });
    client.send(tamper(response as unknown as Record<string, unknown>));
    await expectRefusal(client, 'denied', 4001);
  });

  it('another key than the one that signed: denied (4001)', async () => {
    const server = await start();
    const { client, challenge } = await open(server.url);
    const response = await createAuthResponse(challenge, {
      identity: await Identity.generate(),
      origin: server.url,
    });
    client.send({ ...response, publicKey: (await Identity.generate()).publicKey });
    await expectRefusal(client, 'denied', 4001);
  });

  it.each([
    ['61 s old', -61_000],
    ['61 s in the future', 61_000],
  ])('issuedAt %s: expired (4002)', async (_label, skew) => {
    const server = await start();
    const { client, challenge } = await open(server.url);
    const response = await createAuthResponse(challenge, {
      identity: await Identity.generate(),
      origin: server.url,
      now: () => Date.now() + skew,
    });
    client.send(response);
    await expectRefusal(client, 'expired', 4002);
  });

  it('a small-order public key with its universal forgery: denied (4001)', async () => {
    const server = await start();
    const { client, challenge } = await open(server.url);
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1;
    // (R = identity, S = 0) "verifies" for every message under the identity point in lax verifiers.
    const forged = new Uint8Array(64);
    forged.set(identityPoint, 0);
    const honest = await createAuthResponse(challenge, {
      identity: await Identity.generate(),
      origin: server.url,
    });
    client.send({ ...honest, publicKey: encodeBase64url(identityPoint), signature: encodeBase64url(forged) });
    await expectRefusal(client, 'denied', 4001);
  });

  it('unsupported version: 4010', async () => {
    const server = await start();
    const { client, challenge } = await open(server.url);
    const response = await createAuthResponse(challenge, {
      identity: await Identity.generate(),
      origin: server.url,
    });
    client.send({ ...response, v: 2 });
    await expectRefusal(client, 'unsupported-version', 4010);
  });

  it('a field of the wrong length: malformed (1007)', async () => {
    const server = await start();
    const { client, challenge } = await open(server.url);
    const response = await createAuthResponse(challenge, {
      identity: await Identity.generate(),
      origin: server.url,
    });
    client.send({ ...response, clientNonce: response.clientNonce.slice(0, 40) });
    await expectRefusal(client, 'malformed', 1007);
  });

  it('a pre-auth frame over 4 KiB: malformed, then 1009', async () => {
    const server = await start();
    const { client } = await open(server.url);
    client.send({ type: 'auth.response', pad: 'x'.repeat(4100) });
    await expectRefusal(client, 'malformed', 1009);
  });

  it('a pre-auth frame of exactly 4 KiB is read (and judged on its content)', async () => {
    const server = await start();
    const { client } = await open(server.url);
    const frame = JSON.stringify({ type: 'auth.response', v: 1, pad: '' });
    client.send(JSON.stringify({ type: 'auth.response', v: 1, pad: 'x'.repeat(4096 - frame.length) }));
    await expectRefusal(client, 'malformed', 1007);
  });

  it('a binary frame: malformed, then 1003', async () => {
    const server = await start();
    const { client } = await open(server.url);
    client.send(Buffer.from('{"type":"auth.response"}'));
    await expectRefusal(client, 'malformed', 1003);
  });

  it.each([
    ['not JSON', 'hello'],
    ['a JSON array', '[1,2]'],
    ['no type', '{"v":1}'],
  ])('%s: malformed, then 1007', async (_label, text) => {
    const server = await start();
    const { client } = await open(server.url);
    client.send(text);
    await expectRefusal(client, 'malformed', 1007);
  });

  it('anything but auth.response before authentication: malformed, then 1008', async () => {
    const server = await start();
    const { client } = await open(server.url);
    client.send({ type: 'ping', t: 1 });
    await expectRefusal(client, 'malformed', 1008);
  });

  it('a second auth.response after auth.ok: malformed, then 1008', async () => {
    const server = await start();
    const { client, response } = await authenticate(server.url);
    clients.push(client);
    client.send(response);
    await expectRefusal(client, 'malformed', 1008);
  });

  it('a second auth.response while the first is being checked: malformed, then 1008', async () => {
    let release: (() => void) | undefined;
    const server = await start({
      authorize: () => new Promise<boolean>((resolve) => (release = () => resolve(true))),
    });
    const { client, challenge } = await open(server.url);
    const response = await createAuthResponse(challenge, {
      identity: await Identity.generate(),
      origin: server.url,
    });
    client.send(response);
    client.send(response);
    await expectRefusal(client, 'malformed', 1008);
    release?.();
  });

  it('silence past authTimeout: expired, then 4002', async () => {
    const server = await start({ authTimeout: 150 });
    const { client } = await open(server.url);
    const started = Date.now();
    await expectRefusal(client, 'expired', 4002);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('authorize() saying no, or throwing: denied (4001)', async () => {
    let verdict: () => boolean = () => false;
    const server = await start({ authorize: () => verdict() });
    const first = await open(server.url);
    first.client.send(
      await createAuthResponse(first.challenge, { identity: await Identity.generate(), origin: server.url }),
    );
    await expectRefusal(first.client, 'denied', 4001);
    verdict = () => {
      throw new Error('directory unavailable');
    };
    const second = await open(server.url);
    second.client.send(
      await createAuthResponse(second.challenge, { identity: await Identity.generate(), origin: server.url }),
    );
    await expectRefusal(second.client, 'denied', 4001);
  });
});

describe('server handshake: rate limiting of failed attempts', () => {
  it('refuses an address after maxFailures failures with rate-limited, retryAfter and 4029', async () => {
    const server = await start({ rateLimit: { maxFailures: 2, windowMs: 30_000 } });
    for (let i = 0; i < 2; i++) {
      const { client } = await open(server.url);
      client.send('not json');
      await expectRefusal(client, 'malformed', 1007);
    }
    // The next socket is refused at once, without a challenge and without any signature work.
    const client = await RawClient.open(server.url);
    clients.push(client);
    const error = await client.next();
    expect(error).toMatchObject({ type: 'auth.error', code: 'rate-limited' });
    expect(error.retryAfter).toBeGreaterThan(25_000);
    expect(error.retryAfter).toBeLessThanOrEqual(30_000);
    expect((await client.waitClosed()).code).toBe(4029);
  });

  it('refuses a response on a socket opened before the limit was reached', async () => {
    const server = await start({ rateLimit: { maxFailures: 1, windowMs: 30_000 } });
    const early = await open(server.url);
    const failing = await open(server.url);
    failing.client.send('not json');
    await expectRefusal(failing.client, 'malformed', 1007);
    early.client.send(
      await createAuthResponse(early.challenge, { identity: await Identity.generate(), origin: server.url }),
    );
    const error = await early.client.next();
    expect(error).toMatchObject({ type: 'auth.error', code: 'rate-limited' });
    expect((await early.client.waitClosed()).code).toBe(4029);
  });

  it('admits the address again once the window ends', async () => {
    const server = await start({ rateLimit: { maxFailures: 1, windowMs: 300 } });
    const { client } = await open(server.url);
    client.send('not json');
    await expectRefusal(client, 'malformed', 1007);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const { client: again, ok } = await authenticate(server.url);
    clients.push(again);
    expect(ok.type).toBe('auth.ok');
  });

  it("charges the client for its own lateness, not for the server's", async () => {
    let stalled = 0;
    const server = await start({
      authTimeout: 200,
      rateLimit: { maxFailures: 2, windowMs: 30_000 },
      // A directory lookup that hangs: the handshake times out on the server's side.
      authorize: () => new Promise<boolean>(() => stalled++),
    });
    const answer = (challenge: AuthChallenge, now?: () => number) =>
      Identity.generate().then((identity) =>
        createAuthResponse(challenge, { identity, origin: server.url, now }),
      );
    // Not charged: the server did not finish in time.
    const slow = await open(server.url);
    slow.client.send(await answer(slow.challenge));
    await expectRefusal(slow.client, 'expired', 4002);
    expect(stalled).toBe(1);
    // Not charged: an answer sent in time but read after the deadline, because this process (the
    // server's too) was blocked past it, as a node taking a storm may be.
    const late = await open(server.url);
    late.client.send(await answer(late.challenge));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
    await expectRefusal(late.client, 'expired', 4002);
    // Charged: a clock two minutes slow (the spec allows 60 s), and a client that never answers.
    const skewed = await open(server.url);
    skewed.client.send(await answer(skewed.challenge, () => Date.now() - 120_000));
    await expectRefusal(skewed.client, 'expired', 4002);
    const silent = await open(server.url);
    await expectRefusal(silent.client, 'expired', 4002);
    // Had `slow` or `late` counted, `skewed` or `silent` would have been refused before a challenge.
    const limited = await RawClient.open(server.url);
    clients.push(limited);
    expect(await limited.next()).toMatchObject({ type: 'auth.error', code: 'rate-limited' });
    expect(stalled).toBe(1);
  });

  it('does not count successful handshakes', async () => {
    const server = await start({ rateLimit: { maxFailures: 1, windowMs: 30_000 } });
    for (let i = 0; i < 3; i++) {
      const { client } = await authenticate(server.url);
      clients.push(client);
    }
    expect(server.stats().sessions).toBe(3);
  });
});

function flip(text: string, at = 5): string {
  return text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
}
