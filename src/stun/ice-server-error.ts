import { SignalingError } from '../errors.js';

/**
 * A rejected ICE server URL or entry: code `invalid-ice-server`, with `path` naming the bad entry
 * (e.g. `iceServers[1].urls[0]`) so that a configuration mistake can be found without guessing.
 * Messages quote URLs but never credentials or secrets.
 */
export class IceServerError extends SignalingError {
  /** Where the bad value sits in the input, e.g. `iceServers[1].urls[0]` or `turn[0].secret`. */
  readonly path: string;
  /** What is wrong with it, without the path. */
  readonly reason: string;

  constructor(path: string, reason: string) {
    super('invalid-ice-server', `${path}: ${reason}`);
    this.path = path;
    this.reason = reason;
  }
}
