import type { AddressInfo } from 'node:net';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

/**
 * A WebSocket relay of the test's own, on 127.0.0.1, in front of the reference server: what a
 * signaling server that turned hostile (or anyone in front of it) can do to peer signals. Clients dial
 * the relay (so their transcript origin is the relay's URL: the server lists it in `origins`); every
 * frame passes through, and each `signal` the server delivers to a client can be recorded, rewritten,
 * dropped, or made up from nothing (`inject`).
 */

/** A signal as the server delivers it. */
export interface SignalFrame {
  type: 'signal';
  from: string;
  id: string;
  data: unknown;
}

export interface SignalRelay {
  /** What clients dial. */
  readonly url: string;
  /** The server's URL, where the relay forwards to (set before a client connects). */
  target: string | undefined;
  /** Rewrites each signal the server delivers to `to` (a client's key): return `null` to drop it. */
  rewrite: ((frame: SignalFrame, to: string) => SignalFrame | null) | undefined;
  /** Every signal the server delivered, as the server sent it, with the key it went to. */
  readonly signals: { to: string; frame: SignalFrame }[];
  /** Sends `frame` to every socket of the client authenticated as `to`, as if the server had. */
  inject(to: string, frame: SignalFrame): void;
  close(): Promise<void>;
}

interface Link {
  key: string | undefined;
  client: WebSocket;
}

const closable = (code: number) =>
  code === 1000 || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);

export async function startSignalRelay(): Promise<SignalRelay> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const links = new Set<Link>();

  const relay: SignalRelay = {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
    target: undefined,
    rewrite: undefined,
    signals: [],
    inject(to, frame) {
      for (const link of links) {
        if (link.key === to && link.client.readyState === WebSocket.OPEN)
          link.client.send(JSON.stringify(frame));
      }
    },
    async close() {
      for (const link of links) link.client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };

  wss.on('connection', (client) => {
    if (!relay.target) {
      client.close(1011);
      return;
    }
    const link: Link = { key: undefined, client };
    links.add(link);
    const upstream = new WebSocket(relay.target);
    const early: string[] = [];
    const text = (data: RawData) => data.toString();

    client.on('message', (data) => {
      const frame = text(data);
      try {
        const parsed = JSON.parse(frame) as { type?: unknown; publicKey?: unknown };
        if (parsed.type === 'auth.response' && typeof parsed.publicKey === 'string')
          link.key = parsed.publicKey;
      } catch {}
      if (upstream.readyState === WebSocket.OPEN) upstream.send(frame);
      else early.push(frame);
    });
    upstream.on('open', () => {
      for (const frame of early.splice(0)) upstream.send(frame);
    });
    upstream.on('message', (data) => {
      let frame = text(data);
      try {
        const parsed = JSON.parse(frame) as SignalFrame;
        if (parsed.type === 'signal' && link.key) {
          relay.signals.push({ to: link.key, frame: parsed });
          const rewritten = relay.rewrite ? relay.rewrite(structuredClone(parsed), link.key) : parsed;
          if (rewritten === null) return;
          frame = JSON.stringify(rewritten);
        }
      } catch {}
      if (client.readyState === WebSocket.OPEN) client.send(frame);
    });
    const end = (other: WebSocket, code: number) => {
      links.delete(link);
      if (other.readyState === WebSocket.OPEN || other.readyState === WebSocket.CONNECTING) {
        if (closable(code)) other.close(code);
        else other.terminate();
      }
    };
    client.on('close', (code) => end(upstream, code));
    upstream.on('close', (code) => end(client, code));
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  return relay;
}
