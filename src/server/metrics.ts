import type * as Prom from 'prom-client';
import type { AuthErrorCode } from '../protocol/messages.js';
import { importOptional } from './optional-import.js';
import type { RelayOutcome } from './relay.js';

/**
 * The server's Prometheus metrics (`metrics: true`, `serve --metrics`), through `prom-client`, loaded
 * only then (an optional peer dependency, as `@redis/client` is for the cluster). Each server has a
 * registry of its own, so two servers in one process never mix their counts. Gauges are read when
 * scraped (nothing per message); counters are bound to their labels once, so counting a signal costs
 * one increment. docs/operations.md lists every metric.
 */

/** What the gauges read at each scrape. */
export interface MetricsSource {
  connections(): number;
  sessions(): number;
  keysOnline(): number;
  /** Distinct keys someone watches. */
  watchedKeys(): number;
  /** (socket, key) pairs watched. */
  subscriptions(): number;
  handshakeQueueDepth(): number;
  draining(): boolean;
  /** Whether the cluster node's Redis connections are up (read only in a cluster). */
  redisReady(): boolean;
}

/** What the metrics say of the server itself. */
export interface MetricsAbout {
  version: string;
  /** A cluster node: adds `redis_up`. */
  cluster: boolean;
  maxConnections: number;
}

/** Why the server refused a socket before its handshake. */
export type ConnectionRefusal = 'full' | 'draining';

const PREFIX = 'signaling_actor_';
const REFUSALS: readonly AuthErrorCode[] = [
  'denied',
  'expired',
  'malformed',
  'rate-limited',
  'unsupported-version',
];
/** The wire's outcome of a relayed signal → the metric's label values. */
const SIGNAL_LABEL: Record<RelayOutcome, string[]> = {
  delivered: ['acked'],
  'peer-offline': ['peer-offline'],
  'too-large': ['too-large'],
};
const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Loads `prom-client`. @throws SignalingError `invalid-option` when it is not installed */
function loadPromClient(): Promise<typeof Prom> {
  return importOptional(() => import('prom-client'), 'metrics', 'prom-client', 'prom-client');
}

export class ServerMetrics {
  /** The `Content-Type` of {@link text}'s exposition format. */
  readonly contentType: string;
  private readonly registry: Prom.Registry;
  private readonly handshakes: Record<string, Prom.Counter.Internal>;
  private readonly handshakeSeconds: Prom.Histogram;
  private readonly signals: Record<RelayOutcome, Prom.Counter.Internal>;
  private readonly refusals: Record<ConnectionRefusal, Prom.Counter.Internal>;
  private readonly slowReaders: Prom.Counter;
  private readonly crossNode: Record<'delivered' | 'undelivered', Prom.Counter.Internal>;
  private readonly crossNodeSeconds: Prom.Histogram;

  /** Loads prom-client and registers every metric. @throws SignalingError `invalid-option` without prom-client */
  static async create(source: MetricsSource, about: MetricsAbout): Promise<ServerMetrics> {
    return new ServerMetrics(await loadPromClient(), source, about);
  }

