import { describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/index.js';
import {
  type AuthOk,
  type AuthResponse,
  createAuthResponse,
  createServerProof,
  decodeBase64url,
  encodeBase64url,
  verifyChallenge,
  verifyServerProof,
} from '../src/protocol/index.js';
import { challengeFrom } from './helpers/challenge.js';
import { fromHex } from './helpers/ed25519-math.js';

const ORIGIN = 'ws://127.0.0.1:4000/';
const NOW = 1_750_000_000_000;

async function setup() {
  const server = await Identity.generate();
  const client = await Identity.generate();
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  const challenge = challengeFrom(nonce, server.publicKey);
  const response = await createAuthResponse(challenge, { identity: client, origin: ORIGIN, now: () => NOW });
  const verifyOptions = { nonce, origins: [ORIGIN], serverKey: server.publicKey, now: NOW };
  return { server, client, nonce, challenge, response, verifyOptions };
}

function flipChar(text: string, at = 5): string {
  const c = text[at] === 'A' ? 'B' : 'A';
  return text.slice(0, at) + c + text.slice(at + 1);
}

describe('createAuthResponse → verifyChallenge', () => {
  it('accepts an honest response and names the client key and origin', async () => {
    const { client, response, verifyOptions } = await setup();
    expect(response).toMatchObject({
      type: 'auth.response',
      v: 1,
      publicKey: client.publicKey,
      issuedAt: NOW,
    });
    const result = await verifyChallenge(response, verifyOptions);
    expect(result).toMatchObject({ ok: true, publicKey: client.publicKey, origin: ORIGIN });
  });

  it.each(['node', 'webcrypto', 'tweetnacl'] as const)(
    'verifies through the %s backend',
    async (verifier) => {
      const { response, verifyOptions } = await setup();
      expect((await verifyChallenge(response, { ...verifyOptions, verifier })).ok).toBe(true);
    },
  );

  it('accepts the origin among several configured ones, normalizing them', async () => {
    const { response, verifyOptions } = await setup();
    const origins = ['wss://other.example/', 'ws://127.0.0.1:4000'];
    expect(await verifyChallenge(response, { ...verifyOptions, origins })).toMatchObject({
      ok: true,
      origin: ORIGIN,
    });
  });

  it('signs with 32 zero bytes for a challenge without serverKey, and the server verifies that way', async () => {
    const { client, nonce, challenge } = await setup();
    const { serverKey: _, ...anonymous } = challenge;
    const response = await createAuthResponse(anonymous, {
      identity: client,
      origin: ORIGIN,
      now: () => NOW,
    });
    expect((await verifyChallenge(response, { nonce, origins: [ORIGIN], now: NOW })).ok).toBe(true);
  });

  it('uses the injected randomness for the client nonce', async () => {
    const { client, challenge } = await setup();
    const response = await createAuthResponse(challenge, {
      identity: client,
      origin: ORIGIN,
      now: () => NOW,
      random: (n) => new Uint8Array(n).fill(7),
    });
    expect(response.clientNonce).toBe(encodeBase64url(new Uint8Array(32).fill(7)));
  });
});

describe('attacks are refused with the right code', () => {
  it('a response replayed against another nonce → denied', async () => {
    const { response, verifyOptions } = await setup();
    const otherNonce = crypto.getRandomValues(new Uint8Array(32));
    expect(await verifyChallenge(response, { ...verifyOptions, nonce: otherNonce })).toEqual({
      ok: false,
      code: 'denied',
    });
  });

  it('a response relayed to another origin → denied', async () => {
    const { response, verifyOptions } = await setup();
    const origins = ['wss://victim.example/ws'];
    expect(await verifyChallenge(response, { ...verifyOptions, origins })).toEqual({
      ok: false,
      code: 'denied',
    });
  });

  it('role reflection: a server proof offered as a client proof → denied', async () => {
    const { server, nonce, response, verifyOptions } = await setup();
    // The server's own proof over the transcript, presented as a client response for the server's key.
    const proof = await createServerProof({ identity: server, origin: ORIGIN, nonce, response });
    const reflected: AuthResponse = { ...response, publicKey: server.publicKey, signature: proof };
    expect(await verifyChallenge(reflected, verifyOptions)).toEqual({ ok: false, code: 'denied' });
    // …and the converse: the client's proof does not pass as the server's.
    const { challenge } = await setup();
    const ok: AuthOk = { type: 'auth.ok', v: 1, sessionId: 's', signature: response.signature };
    expect(await verifyServerProof(ok, { challenge, response, origin: ORIGIN })).toEqual({
      ok: false,
      code: 'server-key-mismatch',
    });
  });

  it.each(['publicKey', 'clientNonce', 'signature'] as const)('a tampered %s → denied', async (field) => {
    const { response, verifyOptions } = await setup();
    const tampered = { ...response, [field]: flipChar(response[field]) };
    expect(await verifyChallenge(tampered, verifyOptions)).toEqual({ ok: false, code: 'denied' });
  });

  it('a tampered issuedAt → denied', async () => {
    const { response, verifyOptions } = await setup();
    expect(await verifyChallenge({ ...response, issuedAt: NOW + 1 }, verifyOptions)).toEqual({
      ok: false,
      code: 'denied',
    });
  });

  it('a wrong server key in the transcript → denied', async () => {
    const { response, verifyOptions } = await setup();
    const other = await Identity.generate();
    expect(await verifyChallenge(response, { ...verifyOptions, serverKey: other.publicKey })).toEqual({
      ok: false,
      code: 'denied',
    });
  });

  it('issuedAt 61 s off → expired; 60 s off still verifies', async () => {
    const { response, verifyOptions } = await setup();
    expect(await verifyChallenge(response, { ...verifyOptions, now: NOW + 61_000 })).toEqual({
      ok: false,
      code: 'expired',
    });
    expect(await verifyChallenge(response, { ...verifyOptions, now: NOW - 61_000 })).toEqual({
      ok: false,
      code: 'expired',
    });
    expect((await verifyChallenge(response, { ...verifyOptions, now: NOW + 60_000 })).ok).toBe(true);
  });

  it('an expired nonce → expired', async () => {
    const { response, verifyOptions } = await setup();
    expect(await verifyChallenge(response, { ...verifyOptions, nonceExpiresAt: NOW - 1 })).toEqual({
      ok: false,
      code: 'expired',
    });
  });

  it('S + L (a malleated signature) → denied', async () => {
    const { response, verifyOptions } = await setup();
    const sig = decodeBase64url(response.signature, 64);
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i] as number);
    s += 2n ** 252n + 27742317777372353535851937790883648493n;
    for (let i = 32; i < 64; i++) {
      sig[i] = Number(s & 0xffn);
      s >>= 8n;
    }
    const malleated = { ...response, signature: encodeBase64url(sig) };
    for (const verifier of ['node', 'webcrypto', 'tweetnacl'] as const) {
      expect(await verifyChallenge(malleated, { ...verifyOptions, verifier })).toEqual({
        ok: false,
        code: 'denied',
      });
    }
  });

  it('a small-order key with the universal forgery → denied', async () => {
    const { response, verifyOptions } = await setup();
    const identityPoint = fromHex(`01${'00'.repeat(31)}`);
    const forgedSignature = new Uint8Array(64);
    forgedSignature.set(identityPoint);
    const forged = {
      ...response,
      publicKey: encodeBase64url(identityPoint),
      signature: encodeBase64url(forgedSignature),
    };
    expect(await verifyChallenge(forged, verifyOptions)).toEqual({ ok: false, code: 'denied' });
  });

  it.each([
    ['publicKey one byte short', { publicKey: encodeBase64url(new Uint8Array(31)) }],
    ['clientNonce one byte long', { clientNonce: encodeBase64url(new Uint8Array(33)) }],
    ['signature 63 bytes', { signature: encodeBase64url(new Uint8Array(63)) }],
    ['padded base64', { publicKey: `${encodeBase64url(new Uint8Array(32))}=` }],
    ['standard base64 alphabet', { clientNonce: `+${encodeBase64url(new Uint8Array(32)).slice(1)}` }],
    ['non-zero trailing bits', { publicKey: `${encodeBase64url(new Uint8Array(32)).slice(0, 42)}B` }],
    ['issuedAt as a string', { issuedAt: String(NOW) }],
    ['issuedAt fractional', { issuedAt: NOW + 0.5 }],
    ['missing signature', { signature: undefined }],
    ['another type', { type: 'auth.challenge' }],
  ])('%s → malformed', async (_, patch) => {
    const { response, verifyOptions } = await setup();
    expect(await verifyChallenge({ ...response, ...patch }, verifyOptions)).toEqual({
      ok: false,
      code: 'malformed',
    });
  });

  it('v 2 → unsupported-version, checked before the fields', async () => {
    const { verifyOptions } = await setup();
    expect(await verifyChallenge({ type: 'auth.response', v: 2 }, verifyOptions)).toEqual({
      ok: false,
      code: 'unsupported-version',
    });
  });

  it('more than 8 origins is a configuration error', async () => {
    const { response, verifyOptions } = await setup();
    const origins = Array.from({ length: 9 }, (_, i) => `ws://h${i}.example/`);
    await expect(verifyChallenge(response, { ...verifyOptions, origins })).rejects.toMatchObject({
      code: 'invalid-origin',
    });
  });
});

