import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { createSignalingClient, type SignalingClient } from '../src/client.js';
import { Identity } from '../src/identity/index.js';
import type { ConnectionState } from '../src/machines/signaling.types.js';
import type { SignalIn } from '../src/protocol/messages.js';
import { createSignalingServer, type SignalingServer } from '../src/server/index.js';
import type { PageApi, Transition } from './browser/client.page.js';
import { chromiumSuite, pageApi as pageApiOf, type Remote, untilValue } from './helpers/page-api.js';

/**
 * The built package in Debian's Chromium against the reference server on loopback, with a Node peer:
 * WebCrypto identity, relay both ways, a server restart, and the browser's offline/online events.
 */

type Api = Remote<PageApi>;
const pageApi = (tab: Page) => pageApiOf<PageApi>(tab);

function steps(transitions: Transition[]): string[] {
  return transitions.map((t) => `${t.from}->${t.to}`);
}

function reach(c: SignalingClient, state: ConnectionState, timeout = 10_000): Promise<void> {
  if (c.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`node peer still ${c.state}, waited for ${state}`));
    }, timeout);
    const off = c.onStateChange((s) => {
      if (s !== state) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

describe('the built client in Chromium', () => {
  const suite = chromiumSuite(new URL('./browser/client.page.ts', import.meta.url));
  const { cleanups } = suite;

  async function server(identity?: Identity, port = 0): Promise<SignalingServer> {
    const s = await createSignalingServer({ identity: identity ?? (await Identity.generate()), port });
    cleanups.push(() => s.close({ timeout: 200 }));
    return s;
  }

  async function tab(): Promise<{ api: Api; context: BrowserContext }> {
    const context = await suite.browser().newContext();
    cleanups.push(() => context.close());
    const t = await context.newPage();
    await t.goto(suite.url());
    await t.waitForFunction('window.ready === true');
    return { api: pageApi(t), context };
  }

  async function nodePeer(url: string): Promise<{ client: SignalingClient; identity: Identity }> {
    const identity = await Identity.generate();
    const client = createSignalingClient({ url, identity, globalEvents: false });
    cleanups.push(() => client.disconnect());
    client.connect();
    await reach(client, 'connected');
    return { client, identity };
  }

  it('authenticates with a non-extractable WebCrypto key and exchanges signals with a Node peer', async () => {
    const s = await server();
    const { api } = await tab();
    const me = await api.start(s.url);
    expect(me).toMatchObject({ signer: 'webcrypto', extractable: false });
    await api.reach('connected', 10_000);
    expect(steps(await api.transitions())).toEqual([
      'disconnected->connecting',
      'connecting->authenticating',
      'authenticating->connected',
    ]);
    expect(await api.exportError()).toBe('not-extractable');
    expect(await api.serverKey()).toBe(s.publicKey);

    const node = await nodePeer(s.url);
    const received: SignalIn[] = [];
    node.client.on('signal', (m) => received.push(m));

    // Browser → Node: resolves on the server's ack; the Node peer sees the browser's key as `from`.
    expect(await api.send(node.identity.publicKey, 'b1', { sdp: 'offer from chromium' })).toBe('ack');
    await untilValue(
      async () => received.length,
      (n) => n > 0,
    );
    expect(received).toEqual([
      { type: 'signal', from: me.publicKey, id: 'b1', data: { sdp: 'offer from chromium' } },
    ]);

    // Node → browser.
    await node.client.send({ type: 'signal', to: me.publicKey, id: 'n1', data: { sdp: 'answer from node' } });
    const inbox = await untilValue(
      () => api.inbox(),
      (m) => m.length > 0,
    );
    expect(inbox).toEqual([{ from: node.identity.publicKey, id: 'n1', data: { sdp: 'answer from node' } }]);

    // An unknown peer: the server's error reaches the page as a typed code.
    const stranger = (await Identity.generate()).publicKey;
    expect(await api.send(stranger, 'b2', 'nobody home')).toBe('peer-offline');

    expect(await api.stop()).toBe('disconnected');
    expect(s.stats().connections).toBe(1); // only the Node peer is left
  });

  it('reconnects by itself when the server restarts on the same port, and relays again', async () => {
    const serverIdentity = await Identity.generate();
    const first = await server(serverIdentity);
    const { api } = await tab();
    const me = await api.start(first.url, { initialDelay: 100, maxDelay: 500 });
    await api.reach('connected', 10_000);

    await first.close({ timeout: 200 });
    await api.reach('reconnecting', 5_000);
    const second = await server(serverIdentity, first.port);
    expect(second.url).toBe(first.url);
    await api.reach('connected', 15_000);

    const log = await api.transitions();
    const lost = log.findIndex((t) => t.from === 'connected' && t.to === 'reconnecting');
    expect(lost).toBeGreaterThan(0);
    expect(log[lost]).toMatchObject({ reason: 'closed', closeCode: 1001 });
    expect(log.at(-1)).toMatchObject({ from: 'authenticating', to: 'connected' });
    // In between, only the reconnect cycle: never failed, never disconnected.
    for (const t of log.slice(lost)) expect(['failed', 'disconnected']).not.toContain(t.to);
    expect(second.stats().connections).toBe(1);

    const node = await nodePeer(second.url);
    await node.client.send({ type: 'signal', to: me.publicKey, id: 'after-restart', data: 42 });
    const inbox = await untilValue(
      () => api.inbox(),
      (m) => m.length > 0,
    );
    expect(inbox).toEqual([{ from: node.identity.publicKey, id: 'after-restart', data: 42 }]);
  });

  it('drops the socket on `offline` and reconnects at once on `online` instead of waiting out the backoff', async () => {
    const s = await server();
    const { api, context } = await tab();
    // A 60 s wait with no jitter: only the `online` event can bring it back within the test.
    await api.start(s.url, { initialDelay: 60_000, maxDelay: 60_000, jitter: 'none' });
    await api.reach('connected', 10_000);
    const before = (await api.transitions()).length;

    await context.setOffline(true);
    await api.reach('reconnecting', 5_000);
    const offline = (await api.transitions()).slice(before);
    expect(offline).toHaveLength(1);
    expect(offline[0]).toMatchObject({
      from: 'connected',
      to: 'reconnecting',
      reason: 'offline',
      retryIn: 60_000,
    });
    // The server sees the socket go (the client closed it with 1001 rather than waiting for a heartbeat).
    expect(
      (await untilValue(
        async () => s.stats().connections,
        (n) => n === 0,
      )) as number,
    ).toBe(0);

    const wentOffline = offline[0]?.at ?? 0;
    await context.setOffline(false);
    await api.reach('connected', 10_000);
    const online = (await api.transitions()).slice(before + 1);
    expect(steps(online)).toEqual([
      'reconnecting->connecting',
      'connecting->authenticating',
      'authenticating->connected',
    ]);
    expect((online.at(-1)?.at ?? 0) - wentOffline).toBeLessThan(30_000);
    expect(s.stats().connections).toBe(1);
  });

  it('reacts to synthetic offline/online events dispatched on window', async () => {
    const s = await server();
    const { api, context } = await tab();
    await api.start(s.url, { initialDelay: 60_000, maxDelay: 60_000, jitter: 'none' });
    await api.reach('connected', 10_000);
    const before = (await api.transitions()).length;
    const [t] = context.pages();
    await t?.evaluate(() => window.dispatchEvent(new Event('offline')));
    await api.reach('reconnecting', 5_000);
    await t?.evaluate(() => window.dispatchEvent(new Event('online')));
    await api.reach('connected', 10_000);
    expect(steps((await api.transitions()).slice(before))).toEqual([
      'connected->reconnecting',
      'reconnecting->connecting',
      'connecting->authenticating',
      'authenticating->connected',
    ]);
  });
});
