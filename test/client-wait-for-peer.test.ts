import { describe, expect, it } from 'vitest';
import type { SignalingClient, SignalingClientOptions } from '../src/client.js';
import { isSignalingError, type SignalingError } from '../src/errors.js';
import { Identity } from '../src/identity/index.js';
import type { Presence, SignalIn } from '../src/protocol/messages.js';
import { cleanupsFailingOnUnhandled } from './helpers/case-cleanup.js';
import { watch } from './helpers/client-watch.js';
import { createFaultProxy } from './helpers/fault-proxy.js';
import { startServerProcess } from './helpers/server-process.js';
import { testClient } from './helpers/test-client.js';
import { until } from './helpers/until.js';

/**
 * `send(signal, { waitForPeer: true })` against the reference server as a real process, through real
 * outages: a `peer-offline` answer makes the signal wait for the peer's presence (the client
 * subscribing to it meanwhile, unless the application does), it goes again once the peer is online and
 * reaches it exactly once; `queue.maxAge` after the send it rejects `expired`, caused by the
 * `peer-offline`.
 */

const cleanups = cleanupsFailingOnUnhandled();

interface Peer {
  client: SignalingClient;
  key: string;
  signals: SignalIn[];
  presence: Presence[];
  w: ReturnType<typeof watch>;
}

