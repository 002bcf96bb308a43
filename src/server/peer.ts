/** What the session registry, presence and relay need from an authenticated connection. */
export interface Peer {
  /** The authenticated public key (base64url). */
  readonly publicKey: string;
  /** Unique per authenticated socket. */
  readonly sessionId: string;
  /** Keys this socket watches for presence; made by its first subscribe (most sessions never do). */
  subscriptions: Set<string> | undefined;
  /**
   * Queues a text frame. `false` when it was not queued: the socket is closing, or the frame would
   * push its send buffer past the limit (the socket is then closed with 1013).
   */
  send(text: string): boolean;
  /** Closes the socket with `code` and leaves every registry at once. */
  close(code: number, reason: string): void;
}
