/**
 * Handshake verifications, run a time budget at a time. A node taking a reconnect storm reads thousands
 * of `auth.response` frames in one turn of the event loop; verified as they arrive, they hold the loop
 * for their whole sum, and every open session's frames and the server's sweep wait behind them.
 * Queued, each turn verifies for at most `budgetMs` and yields (`setImmediate`), so other sockets and
 * timers get a turn between batches; the handshakes take as long as before, in order.
 */
export class HandshakeQueue {
  private readonly tasks: (() => Promise<void>)[] = [];
  private head = 0;
  private scheduled = false;

  constructor(private readonly budgetMs: number) {}

  /**
   * Runs `task` in a later turn, after the tasks queued before it. An async function: it reports its
   * own failures and never throws into the queue.
   */
  run(task: () => Promise<void>): void {
    this.tasks.push(task);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    const until = performance.now() + this.budgetMs;
    do {
      const task = this.tasks[this.head];
      this.tasks[this.head++] = noop;
      void task?.();
    } while (this.head < this.tasks.length && performance.now() < until);
    if (this.head < this.tasks.length) {
      setImmediate(this.drain);
      return;
    }
    this.tasks.length = 0;
    this.head = 0;
    this.scheduled = false;
  };
}

async function noop(): Promise<void> {}
