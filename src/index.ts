/** signaling-actor — the browser-safe entry: nothing reachable from here imports `node:*`. */
export { type ErrorCode, isSignalingError, SignalingError } from './errors.js';
export * from './identity/index.js';
export * from './protocol/index.js';
export * from './stun/index.js';
