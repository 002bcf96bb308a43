/**
 * signaling-actor/server — the reference signaling server of protocol v1 (Node only).
 * @packageDocumentation
 */
export { type ClusterOptions, DEFAULT_LEASE_MS } from './cluster/index.js';
export {
  jsonLineLogger,
  type LogFields,
  type LogLevel,
  type LogMethod,
  type ServerLogger,
} from './logger.js';
export type {
  AuthContext,
  RateLimitOptions,
  ServerLimitsOptions,
  SessionHandle,
  SignalingServerOptions,
} from './options.js';
export type { NotReadyReason, SignalingServerHealth } from './probes.js';
export {
  createSignalingServer,
  DEFAULT_DRAIN_MS,
  type SignalingServer,
  type SignalingServerStats,
} from './server.js';
export { probeStunServer, type StunProbeOptions, type StunProbeResult } from './stun-probe.js';
