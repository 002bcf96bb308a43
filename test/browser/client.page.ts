/**
 * Runs in Chromium, bundled from the BUILT package (`dist/index.js`; see `bundleDist`): the test
 * imports `../../src/index.js` here only for the types. Exposes `window.api` for the Node side; every
 * method returns plain data, so Playwright can carry it back.
 */
import {
  type BackoffOptions,
  createSignalingClient,
  Identity,
  type SignalingClient,
  type SignalingError,
} from '../../src/index.js';

export interface Transition {
  from: string;
  to: string;
  reason: string | undefined;
  retryIn: number | undefined;
  closeCode: number | undefined;
  /** performance.now() when it happened. */
  at: number;
}

export interface PageApi {
  start(
    url: string,
    backoff?: BackoffOptions,
  ): Promise<{ publicKey: string; signer: string; extractable: boolean }>;
  /** Resolves with the state once `state` is reached (now or later); rejects after `timeout` ms. */
  reach(state: string, timeout: number): Promise<string>;
  transitions(): Transition[];
  inbox(): { from: string; id: string; data: unknown }[];
  send(to: string, id: string, data: unknown): Promise<'ack' | string>;
  exportError(): Promise<string>;
  serverKey(): string | undefined;
  stop(): Promise<string>;
}

let client: SignalingClient | undefined;
let identity: Identity | undefined;
const transitions: Transition[] = [];
const inbox: { from: string; id: string; data: unknown }[] = [];

function need(): SignalingClient {
  if (!client) throw new Error('start() first');
  return client;
}

const api: PageApi = {
  async start(url, backoff) {
    identity = await Identity.generate(); // non-extractable by default
    client = createSignalingClient({ url, identity, ...(backoff ? { backoff } : {}) });
    client.onStateChange((to, from, details) => {
      transitions.push({ from, to, ...details, at: performance.now() });
    });
    client.on('signal', (message) => inbox.push({ from: message.from, id: message.id, data: message.data }));
    client.connect();
    return { publicKey: identity.publicKey, signer: identity.signer, extractable: identity.extractable };
  },
  reach(state, timeout) {
    const c = need();
    if (c.state === state) return Promise.resolve(state);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`still ${c.state}, waited ${timeout} ms for ${state}`));
      }, timeout);
      const off = c.onStateChange((s) => {
        if (s !== state) return;
        clearTimeout(timer);
        off();
        resolve(s);
      });
    });
  },
  transitions: () => transitions,
  inbox: () => inbox,
  async send(to, id, data) {
    try {
      await need().send({ type: 'signal', to, id, data });
      return 'ack';
    } catch (error) {
      return (error as SignalingError).code ?? String(error);
    }
  },
  async exportError() {
    try {
      await identity?.exportSeed();
      return 'exported';
    } catch (error) {
      return (error as SignalingError).code ?? String(error);
    }
  },
  serverKey: () => client?.serverKey,
  async stop() {
    const c = need();
    await c.disconnect();
    return c.state;
  },
};

(window as unknown as { api: PageApi }).api = api;
(window as unknown as { ready: boolean }).ready = true;