async function peer(
  url: string,
  serverKey: string,
  options: Partial<SignalingClientOptions> = {},
  connect = true,
): Promise<Peer> {
  const identity = options.identity ?? (await Identity.generate());
  const client = await testClient(cleanups, url, {
    identity,
    serverKey,
    backoff: { initialDelay: 50, maxDelay: 200 },
    ...options,
  });
  const signals: SignalIn[] = [];
  const presence: Presence[] = [];
  client.on('signal', (m) => signals.push(m));
  client.on('presence', (m) => presence.push(m));
  const w = watch(client);
  if (connect) {
    client.connect();
    await w.reach('connected');
  }
  return { client, key: identity.publicKey, signals, presence, w };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function server() {
  const pb = await createFaultProxy(0);
  cleanups.push(() => pb.close());
  const s = await startServerProcess({ origins: [pb.url] });
  cleanups.push(() => s.stop());
  pb.target = s.port;
  return { s, pb };
}

describe('send(signal, { waitForPeer: true })', () => {
  it('sent during a server outage, its sender back before the peer: delivered exactly once when the peer returns', async () => {
    const { s, pb } = await server();
    const a = await peer(s.url, s.publicKey);
    const b = await peer(pb.url, s.publicKey); // B's only way to the server is the proxy
    await s.kill();
    pb.setMode('reset'); // B stays away after the restart until the proxy forwards again
    await a.w.reach('reconnecting');
    let settled: unknown = 'pending';
    const sent = a.client.send({ type: 'signal', to: b.key, id: 'w1', data: 'hello' }, { waitForPeer: true });
    void sent.then(
      () => (settled = 'resolved'),
      (error: unknown) => (settled = error),
    );
    await s.restart();
    await a.w.reach('connected', 5000);
    // The queued signal went out, the server answered peer-offline, and the client now watches B.
    await until(() => a.presence.some((p) => p.key === b.key && !p.online));
    await pause(100);
    expect(settled).toBe('pending');
    expect(b.signals).toEqual([]);

    pb.setMode('forward');
    await b.w.reach('connected', 5000);
    await sent;
    expect(a.presence.filter((p) => p.key === b.key).map((p) => p.online)).toEqual([false, true]);
    await until(() => b.signals.length === 1);
    expect(b.signals[0]).toMatchObject({ from: a.key, id: 'w1', data: 'hello' });
    // Exactly once on the wire to B, not merely once after B's duplicate filter.
    const wire = Buffer.concat(pb.toClient).toString('latin1');
    expect(wire.split('"id":"w1"').length - 1).toBe(1);

    // Done, the client unsubscribed: B leaving is no longer reported to A.
    await b.client.disconnect();
    await pause(300);
    expect(a.presence.filter((p) => p.key === b.key).map((p) => p.online)).toEqual([false, true]);
  });

  it('a peer that never comes: rejects expired after queue.maxAge, the peer-offline as its cause, and stops watching', async () => {
    const { s } = await server();
    const a = await peer(s.url, s.publicKey, { queue: { maxAge: 800 } });
    const c = await Identity.generate();
    const started = Date.now();
    const outcome = a.client
      .send({ type: 'signal', to: c.publicKey, id: 'w2', data: 1 }, { waitForPeer: true })
      .catch((e: SignalingError) => e);
    await until(() => a.presence.some((p) => p.key === c.publicKey));
    // The same id cannot be sent again while its signal waits.
    const twice = await a.client.send({ type: 'signal', to: c.publicKey, id: 'w2', data: 2 }).catch((e) => e);
    expect(isSignalingError(twice, 'send-failed')).toBe(true);
    const error = await outcome;
    expect(Date.now() - started).toBeGreaterThanOrEqual(780);
    expect(isSignalingError(error, 'expired')).toBe(true);
    expect(isSignalingError((error as Error).cause, 'peer-offline')).toBe(true);
    // Unsubscribed: C coming online now is not reported.
    await peer(s.url, s.publicKey, { identity: c });
    await pause(300);
    expect(a.presence.filter((p) => p.key === c.publicKey).map((p) => p.online)).toEqual([false]);
    // Without the option, the same send rejects peer-offline at once, as before.
    await a.client.disconnect();
    a.client.connect();
    await a.w.reach('connected');
    const c2 = (await Identity.generate()).publicKey;
    const plain = await a.client.send({ type: 'signal', to: c2, id: 'w3', data: 1 }).catch((e) => e);
    expect(isSignalingError(plain, 'peer-offline')).toBe(true);
  });

  it('still waiting when its own connection drops: the new session watches the peer again', async () => {
    const { s } = await server();
    const a = await peer(s.url, s.publicKey);
    const bIdentity = await Identity.generate();
    const sent = a.client.send(
      { type: 'signal', to: bIdentity.publicKey, id: 'w6', data: 'z' },
      { waitForPeer: true },
    );
    await until(() => a.presence.length === 1);
    await s.kill();
    await s.restart();
    await a.w.reach('connected', 5000);
    // The restarted server knew nothing of A's watch: the new session subscribed again and was answered.
    await until(() => a.presence.length === 2);
    expect(a.presence.map((p) => p.online)).toEqual([false, false]);
    const b = await peer(s.url, s.publicKey, { identity: bIdentity });
    await sent;
    await until(() => b.signals.length === 1);
    expect(b.signals[0]).toMatchObject({ from: a.key, id: 'w6' });
  });

  it("the application's own presence subscription is kept; disconnect() rejects a waiting signal with closed", async () => {
    const { s } = await server();
    const a = await peer(s.url, s.publicKey);
    const bIdentity = await Identity.generate();
    await a.client.send({ type: 'presence.subscribe', keys: [bIdentity.publicKey] });
    const sent = a.client.send(
      { type: 'signal', to: bIdentity.publicKey, id: 'w4', data: 'x' },
      { waitForPeer: true },
    );
    const b = await peer(s.url, s.publicKey, { identity: bIdentity });
    await sent;
    await until(() => b.signals.length === 1);
    // Still subscribed: B leaving is reported.
    await b.client.disconnect();
    await until(() => a.presence.at(-1)?.online === false && a.presence.length === 3);
    expect(a.presence.map((p) => p.online)).toEqual([false, true, false]);

    const waiting = a.client
      .send({ type: 'signal', to: bIdentity.publicKey, id: 'w5', data: 'y' }, { waitForPeer: true })
      .catch((e) => e);
    await pause(100);
    await a.client.disconnect();
    expect(isSignalingError(await waiting, 'closed')).toBe(true);
  });
});
