import {
  createServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Server as TlsServer } from 'node:tls';
import { WebSocketServer } from 'ws';
import { decodeBase64url } from '../protocol/base64url.js';
import { CloseCode, KEY_BYTES, MAX_ORIGINS } from '../protocol/constants.js';
import { normalizeOrigin } from '../protocol/origin.js';
import { ClusterSessions, SharedFailureRateLimiter } from './cluster/index.js';
import { Connection, type ServerContext } from './connection.js';
import { withDeadline } from './deadline.js';
import { closeSpread, type Spread } from './drain.js';
import { HandshakeQueue } from './handshake-queue.js';
import { Log } from './logger.js';
import { ServerMetrics } from './metrics.js';
import { resolveOptions, type SignalingServerOptions } from './options.js';
import { PresenceHub } from './presence.js';
import { answerProbe, type ProbeSource, pathOf, type SignalingServerHealth } from './probes.js';
import { FailureRateLimiter } from './rate-limit.js';
import { SessionRegistry, type Sessions } from './sessions.js';
import { packageVersion } from './version.js';

/**
 * Upgrades and handshake verifications started per event-loop turn, ms, before yielding to other
 * sockets and timers. Small enough that sessions stay responsive in a reconnect storm (server
 * event-loop delay p99 in `bench/scale.js` with the default backoff, medians of three storms: 86 ms
 * with neither queued, 34–81 ms with verifications queued, 44 ms with upgrades queued too), large
 * enough that yielding costs nothing measurable per handshake (`bench/server.js`, runs alternated).
 */
const HANDSHAKE_BUDGET_MS = 5;

/** How long `drain()` spreads its closes over by default, ms (`serve --drain-ms`). */
export const DEFAULT_DRAIN_MS = 10_000;

/** What {@link SignalingServer.stats} counts. */
export interface SignalingServerStats {
  /** Open sockets, authenticated or not. */
  connections: number;
  /** Authenticated sessions. */
  sessions: number;
  /** Distinct public keys online. */
  keysOnline: number;
}

