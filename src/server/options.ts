import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { SignalingError } from '../errors.js';
import type { Signer } from '../identity/identity.js';
import {
  DEFAULT_AUTH_TIMEOUT_MS,
  DEFAULT_HEARTBEAT,
  DEFAULT_MAX_MESSAGE_BYTES,
  MAX_ORIGINS,
  PRE_AUTH_MAX_BYTES,
} from '../protocol/constants.js';
import type { ApplicationMessage, HeartbeatSettings, IceServer } from '../protocol/messages.js';
import { normalizeOrigin } from '../protocol/origin.js';
import { type ClusterOptions, isRedisUrl } from './cluster/index.js';
import type { ServerLogger } from './logger.js';

/** One authenticated socket, as `onMessage` sees it. */
export interface SessionHandle {
  /** The authenticated public key (base64url). */
  readonly publicKey: string;
  /** The `sessionId` this session was given in `auth.ok`. */
  readonly sessionId: string;
  /**
   * Sends `message` as JSON. `false` when the socket is closing or too slow to take it (it is then
   * closed 1013). @throws SignalingError `too-large` beyond `limits.maxMessageBytes`
   */
  send(message: { type: string; [field: string]: unknown }): boolean;
  /** Closes the socket (default 1000). */
  close(code?: number, reason?: string): void;
}

/** What `authorize` and `iceServers` learn about the connection being authenticated. */
export interface AuthContext {
  /** The origin (normalized URL) the client's proof verified against. */
  origin: string;
  /** The rate limiter's key for this socket: the remote address unless `rateLimit.key` says otherwise. */
  remoteAddress: string;
  /** The HTTP upgrade request (headers, URL), e.g. to read a token or a proxy header. */
  request: IncomingMessage;
}

/** Options of `createSignalingServer`; only `identity` is required. */
export interface SignalingServerOptions {
  /**
   * The server's Ed25519 identity. Its public key is the challenge's `serverKey` and it signs `auth.ok`
   * (the server's proof), so clients can pin it. Required.
   */
  identity: Signer;
  /** Interface to listen on. Default `'127.0.0.1'` (loopback only). Ignored with `server`. */
  host?: string;
  /** Port to listen on; `0` picks a free one (read it back from `.port`). Default `0`. Ignored with `server` when it already listens. */
  port?: number;
  /**
   * An existing `http.Server` / `https.Server` to attach to (its other requests are left alone). When it
   * is not listening yet, it is started on `host`/`port`. `close()` detaches but does not close it.
   */
  server?: HttpServer | HttpsServer;
  /** URL path the WebSocket endpoint answers on. Default `'/'`. Upgrades to other paths get 400. */
  path?: string;
  /**
   * The URLs clients dial to reach this server (the transcript's origin), at most 8. Default: the
   * loopback URLs of the bound port, `ws://127.0.0.1:PORT/` and `ws://localhost:PORT/` (with `path`),
   * plus `ws://HOST:PORT/` when `host` names a specific other interface. Behind a proxy or TLS
   * terminator, list the public URL, e.g. `wss://signal.example.com/`.
   */
  origins?: readonly (string | URL)[];
  /**
   * The application's say on who may connect, called after the signature verified. Returning (or
   * resolving to) `false`, or throwing, refuses with `denied` / 4001. Default: every valid key.
   */
  authorize?: (publicKey: string, context: AuthContext) => boolean | Promise<boolean>;
  /**
   * ICE servers handed to an authenticated client in `auth.ok` (e.g. TURN credentials minted for its
   * key). Omitted when it returns an empty list; when it throws, the error is logged and `auth.ok` is
   * sent without them (a client can still use its own STUN servers). Default: none.
   */
  iceServers?: (publicKey: string, context: AuthContext) => IceServer[] | Promise<IceServer[]>;
  /**
   * Handles application messages (any `type` the protocol does not reserve) from authenticated
   * sockets. Return `true` when handled; otherwise, as without this option, the client gets
   * `error` `unknown-type`. A throw is logged and answered with `error` `server-error`.
   */
  onMessage?: (message: ApplicationMessage, session: SessionHandle) => boolean | undefined;
  /**
   * The heartbeat announced in the challenge. Clients ping every `interval` ms; the server terminates
   * a socket that sent nothing for `interval + timeout`. Default `{ interval: 25000, timeout: 10000 }`.
   */
  heartbeat?: Partial<HeartbeatSettings>;
  /** Milliseconds an unauthenticated socket may stay open (and its nonce stays valid). Default 10000. */
  authTimeout?: number;
  /** Size and count limits per socket, per key and per server. */
  limits?: ServerLimitsOptions;
  /** Rate limiting of failed handshakes per remote address; `false` turns it off. */
  rateLimit?: RateLimitOptions | false;
  /** Structured logs (pino-compatible: `logger.info(fields, message)`). Default: silent. */
  logger?: ServerLogger;
  /**
   * Run as one node of a cluster over Redis (needs `@redis/client` installed): signals, presence, the
   * per-key session limit and the failed-handshake limit span every node. Start every node with the
   * same `identity` and the same `origins`. See docs/cluster.md. Default: a single node, no Redis.
   */
  cluster?: ClusterOptions;
  /**
   * Serve Prometheus metrics at `GET /metrics` on the server's own port (needs `prom-client` installed;
   * attached to your `server`, `handleRequest` answers it). Off by default: the port is public, so
   * restrict the path at your proxy or firewall. docs/operations.md lists the metrics. Default `false`.
   */
  metrics?: boolean;
}

