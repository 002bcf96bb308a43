import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/index.js';
import { decodeBase64url } from '../src/protocol/base64url.js';
import { DEFAULT_STUN_SERVERS } from '../src/stun/index.js';
import { type PeerSignalBody, parsePeerSignal, signPeerSignal } from '../src/webrtc/index.js';
import type { PageApi } from './browser/webrtc.page.js';
import { type Coturn, startCoturn, turnSignalingServer } from './helpers/coturn.js';
import { chromiumSuite, type Remote, untilValue } from './helpers/page-api.js';
import { type SignalFrame, type SignalRelay, startSignalRelay } from './helpers/signal-relay.js';
import { webrtcTab } from './helpers/webrtc-tab.js';

/**
 * `signaling-actor/webrtc`, built, in Debian's Chromium: two tabs in separate browser contexts, each a
 * peer, negotiating over the reference server on loopback. ICE servers come from the server's
 * `auth.ok` and point at a coturn on 127.0.0.1 (never the public DEFAULT_STUN_SERVERS).
 */

type Api = Remote<PageApi>;

const DEFAULT_STUN_URLS = DEFAULT_STUN_SERVERS.flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]));

describe('WebRTC peers in Chromium over the reference server', { timeout: 60_000 }, () => {
  const suite = chromiumSuite(new URL('./browser/webrtc.page.ts', import.meta.url));
  const { cleanups } = suite;
  let coturn: Coturn;

  beforeAll(async () => {
    coturn = await startCoturn();
  }, 60_000);

  afterAll(async () => {
    await coturn?.stop();
  });

  /** The reference server, handing every client TURN REST credentials for the local coturn. */
  const server = (identity?: Identity, port = 0, origins?: string[]) =>
    turnSignalingServer(cleanups, coturn, {
      ...(identity ? { identity } : {}),
      port,
      ...(origins ? { origins } : {}),
    });

  const tab = (url: string) => webrtcTab(suite.browser(), suite.url(), cleanups, url);

  /** Two peers whose signaling server then stops: both reconnecting; `restart()` brings it back. */
  async function pairWithSignalingAway() {
    const identity = await Identity.generate();
    const first = await server(identity);
    const [a, b] = await pair(first.url);
    await first.close({ timeout: 200 });
    await a.api.reach('reconnecting', 10_000);
    await b.api.reach('reconnecting', 10_000);
    return { a, b, restart: () => server(identity, first.port) };
  }

  /** Two tabs, each with a peer connection open to the other. */
  async function pair(
    url: string,
  ): Promise<[Awaited<ReturnType<typeof tab>>, Awaited<ReturnType<typeof tab>>]> {
    const a = await tab(url);
    const b = await tab(url);
    await a.api.open(b.key);
    await b.api.open(a.key);
    return [a, b];
  }

  /** Two tabs whose peer connections are forced through the relay, a `chat` channel open on both. */
  async function relayedChat(url: string): ReturnType<typeof pair> {
    const a = await tab(url);
    const b = await tab(url);
    await b.api.open(a.key, { relay: true });
    await a.api.open(b.key, { relay: true });
    await a.api.createChannel('chat');
    await a.api.channelsOpen(['chat'], 20_000);
    await b.api.channelsOpen(['chat'], 20_000);
    return [a, b];
  }

  /** Network rule: a live RTCPeerConnection here lists coturn on loopback only. */
  async function expectLocalIceOnly(api: Api): Promise<void> {
    const urls = await api.iceServerUrls();
    expect(urls).toContain(coturn.turnUrl);
    for (const url of urls) expect(url).toMatch(/^turns?:127\.0\.0\.1:\d+/);
    for (const url of DEFAULT_STUN_URLS) expect(urls).not.toContain(url);
  }

  /** A message each way on `label`; `round` tells this exchange's messages from an earlier one's. */
  async function exchange(a: Api, b: Api, label: string, round = ''): Promise<void> {
    const [ping, pong] = [`ping${round} from a`, `pong${round} from b`];
    await a.send(label, ping);
    await b.send(label, pong);
    expect(
      await untilValue(
        () => b.received(label),
        (m) => m.includes(ping),
      ),
    ).toContain(ping);
    expect(
      await untilValue(
        () => a.received(label),
        (m) => m.includes(pong),
      ),
    ).toContain(pong);
    await expectLocalIceOnly(a);
    await expectLocalIceOnly(b);
  }

  it('opens a data channel forced through coturn (relay candidates on both ends), messages both ways', async () => {
    const [a, b] = await relayedChat((await server()).url);
    await exchange(a.api, b.api, 'chat');
    for (const p of [a.api, b.api]) {
      expect(await p.peerState()).toBe('connected');
      expect(await p.iceTransportPolicy()).toBe('relay');
      expect(await p.selectedPair()).toEqual({ local: 'relay', remote: 'relay' });
    }
    expect(await a.api.peerStates()).toEqual(['new', 'negotiating', 'connected']);
  });

  it('glare: both sides offer at once (queued while signaling is away); the polite side yields and both channels open', async () => {
    // Glare made certain, not left to timing (a loaded machine delivers one offer before the other
    // side makes its own): with the signaling server away, both sides make their offer, which waits in
    // each client's send queue; when the server is back, each offer meets the other's.
    const { a, b, restart } = await pairWithSignalingAway();
    await Promise.all([a.api.createChannel('from-a'), b.api.createChannel('from-b')]);
    await new Promise((r) => setTimeout(r, 200));
    expect([await a.api.peerState(), await b.api.peerState()]).toEqual(['negotiating', 'negotiating']);
    await restart();
    await a.api.channelsOpen(['from-a', 'from-b'], 20_000);
    await b.api.channelsOpen(['from-a', 'from-b'], 20_000);
    await exchange(a.api, b.api, 'from-a');
    await exchange(b.api, a.api, 'from-b');
    // Glare did happen: the polite side (smaller key) took the peer's offer while making its own.
    const [polite, impolite] = a.key < b.key ? [a.api, b.api] : [b.api, a.api];
    const yielded = (await polite.negotiation()).join(' ');
    expect(yielded).toMatch(/(makingOffer|awaitingAnswer) answering/);
    expect((await impolite.negotiation()).join(' ')).toMatch(/makingOffer awaitingAnswer applyingAnswer/);
  });

  it('holds the signals of a peer not yet accepted and replays them (onPeerRequest)', async () => {
    const s = await server();
    const a = await tab(s.url);
    const b = await tab(s.url);
    // b listens for requests from the start, and accepts a's only a second after it asked: a's offer
    // and candidates wait in b's registry meanwhile.
    await b.api.acceptNext({}, 1000);
    await a.api.open(b.key);
    await a.api.createChannel('late');
    expect(
      await untilValue(
        () => b.api.requests(),
        (r) => r.length > 0,
      ),
    ).toEqual([a.key]);
    expect(await b.api.peerState()).toBeUndefined();
    await b.api.channelsOpen(['late'], 20_000);
    await exchange(a.api, b.api, 'late');
    // The held offer was replayed into createPeerConnection's connection once verified.
    expect(await b.api.peerStates()).toEqual(['new', 'negotiating', 'connected']);
  });

  it('the data channel keeps working after the signaling server is gone', async () => {
    const s = await server();
    const [a, b] = await pair(s.url);
    await a.api.createChannel('chat');
    await b.api.channelsOpen(['chat'], 20_000);
    await s.close({ timeout: 200 });
    await a.api.reach('reconnecting', 10_000);
    await b.api.reach('reconnecting', 10_000);
    await exchange(a.api, b.api, 'chat');
    expect(await a.api.peerState()).toBe('connected');
    expect(await b.api.peerState()).toBe('connected');
    expect(await a.api.peerStates()).toEqual(['new', 'negotiating', 'connected']);
  });

  it('a negotiation started while the signaling server restarts completes after the reconnect', async () => {
    const { a, b, restart } = await pairWithSignalingAway();
    await a.api.createChannel('chat'); // the offer waits in a's send queue
    await new Promise((r) => setTimeout(r, 200));
    expect(await a.api.peerState()).toBe('negotiating');
    await restart();
    await a.api.reach('connected', 15_000);
    await b.api.reach('connected', 15_000);
    await b.api.channelsOpen(['chat'], 30_000);
    await exchange(a.api, b.api, 'chat');
  });

  it('ICE restart: the TURN relay dies and comes back; the chart restarts ICE by itself and the same data channel carries messages again', async () => {
    const [a, b] = await relayedChat((await server()).url);
    await exchange(a.api, b.api, 'chat', ' 1');

    // The relay goes away, and with it both sides' TURN allocations: the relayed path is dead.
    const { port, secret, realm } = coturn;
    await coturn.stop();
    let back = false;
    cleanups.push(async () => {
      if (!back) coturn = await startCoturn({ port, secret, realm }); // the suite's relay, whatever happened
    });
    await a.api.waitPeerState('disconnected', 15_000);
    await b.api.waitPeerState('disconnected', 15_000);
    // Back on the same port with the same secret, as a restarted server: the old allocations are gone
    // for good, so the old candidate pairs stay dead (Chromium reports `failed`) and only an ICE
    // restart (new candidates, new allocations) can bring the connection back. Chromium says `failed`
    // some 15 s after the loss here (its pairs time out unwritable), so the default restart policy serves.
    coturn = await startCoturn({ port, secret, realm });
    back = true;
    await a.api.waitPeerState('connected', 40_000);
    await b.api.waitPeerState('connected', 40_000);

    await exchange(a.api, b.api, 'chat', ' 2');
    const failedHere: Api[] = [];
    for (const p of [a.api, b.api]) {
      expect(await p.peerStates()).toEqual(['new', 'negotiating', 'connected', 'disconnected', 'connected']);
      if ((await p.connectionStates()).includes('failed')) failedHere.push(p);
      // The same RTCPeerConnection and the same data channel carried both exchanges.
      expect(await p.opened()).toBe(1);
      expect(await p.channelCount('chat')).toBe(1);
      expect(await p.selectedPair()).toEqual({ local: 'relay', remote: 'relay' });
    }
    // ICE really failed in a browser, and there the chart restarted it. The other side may have seen
    // `failed` too, or been brought back by that restart's offer before its own pairs timed out.
    expect(failedHere.length).toBeGreaterThanOrEqual(1);
    for (const p of failedHere) {
      expect((await p.ice()).slice(-3)).toEqual(['restarting', 'recovering', 'connected']);
      expect(await p.restarts()).toBeGreaterThanOrEqual(1);
    }
  });

  it('three ICE restarts back to back, asked by each side in turn: new credentials each time, the same channel carries messages', async () => {
    const [a, b] = await relayedChat((await server()).url);
    await exchange(a.api, b.api, 'chat', ' 0');
    // No pause between them: between Firefox and Chromium this fails when Firefox is the DTLS client
    // (docs/webrtc.md); between Chromiums it holds.
    for (const [round, asker] of [a, b, a].entries()) {
      const ufrag = async (api: Api) =>
        /^a=ice-ufrag:(\S+)/m.exec((await api.remoteSdps()).at(-1) ?? '')?.[1];
      const before = [await ufrag(a.api), await ufrag(b.api)];
      await asker.api.restartIce();
      for (const [i, p] of [a, b].entries()) {
        expect(
          await untilValue(
            () => ufrag(p.api),
            (u) => u !== before[i],
            10_000,
          ),
        ).not.toBe(before[i]);
        await untilValue(
          () => p.api.negotiation(),
          (n) => n.at(-1) === 'stable',
          10_000,
        );
      }
      await exchange(a.api, b.api, 'chat', ` ${round + 1}`);
    }
    for (const p of [a, b]) {
      expect(await p.api.peerStates()).toEqual(['new', 'negotiating', 'connected']);
      expect(await p.api.errors()).toEqual([]);
      expect(await p.api.opened()).toBe(1);
      expect(await p.api.channelCount('chat')).toBe(1);
    }
  });

  it('close() on one side closes the other (a bye signal)', async () => {
    const s = await server();
    const [a, b] = await pair(s.url);
    await a.api.createChannel('chat');
    await b.api.channelsOpen(['chat'], 20_000);
    await a.api.closePeer();
    expect(await a.api.peerState()).toBe('closed');
    expect(await a.api.closeReason()).toBe('local');
    await b.api.waitPeerState('closed', 10_000);
    expect(await b.api.closeReason()).toBe('remote');
    expect((await b.api.peerStates()).at(-1)).toBe('closed');
  });
  describe('behind a WebSocket relay of the test’s own (a hostile signaling path)', () => {
    /** The relay, in front of a reference server that lists the relay's URL as its origin. */
    async function behindRelay(): Promise<SignalRelay> {
      const relay = await startSignalRelay();
      cleanups.push(() => relay.close());
      relay.target = (await server(undefined, 0, [relay.url])).url;
      return relay;
    }

    /** Two tabs dialing the relay, each with a relay-forced peer connection to the other; nothing negotiated yet. */
    async function opened(relay: SignalRelay) {
      const a = await tab(relay.url);
      const b = await tab(relay.url);
      await b.api.open(a.key, { relay: true });
      await a.api.open(b.key, { relay: true });
      return [a, b] as const;
    }

    const peerData = (frame: SignalFrame) => parsePeerSignal(frame.data);

    /** `b` ended the link over a description it refused: `failed`, `'identity'`, failing `check`. */
    async function expectRefused(b: Api, check: string): Promise<void> {
      await b.waitPeerState('failed', 10_000);
      expect(await b.closeReason()).toBe('identity');
      expect(await b.identityFailure()).toEqual({ check, signal: 'description' });
    }
    const FORGED_FINGERPRINT = Array.from({ length: 32 }, () => 'AB').join(':');

    /** `body` as if `from` (session `session`, to session `r`) sent it to `to`, signed by `by`. */
    async function forge(
      by: Identity,
      from: string,
      to: string,
      session: string,
      r: string | undefined,
      body: PeerSignalBody,
    ) {
      const head = { from: decodeBase64url(from), to: decodeBase64url(to), session, remoteSession: r };
      return signPeerSignal(by, head, body);
    }

    it('transparent: the link opens, and every peer signal the server relayed was signed', async () => {
      const relay = await behindRelay();
      const [a, b] = await opened(relay);
      await a.api.createChannel('chat');
      await a.api.channelsOpen(['chat'], 20_000);
      await b.api.channelsOpen(['chat'], 20_000);
      await exchange(a.api, b.api, 'chat');
      const relayed = relay.signals.filter((s) => peerData(s.frame));
      expect(relayed.length).toBeGreaterThanOrEqual(4); // offer, answer, candidates both ways
      for (const { frame } of relayed) {
        expect(peerData(frame)?.version).toBe(2);
        expect(peerData(frame)?.sig).toMatch(/^[\w-]{86}$/);
      }
      for (const p of [a.api, b.api]) {
        expect(await p.selectedPair()).toEqual({ local: 'relay', remote: 'relay' });
        expect(await p.droppedCandidates()).toBe(0);
        expect(await p.identityFailure()).toBeUndefined();
      }
    });

    it('the relay swaps the DTLS fingerprint: no page applies it; the receiver is failed/"identity" within 10 s, the sender told', async () => {
      const relay = await behindRelay();
      let swapped = 0;
      relay.rewrite = (frame) => {
        const data = frame.data as { description?: { sdp: string } };
        if (typeof data?.description?.sdp === 'string') {
          data.description.sdp = data.description.sdp.replace(
            /a=fingerprint:sha-256 \S+/g,
            `a=fingerprint:sha-256 ${FORGED_FINGERPRINT}`,
          );
          swapped++;
        }
        return frame;
      };
      const [a, b] = await opened(relay);
      const start = Date.now();
      await a.api.createChannel('chat');
      await expectRefused(b.api, 'signature');
      expect(Date.now() - start).toBeLessThan(10_000);
      expect(swapped).toBeGreaterThanOrEqual(1);
      // b's signed bye reached a, whose connection closed: neither page set any remote description.
      await a.api.waitPeerState('closed', 10_000);
      expect(await a.api.closeReason()).toBe('remote');
      for (const p of [a.api, b.api]) expect(await p.remoteSdps()).toEqual([]);
    });

    it('the relay strips every field but the documented ones of the unsigned format: refused as "unsigned" (no downgrade)', async () => {
      const relay = await behindRelay();
      const DOCUMENTED = ['webrtc', 's', 'r', 'description', 'generation', 'candidate', 'bye'];
      relay.rewrite = (frame) => {
        const data = frame.data as Record<string, unknown>;
        if (data && typeof data === 'object' && 'webrtc' in data) {
          frame.data = Object.fromEntries(DOCUMENTED.filter((k) => k in data).map((k) => [k, data[k]]));
        }
        return frame;
      };
      const [a, b] = await opened(relay);
      const start = Date.now();
      await a.api.createChannel('chat');
      await expectRefused(b.api, 'unsigned');
      expect(Date.now() - start).toBeLessThan(10_000);
      for (const p of [a.api, b.api]) expect(await p.remoteSdps()).toEqual([]);
    });

    it('the relay replays a signed offer of an earlier session: dropped, the live link goes on', async () => {
      const relay = await behindRelay();
      const [a, b] = await opened(relay);
      await a.api.createChannel('chat');
      await b.api.channelsOpen(['chat'], 20_000);
      const earlier = relay.signals.find(
        (s) =>
          s.to === b.key &&
          s.frame.from === a.key &&
          peerData(s.frame)?.body &&
          'description' in (peerData(s.frame)?.body ?? {}),
      );
      expect(earlier).toBeDefined();
      await a.api.closePeer();
      await b.api.waitPeerState('closed', 10_000);

      // A second connection between the same two keys.
      await b.api.open(a.key, { relay: true });
      await a.api.open(b.key, { relay: true });
      await b.api.watchRequests();
      await a.api.createChannel('again');
      await a.api.channelsOpen(['again'], 20_000);
      await b.api.channelsOpen(['again'], 20_000);
      const applied = (await b.api.remoteSdps()).length;
      // A fresh id, so the client's own (from, id) deduplication does not hide it: only the sessions can.
      relay.inject(b.key, { ...(earlier as { frame: SignalFrame }).frame, id: 'replayed-offer' });
      await new Promise((r) => setTimeout(r, 1000));
      expect(await b.api.remoteSdps()).toHaveLength(applied);
      expect(await b.api.peerState()).toBe('connected');
      expect(await b.api.requests()).toEqual([]);
      expect(await b.api.identityFailure()).toBeUndefined();
      await exchange(a.api, b.api, 'again');
    });

    it('the relay forges signals "from" the peer\'s key: a forged candidate is dropped and counted, a forged description ends the link failed/"identity"', async () => {
      const relay = await behindRelay();
      const forger = await Identity.generate();
      const [a, b] = await opened(relay);
      let forged = 0;
      relay.rewrite = (frame, to) => {
        const signal = peerData(frame);
        if (forged === 0 && to === b.key && signal && 'candidate' in signal.body) {
          forged++;
          const candidate = {
            candidate: 'candidate:9 1 udp 2122260223 127.0.0.1 9 typ host',
            sdpMid: '0',
            sdpMLineIndex: 0,
          };
          void forge(forger, a.key, b.key, signal.session, signal.to, { candidate }).then((data) =>
            relay.inject(b.key, { type: 'signal', from: a.key, id: 'forged-candidate', data }),
          );
        }
        return frame;
      };
      await a.api.createChannel('chat');
      await a.api.channelsOpen(['chat'], 20_000);
      await b.api.channelsOpen(['chat'], 20_000);
      expect(
        await untilValue(
          () => b.api.droppedCandidates(),
          (n) => n === 1,
        ),
      ).toBe(1);
      await exchange(a.api, b.api, 'chat');
      expect(await b.api.identityFailure()).toBeUndefined();

      const live = relay.signals.find((s) => s.to === b.key && peerData(s.frame)) as { frame: SignalFrame };
      const { session, to } = peerData(live.frame) as NonNullable<ReturnType<typeof parsePeerSignal>>;
      const applied = (await b.api.remoteSdps()).length;
      const sdp = `v=0\r\na=fingerprint:sha-256 ${FORGED_FINGERPRINT}\r\n`;
      const data = await forge(forger, a.key, b.key, session, to, {
        description: { type: 'offer', sdp },
        generation: 99,
      });
      relay.inject(b.key, { type: 'signal', from: a.key, id: 'forged-offer', data });
      await expectRefused(b.api, 'signature');
      expect(await b.api.remoteSdps()).toHaveLength(applied);
    });
  });
});