/** A running reference server, as `createSignalingServer` resolves it. */
export interface SignalingServer {
  /** The URL to dial, e.g. `ws://127.0.0.1:41234/` (a wildcard host is shown as loopback). */
  readonly url: string;
  /** The bound port. */
  readonly port: number;
  /** The server's public key (base64url): what clients pin. */
  readonly publicKey: string;
  /** The normalized origins the server accepts proofs for. */
  readonly origins: readonly string[];
  /** Live counts, e.g. for a health endpoint. */
  stats(): SignalingServerStats;
  /** What `GET /healthz` answers: the counts, readiness, version, uptime and, in a cluster, Redis' state. */
  health(): SignalingServerHealth;
  /**
   * Answers `GET /healthz`, `GET /readyz` and (with `metrics`) `GET /metrics` and returns `true`; any
   * other path is left alone (`false`). A server of its own does this already; attached to your
   * `server`, call it first in your request handler (docs/operations.md).
   */
  handleRequest(request: IncomingMessage, response: ServerResponse): boolean;
  /**
   * Drains the node for a restart: `/readyz` answers 503 at once and new upgrades get HTTP 503, then
   * every socket is closed with 1012 (service restart), spread evenly over `within` ms (default
   * 10 000), so clients reconnect elsewhere a few at a time (in a cluster, each session leaves Redis as
   * it closes). Then as `close()`: waits up to `timeout` ms (default 2000) for the close handshakes,
   * terminates the rest, stops listening. Resolves once closed; idempotent (a drain or close under way
   * is returned).
   */
  drain(options?: { within?: number; timeout?: number }): Promise<void>;
  /**
   * Closes every socket with 1001 (going away), waits up to `timeout` ms (default 2000) for their close
   * handshakes, terminates the rest, and stops listening (an attached `server` is detached, not closed).
   * Idempotent; during a `drain()`, closes the sessions it has not closed yet at once.
   */
  close(options?: { timeout?: number }): Promise<void>;
  /** `await using server = await createSignalingServer(…)`: `close()` when the scope ends. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts the reference signaling server of protocol v1 and resolves once it listens.
 * @throws SignalingError `invalid-option` / `invalid-origin` / `invalid-key` for bad options; the
 *   listen error (e.g. `EADDRINUSE`) as it is.
 */
export async function createSignalingServer(options: SignalingServerOptions): Promise<SignalingServer> {
  const resolved = resolveOptions(options);
  const log = new Log(resolved.logger);
  const serverKey = decodeBase64url(resolved.identity.publicKey, KEY_BYTES, 'identity public key');
  const startedAt = performance.now();
  // Loaded before anything listens, so a missing prom-client fails the start, not the first scrape.
  // The gauges read the state below only when scraped, which the probes allow once it all exists.
  const metrics = resolved.metrics
    ? await ServerMetrics.create(
        {
          connections: () => connections.size,
          sessions: () => sessions.size,
          keysOnline: () => sessions.keys,
          watchedKeys: () => presence.watchedKeys,
          subscriptions: () => {
            let pairs = 0;
            for (const connection of connections) pairs += connection.subscriptions?.size ?? 0;
            return pairs;
          },
          handshakeQueueDepth: () => ctx.handshakes.depth,
          draining: () => stopping !== undefined,
          redisReady: () => cluster?.redisReady === true,
        },
        {
          version: packageVersion(),
          cluster: resolved.cluster !== undefined,
          maxConnections: resolved.maxConnections,
        },
      )
    : undefined;
  // Set once the server is assembled; until then every probe answers 503 (starting).
  let probes: ProbeSource | undefined;
  const handleRequest = (request: IncomingMessage, response: ServerResponse): boolean =>
    answerProbe(probes, metrics, request, response);

  const own = resolved.server === undefined;
  const http: HttpServer =
    (resolved.server as HttpServer | undefined) ??
    createServer((request, response) => {
      if (!handleRequest(request, response)) upgradeRequired(request, response);
    });
  const startedListening = !http.listening;
  if (startedListening) await listen(http, resolved.port, resolved.host);
  const address = http.address() as AddressInfo;
  const secure = http instanceof TlsServer;
  const urlHost = hostForUrl(address.address);
  const url = `${secure ? 'wss' : 'ws'}://${urlHost}:${address.port}${resolved.path}`;
  const origins = (resolved.origins ?? defaultOrigins(secure, resolved.host, address, resolved.path)).map(
    (origin) => normalizeOrigin(origin),
  );

  // ws's maxPayload is one number per server, so it holds the post-auth limit (ws closes 1009 beyond
  // it before buffering the frame); the stricter 4 KiB pre-auth limit is checked per frame in
  // Connection. An unauthenticated socket can thus make the server buffer one frame of at most
  // maxMessageBytes before being closed.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: resolved.maxMessageBytes,
    perMessageDeflate: false,
    clientTracking: false,
  });

  const registry = new SessionRegistry((key, online) =>
    cluster ? cluster.localChanged(key, online) : presence.changed(key, online),
  );
  const cluster =
    resolved.cluster &&
    new ClusterSessions(registry, (key, online) => presence.changed(key, online), log, resolved.cluster);
  const sessions: Sessions = cluster ?? registry;
  const presence = new PresenceHub(cluster ? cluster.presence : { state: (key) => registry.isOnline(key) });
  const limiter =
    resolved.rateLimit === false
      ? undefined
      : cluster
        ? new SharedFailureRateLimiter(resolved.rateLimit, cluster)
        : new FailureRateLimiter(resolved.rateLimit);
  if (cluster) {
    try {
      await cluster.start();
    } catch (error) {
      // A server that failed to start must leave nothing behind: no open port answering 426, no handle
      // keeping the process alive.
      await cluster.close();
      if (startedListening) await closeHttp(http);
      throw error;
    }
  }
  const connections = new Set<Connection>();
  let drained: (() => void) | undefined;
  const ctx: ServerContext = {
    options: resolved,
    origins,
    serverKey,
    challengeTail: `${JSON.stringify({
      serverKey: resolved.identity.publicKey,
      heartbeat: resolved.heartbeat,
      limits: { maxMessageBytes: resolved.maxMessageBytes },
    }).slice(1)}`,
    sessions,
    presence,
    limiter,
    handshakes: new HandshakeQueue(HANDSHAKE_BUDGET_MS),
    log,
    metrics,
    connections,
    onClosed(connection) {
      connections.delete(connection);
      if (connections.size === 0) drained?.();
    },
  };

  /** Set when a drain or close begins: what the sockets still open are closed with. */
  let stopping: { code: number; reason: string } | undefined;
  let closing: Promise<void> | undefined;
  let spread: Spread | undefined;

  /** A load balancer moves on from a 503 to another node. */
  const refuseStopping = (socket: Duplex): void => {
    metrics?.connectionRefused('draining');
    reject(socket, 503, 'Service Unavailable');
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (pathOf(request) !== resolved.path) {
      // On a shared server, other paths may belong to someone else's upgrade handler.
      if (own || http.listenerCount('upgrade') === 1) reject(socket, 404, 'Not Found');
      return;
    }
    if (stopping) {
      refuseStopping(socket);
      return;
    }
    // The upgrade waits its turn with the handshakes: in a storm the upgrades (ws's accept key, the
    // 101, the socket's set-up, the challenge) are a good part of the work. The http server has dropped
    // its error listener from the socket and ws adds its own only in handleUpgrade: until then this one
    // keeps an error on the waiting socket from becoming an uncaught exception.
    const dropOnError = () => socket.destroy();
    socket.on('error', dropOnError);
    ctx.handshakes.run(async () => {
      socket.off('error', dropOnError);
      if (stopping) {
        refuseStopping(socket);
        return;
      }
      upgrade(request, socket, head);
    });
  };
  const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Corked, the 101 response and the challenge (sent synchronously in the callback below) leave in
    // one write instead of two.
    socket.cork();
    wss.handleUpgrade(request, socket, head, (ws) => {
      const rateKey = resolved.rateLimit === false ? remoteAddress(request) : resolved.rateLimit.key(request);
      const connection = new Connection(ctx, ws, request, rateKey);
      connections.add(connection);
      if (stopping) {
        connection.close(stopping.code, stopping.reason);
        return;
      }
      if (connections.size > resolved.maxConnections) {
        metrics?.connectionRefused('full');
        log.warn({ connections: connections.size }, 'connection limit reached, closing 1013');
        connection.close(CloseCode.TRY_LATER, 'server full');
        return;
      }
      if (log.debugEnabled) log.debug({ connection: connection.id, address: rateKey }, 'connected');
      connection.start();
    });
    socket.uncork();
  };
  http.on('upgrade', onUpgrade);

  // One sweep for every socket instead of timers each: refuses sockets past `authTimeout`, finds the
  // silent ones, forgets ended rate-limit windows. Its period (an eighth of the shorter deadline,
  // 20 ms to 1 s) bounds how late either deadline is enforced.
  const silence = resolved.heartbeat.interval + resolved.heartbeat.timeout;
  const sweepEvery = Math.min(1000, Math.max(20, Math.floor(Math.min(silence, resolved.authTimeout) / 8)));
  let sweeps = 0;
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const connection of connections) {
      if (!connection.authenticated) connection.checkAuthDeadline(now);
      else if (now - connection.lastSeen > silence) {
        log.info({ connection: connection.id, sessionId: connection.sessionId }, 'silent socket terminated');
        connection.terminate();
      }
    }
    if (limiter && ++sweeps % 30 === 0) limiter.sweep();
  }, sweepEvery);
  sweeper.unref();

  log.info({ url, origins, publicKey: resolved.identity.publicKey }, 'listening');

  /**
   * Closes every socket with `code`, spread over `within` ms (at once for 0), then waits up to `timeout`
   * ms for their close handshakes, terminates the rest, leaves the cluster and stops listening.
   */
  const shutdown = (code: number, reason: string, within: number, timeout: number): Promise<void> => {
    closing ??= (async () => {
      stopping = { code, reason };
      const allClosed = new Promise<void>((resolve) => {
        drained = resolve;
        if (connections.size === 0) resolve();
      });
      if (within > 0) {
        log.info({ connections: connections.size, within }, 'draining');
        spread = closeSpread([...connections], within, (connection) => connection.close(code, reason));
        await spread.done;
      }
      log.info({ connections: connections.size }, 'closing');
      clearInterval(sweeper);
      for (const connection of connections) connection.close(code, reason);
      if (
        await withDeadline(
          allClosed.then(() => false),
          timeout,
          () => true,
        )
      ) {
        for (const connection of connections) connection.terminate();
        await allClosed;
      }
      http.off('upgrade', onUpgrade);
      await cluster?.close();
      wss.close();
      if (own) await closeHttp(http);
    })();
    return closing;
  };

  const stats = (): SignalingServerStats => ({
    connections: connections.size,
    sessions: sessions.size,
    keysOnline: sessions.keys,
  });
  const notReady = () =>
    stopping ? 'draining' : connections.size >= resolved.maxConnections ? 'full' : undefined;
  const health = (): SignalingServerHealth => ({
    ready: notReady() === undefined,
    draining: stopping !== undefined,
    version: packageVersion(),
    uptimeSeconds: Math.round(performance.now() - startedAt) / 1000,
    ...stats(),
    ...(cluster
      ? { cluster: { nodeId: cluster.nodeId, redis: cluster.redisReady ? 'ready' : 'unreachable' } }
      : {}),
  });
  probes = { health, notReady };

  const server: SignalingServer = {
    url,
    port: address.port,
    publicKey: resolved.identity.publicKey,
    origins,
    stats,
    health,
    handleRequest,
    drain: ({ within = DEFAULT_DRAIN_MS, timeout = 2000 } = {}) =>
      shutdown(CloseCode.RESTART, 'server restarting', within, timeout),
    close({ timeout = 2000 } = {}) {
      spread?.hurry();
      return shutdown(CloseCode.GOING_AWAY, 'server shutting down', 0, timeout);
    },
    [Symbol.asyncDispose]: () => server.close(),
  };
  return server;
}

