import { describe, expect, it } from 'vitest';
import { answerOffer, setLocal, setRemoteAnswer } from '../src/machines/peer.descriptions.js';
import type { Description, PeerConnectionLike } from '../src/machines/peer.types.js';

/**
 * The DTLS roles of an association stay as the exchange that set it up stated them: `setRemoteAnswer`
 * sets each later answer with the peer's role in it while the peer's certificate (and tls-id) is the
 * same. The interop it exists for (Firefox answering Chromium's ICE restart with the other role) runs
 * for real in test/webrtc-firefox.test.ts; here each rule, through the description steps the chart
 * runs, on descriptions shaped as the browsers write them.
 */

const FP_PEER =
  'sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99';
const FP_NEW =
  'sha-256 11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF:11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF';
const FP_OURS =
  'sha-256 99:88:77:66:55:44:33:22:11:00:FF:EE:DD:CC:BB:AA:99:88:77:66:55:44:33:22:11:00:FF:EE:DD:CC:BB:AA';

/** A bundled two-section SDP (data and video), `a=setup` and `a=fingerprint` in each section, CRLF. */
function sdp(setup: string, options: { fingerprint?: string; ufrag?: string; tlsId?: string } = {}): string {
  const { fingerprint = FP_PEER, ufrag = 'u1', tlsId } = options;
  const section = (m: string, mid: number) => [
    m,
    'c=IN IP4 0.0.0.0',
    `a=ice-ufrag:${ufrag}`,
    'a=ice-pwd:0123456789abcdef0123456789',
    `a=fingerprint:${fingerprint}`,
    ...(tlsId ? [`a=tls-id:${tlsId}`] : []),
    `a=setup:${setup}`,
    `a=mid:${mid}`,
  ];
  return [
    'v=0',
    'o=- 1 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    ...section('m=application 9 UDP/DTLS/SCTP webrtc-datachannel', 0),
    ...section('m=video 9 UDP/TLS/RTP/SAVPF 96', 1),
    '',
  ].join('\r\n');
}

const ours = (setup: string) => sdp(setup, { fingerprint: FP_OURS });

/**
 * The W3C signaling states and current descriptions of a connection, nothing more: the description
 * steps under test run against it. Its own descriptions are scripted (`next`), as a browser writes them.
 */
class Connection implements PeerConnectionLike {
  localDescription: Description | null = null;
  currentLocalDescription: Description | null = null;
  currentRemoteDescription: Description | null = null;
  signalingState: RTCSignalingState = 'stable';
  /** Every description the peer's side was set with, as set. */
  readonly remote: Description[] = [];
  /** The SDP this side writes next. */
  next = '';
  #pendingRemote: Description | null = null;

  async setLocalDescription(): Promise<void> {
    const type = this.signalingState === 'have-remote-offer' ? 'answer' : 'offer';
    this.localDescription = { type, sdp: this.next };
    if (type === 'offer') {
      this.signalingState = 'have-local-offer';
      return;
    }
    this.currentLocalDescription = this.localDescription;
    this.currentRemoteDescription = this.#pendingRemote;
    this.signalingState = 'stable';
  }

  async setRemoteDescription(description: Description): Promise<void> {
    this.remote.push(description);
    if (description.type === 'offer') {
      this.#pendingRemote = description;
      this.signalingState = 'have-remote-offer';
      return;
    }
    this.currentLocalDescription = this.localDescription;
    this.currentRemoteDescription = description;
    this.signalingState = 'stable';
  }

  createOffer = () => Promise.reject(new Error('not used: implicit setLocalDescription()'));
  createAnswer = () => Promise.reject(new Error('not used: implicit setLocalDescription()'));
  addIceCandidate = () => Promise.resolve();
  restartIce(): void {}
  close(): void {}

  /** We offer `offer`; the peer answers `answer`. Returns the answer as it was set. */
  async weOffer(offer: string, answer: string): Promise<Description> {
    this.next = offer;
    await setLocal(this);
    await setRemoteAnswer(this, { type: 'answer', sdp: answer });
    return this.remote.at(-1) as Description;
  }

