/**
 * WebSocket upgrades and handshake verifications, started a time budget at a time. A node taking a
 * reconnect storm reads thousands of upgrade requests and `auth.response` frames in one turn of the
 * event loop; handled as they arrive, they hold the loop for their whole sum, and every open session's
 * frames and the server's sweep wait behind them. Queued, each turn starts tasks for at most
 * `budgetMs` (the budget times each task up to its first wait: for a handshake, parsing and the
 * signature check; its proof and `auth.ok` follow as microtasks in the same turn) and yields
 * (`setImmediate`), so other sockets and timers get a turn between batches.
 */
export class HandshakeQueue {
  private tasks: (() => Promise<void>)[] = [];
  /** The next task to run; those before it have run (their slots hold `done`). */
  private head = 0;
  private scheduled = false;

  constructor(private readonly budgetMs: number) {}

  /** Tasks waiting for their turn. */
  get depth(): number {
    return this.tasks.length - this.head;
  }

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
    try {
      while (this.head < this.tasks.length) {
        const task = this.tasks[this.head] as () => Promise<void>;
        this.tasks[this.head++] = done; // run tasks are not held until the queue empties
        void task();
        if (performance.now() >= until) break;
      }
    } finally {
      if (this.head < this.tasks.length) {
        // A storm that never lets the queue empty: drop the slots already run now and then.
        if (this.head >= 1024) {
          this.tasks = this.tasks.slice(this.head);
          this.head = 0;
        }
        setImmediate(this.drain);
      } else {
        this.tasks = [];
        this.head = 0;
        this.scheduled = false;
      }
    }
  };
}

async function done(): Promise<void> {}
