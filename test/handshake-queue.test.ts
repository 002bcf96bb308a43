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

  it('keeps order across thousands of turns while tasks keep arriving', async () => {
    // A zero budget runs one task per turn: 3,000 turns, the slots already run dropped on the way.
    const queue = new HandshakeQueue(0);
    const ran: number[] = [];
    for (let i = 0; i < 2000; i++) {
      queue.run(async () => {
        ran.push(i);
        if (i % 2 === 0) queue.run(async () => void ran.push(2000 + i / 2));
      });
    }
    await vi.waitFor(() => expect(ran).toHaveLength(3000));
    expect(ran.slice(0, 2000)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(ran.slice(2000)).toEqual(Array.from({ length: 1000 }, (_, i) => 2000 + i));
  });
});
