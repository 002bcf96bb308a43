import { describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/index.js';
import type { SignalingServer } from '../src/server/index.js';
import { type AuthenticatedClient, authenticate, RawClient } from './helpers/server-client.js';
import { serverFixture } from './helpers/server-fixture.js';

const { servers, clients, start } = serverFixture();

async function join(server: SignalingServer, identity?: Identity): Promise<AuthenticatedClient> {
  const peer = await authenticate(server.url, identity ? { identity } : {});
  clients.push(peer.client);
  return peer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('server session: heartbeat', () => {
  it('answers ping with pong carrying the same t', async () => {
    const server = await start();
    const { client } = await join(server);
    client.send({ type: 'ping', t: 123456789 });
    expect(await client.next()).toEqual({ type: 'pong', t: 123456789 });
  });

  it('terminates an authenticated socket silent for interval + timeout, keeps a pinging one', async () => {
    const server = await start({ heartbeat: { interval: 150, timeout: 100 } });
    const silent = await join(server);
    const alive = await join(server);
    const pinger = setInterval(() => alive.client.send({ type: 'ping', t: Date.now() }), 100);
    try {
      const started = Date.now();
      const closed = await silent.client.waitClosed(3000);
      const waited = Date.now() - started;
      expect(closed.code).toBe(1006); // terminated: no close handshake with a dead peer
      expect(waited).toBeGreaterThanOrEqual(200);
      expect(waited).toBeLessThan(1500);
      await sleep(300);
      expect(alive.client.ws.readyState).toBe(alive.client.ws.OPEN);
    } finally {
      clearInterval(pinger);
    }
  });
});

describe('server session: signal relay', () => {
  it('relays a signal as from the sender and acknowledges it', async () => {
    const server = await start();
    const a = await join(server);
    const b = await join(server);
    a.client.send({ type: 'signal', to: b.identity.publicKey, id: 'm1', data: { sdp: 'offer', n: [1, 2] } });
    expect(await b.client.next('signal')).toEqual({
      type: 'signal',
      from: a.identity.publicKey,
      id: 'm1',
      data: { sdp: 'offer', n: [1, 2] },
    });
    expect(await a.client.next()).toEqual({ type: 'ack', id: 'm1' });
  });

  it('answers peer-offline for a key with no live session', async () => {
    const server = await start();
    const a = await join(server);
    const nobody = await Identity.generate();
    a.client.send({ type: 'signal', to: nobody.publicKey, id: 'm2', data: 1 });
    expect(await a.client.next()).toEqual({ type: 'error', code: 'peer-offline', id: 'm2' });
  });

  it('answers peer-offline once the peer has disconnected', async () => {
    const server = await start();
    const a = await join(server);
    const b = await join(server);
    b.client.close();
    await b.client.waitClosed();
    a.client.send({ type: 'signal', to: b.identity.publicKey, id: 'm3', data: 1 });
    expect(await a.client.next()).toEqual({ type: 'error', code: 'peer-offline', id: 'm3' });
  });

  it('delivers to every live session of the key, with one ack', async () => {
    const server = await start();
    const a = await join(server);
    const identity = await Identity.generate();
    const b1 = await join(server, identity);
    const b2 = await join(server, identity);
    a.client.send({ type: 'signal', to: identity.publicKey, id: 'both', data: 'hi' });
    const expected = { type: 'signal', from: a.identity.publicKey, id: 'both', data: 'hi' };
    expect(await b1.client.next('signal')).toEqual(expected);
    expect(await b2.client.next('signal')).toEqual(expected);
    expect(await a.client.next()).toEqual({ type: 'ack', id: 'both' });
    await sleep(50);
    expect(a.client.frames).toEqual([]);
  });

  it('lets a key signal its own other sessions', async () => {
    const server = await start();
    const identity = await Identity.generate();
    const one = await join(server, identity);
    const two = await join(server, identity);
    one.client.send({ type: 'signal', to: identity.publicKey, id: 'self', data: null });
    expect(await two.client.next('signal')).toMatchObject({
      from: identity.publicKey,
      id: 'self',
      data: null,
    });
    expect(await one.client.next('signal')).toMatchObject({ id: 'self' });
    expect(await one.client.next('ack')).toEqual({ type: 'ack', id: 'self' });
  });

  it('answers a signal with bad fields with error malformed and keeps the connection', async () => {
    const server = await start();
    const a = await join(server);
    a.client.send({ type: 'signal', to: 'not-a-key', id: 'bad', data: 1 });
    expect(await a.client.next()).toEqual({ type: 'error', code: 'malformed', id: 'bad' });
    a.client.send({ type: 'signal', to: a.identity.publicKey, id: 'x'.repeat(65), data: 1 });
    expect(await a.client.next()).toEqual({ type: 'error', code: 'malformed' });
    a.client.send({ type: 'ping', t: 1 });
    expect(await a.client.next()).toEqual({ type: 'pong', t: 1 });
  });

  it('refuses to relay a frame that rewriting `to` as `from` would push over maxMessageBytes', async () => {
    const server = await start({ limits: { maxMessageBytes: 8192 } });
    const a = await join(server);
    const b = await join(server);
    const base = JSON.stringify({ type: 'signal', to: b.identity.publicKey, id: 'big', data: '' });
    a.client.send({
      type: 'signal',
      to: b.identity.publicKey,
      id: 'big',
      data: 'x'.repeat(8192 - base.length),
    });
    expect(await a.client.next()).toEqual({ type: 'error', code: 'too-large', id: 'big' });
  });
});

describe('server session: messages the server does not handle', () => {
  it('answers an application type with unknown-type (with its id) and keeps the connection', async () => {
    const server = await start();
    const a = await join(server);
    a.client.send({ type: 'chat.message', id: 'c1', text: 'hello' });
    expect(await a.client.next()).toEqual({ type: 'error', code: 'unknown-type', id: 'c1' });
    a.client.send({ type: 'chat.typing' });
    expect(await a.client.next()).toEqual({ type: 'error', code: 'unknown-type' });
    a.client.send({ type: 'ping', t: 2 });
    expect(await a.client.next()).toEqual({ type: 'pong', t: 2 });
  });

  it.each([
    ['a binary frame', Buffer.from([1, 2, 3]), 1003],
    ['a non-JSON frame', 'nope', 1007],
    ['a frame without a type', '{"to":1}', 1007],
  ])('closes on %s after authentication', async (_label, frame, code) => {
    const server = await start();
    const a = await join(server);
    a.client.send(frame);
    expect((await a.client.waitClosed()).code).toBe(code);
  });

  it('closes 1009 on a frame over maxMessageBytes after authentication', async () => {
    const server = await start({ limits: { maxMessageBytes: 8192 } });
    const a = await join(server);
    expect(a.challenge.limits.maxMessageBytes).toBe(8192);
    a.client.send({ type: 'chat', pad: 'x'.repeat(8200) });
    expect((await a.client.waitClosed()).code).toBe(1009);
  });
});

describe('server session: application messages through onMessage', () => {
  it('hands unreserved types to onMessage with a session handle; unhandled ones get unknown-type', async () => {
    const seen: Array<{ type: string; key: string }> = [];
    const server = await start({
      onMessage: (message, session) => {
        seen.push({ type: message.type, key: session.publicKey });
        if (message.type === 'room.join') {
          expect(session.send({ type: 'room.joined', room: message.room })).toBe(true);
          return true;
        }
        if (message.type === 'room.boom') throw new Error('handler bug');
        if (message.type === 'room.huge') {
          expect(() => session.send({ type: 'x', pad: 'y'.repeat(70_000) })).toThrow(/maxMessageBytes/);
          return true;
        }
        if (message.type === 'room.kick') {
          session.close(4000, 'kicked');
          return true;
        }
        return false;
      },
    });
    const a = await join(server);
    a.client.send({ type: 'room.join', room: 'lobby' });
    expect(await a.client.next()).toEqual({ type: 'room.joined', room: 'lobby' });
    a.client.send({ type: 'room.other', id: 'o1' });
    expect(await a.client.next()).toEqual({ type: 'error', code: 'unknown-type', id: 'o1' });
    a.client.send({ type: 'room.boom', id: 'b1' });
    expect(await a.client.next()).toEqual({ type: 'error', code: 'server-error', id: 'b1' });
    a.client.send({ type: 'room.huge' });
    a.client.send({ type: 'ping', t: 4 });
    expect(await a.client.next()).toEqual({ type: 'pong', t: 4 });
    // Reserved types never reach the handler.
    a.client.send({ type: 'signal', to: a.identity.publicKey, id: 's', data: 1 });
    await a.client.next('ack');
    a.client.send({ type: 'room.kick' });
    expect(await a.client.waitClosed()).toEqual({ code: 4000, reason: 'kicked' });
    expect(seen.map((s) => s.type)).toEqual([
      'room.join',
      'room.other',
      'room.boom',
      'room.huge',
      'room.kick',
    ]);
    expect(new Set(seen.map((s) => s.key))).toEqual(new Set([a.identity.publicKey]));
  });
});

describe('server session: presence', () => {
  it('answers a subscribe at once and reports every change on connect and disconnect', async () => {
    const server = await start();
    const watcher = await join(server);
    const peer = await Identity.generate();
    watcher.client.send({ type: 'presence.subscribe', keys: [peer.publicKey] });
    expect(await watcher.client.next()).toEqual({ type: 'presence', key: peer.publicKey, online: false });

    const first = await join(server, peer);
    expect(await watcher.client.next()).toEqual({ type: 'presence', key: peer.publicKey, online: true });
    // A second session of an online key is no change.
    const second = await join(server, peer);
    first.client.close();
    await first.client.waitClosed();
    await sleep(50);
    expect(watcher.client.frames).toEqual([]);

    second.client.close();
    expect(await watcher.client.next()).toEqual({ type: 'presence', key: peer.publicKey, online: false });
  });

  it('reports a key that is already online as online, and stops after unsubscribe', async () => {
    const server = await start();
    const peer = await join(server);
    const watcher = await join(server);
    watcher.client.send({
      type: 'presence.subscribe',
      keys: [peer.identity.publicKey, watcher.identity.publicKey],
    });
    expect(await watcher.client.next()).toEqual({
      type: 'presence',
      key: peer.identity.publicKey,
      online: true,
    });
    expect(await watcher.client.next()).toEqual({
      type: 'presence',
      key: watcher.identity.publicKey,
      online: true,
    });
    watcher.client.send({ type: 'presence.unsubscribe', keys: [peer.identity.publicKey] });
    watcher.client.send({ type: 'ping', t: 3 });
    expect(await watcher.client.next()).toEqual({ type: 'pong', t: 3 });
    peer.client.close();
    await peer.client.waitClosed();
    await sleep(50);
    expect(watcher.client.frames).toEqual([]);
  });

  it('reports a peer whose socket was terminated by the heartbeat sweep as offline', async () => {
    const server = await start({ heartbeat: { interval: 150, timeout: 100 } });
    const watcher = await join(server);
    const pinger = setInterval(() => watcher.client.send({ type: 'ping', t: 0 }), 100);
    try {
      const peer = await join(server);
      watcher.client.send({ type: 'presence.subscribe', keys: [peer.identity.publicKey] });
      expect(await watcher.client.next('presence')).toMatchObject({ online: true });
      expect(await watcher.client.next('presence', 3000)).toEqual({
        type: 'presence',
        key: peer.identity.publicKey,
        online: false,
      });
    } finally {
      clearInterval(pinger);
    }
  });

  it('limits a socket to 1024 watched keys', async () => {
    const server = await start();
    const watcher = await join(server);
    const keys = await Promise.all(
      Array.from({ length: 1025 }, async () => (await Identity.generate()).publicKey),
    );
    // One message over the limit is malformed.
    watcher.client.send({ type: 'presence.subscribe', keys });
    expect(await watcher.client.next()).toEqual({ type: 'error', code: 'malformed' });
    // 1024 in one go are fine; one more in a later message is refused.
    watcher.client.send({ type: 'presence.subscribe', keys: keys.slice(0, 1024) });
    for (let i = 0; i < 1024; i++) expect((await watcher.client.next()).type).toBe('presence');
    watcher.client.send({ type: 'presence.subscribe', keys: keys.slice(1024) });
    expect(await watcher.client.next()).toEqual({ type: 'error', code: 'too-many-keys' });
    // Re-subscribing to keys already watched costs nothing.
    watcher.client.send({ type: 'presence.subscribe', keys: keys.slice(0, 1) });
    expect(await watcher.client.next()).toMatchObject({ type: 'presence', key: keys[0] });
  });
});

describe('server session: sessions per key and shutdown', () => {
  it('closes the oldest session of a key with 4009 beyond maxSessionsPerKey', async () => {
    const server = await start({ limits: { maxSessionsPerKey: 2 } });
    const identity = await Identity.generate();
    const one = await join(server, identity);
    const two = await join(server, identity);
    const three = await join(server, identity);
    expect((await one.client.waitClosed()).code).toBe(4009);
    expect(two.client.ws.readyState).toBe(two.client.ws.OPEN);
    expect(three.client.ws.readyState).toBe(three.client.ws.OPEN);
    expect(server.stats().sessions).toBe(2);
  });

  it('close() sends 1001 to every client, authenticated or not, and stops listening', async () => {
    const server = await start();
    const a = await join(server);
    const pending = await RawClient.open(server.url);
    clients.push(pending);
    await pending.next('auth.challenge');
    servers.splice(servers.indexOf(server), 1);
    await server.close();
    expect((await a.client.waitClosed()).code).toBe(1001);
    expect((await pending.waitClosed()).code).toBe(1001);
    await expect(RawClient.open(server.url)).rejects.toThrow();
    await server.close(); // idempotent
  });

  it('refuses sockets beyond maxConnections with 1013', async () => {
    const server = await start({ limits: { maxConnections: 1 } });
    const first = await join(server);
    const second = await RawClient.open(server.url);
    clients.push(second);
    expect((await second.waitClosed()).code).toBe(1013);
    expect(first.client.ws.readyState).toBe(first.client.ws.OPEN);
  });
});
