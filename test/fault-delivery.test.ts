import { describe, expect, it } from 'vitest';
import { createSignalingClient, type SignalingClient, type SignalingClientOptions } from '../src/client.js';
import { isSignalingError } from '../src/errors.js';
import { Identity } from '../src/identity/index.js';
import type { SignalIn } from '../src/protocol/messages.js';
import { cleanupsFailingOnUnhandled } from './helpers/case-cleanup.js';
import { watch } from './helpers/client-watch.js';
import { createFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { type ServerProcess, startServerProcess } from './helpers/server-process.js';
import { until } from './helpers/until.js';

/**
 * Nothing lost, against the reference server as a real process: a relayed `signal` resolves on the ack,
 * rejects with a typed error on `peer-offline` or expiry, is resent after re-authentication when its
 * ack never came (server killed, ack lost on the wire), and the receiver hands each (from, id) to its
 * subscribers once.
 */

const cleanups = cleanupsFailingOnUnhandled();

interface Peer {
  client: SignalingClient;
  key: string;
  signals: SignalIn[];
  w: ReturnType<typeof watch>;
}

async function peer(
  url: string,
  serverKey: string,
  options: Partial<SignalingClientOptions> = {},
): Promise<Peer> {
  const identity = await Identity.generate();
  const client = createSignalingClient({
    url,
    identity,
    serverKey,
    globalEvents: false,
    backoff: { initialDelay: 50, maxDelay: 200 },
    ...options,
  });
  cleanups.push(() => client.disconnect());
  const signals: SignalIn[] = [];
  client.on('signal', (m) => signals.push(m));
  const w = watch(client);
  client.connect();
  await w.reach('connected');
  return { client, key: identity.publicKey, signals, w };
}

async function world(proxies = 0): Promise<{ s: ServerProcess; proxy: FaultProxy[] }> {
  const proxy: FaultProxy[] = [];
  for (let i = 0; i < proxies; i++) {
    const p = await createFaultProxy(0);
    cleanups.push(() => p.close());
    proxy.push(p);
  }
  const s = await startServerProcess({ origins: proxy.map((p) => p.url) });
  cleanups.push(() => s.stop());
  for (const p of proxy) p.target = s.port;
  return { s, proxy };
}

describe('send of a signal through the reference server', () => {
  it('resolves on the ack; the peer receives it once, from the sender', async () => {
    const { s } = await world();
    const a = await peer(s.url, s.publicKey);
    const b = await peer(s.url, s.publicKey);
    await a.client.send({ type: 'signal', to: b.key, id: 'offer-1', data: { sdp: 'v=0' } });
    await until(() => b.signals.length === 1);
    expect(b.signals[0]).toMatchObject({ type: 'signal', from: a.key, id: 'offer-1', data: { sdp: 'v=0' } });
  });

  it('rejects with a typed peer-offline error when no session of the key is connected', async () => {
    const { s } = await world();
    const a = await peer(s.url, s.publicKey);
    const nobody = (await Identity.generate()).publicKey;
    const error = await a.client.send({ type: 'signal', to: nobody, id: 'lost-1', data: 1 }).catch((e) => e);
    expect(isSignalingError(error, 'peer-offline')).toBe(true);
    // The connection is unharmed and the same id may be sent again.
    expect(a.client.state).toBe('connected');
    const again = await a.client.send({ type: 'signal', to: nobody, id: 'lost-1', data: 1 }).catch((e) => e);
    expect(isSignalingError(again, 'peer-offline')).toBe(true);
  });

  it('an ack lost on the wire: resent after re-authentication, delivered twice by the server, seen once by subscribers', async () => {
    const { s, proxy } = await world(2);
    const [pa, pb] = proxy as [FaultProxy, FaultProxy];
    const a = await peer(pa.url, s.publicKey, { heartbeat: { interval: 200, timeout: 300 } });
    const b = await peer(pb.url, s.publicKey);
    pa.setMode('blackhole', 'to-client'); // A's frames reach the server; nothing comes back
    const sent = a.client.send({ type: 'signal', to: b.key, id: 'x1', data: 'once' });
    let settled = false;
    void sent.then(() => {
      settled = true;
    });
    await until(() => b.signals.length === 1);
    const reconnecting = a.w.reach('reconnecting', 3000);
    expect((await reconnecting).reason).toBe('heartbeat-timeout');
    expect(settled).toBe(false);
    pa.setMode('forward');
    await sent; // the resend was acknowledged
    const wire = Buffer.concat(pb.toClient).toString('latin1');
    expect(wire.split('"id":"x1"').length - 1).toBe(2); // the server relayed both copies
    await new Promise((r) => setTimeout(r, 50));
    expect(b.signals.map((m) => m.id)).toEqual(['x1']);
  });

  it('server killed (SIGKILL) with signals unacknowledged: resent after re-authentication, each delivered once, in order', async () => {
    const { s, proxy } = await world(1);
    const [pa] = proxy as [FaultProxy];
    const a = await peer(pa.url, s.publicKey);
    const b = await peer(s.url, s.publicKey);
    s.pause(); // frames are written into the kernel and never read
    const ids = ['k1', 'k2', 'k3', 'k4', 'k5'];
    const sends = ids.map((id, i) => a.client.send({ type: 'signal', to: b.key, id, data: i }));
    const outcomes = Promise.allSettled(sends);
    await new Promise((r) => setTimeout(r, 100));
    // A stays away (its reconnects are reset) until B is back, so the resend finds B online.
    pa.setMode('reset');
    const bBack = b.w.reach('reconnecting').then(() => b.w.reach('connected', 5000));
    await s.kill();
    await s.restart();
    await bBack;
    pa.setMode('forward');
    const settled = await outcomes;
    expect(settled.map((o) => o.status)).toEqual(ids.map(() => 'fulfilled'));
    await until(() => b.signals.length >= ids.length);
    await new Promise((r) => setTimeout(r, 50));
    expect(b.signals.map((m) => m.id)).toEqual(ids);
    expect(b.signals.every((m) => m.from === a.key)).toBe(true);
  });

  it('an unacknowledged signal older than queue.maxAge when the connection returns rejects with expired', async () => {
    const { s } = await world();
    const a = await peer(s.url, s.publicKey, { queue: { maxAge: 300 } });
    const b = await peer(s.url, s.publicKey);
    s.pause();
    const outcome = a.client.send({ type: 'signal', to: b.key, id: 'old', data: 0 }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 400));
    await s.kill();
    await s.restart();
    const error = await outcome;
    expect(isSignalingError(error, 'expired')).toBe(true);
    await a.w.reach('connected', 5000);
    expect(b.signals).toEqual([]);
  });
});
