/**
 * STUN/ICE configuration: browser-safe (no `node:` imports); the STUN probe lives in `signaling-actor/server`.
 * @packageDocumentation
 */
export {
  DEFAULT_STUN_PORT,
  DEFAULT_STUN_SERVERS,
  DEFAULT_STUNS_PORT,
  DEFAULT_TURN_TTL_SECONDS,
  MAX_TURN_USERNAME_BYTES,
} from './constants.js';
export { IceServerError } from './ice-server-error.js';
export { type GetIceServersOptions, getIceServers, iceServersForClient } from './ice-servers.js';
export {
  createTurnCredentials,
  type TurnCredentialOptions,
  type TurnCredentials,
} from './turn-credentials.js';
export type { IceServer, SecretTurnServer, StaticTurnServer, TurnServerConfig } from './types.js';
export { type IceUrl, type IceUrlScheme, isIceUrl, parseIceUrl } from './uri.js';
export { validateIceServer, validateIceServers } from './validate.js';
