import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { SignalingError } from '../errors.js';
import { pooledRandomBytes } from '../node-ed25519.js';
import { createServerProof, verifyChallenge } from '../protocol/auth.js';
import { encodeBase64url } from '../protocol/base64url.js';
import { CloseCode, MAX_ID_LENGTH, NONCE_BYTES, PROTOCOL_VERSION } from '../protocol/constants.js';
import type { ApplicationMessage, AuthErrorCode, IceServer, SignalOut } from '../protocol/messages.js';
import { validateMessage } from '../protocol/parse.js';
import { validateIceServer } from '../stun/validate.js';
import type { HandshakeQueue } from './handshake-queue.js';
import { keyPrefix, type Log } from './logger.js';
import type { ServerMetrics } from './metrics.js';
import type { AuthContext, ResolvedOptions, SessionHandle } from './options.js';
import type { Peer } from './peer.js';
import type { PresenceHub } from './presence.js';
import type { FailureRateLimiter } from './rate-limit.js';
import { relaySignal } from './relay.js';
import type { Sessions } from './sessions.js';

/** What every connection of one server shares. */
export interface ServerContext {
  readonly options: ResolvedOptions;
  /** Normalized origins the server rebuilds the transcript for. */
  readonly origins: readonly string[];
  readonly serverKey: Uint8Array;
  /** The challenge after its nonce: `"serverKey":…,"heartbeat":…,"limits":…}`. */
  readonly challengeTail: string;
  readonly sessions: Sessions;
  readonly presence: PresenceHub;
  readonly limiter: FailureRateLimiter | undefined;
  /** Where handshakes wait for their verification (a time budget per event-loop turn). */
  readonly handshakes: HandshakeQueue;
  readonly log: Log;
  /** Prometheus metrics, with the `metrics` option. */
  readonly metrics: ServerMetrics | undefined;
  /** Every open socket, authenticated or not, until its `close` event. */
  readonly connections: Set<Connection>;
  /** Called when a socket has fully closed (the server's `close()` waits on these). */
  onClosed(connection: Connection): void;
}

/**
 * `challenged`: the challenge is out, waiting for the one `auth.response`. `verifying`: it arrived and
 * is being checked. `open`: authenticated. `closed`: closing or closed, out of every registry.
 */
type State = 'challenged' | 'verifying' | 'open' | 'closed';

/** Close codes for the `auth.error` verdicts of the handshake checks. */
const CLOSE_FOR: Record<AuthErrorCode, number> = {
  'unsupported-version': CloseCode.UNSUPPORTED_VERSION,
  malformed: CloseCode.INVALID_PAYLOAD,
  expired: CloseCode.EXPIRED,
  denied: CloseCode.AUTH_DENIED,
  'rate-limited': CloseCode.RATE_LIMITED,
};

let nextSerial = 0;

/** Where a socket's listeners (shared by every socket, see below) find their connection. */
const OWNER = Symbol('connection');
type OwnedSocket = WebSocket & { [OWNER]: Connection };
const SPENT_NONCE = new Uint8Array(0);

/** One socket: its handshake, then its session (heartbeat, relay, presence) until it closes. */
export class Connection implements Peer {
  private readonly serial = ++nextSerial;
  publicKey = '';
  sessionId = '';
  subscriptions: Set<string> | undefined;
  /** When the last frame of any kind arrived (ms since the epoch); the heartbeat sweep reads it. */
  lastSeen: number;
  private state: State = 'challenged';
  /** The challenge's nonce; {@link SPENT_NONCE} once the handshake is over, so a session does not hold it. */
  private nonce: Uint8Array = pooledRandomBytes(NONCE_BYTES);
  private readonly openedAt = Date.now();

