import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerMetrics } from './metrics.js';

/**
 * Plain HTTP beside the WebSocket upgrade, on the server's own port: `GET /healthz` (liveness),
 * `GET /readyz` (readiness, for a load balancer or Kubernetes) and, with `metrics`, `GET /metrics`
 * (Prometheus). Attached to a `server` of yours, `server.handleRequest` answers them from your handler.
 */

/** What `GET /healthz` answers, as JSON (`server.health()`). */
export interface SignalingServerHealth {
  /** Whether it takes new sessions now (what `/readyz` says). */
  ready: boolean;
  /** Draining or closing: sessions are being closed and new upgrades refused. */
  draining: boolean;
  /** The package version. */
  version: string;
  /** Seconds since the server started. */
  uptimeSeconds: number;
  /** Open sockets, authenticated or not. */
  connections: number;
  /** Authenticated sessions on this node. */
  sessions: number;
  /** Distinct public keys online on this node. */
  keysOnline: number;
  /** A cluster node's id in Redis and whether its Redis connection is up. */
  cluster?: { nodeId: string; redis: 'ready' | 'unreachable' };
}

/** Why `/readyz` answers 503. */
export type NotReadyReason = 'starting' | 'draining' | 'full';

/** What the endpoints read. */
export interface ProbeSource {
  health(): SignalingServerHealth;
  /** `undefined` while the server takes new sessions. */
  notReady(): NotReadyReason | undefined;
}

/**
 * Answers `request` when its path is `/healthz`, `/readyz` or (with `metrics`) `/metrics` and
 * returns `true`; otherwise leaves it alone and returns `false`. `source` is `undefined` while the
 * server is still starting (every probe then answers 503).
 */
export function answerProbe(
  source: ProbeSource | undefined,
  metrics: ServerMetrics | undefined,
  request: IncomingMessage,
  response: ServerResponse,
): boolean {
  const path = pathOf(request);
  if (path !== '/healthz' && path !== '/readyz' && !(path === '/metrics' && metrics)) return false;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    reply(request, response, 405, { allow: 'GET, HEAD' }, '');
    return true;
  }
  if (!source) {
    json(request, response, 503, { ready: false, reason: 'starting' });
    return true;
  }
  if (path === '/healthz') {
    json(request, response, 200, source.health());
  } else if (path === '/readyz') {
    const reason = source.notReady();
    json(request, response, reason ? 503 : 200, reason ? { ready: false, reason } : { ready: true });
  } else if (metrics) {
    metrics.text().then(
      (text) => reply(request, response, 200, { 'content-type': metrics.contentType }, text),
      () => reply(request, response, 500, { 'content-type': 'text/plain' }, 'metrics failed\n'),
    );
  }
  return true;
}

function json(request: IncomingMessage, response: ServerResponse, status: number, body: object): void {
  reply(request, response, status, { 'content-type': 'application/json' }, `${JSON.stringify(body)}\n`);
}

function reply(
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  response.writeHead(status, {
    ...headers,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/** The request's path without its query or fragment. */
export function pathOf(request: IncomingMessage): string {
  const raw = request.url ?? '/';
  const end = raw.search(/[?#]/);
  return end === -1 ? raw : raw.slice(0, end);
}
