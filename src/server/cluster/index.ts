export { ClusterSessions } from './cluster-sessions.js';
export { type ClusterOptions, DEFAULT_LEASE_MS, isRedisUrl } from './options.js';
export { SharedFailureRateLimiter } from './rate-limit.js';
