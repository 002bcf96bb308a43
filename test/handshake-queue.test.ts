import { describe, expect, it, vi } from 'vitest';
import { HandshakeQueue } from '../src/server/handshake-queue.js';

/** Holds the thread for `ms`, as a signature verification holds it. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) Math.random();
}

describe('HandshakeQueue', () => {
  it('runs every task once, in the order they came', async () => {
    const queue = new HandshakeQueue(5);
    const ran: number[] = [];
    for (let i = 0; i < 100; i++) queue.run(async () => void ran.push(i));
    // Later arrivals, queued while the first ones run, go after them.
    queue.run(async () => queue.run(async () => void ran.push(101)));
    queue.run(async () => void ran.push(100));
    await vi.waitFor(() => expect(ran).toHaveLength(102));
    expect(ran).toEqual(Array.from({ length: 102 }, (_, i) => i));
  });

  it('yields to the event loop once a turn has used its budget', async () => {
    const queue = new HandshakeQueue(5);
    let done = 0;
    let doneWhenOtherWorkRan = -1;
    for (let i = 0; i < 20; i++) {
      queue.run(async () => {
        if (i === 0) setImmediate(() => (doneWhenOtherWorkRan = done));
        busy(2);
        done++;
      });
    }
    await vi.waitFor(() => expect(done).toBe(20));
    // The other callback ran after the first turn's few tasks (5 ms of 2 ms tasks), not after all 20.
    expect(doneWhenOtherWorkRan).toBeGreaterThanOrEqual(1);
    expect(doneWhenOtherWorkRan).toBeLessThanOrEqual(4);
  });
});
