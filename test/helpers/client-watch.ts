import type { SignalingClient, StateChangeDetails } from '../../src/client.js';
import type { ConnectionState } from '../../src/machines/signaling.types.js';

/** Every state change of a client, with the time it happened, and a wait for the next one wanted. */

export interface Transition extends StateChangeDetails {
  state: ConnectionState;
  at: number;
}

export interface Watch {
  readonly log: Transition[];
  /** States in order (e.g. to assert "never connected"). */
  states(): ConnectionState[];
  /** Resolves when the client is (or next becomes) `state`; rejects after `timeout` ms. */
  reach(state: ConnectionState, timeout?: number): Promise<Transition>;
}

export function watch(client: SignalingClient): Watch {
  const log: Transition[] = [];
  client.onStateChange((state, _previous, details) => log.push({ state, at: performance.now(), ...details }));
  return {
    log,
    states: () => log.map((t) => t.state),
    reach(state, timeout = 5000) {
      if (client.state === state) {
        return Promise.resolve(
          log.at(-1) ?? {
            state,
            at: performance.now(),
            reason: undefined,
            retryIn: undefined,
            closeCode: undefined,
            error: undefined,
          },
        );
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(
            new Error(
              `still ${client.state} after ${timeout} ms, waited for ${state} (${this.states().join(' → ')})`,
            ),
          );
        }, timeout);
        const off = client.onStateChange((s) => {
          if (s !== state) return;
          clearTimeout(timer);
          off();
          resolve(log.at(-1) as Transition);
        });
      });
    },
  };
}

/** Resolves when `c` is (or next becomes) `state`; rejects after `timeout` ms naming where it stayed. */
export function reach(c: SignalingClient, state: ConnectionState, timeout = 5000): Promise<void> {
  if (c.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`still ${c.state}, waited for ${state}`));
    }, timeout);
    const off = c.onStateChange((s) => {
      if (s === state) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}
