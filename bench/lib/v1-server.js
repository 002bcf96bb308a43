// A protocol-v1 server for the client benchmarks, run in a child process so that it has its own core
// and event loop. One WebSocket server, two doors:
//   /      the v1 handshake (verifyChallenge + createServerProof from ../../dist, as the reference
//          server does), then the bench commands;
//   /bare  no handshake: the server speaks first with a challenge-shaped frame and answers any frame
//          once with {"type":"ok"} (open + one round trip, the handshake baseline), then the commands.
// With a latency (ms), every frame the server sends is delayed by it (the handshake bench's far server).
// Commands, the same on both doors: {"type":"blast","n":N,"bytes":B,"kind":"chat"|"signal"} → N frames
// (application messages, or relayed signals with distinct ids) as fast as the socket drains; {"type":"count","n":N} → the next N frames are counted, then {"type":"counted"}.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

/** Starts the server in a child process; resolves with its URL and a stop function. */
export function spawnBenchServer({ latency = 0 } = {}) {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', String(latency)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (info) =>
      resolve({
        ...info,
        stop: () =>
          new Promise((done) => {
            child.once('exit', done);
            child.kill();
          }),
      }),
    );
  });
}

if (process.argv[2] === '--serve') await serve(Number(process.argv[3] ?? 0));

async function serve(latency) {
  const { Identity, createServerProof, verifyChallenge, encodeBase64url } = await import(
    '../../dist/index.js'
  );
  const identity = await Identity.generate();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  const url = `ws://127.0.0.1:${wss.address().port}/`;
  const origins = [url];

  wss.on('connection', (ws, request) => {
    const bare = request.url === '/bare';
    if (latency > 0) {
      // A one-way delay on every frame the server sends: a network farther away than loopback.
      const send = ws.send.bind(ws);
      ws.send = (data) => setTimeout(() => ws.readyState === 1 && send(data), latency);
    }
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    let stage = 'auth';
    let counting = 0;
    ws.send(
      JSON.stringify({
        type: 'auth.challenge',
        v: 1,
        nonce: encodeBase64url(nonce),
        serverKey: identity.publicKey,
        heartbeat: { interval: 25_000, timeout: 10_000 },
        limits: { maxMessageBytes: 65_536 },
      }),
    );
    ws.on('message', async (data) => {
      if (counting > 0) {
        if (--counting === 0) ws.send('{"type":"counted"}');
        return;
      }
      const m = JSON.parse(String(data));
      if (stage === 'auth') {
        stage = 'ready';
        if (bare) return ws.send('{"type":"ok"}');
        const verdict = await verifyChallenge(m, {
          nonce,
          origins,
          serverKey: identity.publicKey,
          now: Date.now(),
        });
        if (!verdict.ok) return ws.close(4001);
        const signature = await createServerProof({
          identity,
          origin: verdict.origin,
          nonce,
          response: verdict.response,
        });
        return ws.send(JSON.stringify({ type: 'auth.ok', v: 1, sessionId: 'bench', signature }));
      }
      if (m.type === 'ping') return ws.send(JSON.stringify({ type: 'pong', t: m.t }));
      if (m.type === 'count') counting = m.n;
      else if (m.type === 'blast') blast(ws, m.n, m.bytes ?? 100, m.kind ?? 'chat');
    });
  });

  process.send({ url, publicKey: identity.publicKey });
}

// A fixed, valid sender key for relayed signals (32 bytes of 0x2a, base64url).
const FROM = 'KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio';

function blast(ws, n, bytes, kind) {
  const text = 'x'.repeat(bytes);
  const frame =
    kind === 'signal'
      ? (i) => `{"type":"signal","from":"${FROM}","id":"${i}","data":"${text}"}`
      : (i) => `{"type":"chat","n":${i},"text":"${text}"}`;
  let i = 0;
  const pump = () => {
    // Keep ~1 MiB in flight: fast enough to saturate the reader, bounded so memory stays flat.
    while (i < n && ws.bufferedAmount < 1 << 20) ws.send(frame(i++));
    if (i < n) setImmediate(pump);
  };
  pump();
}
