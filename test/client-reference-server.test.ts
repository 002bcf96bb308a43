import { afterEach, describe, expect, it } from 'vitest';
import { createSignalingClient, type SignalingClient, type SignalingClientOptions } from '../src/client.js';
import { isSignalingError } from '../src/errors.js';
import { Identity } from '../src/identity/index.js';
import { signalingMachine } from '../src/machines/signaling.machine.js';
import { ConnectionState } from '../src/machines/signaling.types.js';
import type { IceServer } from '../src/protocol/messages.js';
import {
  createSignalingServer,
  type SignalingServer,
  type SignalingServerOptions,
} from '../src/server/index.js';
import { reach } from './helpers/client-watch.js';

/** Integration against the reference server on loopback, real `ws` sockets. */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options: Partial<SignalingServerOptions> = {}): Promise<SignalingServer> {
  const s = await createSignalingServer({ identity: await Identity.generate(), ...options });
  cleanups.push(() => s.close({ timeout: 200 }));
  return s;
}

async function client(
  url: string,
  options: Partial<SignalingClientOptions> = {},
): Promise<{ client: SignalingClient; identity: Identity }> {
  const identity = (options.identity as Identity | undefined) ?? (await Identity.generate());
  const c = createSignalingClient({ url, identity, globalEvents: false, ...options });
  cleanups.push(() => c.disconnect());
  return { client: c, identity };
}