/** The server's resource limits (`limits` of {@link SignalingServerOptions}). */
export interface ServerLimitsOptions {
  /** Largest frame after authentication, in bytes; announced in the challenge. Default 65536 (64 KiB). */
  maxMessageBytes?: number;
  /**
   * Largest send buffer of one socket, in bytes (what the server has queued for a slow reader). A send
   * beyond it closes that socket with 1013; a sender whose signal it was gets an error. Default 1 MiB.
   */
  maxBufferedBytes?: number;
  /** Live sessions one key may hold; a newer one closes the oldest with 4009 (replaced). Default 16. */
  maxSessionsPerKey?: number;
  /** Open sockets (authenticated or not); beyond it new sockets are closed with 1013. Default 10000. */
  maxConnections?: number;
}

/**
 * Rate limiting of failed handshakes (`rateLimit` of {@link SignalingServerOptions}); refused ones get
 * `rate-limited` / 4029. Not counted: a handshake still unfinished `authTimeout` after the socket
 * opened although the client had answered, and an answer read after its nonce expired (on a loaded
 * node, the node's delay; counting it would lock out every honest client behind one address).
 */
export interface RateLimitOptions {
  /** Failed handshakes an address may make per window before it is refused. Default 10. */
  maxFailures?: number;
  /** The window, in ms; the count resets when it ends. Default 60000. */
  windowMs?: number;
  /**
   * Which address a socket counts against. Default: the TCP peer address. Behind a reverse proxy,
   * read your proxy's header here (only if the proxy sets it; otherwise clients can forge it).
   */
  key?: (request: IncomingMessage) => string;
  /** Addresses remembered at once; the oldest is forgotten beyond it, so memory stays bounded. Default 100000. */
  maxAddresses?: number;
}

/** Options with every default filled in and checked. */
export interface ResolvedOptions {
  identity: Signer;
  host: string;
  port: number;
  path: string;
  server: HttpServer | HttpsServer | undefined;
  origins: readonly string[] | undefined;
  authorize: SignalingServerOptions['authorize'];
  iceServers: SignalingServerOptions['iceServers'];
  onMessage: SignalingServerOptions['onMessage'];
  heartbeat: HeartbeatSettings;
  authTimeout: number;
  preAuthMaxBytes: number;
  maxMessageBytes: number;
  maxBufferedBytes: number;
  maxSessionsPerKey: number;
  maxConnections: number;
  rateLimit:
    | (Required<Omit<RateLimitOptions, 'key'>> & { key: (request: IncomingMessage) => string })
    | false;
  logger: ServerLogger | undefined;
  cluster: ClusterOptions | undefined;
  metrics: boolean;
}

