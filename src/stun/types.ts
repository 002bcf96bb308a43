/**
 * One ICE server as `RTCPeerConnection` takes it. Declared here, with the same shape as the DOM's
 * `RTCIceServer`, so that Node code without the DOM typings can use it; values are assignable to
 * `RTCIceServer` both ways.
 */
export interface IceServer {
  /** One URL or several; `stun:`, `stuns:`, `turn:` or `turns:` (RFC 7064, RFC 7065). */
  urls: string | string[];
  /** Required (non-empty) for `turn:`/`turns:` URLs. */
  username?: string;
  /** Required (non-empty) for `turn:`/`turns:` URLs. */
  credential?: string;
}

/** A TURN server with fixed credentials. */
export interface StaticTurnServer {
  urls: string | string[];
  username: string;
  credential: string;
}

/**
 * A TURN server sharing a secret with this process (coturn `use-auth-secret`): short-lived
 * credentials are minted from `secret` each time the ICE servers are built. The secret itself never
 * appears in the output.
 */
export interface SecretTurnServer {
  urls: string | string[];
  /** coturn's `static-auth-secret`. */
  secret: string | Uint8Array;
  /** Appended to the expiry in the username, so the TURN server's logs and quotas can tell users apart. */
  userId?: string;
  /** Lifetime of the minted credential in seconds; default one day. */
  ttlSeconds?: number;
}

export type TurnServerConfig = StaticTurnServer | SecretTurnServer;
