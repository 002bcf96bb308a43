import { afterEach, describe, expect, it } from 'vitest';
import { createSignalingClient, type SignalingClient } from '../src/client.js';
import { isSignalingError } from '../src/errors.js';
import { Identity, type Signer } from '../src/identity/index.js';
import type { PeerSignalBody } from '../src/machines/peer.types.js';
import { decodeBase64url, encodeBase64url } from '../src/protocol/base64url.js';
import { createSignalingServer, type SignalingServer } from '../src/server/index.js';
import { DEFAULT_STUN_SERVERS } from '../src/stun/index.js';
import {
  checkPeerSignal,
  createPeerConnection,
  encodePeerSignal,
  HELD_SIGNAL_MAX_AGE,
  MAX_HELD_SIGNALS,
  onPeerRequest,
  type PeerConnection,
  parsePeerSignal,
  peerSignalTranscript,
  signPeerSignal,
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

/** Each test client's identity, for its peer connections and the raw signals a test signs as it. */
const identities = new WeakMap<SignalingClient, Signer>();

async function client(
  url: string,
  identity?: Identity,
  beforeConnect?: (c: SignalingClient) => void,
): Promise<SignalingClient> {
  const id = identity ?? (await Identity.generate());
  const c = createSignalingClient({ url, identity: id, globalEvents: false });
  identities.set(c, id);
  cleanups.push(() => c.disconnect());
  beforeConnect?.(c);
  c.connect();
  await until(() => c.state === 'connected');
  return c;
}

function peer(c: SignalingClient, key: string): PeerConnection {
  const p = createPeerConnection(c, { peer: key, identity: signer(c), RTCPeerConnection: RTC });
  cleanups.push(async () => p.close());
  return p;
}

const fake = (p: PeerConnection) => p.pc as unknown as FakeRTCPeerConnection;
const negotiation = (p: PeerConnection) =>
  (p.actor.getSnapshot().value as { open: { negotiation: string } }).open?.negotiation;

const signer = (c: SignalingClient) => identities.get(c) as Signer;

/** Sends a raw peer signal from `from` to `to`, as another implementation (or an old session) would. */
let seq = 0;
const raw = (from: SignalingClient, to: string, data: object) =>
  from.send({ type: 'signal', to, id: `raw-${seq++}`, data });

/** `body` as `session` of `from` would send it to `to` (session `r`), signed by `by` (default `from`'s key). */
async function signed(
  from: SignalingClient,
  to: string,
  session: string,
  r: string | undefined,
  body: PeerSignalBody,
  by: Signer = signer(from),
): Promise<object> {
  const head = { from: decodeBase64url(from.publicKey), to: decodeBase64url(to), session, remoteSession: r };
  return signPeerSignal(by, head, body);
}

/** Signs and sends, as `from`'s own peer connection (session `session`) would. */
const rawSigned = async (
  from: SignalingClient,
  to: string,
  session: string,
  r: string | undefined,
  body: PeerSignalBody,
) => raw(from, to, await signed(from, to, session, r, body));

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
    // Replayed once verified (against the key now pinned), in order.
    await until(() => fake(pb).calls.includes('addIceCandidate'));
    expect(fake(pb).calls[0]).toBe('setRemoteDescription offer');
    await until(() => fake(pa).remoteDescription?.type === 'answer');
    expect(asked).toEqual([a.publicKey]);
  });

  it('holds at most MAX_HELD_SIGNALS per key, and none older than HELD_SIGNAL_MAX_AGE', async () => {
    const s = await server();
    const [a, b] = [await client(s.url), await client(s.url)];
    let now = 1_000_000;
    const registry = new PeerRegistry(b, () => now);
    for (let i = 0; i < MAX_HELD_SIGNALS + 5; i++) {
      await rawSigned(a, b.publicKey, 's1', undefined, { candidate: { candidate: `c${i}` } });
    }
    const route = { deliver: () => {} };
    const held = registry.attach(a.publicKey, route);
    expect(held).toHaveLength(MAX_HELD_SIGNALS);
    expect(held[0]?.body).toEqual({ candidate: { candidate: 'c5' } });
    registry.detach(a.publicKey, route, undefined);

    await rawSigned(a, b.publicKey, 's2', undefined, { candidate: { candidate: 'old' } });
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
    await rawSigned(a, b.publicKey, 'gone', undefined, { candidate: { candidate: 'c' } });
    await rawSigned(a, b.publicKey, 'gone', undefined, { bye: true });
    await rawSigned(a, b.publicKey, 'gone', undefined, { candidate: { candidate: 'late' } });
    await new Promise((r) => setTimeout(r, 50));
    expect(asked).toEqual([a.publicKey]);
    const pb = peer(b, a.publicKey);
    expect(fake(pb).calls).toEqual([]); // the bye ended what was held, and the late one was dropped

    await rawSigned(a, b.publicKey, 's1', 'not-your-session', {
      description: { type: 'offer', sdp: 'x' },
      generation: 1,
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(fake(pb).calls).toEqual([]);
    expect(pb.state).toBe('new');
  });

  it('a new session from the peer closes this connection ("replaced"); the new one waits to be accepted', async () => {
    const s = await server();
    const [a, b] = [await client(s.url), await client(s.url)];
    const offer = (session: string) =>
      signed(a, b.publicKey, session, undefined, {
        description: { type: 'offer', sdp: `v=0 ${session}` },
        generation: 1,
      });
    const pb = peer(b, a.publicKey);
    await raw(a, b.publicKey, await offer('first'));
    await until(() => fake(pb).calls.includes('setRemoteDescription offer'));
    const asked: string[] = [];
    onPeerRequest(b, (key) => asked.push(key));
    // a reloads: a new connection (a new session), and no bye from the old one.
    await raw(a, b.publicKey, await offer('second'));
    await until(() => pb.state === 'closed');
    expect(pb.closeReason).toBe('replaced');
    expect(fake(pb).calls.at(-1)).toBe('close');
    expect(asked).toEqual([a.publicKey]);
    // A late signal of the old session is dropped, not held as a new request.
    await rawSigned(a, b.publicKey, 'first', undefined, { candidate: { candidate: 'late' } });
    await new Promise((r) => setTimeout(r, 50));
    const pb2 = peer(b, a.publicKey);
    await until(() => fake(pb2).calls.length > 0);
    expect(fake(pb2).calls[0]).toBe('setRemoteDescription offer');
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
    const identity = signer(a);
    attempt(() => createPeerConnection(a, { peer: a.publicKey, identity, RTCPeerConnection: RTC }));
    attempt(() => createPeerConnection(a, { peer: other, identity }));
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
      expect(parsePeerSignal(encodePeerSignal('me', 'you', body, 'SIG'))).toEqual({
        version: 2,
        session: 'me',
        to: 'you',
        body,
        sig: 'SIG',
      });
      expect(parsePeerSignal(encodePeerSignal('me', undefined, body, 'SIG'))?.to).toBeUndefined();
    }
    // Other format versions are read, so that they can be refused (format 1 is unsigned).
    expect(parsePeerSignal({ webrtc: 1, s: 'a', bye: true })).toEqual({
      version: 1,
      session: 'a',
      to: undefined,
      body: { bye: true },
      sig: undefined,
    });
    expect(parsePeerSignal({ webrtc: 3, s: 'a', bye: true, sig: 5 })?.sig).toBeUndefined();
    // An index out of an unsigned short's range is not read (nor signed).
    expect(
      parsePeerSignal({ webrtc: 2, s: 'a', candidate: { candidate: 'c', sdpMLineIndex: -1 } })?.body,
    ).toEqual({ candidate: { candidate: 'c' } });
    const bad = [
      null,
      'x',
      { webrtc: 0, s: 'a', bye: true },
      { webrtc: 1.5, s: 'a', bye: true },
      { webrtc: '2', s: 'a', bye: true },
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

describe('signed peer signals', () => {
  const OFFER = { description: { type: 'offer' as const, sdp: 'v=0 signed offer' }, generation: 1 };

  /** b's connection pinned to a, and what a's client hears back from b (a has no connection: raw signals). */
  async function receiver() {
    const s = await server();
    const [a, b] = [await client(s.url), await client(s.url)];
    const heard: object[] = [];
    a.on('signal', (m) => heard.push(m.data as object));
    return { s, a, b, heard };
  }

  it('a description that fails its check is never applied: failed at once, closeReason "identity", which check, and the peer is told', async () => {
    const { s, a, b, heard } = await receiver();
    const c = await client(s.url);
    const good = async (session: string) =>
      (await signed(a, b.publicKey, session, undefined, OFFER)) as Record<string, unknown>;
    const cases: [string, () => Promise<object>][] = [
      ['unsigned', async () => ({ webrtc: 1, s: 'v1', ...OFFER })],
      ['unsigned', async () => ({ ...(await good('stripped')), sig: undefined })],
      ['version', async () => ({ ...(await good('v3')), webrtc: 3 })],
      ['signature', async () => ({ ...(await good('garbled')), sig: 'not-a-signature' })],
      // The fingerprint swapped in transit: the signature no longer covers the SDP.
      [
        'signature',
        async () => ({ ...(await good('altered')), description: { type: 'offer', sdp: 'v=0 swapped' } }),
      ],
      // Signed, but by another key than the one pinned…
      ['signature', () => signed(a, b.publicKey, 'other-key', undefined, OFFER, signer(c))],
      // …or by the pinned key for another receiver.
      ['signature', () => signed(a, c.publicKey, 'other-receiver', undefined, OFFER)],
    ];
    for (const [check, make] of cases) {
      const pb = peer(b, a.publicKey);
      const states: string[] = [];
      pb.onStateChange((state) => states.push(state));
      await raw(a, b.publicKey, await make());
      await until(() => pb.state === 'failed');
      expect(states, check).toEqual(['failed']);
      expect(pb.closeReason).toBe('identity');
      expect(pb.identityFailure).toEqual({ check, signal: 'description' });
      expect(fake(pb).calls).toEqual(['close']); // nothing of it reached the RTCPeerConnection
      expect(pb.actor.getSnapshot().status).toBe('done');
    }
    // Each time, a signed bye told the sender the connection is over.
    await until(() => heard.length === cases.length);
    for (const data of heard) expect(parsePeerSignal(data)?.body).toEqual({ bye: true });
  });

  it('a bye that fails its check ends the connection ("identity"); a signed one closes it ("remote")', async () => {
    const { a, b } = await receiver();
    const pb = peer(b, a.publicKey);
    await rawSigned(a, b.publicKey, 'one', undefined, OFFER);
    await until(() => fake(pb).calls.includes('setRemoteDescription offer'));
    await raw(a, b.publicKey, { webrtc: 2, s: 'one', bye: true, sig: 'x' });
    await until(() => pb.state === 'failed');
    expect(pb.identityFailure).toEqual({ check: 'signature', signal: 'bye' });

    const pb2 = peer(b, a.publicKey);
    await rawSigned(a, b.publicKey, 'two', undefined, OFFER);
    await rawSigned(a, b.publicKey, 'two', undefined, { bye: true });
    await until(() => pb2.state === 'closed');
    expect(pb2.closeReason).toBe('remote');
    expect(pb2.identityFailure).toBeUndefined();
  });

  it('a candidate that fails its check is dropped and counted; the negotiation goes on', async () => {
    const { s, a, b } = await receiver();
    const pb = peer(b, a.publicKey);
    const c = await client(s.url);
    const candidate = { candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0' } };
    await rawSigned(a, b.publicKey, 'one', undefined, OFFER);
    await raw(a, b.publicKey, await signed(a, b.publicKey, 'one', undefined, candidate, signer(c)));
    await raw(a, b.publicKey, { webrtc: 1, s: 'one', ...candidate });
    await rawSigned(a, b.publicKey, 'one', undefined, candidate);
    await until(() => fake(pb).candidates.length === 1);
    await until(() => pb.droppedCandidates === 2);
    expect(pb.state).toBe('negotiating');
    expect(pb.closeReason).toBeUndefined();
    expect(fake(pb).calls.filter((call) => call === 'addIceCandidate')).toHaveLength(1);
  });

  it('held signals are verified when replayed: a forged held offer fails the connection made for it; a forged bye drops nothing', async () => {
    const s = await server();
    const [a, b, c] = [await client(s.url), await client(s.url), await client(s.url)];
    const asked: string[] = [];
    onPeerRequest(b, (key) => asked.push(key));
    // A forged bye for a held session drops nothing: it is checked before it counts.
    await rawSigned(a, b.publicKey, 'held', undefined, OFFER);
    await raw(a, b.publicKey, await signed(a, b.publicKey, 'held', undefined, { bye: true }, signer(c)));
    await until(() => asked.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    const pb = peer(b, a.publicKey);
    await until(() => fake(pb).calls.includes('setRemoteDescription offer'));
    pb.close();

    // Only a forged offer held: the connection accepted for it fails before applying it.
    await raw(a, b.publicKey, await signed(a, b.publicKey, 'forged', undefined, OFFER, signer(c)));
    await until(() => asked.length === 2);
    const pb2 = peer(b, a.publicKey);
    await until(() => pb2.state === 'failed');
    expect(pb2.identityFailure).toEqual({ check: 'signature', signal: 'description' });
    expect(fake(pb2).calls).toEqual(['close']);
  });

  it('a replayed signed offer of an earlier session is dropped', async () => {
    const { a, b } = await receiver();
    const pb = peer(b, a.publicKey);
    const first = await signed(a, b.publicKey, 'first', undefined, OFFER);
    await raw(a, b.publicKey, first);
    await until(() => fake(pb).calls.includes('setRemoteDescription offer'));
    await rawSigned(a, b.publicKey, 'first', undefined, { bye: true });
    await until(() => pb.state === 'closed');
    const asked: string[] = [];
    onPeerRequest(b, (key) => asked.push(key));
    const pb2 = peer(b, a.publicKey);
    await raw(a, b.publicKey, first); // the server (or a relay) sends the old offer again
    await new Promise((r) => setTimeout(r, 100));
    expect(fake(pb2).calls).toEqual([]);
    expect(pb2.state).toBe('new');
    expect(asked).toEqual([]);
  });

  it('createPeerConnection refuses an identity that cannot sign, or is not the client’s', async () => {
    const s = await server();
    const a = await client(s.url);
    const other = await Identity.generate();
    const b = (await Identity.generate()).publicKey;
    const cases = [
      undefined,
      { publicKey: a.publicKey } as unknown as Signer,
      { publicKey: a.publicKey, sign: 'no' } as unknown as Signer,
      other,
    ];
    for (const identity of cases) {
      let error: unknown;
      try {
        createPeerConnection(a, { peer: b, identity: identity as Signer, RTCPeerConnection: RTC });
      } catch (e) {
        error = e;
      }
      expect(isSignalingError(error, 'invalid-option'), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/identity must be the client's own Identity or Signer/);
    }
  });

  it('an identity whose sign() fails ends the connection: failed, "identity", check "sign"', async () => {
    const s = await server();
    const [a, b] = [await client(s.url), await client(s.url)];
    const broken: Signer = {
      publicKey: a.publicKey,
      sign: () => Promise.reject(new Error('token unplugged')),
    };
    const pa = createPeerConnection(a, { peer: b.publicKey, identity: broken, RTCPeerConnection: RTC });
    cleanups.push(async () => pa.close());
    pa.createDataChannel('chat');
    await until(() => pa.state === 'failed');
    expect(pa.closeReason).toBe('identity');
    expect(pa.identityFailure).toEqual({ check: 'sign', signal: 'description' });
    expect(pa.actor.getSnapshot().context.error).toBe('Error: token unplugged');
  });
});

describe('the peer-signal transcript', () => {
  // docs/webrtc.md "What travels in a signal" shows this vector.
  const HEX =
    '7369676e616c696e672d6163746f722f706565722d7369676e616c2f7632008a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b3940873657373696f6e410873657373696f6e42000000000000000144000000056f6666657200000022763d300d0a613d66696e6765727072696e743a7368612d3235362041423a43440d0a';
  const SIG = '6tUKR0TFYzbx5TGM0g7LyhZrgZKimWBeaexEbumgZeOun0nUfUclL3ewdydr-1taV5gzVE5ygpmShdEWuFjWCQ';
  const body = {
    description: { type: 'offer' as const, sdp: 'v=0\r\na=fingerprint:sha-256 AB:CD\r\n' },
    generation: 1,
  };

  it('matches the documented test vector, byte for byte, and its signature verifies', async () => {
    const a = await Identity.fromSeed(new Uint8Array(32).fill(1));
    const b = await Identity.fromSeed(new Uint8Array(32).fill(2));
    const head = {
      from: a.publicKeyBytes,
      to: b.publicKeyBytes,
      session: 'sessionA',
      remoteSession: 'sessionB',
    };
    const bytes = peerSignalTranscript(head, body);
    // Written out from the layout: tag, keys, u8-prefixed sessions, u64 generation, kind, u32-prefixed strings.
    const text = (t: string) => Buffer.from(t, 'utf8');
    const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
    const expected = Buffer.concat([
      text('signaling-actor/peer-signal/v2\0'),
      a.publicKeyBytes,
      b.publicKeyBytes,
      Buffer.from([8]),
      text('sessionA'),
      Buffer.from([8]),
      text('sessionB'),
      u32(0),
      u32(1),
      text('D'),
      u32(5),
      text('offer'),
      u32(body.description.sdp.length),
      text(body.description.sdp),
    ]);
    expect(Buffer.from(bytes).toString('hex')).toBe(expected.toString('hex'));
    expect(Buffer.from(bytes).toString('hex')).toBe(HEX);
    expect(encodeBase64url(await a.sign(bytes))).toBe(SIG); // Ed25519 is deterministic
    const data = encodePeerSignal('sessionA', 'sessionB', body, SIG);
    const signal = parsePeerSignal(JSON.parse(JSON.stringify(data))) as NonNullable<
      ReturnType<typeof parsePeerSignal>
    >;
    expect(await checkPeerSignal(signal, a.publicKeyBytes, b.publicKeyBytes)).toBeUndefined();
    // Every field is covered: change any one and the check fails.
    const variants = [
      { ...signal, session: 'sessionX' },
      { ...signal, to: undefined },
      { ...signal, body: { ...body, generation: 2 } },
      { ...signal, body: { ...body, description: { type: 'answer' as const, sdp: body.description.sdp } } },
    ];
    for (const v of variants)
      expect(await checkPeerSignal(v, a.publicKeyBytes, b.publicKeyBytes)).toBe('signature');
    expect(await checkPeerSignal(signal, b.publicKeyBytes, a.publicKeyBytes)).toBe('signature');
  });

  it('encodes candidates with absent, null and present optional fields apart', () => {
    const head = { from: new Uint8Array(32), to: new Uint8Array(32), session: 's', remoteSession: undefined };
    const bodies: PeerSignalBody[] = [
      { candidate: null },
      { candidate: { candidate: 'c' } },
      { candidate: { candidate: 'c', sdpMid: null } },
      { candidate: { candidate: 'c', sdpMid: '' } },
      { candidate: { candidate: 'c', sdpMLineIndex: 0 } },
      { candidate: { candidate: 'c', sdpMLineIndex: null } },
      { candidate: { candidate: 'c', usernameFragment: 'u' } },
      { bye: true },
    ];
    const seen = new Set(bodies.map((b) => Buffer.from(peerSignalTranscript(head, b)).toString('hex')));
    expect(seen.size).toBe(bodies.length);
  });
});
