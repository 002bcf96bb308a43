/**
 * The messages of protocol v1, as a discriminated union on `type`. Byte strings are base64url text
 * exactly as they travel; `parseFrame` has checked their lengths before a value has one of these types.
 */

/** The spec's `auth.error` codes. */
export type AuthErrorCode = 'denied' | 'expired' | 'rate-limited' | 'unsupported-version' | 'malformed';

export interface HeartbeatSettings {
  /** Milliseconds between the client's pings while authenticated. */
  interval: number;
  /** Milliseconds without any frame after a ping before the connection counts as dead. */
  timeout: number;
}

export interface ProtocolLimits {
  /** Largest frame, in UTF-8 bytes, either side may send after authentication. */
  maxMessageBytes: number;
}

/** An ICE server entry as WebRTC's `RTCIceServer` takes it. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

// Server → client

export interface AuthChallenge {
  type: 'auth.challenge';
  v: 1;
  nonce: string;
  serverKey?: string;
  heartbeat: HeartbeatSettings;
  limits: ProtocolLimits;
}

export interface AuthOk {
  type: 'auth.ok';
  v: 1;
  sessionId: string;
  signature: string;
  /** Optional ICE configuration the server hands this client (TURN credentials minted for its key). */
  iceServers?: IceServer[];
}

export interface AuthError {
  type: 'auth.error';
  code: AuthErrorCode;
  retryAfter?: number;
}

export interface Pong {
  type: 'pong';
  t: number;
}

export interface Ack {
  type: 'ack';
  id: string;
}

export interface ErrorMessage {
  type: 'error';
  code: string;
  id?: string;
}

export interface Presence {
  type: 'presence';
  key: string;
  online: boolean;
}

export interface SignalIn {
  type: 'signal';
  from: string;
  id: string;
  data: unknown;
}

// Client → server

export interface AuthResponse {
  type: 'auth.response';
  v: 1;
  publicKey: string;
  clientNonce: string;
  issuedAt: number;
  signature: string;
}

export interface Ping {
  type: 'ping';
  t: number;
}

export interface SignalOut {
  type: 'signal';
  to: string;
  id: string;
  data: unknown;
}

export interface PresenceSubscribe {
  type: 'presence.subscribe';
  keys: string[];
}

export interface PresenceUnsubscribe {
  type: 'presence.unsubscribe';
  keys: string[];
}

/** Any message whose `type` the protocol does not reserve. */
export interface ApplicationMessage {
  type: string;
  [field: string]: unknown;
}

export type ServerMessage =
  | AuthChallenge
  | AuthOk
  | AuthError
  | Pong
  | Ack
  | ErrorMessage
  | Presence
  | SignalIn;
export type ClientMessage = AuthResponse | Ping | SignalOut | PresenceSubscribe | PresenceUnsubscribe;

/** Who sent a frame: decides how a reserved type is read (`signal` carries `from` or `to`). */
export type Sender = 'server' | 'client';
