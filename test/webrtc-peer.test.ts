import { afterEach, describe, expect, it } from 'vitest';
import { createSignalingClient, type SignalingClient } from '../src/client.js';
import { isSignalingError } from '../src/errors.js';
import { Identity } from '../src/identity/index.js';
import { createSignalingServer, type SignalingServer } from '../src/server/index.js';
import { DEFAULT_STUN_SERVERS } from '../src/stun/index.js';
import {
  createPeerConnection,
  encodePeerSignal,
  HELD_SIGNAL_MAX_AGE,
  MAX_HELD_SIGNALS,
  onPeerRequest,
  type PeerConnection,
  parsePeerSignal,
} from '../src/webrtc/index.js';
import { PeerRegistry } from '../src/webrtc/registry.js';
import { FakeRTCPeerConnection } from './helpers/fake-rtc.js';
import { until } from './helpers/until.js';

/**
 * The adapter around the peer chart, over real clients and the reference server on loopback: which
 * signals reach which connection, what is held for peers not yet accepted, and what is resent when a
 * peer comes back online. The connection is a stand-in (Node has no RTCPeerConnection); the real one
 * runs in test/webrtc-browser.test.ts.
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

const RTC = FakeRTCPeerConnection as unknown as new (config?: RTCConfiguration) => RTCPeerConnection;

async function server(): Promise<SignalingServer> {
  const s = await createSignalingServer({ identity: await Identity.generate() });
  cleanups.push(() => s.close({ timeout: 200 }));
  return s;
}

async function client(
  url: string,
  identity?: Identity,
  beforeConnect?: (c: SignalingClient) => void,
): Promise<SignalingClient> {
  const c = createSignalingClient({
    url,
    identity: identity ?? (await Identity.generate()),
    globalEvents: false,
  });
  cleanups.push(() => c.disconnect());
  beforeConnect?.(c);
  c.connect();
  await until(() => c.state === 'connected');
  return c;
}

function peer(c: SignalingClient, key: string): PeerConnection {
  const p = createPeerConnection(c, { peer: key, RTCPeerConnection: RTC });
  cleanups.push(async () => p.close());
  return p;
}

const fake = (p: PeerConnection) => p.pc as unknown as FakeRTCPeerConnection;
const negotiation = (p: PeerConnection) =>
  (p.actor.getSnapshot().value as { open: { negotiation: string } }).open?.negotiation;

/** Sends a raw peer signal from `from` to `to`, as another implementation (or an old session) would. */
let seq = 0;
const raw = (from: SignalingClient, to: string, data: object) =>
  from.send({ type: 'signal', to, id: `raw-${seq++}`, data });

