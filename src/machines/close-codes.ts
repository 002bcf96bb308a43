import { CloseCode } from '../protocol/constants.js';
import type { FailureReason } from './signaling.types.js';

/**
 * The spec's close-code table ("Close codes and what the client does") as data: what the client does
 * when the server closes its socket with `code`.
 */
export type CloseAction =
  | { kind: 'reconnect' }
  /** 4002: one immediate retry, then backoff. */
  | { kind: 'retry-now' }
  /** 4029: reconnect after max(backoff, retryAfter). */
  | { kind: 'rate-limited' }
  /**
   * 1012 (service restart): the server is draining. Reconnect to the next URL after the backoff's first
   * step (full jitter by default: 0 to `initialDelay`); the attempt counter does not grow, it was no failure.
   */
  | { kind: 'restart' }
  | { kind: 'fail'; reason: FailureReason };

const FATAL_PROTOCOL: ReadonlySet<number> = new Set([
  CloseCode.PROTOCOL_ERROR,
  CloseCode.UNSUPPORTED_DATA,
  CloseCode.INVALID_PAYLOAD,
  CloseCode.POLICY,
  CloseCode.TOO_BIG,
  CloseCode.UNSUPPORTED_VERSION,
]);

/**
 * 1000 from the server, 1001/1006/1011/1013, 4008 and any code the table does not name are transient:
 * reconnect with backoff (an unknown code is no reason to give up for good). 1012 is a drain: see
 * `restart`.
 */
export function closeAction(code: number): CloseAction {
  if (FATAL_PROTOCOL.has(code)) return { kind: 'fail', reason: 'protocol' };
  switch (code) {
    case CloseCode.AUTH_DENIED:
      return { kind: 'fail', reason: 'auth-denied' };
    case CloseCode.REPLACED:
      return { kind: 'fail', reason: 'replaced' };
    case CloseCode.EXPIRED:
      return { kind: 'retry-now' };
    case CloseCode.RATE_LIMITED:
      return { kind: 'rate-limited' };
    case CloseCode.RESTART:
      return { kind: 'restart' };
    default:
      return { kind: 'reconnect' };
  }
}
