/** How often a drain closes the sessions that are due, ms: a batch per tick. */
const DRAIN_TICK_MS = 20;

/** A spread of closes under way (see {@link closeSpread}). */
export interface Spread {
  /** Resolves once `close` has been called on every item. */
  readonly done: Promise<void>;
  /** Closes the items not yet closed, now. */
  hurry(): void;
}

/**
 * Calls `close` on each of `items` spread evenly over `within` ms — item i at i × within / n, the
 * first at once — so the clients of a draining node reconnect elsewhere a few at a time, not in one
 * storm. Checked every 20 ms, so a large node closes a batch per tick.
 */
export function closeSpread<T>(items: readonly T[], within: number, close: (item: T) => void): Spread {
  const started = performance.now();
  let next = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const closeDue = (all: boolean) => {
    const n = items.length;
    const due = all ? n : Math.min(n, Math.floor(((performance.now() - started) * n) / within) + 1);
    while (next < due) close(items[next++] as T);
    if (next >= n) {
      clearInterval(timer);
      finish();
    }
  };
  const timer = setInterval(() => closeDue(false), DRAIN_TICK_MS);
  closeDue(false);
  return { done, hurry: () => closeDue(true) };
}