  constructor(
    private readonly ctx: ServerContext,
    private readonly ws: WebSocket,
    /** Only the handshake's hooks read it: dropped once it is over, so an idle session does not hold it. */
    private request: IncomingMessage | undefined,
    /** The rate limiter's key for this socket (normally its remote address). */
    readonly address: string,
  ) {
    this.lastSeen = this.openedAt;
    // One set of listener functions for every socket, finding the connection through the socket,
    // instead of closures per socket: an idle session's heap is what a node's peer count is made of.
    (ws as OwnedSocket)[OWNER] = this;
    ws.on('message', onSocketMessage);
    ws.on('ping', onSocketPing);
    ws.on('pong', onSocketPing);
    ws.on('error', onSocketError);
    ws.on('close', onSocketClose);
  }

  /** A short id for logs. */
  get id(): string {
    return `c${this.serial}`;
  }

  get authenticated(): boolean {
    return this.state === 'open';
  }

  /** Sends the challenge (or refuses at once an address that is rate limited or a full server). */
  start(): void {
    const retryAfter = this.ctx.limiter?.retryAfter(this.address) ?? 0;
    if (retryAfter > 0) {
      this.refuse('rate-limited', 'rate limited', { retryAfter });
      return;
    }
    // Only the nonce differs between challenges; the rest is built once per server.
    this.ws.send(
      `{"type":"auth.challenge","v":${PROTOCOL_VERSION},"nonce":"${encodeBase64url(this.nonce)}",${this.ctx.challengeTail}`,
    );
  }

  /**
   * Called by the server's sweep (one timer for every socket, cheaper than a timer each): refuses a
   * socket still unauthenticated `authTimeout` after it opened.
   * - `verifying`: the client answered and the wait is the server's (its queue, a slow `authorize`),
   *   so the address is not charged: on a node taking a storm, that would lock out every honest client
   *   behind one NAT address (issue 14).
   * - `challenged`: no answer, charged, so one address cannot hold the socket slots one `authTimeout`
   *   after another. The refusal waits for this turn's I/O (`setImmediate` runs after the poll phase,
   *   the sweep before it): an answer that arrived while the event loop was busy is read first.
   */
  checkAuthDeadline(now: number): void {
    if (now - this.openedAt < this.ctx.options.authTimeout) return;
    if (this.state === 'verifying') {
      this.refuse('expired', 'the server did not finish the handshake in time', { charged: false });
    } else if (this.state === 'challenged') {
      setImmediate(() => {
        if (this.state === 'challenged') this.refuse('expired', 'authentication timed out');
      });
    }
  }

  /**
   * Queues a frame unless that would grow this socket's send buffer past `maxBufferedBytes`: a reader
   * that slow is closed with 1013 (try later) so the server's memory stays bounded.
   */
  send(text: string): boolean {
    if (this.state === 'closed' || this.ws.readyState !== WebSocket.OPEN) return false;
    const limit = this.ctx.options.maxBufferedBytes;
    if (this.ws.bufferedAmount + Buffer.byteLength(text) > limit) {
      this.ctx.log.warn(
        { connection: this.id, sessionId: this.sessionId, buffered: this.ws.bufferedAmount },
        'slow reader: send buffer full, closing 1013',
      );
      this.ctx.metrics?.slowReader();
      this.close(CloseCode.TRY_LATER, 'send buffer full');
      return false;
    }
    this.ws.send(text);
    return true;
  }

