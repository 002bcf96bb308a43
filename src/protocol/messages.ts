/**
 * The messages of protocol v1, as a discriminated union on `type`. Byte strings are base64url text
 * exactly as they travel; `parseFrame` has checked their lengths before a value has one of these types.
 */

/** The spec's `auth.error` codes. */
export type AuthErrorCode = 'denied' | 'expired' | 'rate-limited' | 'unsupported-version' | 'malformed';

/** The challenge's `heartbeat` object: how often the client pings and how long it waits for life. */
export interface HeartbeatSettings {
  /** Milliseconds between the client's pings while authenticated. */
  interval: number;
  /** Milliseconds without any frame after a ping before the connection counts as dead. */
  timeout: number;
}

/** The challenge's `limits` object: sizes the server enforces after authentication. */
export interface ProtocolLimits {
  /** Largest frame, in UTF-8 bytes, either side may send after authentication. */
  maxMessageBytes: number;
}

/** An ICE server entry as WebRTC's `RTCIceServer` takes it. */
export interface IceServer {
  /** One or more `stun:`, `turn:` or `turns:` URIs. */
  urls: string | string[];
  /** TURN username; absent for STUN. */
  username?: string;
  /** TURN password (for example a time-limited HMAC credential); absent for STUN. */
  credential?: string;
}

// Server → client

/** `auth.challenge`: the server's first frame on every socket; the client signs over it. */
export interface AuthChallenge {
  /** Message discriminator. */
  type: 'auth.challenge';
  /** Protocol version; always 1. */
  v: 1;
  /** 32 fresh CSPRNG bytes (base64url) for this socket, valid for the server's `authTimeout`. */
  nonce: string;
  /** The server's Ed25519 public key (32 bytes, base64url); optional on the wire, always sent by the reference server. */
  serverKey?: string;
  /** Ping interval and liveness timeout the client must use while authenticated. */
  heartbeat: HeartbeatSettings;
  /** Frame size limit after authentication. */
  limits: ProtocolLimits;
}

/** `auth.ok`: authentication succeeded; carries the server's proof of its key. */
export interface AuthOk {
  /** Message discriminator. */
  type: 'auth.ok';
  /** Protocol version; always 1. */
  v: 1;
  /** Server-chosen identifier of this session. */
  sessionId: string;
  /** Ed25519 signature (64 bytes, base64url) by the server's key over the transcript with role 'S'. */
  signature: string;
  /** Optional ICE configuration the server hands this client (TURN credentials minted for its key). */
  iceServers?: IceServer[];
}

/** `auth.error`: the handshake failed; the server closes the socket right after it. */
export interface AuthError {
  /** Message discriminator. */
  type: 'auth.error';
  /** Why it failed; `denied` never says which check failed. */
  code: AuthErrorCode;
  /** With `rate-limited`: milliseconds to wait before trying again. */
  retryAfter?: number;
}

/** `pong`: the server's answer to a `ping`. */
export interface Pong {
  /** Message discriminator. */
  type: 'pong';
  /** The `t` of the ping it answers, echoed unchanged. */
  t: number;
}

/** `ack`: the server delivered the sender's `signal` with this id. */
export interface Ack {
  /** Message discriminator. */
  type: 'ack';
  /** The `id` of the acknowledged message. */
  id: string;
}

/** `error`: a message after authentication could not be handled; the connection stays open. */
export interface ErrorMessage {
  /** Message discriminator. */
  type: 'error';
  /** What went wrong, e.g. `peer-offline` or `unknown-type`. */
  code: string;
  /** The `id` of the message it refers to, when that message had a valid one. */
  id?: string;
}

/** `presence`: a subscribed key's online state, sent at subscription and on every change. */
export interface Presence {
  /** Message discriminator. */
  type: 'presence';
  /** The Ed25519 public key (base64url) this is about. */
  key: string;
  /** Whether the key has at least one live session. */
  online: boolean;
}

/** `signal` as the server delivers it: a relayed message from another authenticated key. */
export interface SignalIn {
  /** Message discriminator. */
  type: 'signal';
  /** The sender's Ed25519 public key (base64url), as authenticated by the server. */
  from: string;
  /** The sender's message id (1–64 characters); a repeated (from, id) is dropped. */
  id: string;
  /** The sender's payload, any JSON value. */
  data: unknown;
}

// Client → server

/** `auth.response`: the client's answer to the challenge, proving it holds its secret key. */
export interface AuthResponse {
  /** Message discriminator. */
  type: 'auth.response';
  /** Protocol version; always 1. */
  v: 1;
  /** The client's Ed25519 public key (32 bytes, base64url): its identity. */
  publicKey: string;
  /** 32 fresh CSPRNG bytes (base64url) chosen by the client. */
  clientNonce: string;
  /** The client's clock when signing, ms since the Unix epoch; must be within 60 s of the server's. */
  issuedAt: number;
  /** Ed25519 signature (64 bytes, base64url) by the client's key over the transcript with role 'C'. */
  signature: string;
}

/** `ping`: the client's heartbeat, sent every `heartbeat.interval` ms while authenticated. */
export interface Ping {
  /** Message discriminator. */
  type: 'ping';
  /** A number of the client's choosing, echoed in the `pong`. */
  t: number;
}

/** `signal` as the client sends it: relay `data` to every live session of the key `to`. */
export interface SignalOut {
  /** Message discriminator. */
  type: 'signal';
  /** The recipient's Ed25519 public key (32 bytes, base64url). */
  to: string;
  /** 1–64 characters, unique per sender; answered by an `ack` or an `error` with this id. */
  id: string;
  /** The payload, any JSON value. */
  data: unknown;
}

/** `presence.subscribe`: ask for `presence` messages about these keys. */
export interface PresenceSubscribe {
  /** Message discriminator. */
  type: 'presence.subscribe';
  /** Ed25519 public keys (base64url); at most 1024 subscribed per socket. */
  keys: string[];
}

/** `presence.unsubscribe`: stop `presence` messages about these keys. */
export interface PresenceUnsubscribe {
  /** Message discriminator. */
  type: 'presence.unsubscribe';
  /** Ed25519 public keys (base64url) to stop watching. */
  keys: string[];
}

/** Any message whose `type` the protocol does not reserve. */
export interface ApplicationMessage {
  /** Any type outside `auth.*`, `presence*`, `ping`, `pong`, `ack`, `error` and `signal`. */
  type: string;
  /** Fields of the application's choosing. */
  [field: string]: unknown;
}

/** Every reserved message a server sends. */
export type ServerMessage =
  | AuthChallenge
  | AuthOk
  | AuthError
  | Pong
  | Ack
  | ErrorMessage
  | Presence
  | SignalIn;
/** Every reserved message a client sends. */
export type ClientMessage = AuthResponse | Ping | SignalOut | PresenceSubscribe | PresenceUnsubscribe;

/** Who sent a frame: decides how a reserved type is read (`signal` carries `from` or `to`). */
export type Sender = 'server' | 'client';
