/**
 * A raw protocol-v1 client for testing the reference server over a real `ws` socket: every frame it
 * receives is queued, `next()` waits for the next one (optionally of a type), `closed` resolves with
 * the close code. `authenticate()` performs the handshake with `createAuthResponse`.
 */
import WebSocket from 'ws';
import { Identity } from '../../src/identity/index.js';
import { createAuthResponse } from '../../src/protocol/auth.js';
import type { AuthChallenge, AuthOk, AuthResponse } from '../../src/protocol/messages.js';

export type Frame = { type: string; [field: string]: unknown };

export interface CloseInfo {
  code: number;
  reason: string;
}

export class RawClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<CloseInfo>;
  private waiters: Array<() => void> = [];
  private closeInfo: CloseInfo | undefined;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.wake();
      });
    });
    ws.on('message', (data, isBinary) => {
      this.frames.push(isBinary ? { type: '<binary>' } : (JSON.parse(data.toString()) as Frame));
      this.wake();
    });
    ws.on('error', () => {
      // Surfaces as `closed` (code 1006); tests assert on that.
    });
  }

  /** Opens a socket to `url` and resolves once it is open. */
  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      const client = new RawClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  /**
   * The next frame not yet taken (of `type` when given; earlier frames of other types stay queued).
   * Rejects when the socket closes first or after `timeout` ms.
   */
  async next(type?: string, timeout = 5000): Promise<Frame> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const index = this.frames.findIndex((f) => type === undefined || f.type === type);
      if (index !== -1) return this.frames.splice(index, 1)[0] as Frame;
      if (this.closeInfo)
        throw new Error(`closed (${this.closeInfo.code}) while waiting for ${type ?? 'a frame'}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${type ?? 'a frame'}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves with the close; rejects after `timeout` ms. */
  async waitClosed(timeout = 5000): Promise<CloseInfo> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        this.closed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out waiting for close')), timeout);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends an object as JSON, or a string / bytes as they are. */
  send(frame: object | string | Buffer): void {
    this.ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
  }

  close(): void {
    this.ws.close();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export interface AuthenticatedClient {
  client: RawClient;
  identity: Identity;
  challenge: AuthChallenge;
  response: AuthResponse;
  ok: AuthOk;
}

/**
 * Connects to `url` and authenticates as `identity` (a new one by default), signing for `origin`
 * (default `url`). Throws when the server does not answer `auth.ok`.
 */
export async function authenticate(
  url: string,
  options: { identity?: Identity; origin?: string; socket?: WebSocket.ClientOptions } = {},
): Promise<AuthenticatedClient> {
  const identity = options.identity ?? (await Identity.generate());
  const client = await RawClient.open(url, options.socket);
  const challenge = (await client.next('auth.challenge')) as unknown as AuthChallenge;
  const response = await createAuthResponse(challenge, { identity, origin: options.origin ?? url });
  client.send(response);
  const reply = await client.next();
  if (reply.type !== 'auth.ok') throw new Error(`expected auth.ok, got ${JSON.stringify(reply)}`);
  return { client, identity, challenge, response, ok: reply as unknown as AuthOk };
}
