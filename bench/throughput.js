// Application messages per second through SignalingClient, against a bare `ws` client on the same
// server in the same run (the goal: ≥ 0.95× the bare client, inbound and outbound).
// Run `npm run build` first: this imports ../dist.
//
//   node bench/throughput.js [messages=100000] [rounds=7] [bytes=100]
//
// The server (bench/lib/v1-server.js) runs in a child process. Inbound: it sends N application frames
// ({"type":"chat","n":i,"text":…}) as fast as the socket drains; timed from the request to the Nth
// frame handed to a subscriber; "inbound signals" does the same with relayed `signal` frames, which the
// client also checks (sender key, id) and de-duplicates by (from, id). The bare client parses each frame with JSON.parse and calls a handler,
// as any real client must; the SignalingClient also validates the frame, routes it by type and keeps
// the connection's state. Outbound: N sends, timed until the server has counted them all. Each round
// runs both clients (order alternating) on fresh connections; medians are printed.
import WebSocket from 'ws';
import { Identity } from '../dist/index.js';
import { benchClient, connect } from './lib/bench-client.js';
import { spawnBenchServer } from './lib/v1-server.js';

const N = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 7);
const BYTES = Number(process.argv[4] ?? 100);
const text = 'y'.repeat(BYTES);

const server = await spawnBenchServer();
const identity = await Identity.generate();

// The bare client: open, answer the server's first frame, wait for its reply; then the commands.
async function bare() {
  const ws = new WebSocket(`${server.url}bare`, { perMessageDeflate: false });
  let onFrame = () => {};
  ws.on('message', (data) => onFrame(JSON.parse(data)));
  await new Promise((resolve) => {
    onFrame = (m) => (m.type === 'auth.challenge' ? ws.send('{"type":"hello"}') : resolve());
  });
  return {
    inbound: (kind) =>
      new Promise((resolve) => {
        let count = 0;
        onFrame = (m) => {
          if (m.type === kind && ++count === N) resolve();
        };
        ws.send(JSON.stringify({ type: 'blast', n: N, bytes: BYTES, kind }));
      }),
    outbound: () =>
      new Promise((resolve) => {
        onFrame = (m) => m.type === 'counted' && resolve();
        ws.send(JSON.stringify({ type: 'count', n: N }));
        for (let i = 0; i < N; i++) ws.send(JSON.stringify({ type: 'chat', n: i, text }));
      }),
    close: () =>
      new Promise((resolve) => {
        ws.once('close', resolve);
        ws.close();
      }),
  };
}

async function client() {
  const c = benchClient(server, identity);
  await connect(c);
  return {
    inbound: (kind) =>
      new Promise((resolve) => {
        let count = 0;
        const off = c.on(kind, () => {
          if (++count === N) {
            off();
            resolve();
          }
        });
        c.send({ type: 'blast', n: N, bytes: BYTES, kind });
      }),
    outbound: () =>
      new Promise((resolve) => {
        const off = c.on('counted', () => {
          off();
          resolve();
        });
        c.send({ type: 'count', n: N });
        for (let i = 0; i < N; i++) c.send({ type: 'chat', n: i, text });
      }),
    close: () => c.disconnect(),
  };
}

async function timed(make, test) {
  const conn = await make();
  const t0 = performance.now();
  await (test === 'outbound'
    ? conn.outbound()
    : conn.inbound(test === 'inbound signals' ? 'signal' : 'chat'));
  const ms = performance.now() - t0;
  await conn.close();
  return (N / ms) * 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x) => Math.round(x).toLocaleString('en-US');

console.log(
  `throughput: ${N} messages of ~${BYTES + 30} bytes, ${ROUNDS} rounds (+1 warm-up), node ${process.version}`,
);
for (const test of ['inbound', 'inbound signals', 'outbound']) {
  const results = { bare: [], client: [] };
  for (let r = 0; r <= ROUNDS; r++) {
    const order = r % 2 === 0 ? ['bare', 'client'] : ['client', 'bare'];
    for (const who of order) {
      const rate = await timed(who === 'bare' ? bare : client, test);
      if (r > 0) results[who].push(rate);
    }
  }
  const b = median(results.bare);
  const c = median(results.client);
  // Each round runs both back to back: the median of those paired ratios resists a busy machine.
  const paired = median(results.client.map((x, i) => x / results.bare[i]));
  console.log(
    `${test.padEnd(15)} bare ws ${fmt(b)} msg/s   SignalingClient ${fmt(c)} msg/s   ratio ${(c / b).toFixed(3)}×` +
      `   (median of paired rounds ${paired.toFixed(3)}×; bare ${results.bare.map(fmt).join(', ')}; client ${results.client.map(fmt).join(', ')})`,
  );
}

await server.stop();
