import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { fromPromise, setup } from 'xstate';
import { toMermaid } from '../src/machines/mermaid.js';
import { peerMachine } from '../src/machines/peer.machine.js';
import { signalingMachine } from '../src/machines/signaling.machine.js';
import {
  currentReadmeSection,
  machineJson,
  parseStateSentences,
  peerDocSection,
  readmeSection,
  statePaths,
  withPeerDocSection,
  withReadmeSection,
} from '../src/machines/statechart-docs.js';

const at = (path: string) => new URL(`../${path}`, import.meta.url);
const read = (path: string) => readFile(at(path), 'utf8');
const STALE = 'is stale: run `npm run statecharts` and commit the result';

describe('committed statecharts match the machine', () => {
  it('statecharts/connection.mmd', async () => {
    expect(await read('statecharts/connection.mmd'), `statecharts/connection.mmd ${STALE}`).toBe(
      toMermaid(signalingMachine),
    );
  });

  it('statecharts/connection.json', async () => {
    expect(await read('statecharts/connection.json'), `statecharts/connection.json ${STALE}`).toBe(
      machineJson(signalingMachine),
    );
  });

  it('statecharts/peer.mmd', async () => {
    expect(await read('statecharts/peer.mmd'), `statecharts/peer.mmd ${STALE}`).toBe(toMermaid(peerMachine));
  });

  it('statecharts/peer.json', async () => {
    expect(await read('statecharts/peer.json'), `statecharts/peer.json ${STALE}`).toBe(
      machineJson(peerMachine),
    );
  });

  it('the peer chart in docs/webrtc.md', async () => {
    const doc = await read('docs/webrtc.md');
    expect(doc, `docs/webrtc.md's peer chart ${STALE}`).toBe(
      withPeerDocSection(doc, peerDocSection(toMermaid(peerMachine))),
    );
  });

  it('the README section between the statechart markers', async () => {
    const sentences = parseStateSentences(await read('docs/statechart.md'));
    const expected = readmeSection(toMermaid(signalingMachine), sentences);
    expect(currentReadmeSection(await read('README.md')), `README.md's statechart section ${STALE}`).toBe(
      expected,
    );
  });

  it('docs/statechart.md has one sentence for each state, and none for a state that does not exist', async () => {
    const sentences = parseStateSentences(await read('docs/statechart.md'));
    expect([...sentences.keys()].sort()).toEqual(statePaths(signalingMachine).sort());
  });
});

