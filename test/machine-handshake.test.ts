import { describe, expect, it } from 'vitest';
import { createActor, waitFor } from 'xstate';
import { Identity } from '../src/identity/index.js';
import { signalingMachine } from '../src/machines/signaling.machine.js';
import { harness, tag } from './helpers/machine-harness.js';

describe('signalingMachine: connecting and authenticating', () => {
  it('starts disconnected and CONNECT invokes one socket', async () => {
    const h = await harness();
    expect(tag(h.actor)).toBe('disconnected');
    expect(h.sockets).toHaveLength(0);
    h.actor.send({ type: 'CONNECT' });
    expect(tag(h.actor)).toBe('connecting');
    expect(h.sockets).toHaveLength(1);
    h.actor.send({ type: 'CONNECT' }); // re-entrant: no second socket
    expect(h.sockets).toHaveLength(1);
  });

  it('runs the handshake with the real signer and verifier: connecting → authenticating → connected', async () => {
    const h = await harness();
    h.actor.send({ type: 'CONNECT' });
    h.socket().report({ type: 'SOCKET.OPEN' });
    expect(tag(h.actor)).toBe('authenticating');
    await h.authenticate();
    expect(tag(h.actor)).toBe('connected');
    const ctx = h.actor.getSnapshot().context;
    expect(ctx.serverKey).toBe(h.server.publicKey);
    expect(ctx.sessionId).toBe('s1');
    // The chart told the socket to let application frames through, with the announced limit.
    expect(h.socket().commands).toContainEqual({ type: 'SOCKET.AUTHENTICATED', maxMessageBytes: 65_536 });
  });

  it('never puts the identity or any secret into context or events', async () => {
    const h = await harness();
    h.actor.send({ type: 'CONNECT' });
    await h.authenticate();
    const seed = await (await Identity.fromSeed(new Uint8Array(32).fill(7))).publicKey;
    const dump = JSON.stringify(h.actor.getSnapshot().context) + JSON.stringify(h.socket().commands);
    expect(dump).toContain(h.client.publicKey); // public: fine
    expect(dump).not.toContain(seed);
    expect(dump).not.toMatch(/secret|privateKey|"d":/);
  });

  it('connectTimeout: a socket that never opens is closed and the machine reconnects', async () => {
    const h = await harness({ connectTimeout: 3000 });
    h.actor.send({ type: 'CONNECT' });
    h.advance(2999);
    expect(tag(h.actor)).toBe('connecting');
    h.advance(1);
    expect(tag(h.actor)).toBe('reconnecting');
    expect(h.actor.getSnapshot().context.reason).toBe('connect-timeout');
    expect(h.sockets[0]?.stopped).toBe(true);
    expect(h.sockets[0]?.commands.at(-1)).toMatchObject({ type: 'SOCKET.CLOSE_WITH', code: 4008 });
  });

  it('authTimeout: no challenge in time → close 4008 and reconnect', async () => {
    const h = await harness({ authTimeout: 2000 });
    h.actor.send({ type: 'CONNECT' });
    h.socket().report({ type: 'SOCKET.OPEN' });
    h.advance(1999);
    expect(tag(h.actor)).toBe('authenticating');
    h.advance(1);
    expect(tag(h.actor)).toBe('reconnecting');
    expect(h.actor.getSnapshot().context.reason).toBe('auth-timeout');
  });

  it('authTimeout: no verdict in time after answering → reconnect', async () => {
    const h = await harness({ authTimeout: 2000 });
    h.actor.send({ type: 'CONNECT' });
    h.socket().report({ type: 'SOCKET.OPEN' });
    await h.challenge();
    expect(h.actor.getSnapshot().matches({ session: { authenticating: 'awaitingVerdict' } })).toBe(true);
    h.advance(2000);
    expect(tag(h.actor)).toBe('reconnecting');
    expect(h.actor.getSnapshot().context.reason).toBe('auth-timeout');
  });

  it('a pinned key that differs from the challenge’s fails before signing anything', async () => {
    const other = await Identity.generate();
    const h = await harness({ serverKey: other.publicKey });
    h.actor.send({ type: 'CONNECT' });
    h.socket().report({ type: 'SOCKET.OPEN' });
    await h.challenge();
    expect(tag(h.actor)).toBe('failed');
    expect(h.actor.getSnapshot().context.reason).toBe('server-key-mismatch');
    const sent = h.sockets[0]?.commands.filter((c) => c.type === 'SOCKET.SEND') ?? [];
    expect(sent).toHaveLength(0);
    expect(h.sockets[0]?.commands.at(-1)).toMatchObject({ type: 'SOCKET.CLOSE_WITH', code: 1008 });
  });

  it('a forged auth.ok proof fails with server-key-mismatch (pinned or not)', async () => {
    for (const pinned of [true, false]) {
      const h0 = await harness();
      const h = pinned ? await harness({ serverKey: h0.server.publicKey }) : h0;
      h.actor.send({ type: 'CONNECT' });
      h.socket().report({ type: 'SOCKET.OPEN' });
      await h.challenge();
      const forged = 'A'.repeat(86);
      h.socket().report({
        type: 'AUTH.OK',
        ok: { type: 'auth.ok', v: 1, sessionId: 'x', signature: forged },
      });
      await waitFor(h.actor, (s) => !s.matches({ session: { authenticating: 'verifying' } }));
      expect(tag(h.actor)).toBe('failed');
      expect(h.actor.getSnapshot().context.reason).toBe('server-key-mismatch');
    }
  });

  it('records the server key on first use and reads the heartbeat and limits from the challenge', async () => {
    const h = await harness();
    h.actor.send({ type: 'CONNECT' });
    await h.authenticate({ heartbeat: { interval: 1234, timeout: 567 }, limits: { maxMessageBytes: 999 } });
    const ctx = h.actor.getSnapshot().context;
    expect(ctx.heartbeat).toEqual({ interval: 1234, timeout: 567 });
    expect(ctx.maxMessageBytes).toBe(999);
    expect(ctx.serverKey).toBe(h.server.publicKey);
  });

  it('a heartbeat given in the input overrides the server’s', async () => {
    const h = await harness({ heartbeat: { interval: 100 } });
    h.actor.send({ type: 'CONNECT' });
    await h.authenticate({ heartbeat: { interval: 1234, timeout: 567 } });
    expect(h.actor.getSnapshot().context.heartbeat).toEqual({ interval: 100, timeout: 567 });
  });

  it('keeps the optional iceServers of auth.ok', async () => {
    const h = await harness();
    h.actor.send({ type: 'CONNECT' });
    h.socket().report({ type: 'SOCKET.OPEN' });
    const { challenge, response } = await h.challenge();
    const { createServerProof } = await import('../src/protocol/auth.js');
    const { decodeBase64url } = await import('../src/protocol/base64url.js');
    const signature = await createServerProof({
      identity: h.server,
      origin: 'ws://127.0.0.1:9/',
      nonce: decodeBase64url(challenge.nonce, 32),
      response,
    });
    const iceServers = [{ urls: 'turn:turn.example.com', username: 'u', credential: 'c' }];
    h.socket().report({
      type: 'AUTH.OK',
      ok: { type: 'auth.ok', v: 1, sessionId: 's', signature, iceServers },
    });
    await waitFor(h.actor, (s) => s.hasTag('connected'));
    expect(h.actor.getSnapshot().context.iceServers).toEqual(iceServers);
  });

  it('a malformed frame (reported by the socket) leads to reconnecting with backoff, not failed', async () => {
    const h = await harness();
    h.actor.send({ type: 'CONNECT' });
    await h.authenticate();
    h.socket().report({ type: 'SOCKET.PROTOCOL_ERROR', code: 1007, message: 'bad json' });
    expect(tag(h.actor)).toBe('reconnecting');
    expect(h.actor.getSnapshot().context.reason).toBe('protocol-error');
    expect(h.actor.getSnapshot().context.retryIn).toBeGreaterThan(0);
  });

  it('the bare machine refuses to run without a provided socket (Clerk-style placeholder)', () => {
    const actor = createActor(signalingMachine, { input: { url: 'ws://127.0.0.1:9/' } });
    const errors: unknown[] = [];
    actor.subscribe({ error: (e) => errors.push(e) });
    actor.start();
    actor.send({ type: 'CONNECT' });
    expect(actor.getSnapshot().status).toBe('error');
    expect(String(errors[0])).toMatch(/must be provided/);
  });
});
