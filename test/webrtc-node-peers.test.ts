import wrtc from '@roamhq/wrtc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignalingClient, Identity } from '../src/index.js';
import { createPeerConnection, type PeerConnection } from '../src/webrtc/index.js';
import type { PageApi } from './browser/webrtc.page.js';
import { type Coturn, startCoturn, turnSignalingServer } from './helpers/coturn.js';
import { chromiumSuite, type Remote, untilValue } from './helpers/page-api.js';
import { webrtcTab } from './helpers/webrtc-tab.js';

/**
 * Node as a WebRTC peer of Chromium: `createPeerConnection` in Node with a Node WebRTC library passed
 * as `RTCPeerConnection`, unmodified, against a Chromium tab running the built package. Both sides go
 * through the local coturn only (relay forced); glare is made certain by queueing both offers while
 * the signaling server is away. `@roamhq/wrtc` has no implicit setLocalDescription() and no implicit
 * rollback: the chart's services make the offer/answer and roll back explicitly for it.
 */

type Ctor = new (config?: RTCConfiguration) => RTCPeerConnection;

type Order = [string, boolean];
const BOTH_ORDERS: Order[] = [
  ['Node', true],
  ['Chromium', false],
];

// werift glare holds because the adapter makes werift's SCTP stream parity follow its DTLS role, not
// its ICE role (sctpRoleFromDtls): after glare werift's ICE role moved (a role conflict, or its own
// re-offer before nomination) and both sides opened their channels on the same stream: without it,
// 9 of 17 runs failed with werift impolite, 7 of 16 with werift polite.
const LIBRARIES: [string, () => Promise<Ctor>, Order[]][] = [
  ['@roamhq/wrtc', async () => wrtc.RTCPeerConnection as unknown as Ctor, BOTH_ORDERS],
  ['werift', async () => (await import('werift')).RTCPeerConnection as unknown as Ctor, BOTH_ORDERS],
];