  /** Starts the close handshake and leaves the registries at once, so no one relays to a dying socket. */
  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.leave();
    this.ws.close(code, reason);
  }

  /** Drops the socket without a close handshake (it is silent: nothing would answer one). */
  terminate(): void {
    this.leave();
    this.ws.terminate();
  }

  private leave(): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.request = undefined;
    this.nonce = SPENT_NONCE;
    if (wasOpen) {
      this.ctx.sessions.remove(this);
      this.ctx.presence.removePeer(this);
    }
  }

  /**
   * ws reports protocol-level failures (bad UTF-8, a frame over maxPayload) here and closes itself.
   * @internal the socket's shared listeners call this and the two below
   */
  onSocketError(error: Error): void {
    this.ctx.log.debug({ connection: this.id, err: error.message }, 'socket error');
  }

  /** @internal */
  onClose(code: number): void {
    this.leave();
    if (this.ctx.log.debugEnabled) {
      this.ctx.log.debug(
        { connection: this.id, sessionId: this.sessionId || undefined, code, ms: Date.now() - this.openedAt },
        'closed',
      );
    }
    this.ctx.onClosed(this);
  }

  /** @internal */
  onFrame(data: Buffer, isBinary: boolean): void {
    this.lastSeen = Date.now();
    switch (this.state) {
      case 'open':
        this.onMessage(data, isBinary);
        return;
      case 'challenged':
      case 'verifying':
        this.onHandshakeFrame(data, isBinary);
        return;
      case 'closed':
        return;
    }
  }

  // ── Handshake ────────────────────────────────────────────────────────────────────────────────

  private onHandshakeFrame(data: Buffer, isBinary: boolean): void {
    // ws enforces the post-auth limit (its maxPayload); the 4 KiB pre-auth limit is checked here.
    if (data.length > this.ctx.options.preAuthMaxBytes) {
      this.refuse('malformed', 'frame too large before authentication', { closeCode: CloseCode.TOO_BIG });
      return;
    }
    if (isBinary) {
      this.refuse('malformed', 'binary frame', { closeCode: CloseCode.UNSUPPORTED_DATA });
      return;
    }
    const value = parseObject(data.toString());
    if (value === undefined) {
      this.refuse('malformed', 'not a JSON object with a type', { closeCode: CloseCode.INVALID_PAYLOAD });
      return;
    }
    if (value.type !== 'auth.response' || this.state === 'verifying') {
      // Only one frame is allowed before auth.ok: the one auth.response.
      this.refuse('malformed', 'expected one auth.response', { closeCode: CloseCode.POLICY });
      return;
    }
    this.state = 'verifying';
    this.ctx.handshakes.run(() =>
      this.authenticate(value).catch((error: unknown) => {
        this.ctx.log.error(
          { connection: this.id, err: errorMessage(error) },
          'handshake failed unexpectedly',
        );
        this.ctx.metrics?.handshakeFailed();
        this.close(CloseCode.SERVER_ERROR, 'server error');
      }),
    );
  }

  private async authenticate(value: Record<string, unknown>): Promise<void> {
    // A socket that closed or timed out while queued costs no verification.
    if (this.state !== 'verifying') return;
    const { options, limiter } = this.ctx;
    // A limited address is refused before any signature work, which is the point of limiting it.
    const retryAfter = limiter?.retryAfter(this.address) ?? 0;
    if (retryAfter > 0) return this.refuse('rate-limited', 'rate limited', { retryAfter });

    const now = Date.now();
    const nonceExpiresAt = this.openedAt + options.authTimeout;
    const result = await verifyChallenge(value, {
      nonce: this.nonce,
      origins: this.ctx.origins,
      serverKey: this.ctx.serverKey,
      now,
      nonceExpiresAt,
      verifier: 'node',
    });
    if (this.state !== 'verifying') return;
    if (!result.ok) {
      // An answer read after its nonce expired was in time or not depending on this node's load (it may
      // have waited in the queue): not charged. A clock off by more than 60 s is the client's: charged.
      const late = result.code === 'expired' && now > nonceExpiresAt;
      return this.refuse(result.code, result.code, { charged: !late });
    }

    const context: AuthContext = {
      origin: result.origin,
      remoteAddress: this.address,
      request: this.request as IncomingMessage,
    };
    if (options.authorize && !(await this.askAuthorize(result.publicKey, context))) {
      if (this.state === 'verifying') this.refuse('denied', 'denied');
      return;
    }
    if (this.state !== 'verifying') return;

    const proof = createServerProof({
      identity: options.identity,
      origin: result.origin,
      nonce: this.nonce,
      response: result.response,
    });
    // Without an iceServers hook there is nothing to wait for alongside the proof.
    const [signature, iceServers] = options.iceServers
      ? await Promise.all([proof, this.askIceServers(result.publicKey, context)])
      : [await proof, undefined];
    if (this.state !== 'verifying') return;
    this.publicKey = result.response.publicKey;
    this.sessionId = encodeBase64url(pooledRandomBytes(16));
    const { sessions } = this.ctx;
    if (sessions.announce) {
      // A cluster registers the session before auth.ok: whatever any node is asked next sees it.
      await sessions.announce(this, options.maxSessionsPerKey);
      if (this.state !== 'verifying') {
        sessions.remove(this);
        return;
      }
    }
    this.accept(signature, iceServers);
  }

  private accept(signature: string, iceServers: IceServer[] | undefined): void {
    this.state = 'open';
    this.request = undefined;
    this.nonce = SPENT_NONCE;
    this.ws.send(
      JSON.stringify({
        type: 'auth.ok',
        v: PROTOCOL_VERSION,
        sessionId: this.sessionId,
        signature,
        ...(iceServers && iceServers.length > 0 ? { iceServers } : {}),
      }),
    );
    this.ctx.log.info(
      {
        connection: this.id,
        sessionId: this.sessionId,
        key: keyPrefix(this.publicKey),
        address: this.address,
      },
      'authenticated',
    );
    this.ctx.metrics?.handshakeAccepted(Date.now() - this.openedAt);
    const replaced = this.ctx.sessions.add(this, this.ctx.options.maxSessionsPerKey);
    for (const old of replaced) old.close(CloseCode.REPLACED, 'replaced by a newer session');
  }

  private async askAuthorize(publicKey: string, context: AuthContext): Promise<boolean> {
    try {
      return (await this.ctx.options.authorize?.(publicKey, context)) === true;
    } catch (error) {
      this.ctx.log.error({ connection: this.id, err: errorMessage(error) }, 'authorize threw; denying');
      return false;
    }
  }

  private async askIceServers(publicKey: string, context: AuthContext): Promise<IceServer[] | undefined> {
    if (!this.ctx.options.iceServers) return undefined;
    try {
      const servers = await this.ctx.options.iceServers(publicKey, context);
      return Array.isArray(servers) ? this.validIceServers(servers) : undefined;
    } catch (error) {
      this.ctx.log.error({ connection: this.id, err: errorMessage(error) }, 'iceServers threw; sending none');
      return undefined;
    }
  }

  /**
   * The entries a browser's RTCPeerConnection would accept. Checked here, at the source, so clients can
   * hand `client.iceServers` to WebRTC as they are (and browsers do not carry the validator): one bad
   * entry in the configuration is dropped and logged, never failing the others or the session.
   */
  private validIceServers(servers: unknown[]): IceServer[] {
    const valid: IceServer[] = [];
    servers.forEach((entry, i) => {
      try {
        valid.push(validateIceServer(entry, `iceServers[${i}]`));
      } catch (error) {
        // The message names the entry and the fault, never a credential (IceServerError's contract).
        this.ctx.log.warn({ connection: this.id, err: errorMessage(error) }, 'iceServers entry dropped');
      }
    });
    return valid;
  }

  /**
   * Ends a handshake: `auth.error` first, then the close. The failure counts against the address unless
   * it is `rate-limited` itself or `charged` is false: a wait that was the server's, not the client's
   * (`checkAuthDeadline`, `authenticate`).
   */
  private refuse(
    code: AuthErrorCode,
    reason: string,
    { retryAfter = 0, closeCode = CLOSE_FOR[code], charged = code !== 'rate-limited' } = {},
  ): void {
    if (this.state === 'closed') return;
    if (charged) this.ctx.limiter?.recordFailure(this.address);
    // A second auth.response after auth.ok ends a session, not a handshake.
    if (this.state !== 'open') this.ctx.metrics?.handshakeRefused(code);
    this.ctx.log.info(
      { connection: this.id, address: this.address, code, closeCode, reason },
      'handshake refused',
    );
    if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: 'auth.error', code, ...(retryAfter > 0 ? { retryAfter } : {}) }));
    }
    // `denied` never says which check failed, in the close reason either.
    this.close(closeCode, code);
  }

  // ── Session ──────────────────────────────────────────────────────────────────────────────────

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.close(CloseCode.UNSUPPORTED_DATA, 'binary frame');
      return;
    }
    const value = parseObject(data.toString());
    if (value === undefined) {
      this.close(CloseCode.INVALID_PAYLOAD, 'not a JSON object with a type');
      return;
    }
    if (value.type === 'auth.response') {
      this.refuse('malformed', 'second auth.response', { closeCode: CloseCode.POLICY });
      return;
    }
    const parsed = validateMessage(value, 'client');
    if (!parsed.ok) {
      // A well-framed message with bad fields costs the sender that message, not the connection.
      this.sendError('malformed', value.id);
      return;
    }
    const message = parsed.message;
    switch (message.type) {
      case 'ping':
        this.send(`{"type":"pong","t":${message.t as number}}`);
        return;
      case 'signal': {
        const outcome = relaySignal(
          this,
          message as SignalOut,
          this.ctx.sessions,
          this.ctx.options.maxMessageBytes,
        );
        this.ctx.metrics?.signal(outcome);
        return;
      }
      case 'presence.subscribe':
        if (!this.ctx.presence.subscribe(this, message.keys as string[])) this.sendError('too-many-keys');
        return;
      case 'presence.unsubscribe':
        this.ctx.presence.unsubscribe(this, message.keys as string[]);
        return;
      default:
        if (!this.handleApplication(message as ApplicationMessage)) this.sendError('unknown-type', value.id);
    }
  }

  /** Hands an application message to `onMessage`; `true` when it took it. */
  private handleApplication(message: ApplicationMessage): boolean {
    const handler = this.ctx.options.onMessage;
    if (!handler) return false;
    try {
      return handler(message, this.handle()) === true;
    } catch (error) {
      this.ctx.log.error(
        { connection: this.id, sessionId: this.sessionId, type: message.type, err: errorMessage(error) },
        'onMessage threw',
      );
      this.sendError('server-error', message.id);
      return true;
    }
  }

  private sessionHandle: SessionHandle | undefined;
  private handle(): SessionHandle {
    this.sessionHandle ??= {
      publicKey: this.publicKey,
      sessionId: this.sessionId,
      send: (message) => {
        const text = JSON.stringify(message);
        const max = this.ctx.options.maxMessageBytes;
        if (text.length > max / 3 && Buffer.byteLength(text) > max) {
          throw new SignalingError('too-large', `message exceeds limits.maxMessageBytes (${max})`);
        }
        return this.send(text);
      },
      close: (code = CloseCode.NORMAL, reason = '') => this.close(code, reason),
    };
    return this.sessionHandle;
  }

  private sendError(code: string, id?: unknown): void {
    const withId = typeof id === 'string' && id.length >= 1 && id.length <= MAX_ID_LENGTH;
    this.send(JSON.stringify(withId ? { type: 'error', code, id } : { type: 'error', code }));
  }
}

// The listeners every socket shares (`this` is the socket).
function onSocketMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  (this as OwnedSocket)[OWNER].onFrame(data, isBinary);
}
function onSocketPing(this: WebSocket): void {
  (this as OwnedSocket)[OWNER].lastSeen = Date.now();
}
function onSocketError(this: WebSocket, error: Error): void {
  (this as OwnedSocket)[OWNER].onSocketError(error);
}
function onSocketClose(this: WebSocket, code: number): void {
  (this as OwnedSocket)[OWNER].onClose(code);
}

function parseObject(text: string): (Record<string, unknown> & { type: string }) | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' ? (value as Record<string, unknown> & { type: string }) : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