function upgradeRequired(_request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
  response.end('This is a WebSocket signaling server.\n');
}

function listen(http: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    http.once('error', onError);
    http.listen(port, host, () => {
      http.off('error', onError);
      resolve();
    });
  });
}

function closeHttp(http: HttpServer): Promise<void> {
  return new Promise<void>((resolve) => {
    http.close(() => resolve());
    http.closeAllConnections();
  });
}

function reject(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function remoteAddress(request: IncomingMessage): string {
  return request.socket.remoteAddress ?? 'unknown';
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);
const LOOPBACKS = new Set(['127.0.0.1', 'localhost', '::1']);

function hostForUrl(address: string): string {
  if (WILDCARDS.has(address)) return '127.0.0.1';
  return address.includes(':') ? `[${address}]` : address;
}

/** The loopback URLs of the bound port, plus the configured host when it is a specific other one. */
function defaultOrigins(secure: boolean, host: string, address: AddressInfo, path: string): string[] {
  const scheme = secure ? 'wss' : 'ws';
  const hosts = ['127.0.0.1', 'localhost'];
  if (address.family === 'IPv6' || host === '::1' || host === '::') hosts.push('[::1]');
  if (!WILDCARDS.has(host) && !LOOPBACKS.has(host)) hosts.push(host.includes(':') ? `[${host}]` : host);
  return hosts.slice(0, MAX_ORIGINS).map((h) => `${scheme}://${h}:${address.port}${path}`);
}