describe('createPeerConnection over the reference server', () => {
  it('negotiates between two connections; rtcConfig defaults to the server ICE servers, else the defaults', async () => {
    const s = await server();
    const [a, b] = [await client(s.url), await client(s.url)];
    const pa = peer(a, b.publicKey);
    const pb = peer(b, a.publicKey);
    // This server sends no iceServers: the default is what getIceServers() gives unconfigured.
    expect(fake(pa).config).toEqual({ iceServers: [...DEFAULT_STUN_SERVERS] });
    pa.createDataChannel('chat');
    await until(() => negotiation(pa) === 'stable' && fake(pa).remoteDescription?.type === 'answer');
    expect(fake(pb).calls).toEqual(['setRemoteDescription offer', 'setLocalDescription answer']);
    expect(pa.state).toBe('negotiating');
    fake(pa).setConnectionState('connected');
    expect(pa.state).toBe('connected');
  });

  it('holds the signals of a key with no connection (onPeerRequest is told once) and replays them in order', async () => {
    const s = await server();
    const [a, b] = [await client(s.url), await client(s.url)];
    const asked: string[] = [];
    onPeerRequest(b, (key) => asked.push(key));
    const pa = peer(a, b.publicKey);
    pa.createDataChannel('chat');
    // Candidates come after the offer (the browser gathers once the local description is set).
    await until(() => negotiation(pa) === 'awaitingAnswer');
    pa.actor.send({
      type: 'LOCAL.CANDIDATE',
      candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0' },
    });
    await until(() => asked.length === 1);
    await new Promise((r) => setTimeout(r, 50)); // the candidate arrives too
    expect(asked).toEqual([a.publicKey]);
    // Told at once when subscribing while a request waits.
    const late: string[] = [];
    onPeerRequest(b, (key) => late.push(key))();
    expect(late).toEqual([a.publicKey]);

    const pb = peer(b, a.publicKey);
    expect(fake(pb).calls.slice(0, 2)).toEqual(['setRemoteDescription offer', 'addIceCandidate']);
    await until(() => fake(pa).remoteDescription?.type === 'answer');
    expect(asked).toEqual([a.publicKey]);
  });

  it('holds at most MAX_HELD_SIGNALS per key, and none older than HELD_SIGNAL_MAX_AGE', async () => {
    const s = await server();
    const [a, b] = [await client(s.url), await client(s.url)];
    let now = 1_000_000;
    const registry = new PeerRegistry(b, () => now);
    for (let i = 0; i < MAX_HELD_SIGNALS + 5; i++) {
      await raw(a, b.publicKey, encodePeerSignal('s1', undefined, { candidate: { candidate: `c${i}` } }));
    }
    const route = { deliver: () => {} };
    const held = registry.attach(a.publicKey, route);
    expect(held).toHaveLength(MAX_HELD_SIGNALS);
    expect(held[0]?.body).toEqual({ candidate: { candidate: 'c5' } });
    registry.detach(a.publicKey, route, undefined);

    await raw(a, b.publicKey, encodePeerSignal('s2', undefined, { candidate: { candidate: 'old' } }));
    await until(() => registry.pending().length === 1);
    now += HELD_SIGNAL_MAX_AGE + 1;
    expect(registry.pending()).toEqual([]);
    expect(registry.attach(a.publicKey, route)).toEqual([]);
  });

  it('drops signals addressed to an earlier connection of ours and a bye of a session never accepted', async () => {
    const s = await server();
    const [a, b] = [await client(s.url), await client(s.url)];
    const asked: string[] = [];
    onPeerRequest(b, (key) => asked.push(key));
    await raw(a, b.publicKey, encodePeerSignal('gone', undefined, { candidate: { candidate: 'c' } }));
    await raw(a, b.publicKey, encodePeerSignal('gone', undefined, { bye: true }));
    await raw(a, b.publicKey, encodePeerSignal('gone', undefined, { candidate: { candidate: 'late' } }));
    await new Promise((r) => setTimeout(r, 50));
    expect(asked).toEqual([a.publicKey]);
    const pb = peer(b, a.publicKey);
    expect(fake(pb).calls).toEqual([]); // the bye ended what was held, and the late one was dropped

    await raw(
      a,
      b.publicKey,
      encodePeerSignal('s1', 'not-your-session', { description: { type: 'offer', sdp: 'x' }, generation: 1 }),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(fake(pb).calls).toEqual([]);
    expect(pb.state).toBe('new');
  });

  it('a new session from the peer closes this connection ("replaced"); the new one waits to be accepted', async () => {
    const s = await server();
    const [a, b] = [await client(s.url), await client(s.url)];
    const offer = (session: string) =>
      encodePeerSignal(session, undefined, {
        description: { type: 'offer', sdp: `v=0 ${session}` },
        generation: 1,
      });
    const pb = peer(b, a.publicKey);
    await raw(a, b.publicKey, offer('first'));
    await until(() => fake(pb).calls.includes('setRemoteDescription offer'));
    const asked: string[] = [];
    onPeerRequest(b, (key) => asked.push(key));
    // a reloads: a new connection (a new session), and no bye from the old one.
    await raw(a, b.publicKey, offer('second'));
    await until(() => pb.state === 'closed');
    expect(pb.closeReason).toBe('replaced');
    expect(fake(pb).calls.at(-1)).toBe('close');
    expect(asked).toEqual([a.publicKey]);
    // A late signal of the old session is dropped, not held as a new request.
    await raw(a, b.publicKey, encodePeerSignal('first', undefined, { candidate: { candidate: 'late' } }));
    await new Promise((r) => setTimeout(r, 50));
    const pb2 = peer(b, a.publicKey);
    expect(fake(pb2).calls).toEqual(['setRemoteDescription offer']);
    expect(fake(pb2).remoteDescription?.sdp).toBe('v=0 second');
  });

  it('resends what the server could not deliver once the peer is online again', async () => {
    const s = await server();
    const a = await client(s.url);
    const bIdentity = await Identity.generate();
    const pa = peer(a, bIdentity.publicKey);
    pa.createDataChannel('chat'); // the offer meets peer-offline
    await until(() => negotiation(pa) === 'awaitingAnswer');
    await new Promise((r) => setTimeout(r, 100));
    const asked: string[] = [];
    // Listening before connect(): the resent offer may be the first thing b hears.
    const b = await client(s.url, bIdentity, (c) => onPeerRequest(c, (key) => asked.push(key)));
    await until(() => asked.length === 1);
    const pb = peer(b, a.publicKey);
    await until(() => fake(pa).remoteDescription?.type === 'answer');
    expect(fake(pb).calls).toEqual(['setRemoteDescription offer', 'setLocalDescription answer']);
    expect(negotiation(pa)).toBe('stable');
  });

  it('close() sends a bye: the other side closes with reason "remote"', async () => {
    const s = await server();
    const [a, b] = [await client(s.url), await client(s.url)];
    const pa = peer(a, b.publicKey);
    const pb = peer(b, a.publicKey);
    pa.createDataChannel('chat');
    await until(() => fake(pa).remoteDescription?.type === 'answer');
    const seen: string[] = [];
    pb.onStateChange((state, previous) => seen.push(`${previous}->${state}`));
    pa.close();
    pa.close(); // safe twice
    expect(pa.state).toBe('closed');
    await until(() => pb.state === 'closed');
    expect(pb.closeReason).toBe('remote');
    expect(seen).toEqual(['negotiating->closed']);
    // Closed connections are detached: a new one to the same peer may be made.
    peer(a, b.publicKey);
  });
});

describe('errors', () => {
  it('refuses its own key, a second connection to one peer, and a platform without RTCPeerConnection', async () => {
    const s = await server();
    const a = await client(s.url);
    const other = (await Identity.generate()).publicKey;
    const codes: string[] = [];
    const attempt = (f: () => unknown) => {
      try {
        f();
        codes.push('ok');
      } catch (error) {
        codes.push(isSignalingError(error) ? error.code : String(error));
      }
    };
    attempt(() => createPeerConnection(a, { peer: a.publicKey, RTCPeerConnection: RTC }));
    attempt(() => createPeerConnection(a, { peer: other }));
    attempt(() => peer(a, other));
    attempt(() => peer(a, other));
    expect(codes).toEqual(['invalid-option', 'invalid-option', 'ok', 'invalid-option']);
  });
});

describe('parsePeerSignal', () => {
  it('reads what encodePeerSignal writes and drops anything else without throwing', () => {
    const bodies = [
      { description: { type: 'offer' as const, sdp: 'v=0' }, generation: 3 },
      { candidate: { candidate: 'c', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' } },
      { candidate: null },
      { bye: true as const },
    ];
    for (const body of bodies) {
      expect(parsePeerSignal(encodePeerSignal('me', 'you', body))).toEqual({
        session: 'me',
        to: 'you',
        body,
      });
      expect(parsePeerSignal(encodePeerSignal('me', undefined, body))?.to).toBeUndefined();
    }
    const bad = [
      null,
      'x',
      { webrtc: 2, s: 'a', bye: true },
      { webrtc: 1, s: '', bye: true },
      { webrtc: 1, s: 'a'.repeat(33), bye: true },
      { webrtc: 1, s: 'a', r: 5, bye: true },
      { webrtc: 1, s: 'a', description: { type: 'rollback', sdp: '' }, generation: 1 },
      { webrtc: 1, s: 'a', description: { type: 'offer', sdp: 'x' }, generation: 0 },
      { webrtc: 1, s: 'a', description: { type: 'offer' }, generation: 1 },
      { webrtc: 1, s: 'a', candidate: { candidate: 5 } },
      { webrtc: 1, s: 'a' },
    ];
    for (const data of bad) expect(parsePeerSignal(data), JSON.stringify(data)).toBeUndefined();
  });
});
