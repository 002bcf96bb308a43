// Where a loopback handshake's time goes, stage by stage: SignalingClient against the floor (the v1
// handshake by hand with node:crypto, bench/lib/v1-floor.js), alternating on the same server.
// Run `npm run build` first: this imports ../dist.
//
//   node bench/handshake-stages.js [handshakes=1500]
//
// Both dial through the same traced `ws` class (no permessage-deflate, like the client's default),
// which stamps performance.now() at: the constructor's start and end, `open`, each frame in (before
// any other listener), the auth.response written; and the client's 'connected' / the floor's verified
// proof. Each stage's median is printed (µs), and the client's excess over the floor: that excess is the
// client's own work between network events — its statechart's steps and the library's checks.
import WebSocket from 'ws';
import { Identity } from '../dist/index.js';
import { benchClient, connect } from './lib/bench-client.js';
import { createFloor } from './lib/v1-floor.js';
import { spawnBenchServer } from './lib/v1-server.js';

const N = Number(process.argv[2] ?? 1500);
const WARMUP = 200;

let marks;
const mark = (name) => {
  marks[name] ??= performance.now();
};

class TracedWebSocket extends WebSocket {
  constructor(url) {
    mark('ctor');
    super(url, { perMessageDeflate: false });
    mark('constructed');
    this.once('open', () => mark('open'));
    let frames = 0;
    this.prependListener('message', () => mark(frames++ === 0 ? 'challenge' : 'ok'));
  }
  send(data, ...rest) {
    mark('written');
    return super.send(data, ...rest);
  }
}

const server = await spawnBenchServer();
const identity = await Identity.generate();
const floorHandshake = createFloor(server, { WebSocket: TracedWebSocket });

async function client() {
  const c = benchClient(server, identity, { WebSocket: TracedWebSocket });
  mark('t0');
  await connect(c, () => mark('done'));
  await c.disconnect();
}

async function floor() {
  mark('t0');
  const ws = await floorHandshake();
  mark('done');
  await new Promise((resolve) => {
    ws.once('close', resolve);
    ws.close();
  });
}

const STAGES = [
  ['connect() → new WebSocket', 't0', 'ctor'],
  ['WebSocket constructor', 'ctor', 'constructed'],
  ['constructed → open', 'constructed', 'open'],
  ['open → challenge in', 'open', 'challenge'],
  ['challenge in → auth.response written', 'challenge', 'written'],
  ['written → auth.ok in', 'written', 'ok'],
  ['auth.ok in → connected / proof verified', 'ok', 'done'],
  ['total', 't0', 'done'],
];
const rows = { client: [], floor: [] };
for (let i = 0; i < N + WARMUP; i++) {
  for (const [name, run] of i % 2 === 0
    ? [
        ['client', client],
        ['floor', floor],
      ]
    : [
        ['floor', floor],
        ['client', client],
      ]) {
    marks = {};
    await run();
    if (i >= WARMUP) rows[name].push(marks);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const us = (x) => (x * 1000).toFixed(1).padStart(9);
console.log(`handshake stages: ${N} each, alternating, loopback, node ${process.version} (medians, µs)`);
console.log(`${'stage'.padEnd(42)}${'client'.padStart(9)}${'floor'.padStart(9)}${'excess'.padStart(9)}`);
for (const [label, from, to] of STAGES) {
  const [c, f] = ['client', 'floor'].map((k) => median(rows[k].map((m) => m[to] - m[from])));
  console.log(`${label.padEnd(42)}${us(c)}${us(f)}${us(c - f)}`);
}

await server.stop();
