/**
 * Failed handshakes counted per remote address in fixed windows. An address with `maxFailures`
 * failures in its current window is refused (`rate-limited`, 4029) until the window ends, which is the
 * `retryAfter` it is told. The map is bounded: beyond `maxAddresses` the oldest entry is forgotten
 * (a Map iterates in insertion order), and ended windows are swept.
 */
/** The resolved `rateLimit` option, every field set. */
export interface RateLimiterSettings {
  maxFailures: number;
  windowMs: number;
  maxAddresses: number;
}

interface Window {
  failures: number;
  endsAt: number;
}

/** The per-address failure counter described above. */
export class FailureRateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly settings: RateLimiterSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** The window's length, ms. */
  get windowMs(): number {
    return this.settings.windowMs;
  }

  /** Milliseconds until `address` may try again, or 0 when it may try now. */
  retryAfter(address: string): number {
    const window = this.windows.get(address);
    if (!window) return 0;
    const now = this.now();
    if (now >= window.endsAt) {
      this.windows.delete(address);
      return 0;
    }
    return window.failures >= this.settings.maxFailures ? window.endsAt - now : 0;
  }

  /** Counts one failed handshake from `address`. */
  recordFailure(address: string): void {
    const now = this.now();
    const window = this.windows.get(address);
    if (window && now < window.endsAt) {
      window.failures++;
      return;
    }
    if (window) this.windows.delete(address);
    else if (this.windows.size >= this.settings.maxAddresses) {
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    this.windows.set(address, { failures: 1, endsAt: now + this.settings.windowMs });
  }

  /**
   * Takes in what the cluster counted for `address` (all nodes' failures in its current window and
   * the ms left of it), so a node refuses an address that failed elsewhere.
   */
  adopt(address: string, failures: number, msLeft: number): void {
    const window = this.windows.get(address);
    const endsAt = this.now() + msLeft;
    if (window) {
      window.failures = Math.max(window.failures, failures);
      window.endsAt = endsAt;
    } else {
      this.windows.set(address, { failures, endsAt });
    }
  }

  /** Drops windows that have ended. */
  sweep(): void {
    const now = this.now();
    for (const [address, window] of this.windows) if (now >= window.endsAt) this.windows.delete(address);
  }

  get size(): number {
    return this.windows.size;
  }
}
