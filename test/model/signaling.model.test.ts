import { describe, expect, it } from 'vitest';
import { signalingMachine } from '../../src/machines/signaling.machine.js';
import { type Coverage, runPath } from './driver.js';
import { describeCommand, machineUniverse, modelKeys, planPaths, replay } from './helpers.js';

/**
 * Model-based tests: the paths come from the machine (xstate/graph), each runs on a real actor, and the
 * suite fails unless the real actors together entered every state node and took every transition.
 */

const keys = await modelKeys();
const plan = planPaths(signalingMachine, keys);
const universe = machineUniverse(signalingMachine);
const coverage: Coverage = { states: new Set(), transitions: new Set() };
let ran = 0;

const describePath = (path: (typeof plan.paths)[number]) =>
  path.steps
    .slice(1)
    .map(({ event }) => {
      const e = event as { type: string; code?: number | string; output?: { ok?: boolean } };
      const type = e.type.replace(/^xstate\.(done|error)\.actor\..*\.(\w+)$/, 'xstate.$1.$2');
      if (e.code !== undefined) return `${type}(${e.code})`;
      if (e.output?.ok !== undefined) return `${type}(${e.output.ok ? 'valid' : 'invalid'})`;
      if (type === 'AUTH.CHALLENGE') {
        const key = (event as { challenge: { serverKey?: string } }).challenge.serverKey;
        return key === keys.server.publicKey ? type : `${type}(other key)`;
      }
      return type.replace(/^xstate\.after\.(\w+)\..*$/, 'after $1');
    })
    .join(' → ');

describe(`signaling model: ${plan.paths.length} paths (${plan.shortest} shortest + ${plan.extended} for transitions) over ${plan.states} model states, ${plan.edges} edges`, () => {
  for (const path of plan.paths) {
    it(describePath(path), async () => {
      await runPath(signalingMachine, keys, path, coverage);
      ran++;
    });
  }

  it('the traversal reaches failed via retries-exhausted (the guard reads the attempt counter)', () => {
    const ends = plan.paths.map((path) => replay(signalingMachine, keys, path).snapshots.at(-1));
    expect(ends.some((s) => s?.matches('failed') && s.context.reason === 'retries-exhausted')).toBe(true);
  });

  it('the replay records what the chart tells its socket (so the per-step comparison compares something)', () => {
    const said = new Set(
      plan.paths.flatMap((path) => replay(signalingMachine, keys, path).commands.flat().map(describeCommand)),
    );
    for (const command of ['send auth.response', 'authenticated 32768', 'ping', 'send ping', 'close 1000']) {
      expect(said).toContain(command);
    }
  });

  it('the real actors entered every state node and took every transition of the chart', () => {
    expect(ran, 'every path must have run (do not filter this file)').toBe(plan.paths.length);
    const missingStates = universe.states.filter((s) => !coverage.states.has(s));
    const missingTransitions = universe.transitions.filter((t) => !coverage.transitions.has(t));
    const states = universe.states.length;
    const transitions = universe.transitions.length;
    console.log(
      `model coverage: states ${states - missingStates.length}/${states}, transitions ${transitions - missingTransitions.length}/${transitions}`,
    );
    expect(missingStates).toEqual([]);
    expect(missingTransitions).toEqual([]);
  });
});