describe('SignalingClient against the reference server', () => {
  it('authenticates, learns the server key, passes through the states in order', async () => {
    const s = await server();
    const { client: c } = await client(s.url);
    const seen: string[] = [];
    c.onStateChange((state, previous) => seen.push(`${previous}->${state}`));
    c.connect();
    await reach(c, ConnectionState.CONNECTED);
    expect(seen).toEqual([
      'disconnected->connecting',
      'connecting->authenticating',
      'authenticating->connected',
    ]);
    expect(c.serverKey).toBe(s.publicKey);
    expect(c.sessionId).toEqual(expect.any(String));
    // Services go in as input: every client runs the one machine (no per-client machine.provide()).
    expect(c.actor.logic).toBe(signalingMachine);
    await c.disconnect();
    expect(c.state).toBe(ConnectionState.DISCONNECTED);
    expect(s.stats().connections).toBe(0);
  });

  it('relays a signal: the sender resolves on ack, the receiver gets it routed by type', async () => {
    const s = await server();
    const { client: a } = await client(s.url);
    const { client: b, identity: bId } = await client(s.url);
    const inbox: unknown[] = [];
    const all: string[] = [];
    b.on('signal', (m) => inbox.push(m));
    b.onMessage((m) => all.push(m.type));
    a.connect();
    b.connect();
    await Promise.all([reach(a, 'connected'), reach(b, 'connected')]);
    await a.send({ type: 'signal', to: bId.publicKey, id: 'm1', data: { sdp: 'x' } });
    await expect.poll(() => inbox.length).toBe(1);
    expect(inbox[0]).toMatchObject({ type: 'signal', id: 'm1', data: { sdp: 'x' } });
    expect(all).toEqual(['signal']);
  });

  it('rejects a signal to an offline peer with peer-offline', async () => {
    const s = await server();
    const { client: a } = await client(s.url);
    a.connect();
    const nobody = (await Identity.generate()).publicKey;
    const error = await a.send({ type: 'signal', to: nobody, id: 'z', data: null }).catch((e) => e);
    expect(isSignalingError(error, 'peer-offline')).toBe(true);
  });

  it('queues sends made before connecting and flushes them in order once authenticated', async () => {
    const s = await server();
    const { client: a } = await client(s.url);
    const { client: b, identity: bId } = await client(s.url);
    const ids: string[] = [];
    b.on('signal', (m) => ids.push(m.id));
    b.connect();
    await reach(b, 'connected');
    const sends = ['1', '2', '3'].map((id) => a.send({ type: 'signal', to: bId.publicKey, id, data: id }));
    a.connect();
    await Promise.all(sends);
    await expect.poll(() => ids).toEqual(['1', '2', '3']);
  });

  it('comes back by itself after the server is killed and restarted on the same port', async () => {
    const identity = await Identity.generate();
    const first = await createSignalingServer({ identity });
    const port = first.port;
    const { client: c } = await client(first.url, {
      serverKey: identity.publicKey,
      backoff: { initialDelay: 50, maxDelay: 200 },
    });
    c.connect();
    await reach(c, 'connected');
    await first.close({ timeout: 100 });
    await reach(c, 'reconnecting');
    const second = await server({ identity, port });
    await reach(c, 'connected', 10_000);
    expect(second.stats().sessions).toBe(1);
  });

  it('presence subscriptions survive a server restart without subscribing again', async () => {
    const identity = await Identity.generate();
    const first = await createSignalingServer({ identity });
    const port = first.port;
    const fast = { serverKey: identity.publicKey, backoff: { initialDelay: 50, maxDelay: 200 } };
    const { client: watcher } = await client(first.url, fast);
    const { client: peer, identity: peerId } = await client(first.url, fast);
    const seen: boolean[] = [];
    watcher.on('presence', (m) => m.key === peerId.publicKey && seen.push(m.online));
    watcher.connect();
    await reach(watcher, 'connected');
    await watcher.send({ type: 'presence.subscribe', keys: [peerId.publicKey] });
    await expect.poll(() => seen).toEqual([false]);
    peer.connect();
    await expect.poll(() => seen).toEqual([false, true]);

    await first.close({ timeout: 100 });
    await reach(watcher, 'reconnecting');
    seen.length = 0;
    const second = await server({ identity, port });
    await reach(watcher, 'connected', 10_000);
    await reach(peer, 'connected', 10_000);
    // The new server was never sent a subscribe by the application, yet reports the peer.
    await expect.poll(() => seen.at(-1), { timeout: 5000 }).toBe(true);
    expect(second.stats().sessions).toBe(2);
  });

  it('fails with server-key-mismatch when the pinned key is not the server’s', async () => {
    const s = await server();
    const { client: c } = await client(s.url, { serverKey: (await Identity.generate()).publicKey });
    const details: unknown[] = [];
    c.onStateChange((state, _previous, d) => state === 'failed' && details.push(d));
    c.connect();
    await reach(c, 'failed');
    expect(details[0]).toMatchObject({ reason: 'server-key-mismatch' });
  });

  it('fails with auth-denied when the server refuses the key (4001)', async () => {
    const s = await server({ authorize: () => false });
    const { client: c } = await client(s.url);
    const details: unknown[] = [];
    c.onStateChange((state, _previous, d) => state === 'failed' && details.push(d));
    c.connect();
    await reach(c, 'failed');
    expect(details[0]).toMatchObject({ reason: 'auth-denied', closeCode: 4001 });
  });

  it('fails with replaced when a newer session of the same key takes over (4009)', async () => {
    const s = await server({ limits: { maxSessionsPerKey: 1 } });
    const identity = await Identity.generate();
    const { client: older } = await client(s.url, { identity });
    const { client: newer } = await client(s.url, { identity });
    older.connect();
    await reach(older, 'connected');
    newer.connect();
    await reach(older, 'failed');
    expect(older.actor.getSnapshot().context.reason).toBe('replaced');
    expect(newer.state).toBe('connected');
  });

  it('measures the round trip from the heartbeat pong', async () => {
    const s = await server();
    const { client: c } = await client(s.url, { heartbeat: { interval: 50 } });
    c.connect();
    await reach(c, 'connected');
    await expect.poll(() => c.rtt, { timeout: 3000 }).toBeGreaterThanOrEqual(0);
  });

  it('exposes the iceServers the server hands out in auth.ok', async () => {
    const ice = [{ urls: 'turn:turn.example.com:3478', username: 'u', credential: 'c' }];
    const s = await server({ iceServers: () => ice });
    const { client: c } = await client(s.url);
    c.connect();
    await reach(c, 'connected');
    expect(c.iceServers).toEqual(ice);
  });

  it('the server hands out only valid iceServers, logging each dropped entry without its credential', async () => {
    const good = { urls: 'turn:turn.example.com:3478', username: 'u', credential: 'c' };
    const bad = [
      { urls: 'http://not-ice.example' },
      { urls: 'turns:t.example.com', username: 'u' }, // no credential
      7,
      { urls: 'turn:t.example.com', username: 'u', credential: { secret: 's3cret' } },
    ];
    const lines: string[] = [];
    const log = (fields: object, message?: string) => {
      lines.push(`${message} ${JSON.stringify(fields)}`);
    };
    const logger = { debug: () => {}, info: () => {}, warn: log, error: log };
    const s = await server({ iceServers: () => [bad[0], good, ...bad.slice(1)] as IceServer[], logger });
    const { client: c } = await client(s.url);
    c.connect();
    await reach(c, 'connected');
    expect(c.iceServers).toEqual([good]);
    expect(c.state).toBe('connected');
    const dropped = lines.filter((line) => line.startsWith('iceServers entry dropped'));
    expect(dropped).toHaveLength(4);
    expect(dropped[0]).toMatch(/iceServers\[0\]\.urls/);
    expect(dropped[1]).toMatch(/iceServers\[2\]\.credential/);
    expect(dropped[2]).toMatch(/iceServers\[3\]/);
    expect(dropped[3]).toMatch(/iceServers\[4\]\.credential/);
    expect(lines.join('\n')).not.toContain('s3cret');
  });

  it('page visible again → pings at once (a dead socket is found without waiting a whole interval)', async () => {
    const s = await server({ heartbeat: { interval: 60_000 } });
    const target = new EventTarget() as EventTarget & { document?: unknown };
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    target.document = doc;
    const { client: c } = await client(s.url, { globalEvents: target as never });
    c.connect();
    await reach(c, 'connected');
    expect(c.rtt).toBeUndefined();
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    await expect.poll(() => c.rtt, { timeout: 3000 }).toBeGreaterThanOrEqual(0);
  });
});