describe('toMermaid', () => {
  const mermaid = toMermaid(signalingMachine);
  const lines = mermaid.split('\n');

  it('declares every state once, before any edge mentions it', () => {
    const declared = new Set<string>();
    for (const line of lines) {
      const decl = /^\s*state "[^"]+" as (\w+)/.exec(line);
      if (decl) {
        expect(declared.has(decl[1] as string), `${decl[1]} declared twice`).toBe(false);
        declared.add(decl[1] as string);
        continue;
      }
      const edge = /^\s*(\w+) --> (\w+)/.exec(line);
      if (edge) {
        for (const id of [edge[1], edge[2]]) expect(declared, `${id} used before declared`).toContain(id);
      }
    }
    expect(declared.size).toBe(statePaths(signalingMachine).length);
  });

  it('joins only states of the same block (Mermaid pulls states out of their boxes otherwise)', () => {
    const blocks: Set<string>[] = [new Set()];
    for (const line of lines) {
      const decl = /^\s*state "[^"]+" as (\w+)( \{)?$/.exec(line);
      if (decl) {
        blocks.at(-1)?.add(decl[1] as string);
        if (decl[2]) blocks.push(new Set());
      } else if (/^\s*\}$/.test(line)) {
        blocks.pop();
      } else {
        const edge = /^\s*(\w+) --> (\w+)/.exec(line);
        if (edge) for (const id of [edge[1], edge[2]]) expect(blocks.at(-1), line).toContain(id);
      }
    }
    expect(mermaid).toContain(
      'session_authenticating --> session_connected : (verifying) done verifier [proofValid] / storeSession',
    );
  });

  it('describes compound states in a note (Mermaid gives them no description)', () => {
    expect(mermaid).toMatch(/note right of session\n\s+tag|note right of session\n\s+invoke socket/);
    const compound = ['session', 'session_authenticating', 'session_connected'];
    for (const id of compound) expect(mermaid).not.toMatch(new RegExp(`^\\s*${id} : `, 'm'));
  });

  it('draws events, named delays, guards, actions and invoked services', () => {
    expect(mermaid).toContain('disconnected --> session : CONNECT / resetSession');
    expect(mermaid).toContain('reconnecting --> session : after backoff');
    expect(mermaid).toContain('reconnecting --> failed : always [retriesExhausted] / failRetriesExhausted');
    expect(mermaid).toContain('session --> failed : SOCKET.CLOSE [closeIsFatal] / recordFailure');
    expect(mermaid).toContain(
      'session_authenticating_signing --> session_authenticating_awaitingVerdict : done signer / storeResponse, sendResponse',
    );
    expect(mermaid).toContain('session_connecting : on after connectTimeout / abort(4008, connect-timeout)');
    expect(mermaid).toContain('session_authenticating_signing : invoke signer');
    // A transition of the root ("from any state") is drawn from each top-level state.
    expect(mermaid).toContain('failed --> disconnected : DISCONNECT / resetSession');
  });

  it('has one edge or note for every transition of the machine', () => {
    let transitions = 0;
    const count = (node: typeof signalingMachine.root) => {
      for (const list of node.transitions.values()) {
        for (const t of list)
          transitions += node === signalingMachine.root ? 0 : Math.max(1, t.target?.length ?? 0);
      }
      transitions += node.always?.length ?? 0;
      for (const child of Object.values(node.states)) count(child);
    };
    count(signalingMachine.root);
    const rootEdges = Object.keys(signalingMachine.root.states).length - 1; // DISCONNECT from each other top-level state
    // Edges, targetless transitions in a state's description, and in a compound state's note.
    const drawn = lines.filter((l) => / --> \w+ : | : on |^\s+on /.test(l)).length;
    expect(drawn).toBe(transitions + rootEdges);
  });

  it('escapes Mermaid syntax characters in labels', () => {
    for (const line of lines.filter((l) => l.includes(' : '))) {
      const label = line.slice(line.indexOf(' : ') + 3);
      expect(label).not.toMatch(/[:;{}]/);
    }
  });
});

describe('withReadmeSection', () => {
  it('replaces only the text between the markers and appends a section when there is none', () => {
    const section = readmeSection('stateDiagram-v2\n', new Map([['a', 'A state.']]));
    const readme = `# T\n\nbefore\n\n${readmeSection('old', new Map())}\n\nafter\n`;
    const out = withReadmeSection(readme, section);
    expect(out).toBe(`# T\n\nbefore\n\n${section}\n\nafter\n`);
    expect(withReadmeSection(out, section)).toBe(out);
    expect(withReadmeSection('# T\n', section)).toBe(`# T\n\n${section}\n`);
  });
});

describe('toMermaid on other shapes of machine', () => {
  const machine = setup({
    actors: { fetcher: fromPromise(async () => 1) },
    guards: { ready: () => true },
  }).createMachine({
    id: 'demo',
    initial: 'idle',
    states: {
      idle: {
        on: {
          GO: { target: 'busy', guard: 'ready' },
          POKE: { target: 'idle', reenter: true, actions: () => {} },
        },
        after: { 1500: 'busy' },
      },
      busy: {
        type: 'parallel',
        states: {
          left: { initial: 'a', states: { a: { on: { NEXT: 'b' } }, b: { type: 'final' } } },
          right: { initial: 'c', states: { c: {} } },
        },
        invoke: { id: 'load', src: 'fetcher', onDone: '#demo.done' },
      },
      done: { type: 'final' },
    },
  });
  const mermaid = toMermaid(machine);

  it('draws parallel regions as concurrent sections, finals, numeric delays, inline actions and reentry', () => {
    expect(mermaid).toContain('idle --> busy : GO [ready]');
    expect(mermaid).toContain('idle --> idle : POKE / inline (reenter)');
    expect(mermaid).toContain('idle --> busy : after 1500 ms');
    expect(mermaid).toContain('busy --> done : done fetcher');
    expect(mermaid).toContain('busy_left_b --> [*]');
    expect(mermaid).toContain('done --> [*]');
    expect(mermaid).toMatch(
      /state "left" as busy_left \{[\s\S]*\}\n\s+--\n\s+state "right" as busy_right \{/,
    );
    expect(mermaid).toContain('note right of busy\n    invoke fetcher\n  end note');
  });
});