/** Fills in defaults and validates `options`. @throws SignalingError `invalid-key`, `invalid-option`, `invalid-origin` */
export function resolveOptions(options: SignalingServerOptions): ResolvedOptions {
  if (
    !options ||
    typeof options.identity?.sign !== 'function' ||
    typeof options.identity.publicKey !== 'string'
  ) {
    throw new SignalingError(
      'invalid-key',
      'createSignalingServer needs an `identity` (an Identity or Signer)',
    );
  }
  const path = options.path ?? '/';
  if (!path.startsWith('/')) throw new SignalingError('invalid-option', '`path` must start with "/"');
  if (
    options.origins !== undefined &&
    (options.origins.length === 0 || options.origins.length > MAX_ORIGINS)
  ) {
    throw new SignalingError('invalid-origin', `a server has 1 to ${MAX_ORIGINS} origins`);
  }
  const limits = options.limits ?? {};
  const rate = options.rateLimit;
  return {
    identity: options.identity,
    host: options.host ?? '127.0.0.1',
    port: positive('port', options.port ?? 0, true),
    path,
    server: options.server,
    // Normalized here, so a bad origin fails before anything listens.
    origins: options.origins?.map((origin) => normalizeOrigin(origin)),
    authorize: options.authorize,
    iceServers: options.iceServers,
    onMessage: options.onMessage,
    heartbeat: {
      interval: positive('heartbeat.interval', options.heartbeat?.interval ?? DEFAULT_HEARTBEAT.interval),
      timeout: positive('heartbeat.timeout', options.heartbeat?.timeout ?? DEFAULT_HEARTBEAT.timeout),
    },
    authTimeout: positive('authTimeout', options.authTimeout ?? DEFAULT_AUTH_TIMEOUT_MS),
    preAuthMaxBytes: PRE_AUTH_MAX_BYTES,
    maxMessageBytes: atLeast(
      'limits.maxMessageBytes',
      limits.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      PRE_AUTH_MAX_BYTES,
    ),
    maxBufferedBytes: positive('limits.maxBufferedBytes', limits.maxBufferedBytes ?? 1024 * 1024),
    maxSessionsPerKey: positive('limits.maxSessionsPerKey', limits.maxSessionsPerKey ?? 16),
    maxConnections: positive('limits.maxConnections', limits.maxConnections ?? 10_000),
    rateLimit:
      rate === false
        ? false
        : {
            maxFailures: positive('rateLimit.maxFailures', rate?.maxFailures ?? 10),
            windowMs: positive('rateLimit.windowMs', rate?.windowMs ?? 60_000),
            maxAddresses: positive('rateLimit.maxAddresses', rate?.maxAddresses ?? 100_000),
            key: rate?.key ?? ((request) => request.socket.remoteAddress ?? 'unknown'),
          },
    logger: options.logger,
    cluster: options.cluster && checkCluster(options.cluster),
    metrics: flag('metrics', options.metrics),
  };
}

function positive(name: string, value: number, allowZero = false): number {
  if (!Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new SignalingError(
      'invalid-option',
      `\`${name}\` must be a ${allowZero ? 'non-negative' : 'positive'} integer`,
    );
  }
  return value;
}

function flag(name: string, value: boolean | undefined): boolean {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new SignalingError('invalid-option', `\`${name}\` must be true or false`);
  }
  return value === true;
}

function atLeast(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new SignalingError('invalid-option', `\`${name}\` must be an integer ≥ ${min}`);
  }
  return value;
}

function checkCluster(cluster: ClusterOptions): ClusterOptions {
  const { redis } = cluster;
  const valid = Array.isArray(redis)
    ? redis.length > 0 && redis.every(isRedisUrl)
    : isRedisUrl(redis) || (typeof redis === 'object' && redis !== null);
  if (!valid) {
    throw new SignalingError(
      'invalid-option',
      '`cluster.redis` must be a redis:// or rediss:// URL, a non-empty list of them, or client options',
    );
  }
  if (cluster.password !== undefined && typeof cluster.password !== 'string') {
    throw new SignalingError('invalid-option', '`cluster.password` must be a string');
  }
  if (cluster.leaseMs !== undefined) positive('cluster.leaseMs', cluster.leaseMs);
  return cluster;
}
