import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { Identity } from '../../src/identity/index.js';
import { createServerProof, verifyChallenge } from '../../src/protocol/auth.js';
import { encodeBase64url } from '../../src/protocol/base64url.js';

/**
 * A tiny protocol-v1 server for the cases the reference server will not produce on demand: closing
 * with any code of the table, going silent, sending garbage, withholding acks. Built from `ws`,
 * `verifyChallenge` and `createServerProof`; each connection asks `script` what to do.
 */

export interface Conn {
  /** 1-based index of this connection on the server. */
  n: number;
  ws: WebSocket;
  publicKey?: string;
  /** Frames the client sent after authenticating. */
  received: Record<string, unknown>[];
  /** The close code the client sent (or the server used). */
  closed: Promise<number>;
  send(frame: unknown): void;
}

export interface Script {
  /** Answer auth.response with this instead of auth.ok: an auth.error and a close code. */
  reject?: { code: string; retryAfter?: number; close: number };
  /** Right after auth.ok. */
  afterAuth?: (conn: Conn) => void;
  /** Don't answer pings (a server that stops answering). */
  silent?: boolean;
  /** Don't ack signals. */
  noAck?: boolean;
  heartbeat?: { interval: number; timeout: number };
  maxMessageBytes?: number;
}

export interface TestServer {
  url: string;
  port: number;
  publicKey: string;
  conns: Conn[];
  close(): Promise<void>;
}

export async function createTestServer(
  script: (n: number) => Script = () => ({}),
  options: { port?: number; identity?: Identity } = {},
): Promise<TestServer> {
  const identity = options.identity ?? (await Identity.generate());
  const wss = new WebSocketServer({ host: '127.0.0.1', port: options.port ?? 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const port = (wss.address() as AddressInfo).port;
  const url = `ws://127.0.0.1:${port}/`;
  const conns: Conn[] = [];

  wss.on('connection', (ws) => {
    const n = conns.length + 1;
    const s = script(n);
    let closedResolve: (code: number) => void = () => {};
    const conn: Conn = {
      n,
      ws,
      received: [],
      closed: new Promise((resolve) => {
        closedResolve = resolve;
      }),
      send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    };
    conns.push(conn);
    ws.on('close', (code) => closedResolve(code));
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    conn.send({
      type: 'auth.challenge',
      v: 1,
      nonce: encodeBase64url(nonce),
      serverKey: identity.publicKey,
      heartbeat: s.heartbeat ?? { interval: 25_000, timeout: 10_000 },
      limits: { maxMessageBytes: s.maxMessageBytes ?? 65_536 },
    });
    let authed = false;
    ws.on('message', async (data) => {
      const m = JSON.parse(String(data)) as Record<string, unknown>;
      if (!authed) {
        const verdict = await verifyChallenge(m, {
          nonce,
          origins: [url],
          serverKey: identity.publicKey,
          now: Date.now(),
        });
        if (!verdict.ok) return ws.close(4001);
        if (s.reject) {
          conn.send({ type: 'auth.error', code: s.reject.code, retryAfter: s.reject.retryAfter });
          return ws.close(s.reject.close);
        }
        authed = true;
        conn.publicKey = verdict.publicKey;
        const signature = await createServerProof({
          identity,
          origin: verdict.origin,
          nonce,
          response: verdict.response,
        });
        conn.send({ type: 'auth.ok', v: 1, sessionId: `s${n}`, signature });
        s.afterAuth?.(conn);
        return;
      }
      conn.received.push(m);
      if (m.type === 'ping' && !s.silent) conn.send({ type: 'pong', t: m.t });
      if (m.type === 'signal' && !s.noAck) conn.send({ type: 'ack', id: m.id });
    });
  });

  return {
    url,
    port,
    publicKey: identity.publicKey,
    conns,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}
