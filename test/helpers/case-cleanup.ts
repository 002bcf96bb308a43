import { afterAll, afterEach, beforeAll, expect } from 'vitest';

/**
 * For a test file: runs each case's cleanups (last registered first) after it, and fails the case if any
 * promise rejected unhandled anywhere in the process while it ran. Returns the list to push cleanups to.
 */
export function cleanupsFailingOnUnhandled(): (() => Promise<unknown> | unknown)[] {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    // Let rejections from the case's last ticks surface before judging.
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
  });
  return cleanups;
}
