// Writes the statechart files from the built machine (`npm run statecharts` builds first):
// statecharts/connection.mmd (Mermaid), statecharts/connection.json (the machine definition), the same
// two for the peer chart (statecharts/peer.mmd, peer.json, and its diagram in docs/webrtc.md) and the
// README section between <!-- statechart:start --> and <!-- statechart:end -->.
// test/statecharts.test.ts computes the same from the TypeScript source and fails when these are stale.
import { readFile, writeFile } from 'node:fs/promises';
import { toMermaid } from '../dist/machines/mermaid.js';
import { peerMachine } from '../dist/machines/peer.machine.js';
import { signalingMachine } from '../dist/machines/signaling.machine.js';
import {
  machineJson,
  parseStateSentences,
  peerDocSection,
  readmeSection,
  statePaths,
  withPeerDocSection,
  withReadmeSection,
} from '../dist/machines/statechart-docs.js';

const root = new URL('../', import.meta.url);
const at = (path) => new URL(path, root);

const mermaid = toMermaid(signalingMachine);
const sentences = parseStateSentences(await readFile(at('docs/statechart.md'), 'utf8'));
const missing = statePaths(signalingMachine).filter((state) => !sentences.has(state));
if (missing.length > 0) {
  console.error(`docs/statechart.md has no sentence for: ${missing.join(', ')}`);
  process.exitCode = 1;
}

await writeFile(at('statecharts/connection.mmd'), mermaid);
await writeFile(at('statecharts/connection.json'), machineJson(signalingMachine));
await writeFile(at('statecharts/peer.mmd'), toMermaid(peerMachine));
await writeFile(at('statecharts/peer.json'), machineJson(peerMachine));
const webrtcDoc = await readFile(at('docs/webrtc.md'), 'utf8');
const webrtcUpdated = withPeerDocSection(webrtcDoc, peerDocSection(toMermaid(peerMachine)));
if (webrtcUpdated !== webrtcDoc) await writeFile(at('docs/webrtc.md'), webrtcUpdated);
const readme = await readFile(at('README.md'), 'utf8');
const updated = withReadmeSection(readme, readmeSection(mermaid, sentences));
if (updated !== readme) await writeFile(at('README.md'), updated);
console.log(
  'wrote statecharts/connection.mmd, connection.json, peer.mmd, peer.json, the README statechart section and the chart in docs/webrtc.md',
);