describe.each(LIBRARIES)('a Node peer on %s ↔ Chromium', { timeout: 60_000 }, (_name, load, orders) => {
  const suite = chromiumSuite(new URL('./browser/webrtc.page.ts', import.meta.url));
  const { cleanups } = suite;
  let coturn: Coturn;
  let RTCPeerConnection: Ctor;

  beforeAll(async () => {
    coturn = await startCoturn();
    RTCPeerConnection = await load();
  }, 60_000);

  afterAll(async () => {
    await coturn?.stop();
  });

  const server = (identity?: Identity, port = 0) =>
    turnSignalingServer(cleanups, coturn, { ...(identity ? { identity } : {}), port });

  const tab = (url: string) => webrtcTab(suite.browser(), suite.url(), cleanups, url);

  /**
   * The Node side: a client and, once `open()`ed, its peer connection with every channel's messages.
   * `polite` picks its key against `other`'s (the smaller key is polite).
   */
  async function nodeSide(url: string, politeTo?: { other: string; polite: boolean }) {
    let identity = await Identity.generate();
    while (politeTo && identity.publicKey < politeTo.other !== politeTo.polite) {
      identity = await Identity.generate();
    }
    const client = createSignalingClient({ url, identity, backoff: { initialDelay: 100, maxDelay: 500 } });
    cleanups.push(() => client.disconnect());
    client.connect();
    await untilValue(
      async () => client.state,
      (s) => s === 'connected',
    );
    const inbox = new Map<string, string[]>();
    const channels = new Map<string, RTCDataChannel>();
    const track = (ch: RTCDataChannel) => {
      channels.set(ch.label, ch);
      ch.onmessage = (e) => inbox.set(ch.label, [...(inbox.get(ch.label) ?? []), String(e.data)]);
    };
    let peer: PeerConnection | undefined;
    const states: string[] = [];
    const negotiation: string[] = [];
    return {
      key: identity.publicKey,
      client,
      open(key: string) {
        peer = createPeerConnection(client, {
          peer: key,
          identity,
          RTCPeerConnection,
          rtcConfig: { iceServers: client.iceServers, iceTransportPolicy: 'relay' },
        });
        const p = peer;
        cleanups.push(async () => p.close());
        peer.onDataChannel(track);
        peer.onStateChange((s) => states.push(s));
        peer.actor.subscribe((snap) => {
          const at = (snap.value as { open?: { negotiation: string } }).open?.negotiation;
          if (at && negotiation.at(-1) !== at) negotiation.push(at);
          if (snap.context.error && !negotiation.includes(snap.context.error))
            negotiation.push(snap.context.error);
        });
        return peer;
      },
      createChannel: (label: string) => track((peer as PeerConnection).createDataChannel(label)),
      channelOpen: (label: string) =>
        untilValue(
          async () => channels.get(label)?.readyState,
          (s) => s === 'open',
          20_000,
        ),
      send: (label: string, text: string) => channels.get(label)?.send(text),
      received: (label: string) => inbox.get(label) ?? [],
      peer: () => peer as PeerConnection,
      states,
      negotiation,
    };
  }

  async function exchange(node: Awaited<ReturnType<typeof nodeSide>>, api: Remote<PageApi>, label: string) {
    node.send(label, `from node on ${label}`);
    await api.send(label, `from chromium on ${label}`);
    expect(
      await untilValue(
        () => api.received(label),
        (m) => m.length > 0,
      ),
    ).toEqual([`from node on ${label}`]);
    expect(
      await untilValue(
        async () => node.received(label),
        (m) => m.length > 0,
      ),
    ).toEqual([`from chromium on ${label}`]);
  }

  it('a data channel through coturn, relay forced on both sides; close() reaches Chromium', async () => {
    const s = await server();
    const browser = await tab(s.url);
    const node = await nodeSide(s.url);
    await browser.api.open(node.key, { relay: true });
    node.open(browser.key);
    node.createChannel('chat');
    expect(await node.channelOpen('chat')).toBe('open');
    await browser.api.channelsOpen(['chat'], 20_000);
    await exchange(node, browser.api, 'chat');
    expect(await browser.api.iceTransportPolicy()).toBe('relay');
    // Chromium's selected pair is relay on both ends: the Node side's candidate is coturn's too.
    expect(await browser.api.selectedPair()).toEqual({ local: 'relay', remote: 'relay' });
    expect(node.peer().state).toBe('connected');
    node.peer().close();
    expect(await browser.api.waitPeerState('closed', 10_000)).toBe('closed');
    expect(await browser.api.closeReason()).toBe('remote');
  });

  if (orders.length > 0)
    it.each(orders)(
      'glare, %s polite: both offer at once (queued while signaling is away); both channels open',
      async (_, nodePolite) => {
        const identity = await Identity.generate();
        const first = await server(identity);
        const browser = await tab(first.url);
        const node = await nodeSide(first.url, { other: browser.key, polite: nodePolite });
        await browser.api.open(node.key, { relay: true });
        node.open(browser.key);
        await first.close({ timeout: 200 });
        await browser.api.reach('reconnecting', 10_000);
        await untilValue(
          async () => node.client.state,
          (st) => st === 'reconnecting',
        );
        node.createChannel('from-node');
        await browser.api.createChannel('from-chromium');
        await new Promise((r) => setTimeout(r, 200));
        await server(identity, first.port);
        expect(await node.channelOpen('from-node')).toBe('open');
        expect(await node.channelOpen('from-chromium')).toBe('open');
        await browser.api.channelsOpen(['from-node', 'from-chromium'], 20_000);
        await exchange(node, browser.api, 'from-node');
        await exchange(node, browser.api, 'from-chromium');
        expect(await browser.api.selectedPair()).toEqual({ local: 'relay', remote: 'relay' });
        // Glare did happen: the polite side took the other's offer while it had its own out.
        const polite = nodePolite ? node.negotiation : await browser.api.negotiation();
        expect(polite.join(' ')).toMatch(/(makingOffer|awaitingAnswer) answering/);
        expect(node.peer().error).toBeUndefined();
      },
    );
});