describe('the client is no signing oracle', () => {
  it.each([
    ['a non-object', 'hello'],
    ['another message type', { type: 'signal', from: 'x', id: '1', data: 'x' }],
    ['a nonce of 31 bytes', { nonce: encodeBase64url(new Uint8Array(31)) }],
    ['a nonce of 33 bytes', { nonce: encodeBase64url(new Uint8Array(33)) }],
    ['a padded nonce', { nonce: `${encodeBase64url(new Uint8Array(32))}=` }],
    ['a short serverKey', { serverKey: encodeBase64url(new Uint8Array(16)) }],
    ['no heartbeat', { heartbeat: undefined }],
    ['a negative heartbeat', { heartbeat: { interval: -1, timeout: 10 } }],
    ['no limits', { limits: undefined }],
  ])('refuses %s', async (_, patch) => {
    const { client, challenge } = await setup();
    const bad = typeof patch === 'string' ? patch : { ...challenge, ...patch };
    await expect(createAuthResponse(bad, { identity: client, origin: ORIGIN })).rejects.toMatchObject({
      code: 'malformed',
    });
  });

  it('refuses v 2 as unsupported-version', async () => {
    const { client, challenge } = await setup();
    await expect(
      createAuthResponse({ ...challenge, v: 2 }, { identity: client, origin: ORIGIN }),
    ).rejects.toMatchObject({
      code: 'unsupported-version',
      closeCode: 4010,
    });
  });

  it('refuses an origin that is not ws: or wss:', async () => {
    const { client, challenge } = await setup();
    await expect(
      createAuthResponse(challenge, { identity: client, origin: 'https://x/' }),
    ).rejects.toMatchObject({
      code: 'invalid-origin',
    });
  });
});

