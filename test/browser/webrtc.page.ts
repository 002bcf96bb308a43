/**
 * Runs in Chromium, bundled from the BUILT package (`dist/index.js`, `dist/webrtc/index.js`): the test
 * imports the sources here only for their types. One tab is one peer; `window.api` is what the Node
 * side drives, and every method returns plain data, so Playwright can carry it back.
 */
import { createSignalingClient, Identity, type SignalingClient } from '../../src/index.js';
import { createPeerConnection, onPeerRequest, type PeerConnection } from '../../src/webrtc/index.js';

export interface PeerOptions {
  /** Force TURN: `iceTransportPolicy: 'relay'` over the server's ICE servers. */
  relay?: boolean;
  /** The chart's `answerTimeout` (ms). */
  answerTimeout?: number;
}

export interface SelectedPair {
  local: string;
  remote: string;
}

export interface PageApi {
  /** Starts the client with a new identity, or the one of `seed` (32 bytes, base64url). */
  start(url: string, seed?: string): Promise<string>;
  reach(state: string, timeout: number): Promise<string>;
  /** Opens the peer connection to `peer` now. */
  open(peer: string, options?: PeerOptions): void;
  /** Opens the connection to the first peer that asks (`onPeerRequest`), `delay` ms after it asked. */
  acceptNext(options?: PeerOptions, delay?: number): void;
  /** The keys that asked, in order. */
  requests(): string[];
  /** Creates a data channel at `at` (performance.timeOrigin + now, ms; default at once). */
  createChannel(label: string, at?: number): void;
  /** Resolves when the channels `labels` (local or remote) are open; rejects after `timeout`. */
  channelsOpen(labels: string[], timeout: number): Promise<string[]>;
  send(label: string, text: string): void;
  received(label: string): string[];
  peerState(): string | undefined;
  peerStates(): string[];
  /** The negotiation region's states, in order. */
  negotiation(): string[];
  /** The ice region's states, in order. */
  ice(): string[];
  /** The browser's own `pc.connectionState`, each change in order. */
  connectionStates(): string[];
  /** ICE restarts the chart made (its context's `restarts`). */
  restarts(): number | undefined;
  /** Peer connections opened on this page so far. */
  opened(): number;
  /** Channels `label` seen on this page (created here or by the peer), open or not. */
  channelCount(label: string): number;
  waitPeerState(state: string, timeout: number): Promise<string>;
  closeReason(): string | undefined;
  /** Which identity check failed, when one ended the connection. */
  identityFailure(): { check: string; signal: string } | undefined;
  /** The peer's candidates dropped for failing their check. */
  droppedCandidates(): number | undefined;
  /** The SDP of every remote description the RTCPeerConnection was given, in order. */
  remoteSdps(): string[];
  /** Keys that sent signals with no connection open to them (`onPeerRequest`), from `watchRequests()` on. */
  watchRequests(): void;
  /** Creates `label` and resolves with the ms until it is open (the whole negotiation: offer, answer, ICE, DTLS, SCTP). */
  timeChannel(label: string, timeout: number): Promise<number>;
  /** Peer signals this page's client has sent. */
  signalsSent(): number;
  /** Ms per WebCrypto Ed25519 operation over `bytes`-byte messages, `n` of each: signs one after another, verifies (key imported each time) one after another, signs all at once. */
  cryptoCost(bytes: number, n: number): Promise<{ sign: number; verify: number; signParallel: number }>;
  iceServerUrls(): string[];
  iceTransportPolicy(): string | undefined;
  selectedPair(): Promise<SelectedPair | undefined>;
  closePeer(): void;
  /** Adds a video track (a canvas's stream) to the connection. */
  addVideo(): void;
  /** Remote tracks received so far (`track` events), by kind. */
  remoteTracks(): string[];
  /** Each distinct negotiation error the chart recorded (`peer.error`), in order. */
  errors(): string[];
  /** Asks the browser for an ICE restart (`pc.restartIce()`): new ICE credentials in the next offer. */
  restartIce(): void;
}

