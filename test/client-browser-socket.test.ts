import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSignalingClient, type SignalingClient } from '../src/client.js';
import { Identity } from '../src/identity/index.js';
import type { ConnectionState } from '../src/machines/signaling.types.js';
import type { WebSocketLike } from '../src/services/socket.js';
import { createTestServer, type TestServer } from './helpers/test-server.js';

/**
 * The socket service's browser path, on a real socket: a WebSocket with only the DOM surface (no
 * EventEmitter `on`, no `terminate`) whose close() refuses codes other than 1000 and 3000–4999, as
 * browsers do (so a client-side 1001/1002/1007 must fall back to a plain close).
 */
class BrowserLikeWebSocket implements WebSocketLike {
  static made = 0;
  static closeCalls: (number | undefined)[] = [];
  onopen: WebSocketLike['onopen'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  readonly #ws: WebSocket;

  constructor(url: string) {
    BrowserLikeWebSocket.made++;
    this.#ws = new WebSocket(url);
    this.#ws.onopen = (e) => this.onopen?.(e);
    this.#ws.onerror = (e) => this.onerror?.(e);
    this.#ws.onclose = (e) => this.onclose?.({ code: e.code, reason: e.reason });
    this.#ws.onmessage = (e) => this.onmessage?.({ data: e.data });
  }

  get readyState(): number {
    return this.#ws.readyState;
  }

  send(data: string): void {
    this.#ws.send(data);
  }

  close(code?: number, reason?: string): void {
    BrowserLikeWebSocket.closeCalls.push(code);
    if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
      throw new Error('InvalidAccessError: the close code must be 1000 or in 3000-4999');
    }
    this.#ws.close(code, reason);
  }
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function reach(c: SignalingClient, state: ConnectionState): Promise<void> {
  if (c.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const off = c.onStateChange((s) => {
      if (s === state) {
        off();
        resolve();
      }
    });
  });
}

async function setup(script: Parameters<typeof createTestServer>[0]) {
  const server: TestServer = await createTestServer(script);
  cleanups.push(() => server.close());
  const client = createSignalingClient({
    url: server.url,
    identity: await Identity.generate(),
    WebSocket: BrowserLikeWebSocket,
    globalEvents: false,
    backoff: { initialDelay: 20, maxDelay: 50 },
  });
  cleanups.push(() => client.disconnect());
  return { server, client };
}

describe('the socket service with a browser-like WebSocket', () => {
  it('authenticates, receives through onmessage, sends, and disconnects with 1000', async () => {
    const { server, client } = await setup(() => ({ afterAuth: (c) => c.send({ type: 'hello', n: 1 }) }));
    const made = BrowserLikeWebSocket.made;
    const got: unknown[] = [];
    client.on('hello', (m) => got.push(m.n));
    client.connect();
    await reach(client, 'connected');
    expect(BrowserLikeWebSocket.made).toBe(made + 1);
    await expect.poll(() => got).toEqual([1]);
    await client.send({ type: 'chat', text: 'hi' });
    await expect.poll(() => server.conns[0]?.received.some((m) => m.type === 'chat')).toBe(true);
    await client.disconnect();
    expect(await server.conns[0]?.closed).toBe(1000);
  });

  it('a malformed frame: close(1007) is refused by the browser, so it falls back to close(); then reconnects', async () => {
    const { server, client } = await setup((n) => (n === 1 ? { afterAuth: (c) => c.send('[1,2') } : {}));
    BrowserLikeWebSocket.closeCalls = [];
    client.connect();
    await expect.poll(() => server.conns.length).toBe(2);
    await reach(client, 'connected');
    expect(BrowserLikeWebSocket.closeCalls.slice(0, 2)).toEqual([1007, undefined]);
    expect(await server.conns[0]?.closed).toBe(1005); // a close frame without a code
  });
});