  /** The peer offers `offer`; we answer `answer`. */
  async peerOffers(offer: string, answer: string): Promise<void> {
    this.next = answer;
    await answerOffer(this, { type: 'offer', sdp: offer });
  }
}

const setups = (d: Description) => [...(d.sdp ?? '').matchAll(/^a=setup:(\w+)\r$/gm)].map((m) => m[1]);

describe('the DTLS role of an answer (setRemoteAnswer)', () => {
  it("Chromium's view: the peer (Firefox, DTLS server) answers our ICE restart with active: set with its real role, passive", async () => {
    const pc = new Connection();
    await pc.peerOffers(sdp('actpass'), ours('active'));
    const restart = await pc.weOffer(ours('actpass'), sdp('active', { ufrag: 'u2' }));
    expect(setups(restart)).toEqual(['passive', 'passive']);
    // Nothing else of the answer changes: the new ICE credentials are the restart.
    expect(restart.sdp).toBe(sdp('passive', { ufrag: 'u2' }));
  });

  it("Firefox's view: its own misstated answer to the peer's restart does not move the peer's role", async () => {
    const pc = new Connection();
    // We offered first; the peer (Chromium) answered active: it is the DTLS client, we the server.
    expect(setups(await pc.weOffer(ours('actpass'), sdp('active')))).toEqual(['active', 'active']);
    // The peer restarts ICE and our answer says active too (what Firefox writes).
    await pc.peerOffers(sdp('actpass', { ufrag: 'u2' }), ours('active'));
    // Our next offer: the peer answers active, which is right, and is set as it is.
    const answer = sdp('active', { ufrag: 'u3' });
    expect((await pc.weOffer(ours('actpass'), answer)).sdp).toBe(answer);
  });

  it('an answer that states the role the peer has is set as it is', async () => {
    const pc = new Connection();
    await pc.peerOffers(sdp('actpass'), ours('active'));
    const answer = sdp('passive', { ufrag: 'u2' });
    expect((await pc.weOffer(ours('actpass'), answer)).sdp).toBe(answer);
  });

  it('a new certificate is a new association: its roles are as stated, and kept from then on', async () => {
    const pc = new Connection();
    await pc.peerOffers(sdp('actpass'), ours('active'));
    const renewed = sdp('active', { fingerprint: FP_NEW });
    expect((await pc.weOffer(ours('actpass'), renewed)).sdp).toBe(renewed);
    // The new association's peer is the DTLS client: an answer of it stating passive is set as active.
    const misstated = await pc.weOffer(ours('actpass'), sdp('passive', { fingerprint: FP_NEW, ufrag: 'u3' }));
    expect(setups(misstated)).toEqual(['active', 'active']);
  });

  it('a new tls-id is a new association too', async () => {
    const pc = new Connection();
    await pc.peerOffers(sdp('actpass', { tlsId: 'first' }), ours('active'));
    const sameTlsId = await pc.weOffer(ours('actpass'), sdp('active', { tlsId: 'first', ufrag: 'u2' }));
    expect(setups(sameTlsId)).toEqual(['passive', 'passive']);
    const newTlsId = sdp('active', { tlsId: 'second', ufrag: 'u3' });
    expect((await pc.weOffer(ours('actpass'), newTlsId)).sdp).toBe(newTlsId);
  });

  it('the first answer sets up the association: set as it is', async () => {
    const pc = new Connection();
    const answer = sdp('passive');
    expect((await pc.weOffer(ours('actpass'), answer)).sdp).toBe(answer);
  });

  it('an answer whose sections disagree, states no role, or another value is not guessed at', async () => {
    const pc = new Connection();
    await pc.peerOffers(sdp('actpass'), ours('active'));
    const mixed = sdp('active', { ufrag: 'u2' }).replace('a=setup:active', 'a=setup:passive');
    expect((await pc.weOffer(ours('actpass'), mixed)).sdp).toBe(mixed);
    const none = sdp('active', { ufrag: 'u3' }).replaceAll('a=setup:active\r\n', '');
    expect((await pc.weOffer(ours('actpass'), none)).sdp).toBe(none);
    const holdconn = sdp('holdconn', { ufrag: 'u4' });
    expect((await pc.weOffer(ours('actpass'), holdconn)).sdp).toBe(holdconn);
  });
});
