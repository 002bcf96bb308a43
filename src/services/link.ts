import type { ParsedMessage } from '../protocol/parse.js';

/**
 * The path application frames take around the statechart. The socket service parses every frame,
 * sends only control frames (auth.*, pong) to the chart, and hands everything else to a `Link`, so an
 * application message costs no machine macrostep. The facade owns the link (`Dispatcher`).
 */

/** An authenticated socket, as the application may write to it. */
export interface Channel {
  /** Writes one frame. @throws SignalingError `too-large` over the announced limit, `closed` when the socket is no longer open */
  send(text: string): void;
  /** The server's announced `limits.maxMessageBytes`. */
  readonly maxMessageBytes: number;
}

/** What the socket service calls on the facade's side (implemented by the `Dispatcher`). */
export interface Link {
  /** The session is authenticated and the server verified: application frames may flow. */
  attach(channel: Channel): void;
  /** That channel is closing; later sends must queue. */
  detach(channel: Channel): void;
  /** An inbound non-control frame (signal, presence, ack, error or application message). */
  deliver(message: ParsedMessage<'server'>): void;
  /** A socket was created (`disconnect()` waits for it to close); pass what it returns to socketEnded(). */
  socketStarted(): number;
  /** That socket has finished closing. */
  socketEnded(started: number): void;
}
