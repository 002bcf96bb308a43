/**
 * One ICE server as `RTCPeerConnection` takes it: the protocol's own `IceServer` (the shape of
 * `auth.ok`'s `iceServers`), declared without the DOM typings so that Node code can use it; values
 * are assignable to the DOM's `RTCIceServer` both ways.
 */
export type { IceServer } from '../protocol/messages.js';

/** A TURN server with fixed credentials. */
export interface StaticTurnServer {
  /** One or more `turn:`/`turns:` URIs. */
  urls: string | string[];
  /** The TURN username. */
  username: string;
  /** The TURN password. */
  credential: string;
}

/**
 * A TURN server sharing a secret with this process (coturn `use-auth-secret`): short-lived
 * credentials are minted from `secret` each time the ICE servers are built. The secret itself never
 * appears in the output.
 */
export interface SecretTurnServer {
  /** One or more `turn:`/`turns:` URIs. */
  urls: string | string[];
  /** coturn's `static-auth-secret`. */
  secret: string | Uint8Array;
  /** Appended to the expiry in the username, so the TURN server's logs and quotas can tell users apart. */
  userId?: string;
  /** Lifetime of the minted credential in seconds; default one day. */
  ttlSeconds?: number;
}

/** A TURN server entry of {@link GetIceServersOptions.turn}: fixed credentials, or a shared secret to mint them. */
export type TurnServerConfig = StaticTurnServer | SecretTurnServer;
