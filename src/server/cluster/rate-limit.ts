import { FailureRateLimiter } from '../rate-limit.js';
import type { ClusterSessions } from './cluster-sessions.js';

/** The failed-handshake limiter of a cluster node: each failure is also counted in Redis, for every node. */
export class SharedFailureRateLimiter extends FailureRateLimiter {
  constructor(
    settings: ConstructorParameters<typeof FailureRateLimiter>[0],
    private readonly cluster: ClusterSessions,
  ) {
    super(settings);
  }

  override recordFailure(address: string): void {
    super.recordFailure(address);
    this.cluster.countFailure(address, this.windowMs, (failures, leftMs) =>
      this.adopt(address, failures, leftMs),
    );
  }
}