let client: SignalingClient | undefined;
let identity: Identity | undefined;
let peer: PeerConnection | undefined;
const states: string[] = [];
const negotiation: string[] = [];
const ice: string[] = [];
const connectionStates: string[] = [];
let opened = 0;
/** The channels by label: the one this side created, else the peer's. */
const channels = new Map<string, RTCDataChannel[]>();
const inbox = new Map<string, string[]>();
const requests: string[] = [];
const remoteSdps: string[] = [];
const remoteTracks: string[] = [];
const errors: string[] = [];
let signalsSent = 0;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} first`);
  return value;
}

function track(channel: RTCDataChannel): void {
  const list = channels.get(channel.label) ?? [];
  list.push(channel);
  channels.set(channel.label, list);
  channel.addEventListener('message', (e) => {
    const got = inbox.get(channel.label) ?? [];
    got.push(String(e.data));
    inbox.set(channel.label, got);
  });
}

/** Appends `value` to a region's state log when it differs from the last one. */
function recordChange(log: string[], value: string | undefined): void {
  if (value && log.at(-1) !== value) log.push(value);
}

function openTo(key: string, options: PeerOptions = {}): void {
  const c = need(client, 'start()');
  const rtcConfig: RTCConfiguration | undefined = options.relay
    ? { iceServers: c.iceServers, iceTransportPolicy: 'relay' }
    : undefined;
  peer = createPeerConnection(c, {
    RTCPeerConnection: RecordingPeerConnection,
    peer: key,
    identity: need(identity, 'start()'),
    ...(rtcConfig ? { rtcConfig } : {}),
    ...(options.answerTimeout ? { answerTimeout: options.answerTimeout } : {}),
  });
  opened++;
  const pc = peer.pc;
  pc.addEventListener('connectionstatechange', () => connectionStates.push(pc.connectionState));
  states.push(peer.state);
  peer.onStateChange((s) => states.push(s));
  peer.onDataChannel(track);
  pc.addEventListener('track', (e) => remoteTracks.push(e.track.kind));
  peer.actor.subscribe((s) => {
    if (s.context.error && errors.at(-1) !== s.context.error) errors.push(s.context.error);
    const open = (s.value as { open?: { negotiation: string; ice: string } }).open;
    recordChange(negotiation, open?.negotiation);
    recordChange(ice, open?.ice);
  });
}

/** The platform's RTCPeerConnection, recording each remote description it is given. */
class RecordingPeerConnection extends RTCPeerConnection {
  override setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    remoteSdps.push(description.sdp ?? '');
    return super.setRemoteDescription(description);
  }
}

function waitFor<T>(check: () => T | undefined, timeout: number, what: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const end = performance.now() + timeout;
    const poll = () => {
      const value = check();
      if (value !== undefined) return resolve(value);
      if (performance.now() > end) return reject(new Error(`timed out: ${what()}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