  private constructor(
    prom: typeof Prom,
    source: MetricsSource,
    { version, cluster, maxConnections }: MetricsAbout,
  ) {
    const registry = new prom.Registry();
    this.registry = registry;
    this.contentType = registry.contentType;
    const registers = [registry];
    prom.collectDefaultMetrics({ register: registry });

    const gauge = (name: string, help: string, read: () => number) =>
      new prom.Gauge({
        name: PREFIX + name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    new prom.Gauge({
      name: `${PREFIX}info`,
      help: 'Always 1; the version label says which.',
      labelNames: ['version'],
      registers,
    }).set({ version }, 1);
    gauge('connections', 'Open WebSocket connections, authenticated or not.', source.connections);
    gauge(
      'connections_max',
      'limits.maxConnections: sockets beyond it are closed 1013.',
      () => maxConnections,
    );
    gauge('sessions', 'Authenticated sessions on this node.', source.sessions);
    gauge('keys_online', 'Distinct public keys with a session on this node.', source.keysOnline);
    gauge('presence_watched_keys', 'Distinct keys that sessions on this node watch.', source.watchedKeys);
    gauge(
      'presence_subscriptions',
      'Presence subscriptions on this node: (session, key) pairs.',
      source.subscriptions,
    );
    gauge(
      'handshake_queue_depth',
      'Upgrades and handshake verifications waiting for their turn.',
      source.handshakeQueueDepth,
    );
    gauge('draining', '1 from the moment the node starts draining (or closing), else 0.', () =>
      source.draining() ? 1 : 0,
    );
    if (cluster) {
      gauge('redis_up', '1 while the cluster node is connected to Redis, else 0.', () =>
        source.redisReady() ? 1 : 0,
      );
    }

    /** A counter whose series (name → label values) exist from the start at 0, so rates and alerts see them. */
    const counter = <K extends string>(
      name: string,
      help: string,
      labelNames: string[],
      series: Record<K, string[]>,
    ): Record<K, Prom.Counter.Internal> => {
      const metric = new prom.Counter({ name: PREFIX + name, help, labelNames, registers });
      const children = {} as Record<K, Prom.Counter.Internal>;
      for (const [key, values] of Object.entries(series) as [K, string[]][]) {
        children[key] = metric.labels(...values);
        children[key].inc(0);
      }
      return children;
    };
    const histogram = (name: string, help: string) =>
      new prom.Histogram({ name: PREFIX + name, help, buckets: SECONDS_BUCKETS, registers });

    this.handshakes = counter(
      'handshakes_total',
      'Finished handshakes by outcome (accepted, refused, error) and refusal code.',
      ['outcome', 'code'],
      {
        accepted: ['accepted', ''],
        'server-error': ['error', 'server-error'],
        ...Object.fromEntries(REFUSALS.map((code) => [code, ['refused', code]])),
      },
    );
    this.handshakeSeconds = histogram(
      'handshake_duration_seconds',
      'From the socket opening to auth.ok sent, of accepted handshakes.',
    );
    this.signals = counter(
      'signals_total',
      'Relayed signals by the answer their sender got: acked, peer-offline, too-large.',
      ['outcome'],
      SIGNAL_LABEL,
    );
    this.refusals = counter(
      'connections_refused_total',
      'Sockets refused before their handshake: full (limits.maxConnections, 1013), draining (HTTP 503).',
      ['reason'],
      { full: ['full'], draining: ['draining'] },
    );
    this.slowReaders = new prom.Counter({
      name: `${PREFIX}slow_reader_closes_total`,
      help: 'Sockets closed 1013 because their send buffer passed limits.maxBufferedBytes.',
      registers,
    });
    this.crossNode = counter(
      'cross_node_deliveries_total',
      'Signals handed to other nodes whose answer the ack waited for, by whether a session there took it.',
      ['outcome'],
      { delivered: ['delivered'], undelivered: ['undelivered'] },
    );
    this.crossNodeSeconds = histogram(
      'cross_node_delivery_duration_seconds',
      'From handing a signal to the other nodes to their answer.',
    );
  }

  /** The metrics in Prometheus' text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  handshakeAccepted(ms: number): void {
    this.handshakes.accepted?.inc();
    this.handshakeSeconds.observe(ms / 1000);
  }

  handshakeRefused(code: AuthErrorCode): void {
    this.handshakes[code]?.inc();
  }

  handshakeFailed(): void {
    this.handshakes['server-error']?.inc();
  }

  connectionRefused(reason: ConnectionRefusal): void {
    this.refusals[reason].inc();
  }

  slowReader(): void {
    this.slowReaders.inc();
  }

  /**
   * Counts the answer a relayed signal got. A promise is a signal whose ack waited for other nodes
   * (`relaySignal`): a cross-node delivery too, timed from here to their answer.
   */
  signal(outcome: RelayOutcome | Promise<RelayOutcome>): void {
    if (typeof outcome === 'string') {
      this.signals[outcome].inc();
      return;
    }
    const started = performance.now();
    void outcome.then((settled) => {
      this.signals[settled].inc();
      this.crossNodeSeconds.observe((performance.now() - started) / 1000);
      this.crossNode[settled === 'delivered' ? 'delivered' : 'undelivered'].inc();
    });
  }
}
