// connect() → authenticated through SignalingClient, against a bare `ws` client's open + one round trip
// on the same server in the same run (the goal: ≤ 1.3×), and against the floor: the v1 handshake done
// by hand with node:crypto, the least any implementation of protocol v1 can cost.
// Run `npm run build` first: this imports ../dist.
//
//   node bench/handshake.js [handshakes=300] [rounds=5] [latency=0]
//
// With a latency L (ms), the server delays each frame it sends by L: the handshake's two server
// frames then cost 2L on both sides, as over a real network, and the fixed costs weigh less.
//
// The server (bench/lib/v1-server.js, a child process) runs the v1 handshake with the library's
// verifyChallenge and createServerProof on `/`. The bare client dials `/bare`: TCP + upgrade, the
// server's first frame, one frame out and one back — the least any challenge-response can cost. The
// client's figure adds the statechart, the signature (client), its verification and the proof
// (server), and the proof's verification (client). The floor (bench/lib/v1-floor.js) dials `/` like
// the client and does exactly the v1 handshake by hand with node:crypto, nothing set up per connect:
// the least any implementation of protocol v1 can cost. Each round times the three, rotating the
// order, one handshake at a time; the median per round is kept and the median of those printed.
// Where the client's time beyond the floor goes, stage by stage: bench/handshake-stages.js.
import WebSocket from 'ws';
import { Identity } from '../dist/index.js';
import { benchClient, connect } from './lib/bench-client.js';
import { createFloor } from './lib/v1-floor.js';
import { spawnBenchServer } from './lib/v1-server.js';

const N = Number(process.argv[2] ?? 300);
const ROUNDS = Number(process.argv[3] ?? 5);
const LATENCY = Number(process.argv[4] ?? 0);

const server = await spawnBenchServer({ latency: LATENCY });
const identity = await Identity.generate();

async function bare() {
  const t0 = performance.now();
  const ws = new WebSocket(`${server.url}bare`, { perMessageDeflate: false });
  await new Promise((resolve) => {
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type === 'auth.challenge') ws.send('{"type":"hello"}');
      else resolve();
    });
  });
  const ms = performance.now() - t0;
  await new Promise((resolve) => {
    ws.once('close', resolve);
    ws.close();
  });
  return ms;
}

const floorHandshake = createFloor(server);

async function floor() {
  const t0 = performance.now();
  const ws = await floorHandshake();
  const ms = performance.now() - t0;
  await new Promise((resolve) => {
    ws.once('close', resolve);
    ws.close();
  });
  return ms;
}

async function client() {
  const c = benchClient(server, identity);
  const t0 = performance.now();
  const ms = await connect(c, () => performance.now() - t0);
  await c.disconnect();
  return ms;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const runs = { bare, floor, client };
const ORDERS = [
  ['bare', 'floor', 'client'],
  ['client', 'bare', 'floor'],
  ['floor', 'client', 'bare'],
];
for (let i = 0; i < 50; i++) for (const name of ORDERS[0]) await runs[name]();
const perRound = { bare: [], floor: [], client: [] };
for (let r = 0; r < ROUNDS; r++) {
  const samples = { bare: [], floor: [], client: [] };
  for (let i = 0; i < N; i++) {
    for (const name of ORDERS[i % ORDERS.length]) samples[name].push(await runs[name]());
  }
  for (const name of Object.keys(samples)) perRound[name].push(median(samples[name]));
}
const b = median(perRound.bare);
const f = median(perRound.floor);
const c = median(perRound.client);
const list = (xs) => xs.map((x) => x.toFixed(3)).join(', ');
console.log(
  `handshake: ${N} × ${ROUNDS} rounds each, one at a time, server latency ${LATENCY} ms, node ${process.version}`,
);
console.log(
  `bare ws open + 1 RTT ${b.toFixed(3)} ms   SignalingClient connect → connected ${c.toFixed(3)} ms   ratio ${(c / b).toFixed(2)}×` +
    `   (round medians: bare ${list(perRound.bare)}; client ${list(perRound.client)})`,
);
console.log(
  `floor (v1 by hand, node:crypto) ${f.toFixed(3)} ms   floor/bare ${(f / b).toFixed(2)}×   client/floor ${(c / f).toFixed(2)}×` +
    `   (round medians: floor ${list(perRound.floor)})`,
);

await server.stop();
