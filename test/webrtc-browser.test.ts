import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/index.js';
import { createSignalingServer, type SignalingServer } from '../src/server/index.js';
import { DEFAULT_STUN_SERVERS, iceServersForClient } from '../src/stun/index.js';
import type { PageApi } from './browser/webrtc.page.js';
import { type Coturn, startCoturn } from './helpers/coturn.js';
import { chromiumSuite, pageApi as pageApiOf, type Remote, untilValue } from './helpers/page-api.js';

/**
 * `signaling-actor/webrtc`, built, in Debian's Chromium: two tabs in separate browser contexts, each a
 * peer, negotiating over the reference server on loopback. ICE servers come from the server's
 * `auth.ok` and point at a coturn on 127.0.0.1 (never the public DEFAULT_STUN_SERVERS).
 */

type Api = Remote<PageApi>;
const pageApi = (tab: Page) => pageApiOf<PageApi>(tab);

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
  async function server(identity?: Identity, port = 0): Promise<SignalingServer> {
    const s = await createSignalingServer({
      identity: identity ?? (await Identity.generate()),
      port,
      iceServers: (publicKey) =>
        iceServersForClient(
          { turn: { urls: coturn.turnUrl, secret: coturn.secret }, includeDefaults: false },
          publicKey,
        ),
    });
    cleanups.push(() => s.close({ timeout: 200 }));
    return s;
  }

  async function tab(url: string): Promise<{ api: Api; key: string }> {
    const context = await suite.browser().newContext();
    cleanups.push(() => context.close());
    const t = await context.newPage();
    await t.goto(suite.url());
    await t.waitForFunction('window.ready === true');
    const api = pageApi(t);
    const key = await api.start(url);
    await api.reach('connected', 15_000);
    return { api, key };
  }

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
    // The held offer was taken inside createPeerConnection: b's peer starts out negotiating.
    expect(await b.api.peerStates()).toEqual(['negotiating', 'connected']);
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
});