describe('server proof (mutual authentication)', () => {
  async function proven() {
    const s = await setup();
    const signature = await createServerProof({
      identity: s.server,
      origin: ORIGIN,
      nonce: s.nonce,
      response: s.response,
    });
    const ok: AuthOk = { type: 'auth.ok', v: 1, sessionId: 'abc', signature };
    return { ...s, ok };
  }

  it('verifies pinned and unpinned, recording the key', async () => {
    const { server, challenge, response, ok } = await proven();
    expect(await verifyServerProof(ok, { challenge, response, origin: ORIGIN })).toEqual({
      ok: true,
      serverKey: server.publicKey,
    });
    expect(
      await verifyServerProof(ok, { challenge, response, origin: ORIGIN, pinnedKey: server.publicKey }),
    ).toEqual({
      ok: true,
      serverKey: server.publicKey,
    });
  });

  it('a pin that differs from the challenge key → server-key-mismatch', async () => {
    const { challenge, response, ok } = await proven();
    const other = await Identity.generate();
    expect(
      await verifyServerProof(ok, { challenge, response, origin: ORIGIN, pinnedKey: other.publicKey }),
    ).toEqual({
      ok: false,
      code: 'server-key-mismatch',
    });
  });

  it('a pinned client and a challenge without serverKey → server-key-mismatch', async () => {
    const { server, challenge, response, ok } = await proven();
    const { serverKey: _, ...anonymous } = challenge;
    expect(
      await verifyServerProof(ok, {
        challenge: anonymous,
        response,
        origin: ORIGIN,
        pinnedKey: server.publicKey,
      }),
    ).toEqual({ ok: false, code: 'server-key-mismatch' });
  });

  it('an impostor announcing the real key without holding it → server-key-mismatch', async () => {
    const { server, challenge, response, nonce } = await proven();
    const impostor = await Identity.generate();
    const signature = await createServerProof({ identity: impostor, origin: ORIGIN, nonce, response });
    const ok: AuthOk = { type: 'auth.ok', v: 1, sessionId: 'abc', signature };
    expect(
      await verifyServerProof(ok, { challenge, response, origin: ORIGIN, pinnedKey: server.publicKey }),
    ).toEqual({
      ok: false,
      code: 'server-key-mismatch',
    });
  });

  it('a proof for another origin → server-key-mismatch', async () => {
    const { challenge, response, ok } = await proven();
    expect(await verifyServerProof(ok, { challenge, response, origin: 'ws://127.0.0.1:4001/' })).toEqual({
      ok: false,
      code: 'server-key-mismatch',
    });
  });
});