const api: PageApi = {
  async start(url, seed) {
    identity = seed ? await Identity.fromSeed(seed) : await Identity.generate();
    client = createSignalingClient({
      url,
      identity,
      backoff: { initialDelay: 100, maxDelay: 500 },
    });
    const send = client.send.bind(client);
    client.send = (message) => {
      if (message.type === 'signal') signalsSent++;
      return send(message);
    };
    client.connect();
    return identity.publicKey;
  },
  reach(state, timeout) {
    const c = need(client, 'start()');
    return waitFor(
      () => (c.state === state ? state : undefined),
      timeout,
      () => `client ${c.state}, wanted ${state}`,
    );
  },
  open: (key, options) => openTo(key, options),
  acceptNext(options, delay = 0) {
    const off = onPeerRequest(need(client, 'start()'), (key) => {
      requests.push(key);
      off();
      setTimeout(() => openTo(key, options), delay);
    });
  },
  requests: () => requests,
  createChannel(label, at) {
    const create = () => track(need(peer, 'open()').createDataChannel(label));
    if (at === undefined) create();
    else setTimeout(create, Math.max(0, at - (performance.timeOrigin + performance.now())));
  },
  channelsOpen(labels, timeout) {
    const open = () =>
      labels.every((l) => channels.get(l)?.some((ch) => ch.readyState === 'open')) ? labels : undefined;
    return waitFor(
      open,
      timeout,
      () => `channels ${JSON.stringify([...channels.keys()])}, peer ${peer?.state}`,
    );
  },
  send(label, text) {
    const ch = channels.get(label)?.find((c) => c.readyState === 'open');
    need(ch, `an open channel ${label}`).send(text);
  },
  received: (label) => inbox.get(label) ?? [],
  peerState: () => peer?.state,
  peerStates: () => states,
  negotiation: () => negotiation,
  ice: () => ice,
  connectionStates: () => connectionStates,
  restarts: () => peer?.actor.getSnapshot().context.restarts,
  opened: () => opened,
  channelCount: (label) => channels.get(label)?.length ?? 0,
  waitPeerState(state, timeout) {
    return waitFor(
      () => (peer?.state === state ? state : undefined),
      timeout,
      () => `peer ${peer?.state}, wanted ${state}`,
    );
  },
  closeReason: () => peer?.closeReason,
  identityFailure: () => peer?.identityFailure,
  droppedCandidates: () => peer?.droppedCandidates,
  remoteSdps: () => remoteSdps,
  watchRequests() {
    onPeerRequest(need(client, 'start()'), (key) => requests.push(key));
  },
  signalsSent: () => signalsSent,
  async cryptoCost(bytes, n) {
    const s = crypto.subtle;
    const alg = { name: 'Ed25519' };
    const pair = (await s.generateKey(alg, false, ['sign', 'verify'])) as CryptoKeyPair;
    const raw = await s.exportKey('raw', pair.publicKey);
    const message = new Uint8Array(bytes).fill(7);
    let signature = new ArrayBuffer(0);
    let t = performance.now();
    for (let i = 0; i < n; i++) signature = await s.sign(alg, pair.privateKey, message);
    const sign = (performance.now() - t) / n;
    t = performance.now();
    for (let i = 0; i < n; i++) {
      const key = await s.importKey('raw', raw, alg, false, ['verify']);
      if (!(await s.verify(alg, key, signature, message))) throw new Error('verify failed');
    }
    const verify = (performance.now() - t) / n;
    t = performance.now();
    await Promise.all(Array.from({ length: n }, () => s.sign(alg, pair.privateKey, message)));
    return { sign, verify, signParallel: (performance.now() - t) / n };
  },
  timeChannel(label, timeout) {
    const start = performance.now();
    const channel = need(peer, 'open()').createDataChannel(label);
    track(channel);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label} not open after ${timeout} ms`)), timeout);
      channel.addEventListener('open', () => {
        clearTimeout(timer);
        resolve(performance.now() - start);
      });
    });
  },
  iceServerUrls: () =>
    (peer?.pc.getConfiguration().iceServers ?? []).flatMap((s) =>
      Array.isArray(s.urls) ? s.urls : [s.urls],
    ),
  iceTransportPolicy: () => peer?.pc.getConfiguration().iceTransportPolicy,
  async selectedPair() {
    const stats = await need(peer, 'open()').pc.getStats();
    let pairId: string | undefined;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    const pair = pairId ? stats.get(pairId) : undefined;
    if (!pair) return undefined;
    return {
      local: stats.get(pair.localCandidateId)?.candidateType,
      remote: stats.get(pair.remoteCandidateId)?.candidateType,
    };
  },
  closePeer: () => need(peer, 'open()').close(),
  addVideo() {
    const canvas = document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 48;
    const paint = canvas.getContext('2d');
    // A stream only has frames once something is drawn; keep drawing so the track stays live.
    setInterval(() => {
      if (!paint) return;
      paint.fillStyle = `hsl(${Date.now() % 360} 50% 50%)`;
      paint.fillRect(0, 0, 64, 48);
    }, 50);
    const stream = canvas.captureStream(20);
    for (const track of stream.getVideoTracks()) need(peer, 'open()').pc.addTrack(track, stream);
  },
  remoteTracks: () => remoteTracks,
  errors: () => errors,
  restartIce: () => need(peer, 'open()').pc.restartIce(),
};

(window as unknown as { api: PageApi }).api = api;
(window as unknown as { ready: boolean }).ready = true;
