// The reference server under load: handshakes/s with many concurrent clients, against node:crypto
// Ed25519 verifies/s measured in the same run; and server memory per idle authenticated connection,
// against a bare `ws` connection.
// Run `npm run build` first: this imports ../dist.
//
//   node bench/server.js [connections=1000] [concurrency=64] [rounds=5]
//   BENCH_PROF=signaling|floor|bare node bench/server.js …   (also writes a CPU profile of that server to /tmp/prof-*)
//
// A handshake is all of it: TCP connect, WebSocket upgrade, challenge, the client's signature, the
// server's verification, its proof, auth.ok. The server runs in a child process (its own heap, CPU
// time read with process.cpuUsage); the clients run here. Two figures per round:
//   - handshakes/s on the wall clock: bounded by whichever side saturates first (on a small machine,
//     often the clients, which also sign and dial);
//   - the server's capacity, 1 s / (server CPU time per handshake): what one core of server does.
// Each is compared with node:crypto verifies/s (a KeyObject made per call from the raw key, as a
// server holding only the client's 32-byte key must) — issue 4 asked ≥ 0.5×, which the bare socket
// alone rules out (a bare ws handshake costs two verifies; see the floor's ratio) — and with a
// bare `ws` server doing the same exchange of frames without any crypto or checks, the ceiling any
// Node WebSocket server has here. And with the floor (issue 14): the bare server's frames plus exactly
// one verify of the client's signature (its key imported per call: it is new on every handshake) and
// one sign of the proof (the server's own key held, as any server holds it), over the library's
// transcript() — what any v1 server must do. (Issue 14 proposed the server's key made per call too:
// that adds a JWK private-key import to every handshake of the floor, a cost no server needs to pay,
// and flattered our ratio by ~0.1.) Goal: ours ≤ 1.2× the floor; the line
// `server CPU per handshake vs floor: 1.13×` (median of the rounds' ratios) is for scripts.
import { fork } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';

if (process.argv[2] === '--child') await child(process.argv[3]);
else await parent();

async function child(mode) {
  let close;
  let stats = () => ({});
  let url;
  if (mode === 'bare') {
    const wss = await listeningServer();
    const challenge = JSON.stringify({
      type: 'auth.challenge',
      v: 1,
      nonce: 'n'.repeat(43),
      serverKey: 'k'.repeat(43),
      heartbeat: { interval: 25000, timeout: 10000 },
      limits: { maxMessageBytes: 65536 },
    });
    const ok = JSON.stringify({
      type: 'auth.ok',
      v: 1,
      sessionId: 's'.repeat(22),
      signature: 'x'.repeat(86),
    });
    wss.on('connection', (ws) => {
      ws.send(challenge);
      ws.once('message', (data) => {
        JSON.parse(data.toString());
        ws.send(ok);
      });
    });
    url = `ws://127.0.0.1:${wss.address().port}/`;
    stats = () => ({ sessions: wss.clients.size });
    close = () => new Promise((resolve) => wss.close(resolve));
  } else if (mode === 'floor') {
    const { transcript } = await import('../dist/index.js');
    const wss = await listeningServer();
    url = `ws://127.0.0.1:${wss.address().port}/`;
    // The server's own key is made once and held, as any server holds it; the client's key is new on
    // every handshake, so it is imported per call (as a JWK handed to verify(): the cheapest import).
    const { privateKey: serverKey, publicKey } = generateKeyPairSync('ed25519');
    const serverKeyText = publicKey.export({ format: 'jwk' }).x;
    const serverPublicKey = Buffer.from(serverKeyText, 'base64url');
    wss.on('connection', (ws) => {
      const nonce = randomBytes(32);
      ws.send(
        JSON.stringify({
          type: 'auth.challenge',
          v: 1,
          nonce: nonce.toString('base64url'),
          serverKey: serverKeyText,
          heartbeat: { interval: 25000, timeout: 10000 },
          limits: { maxMessageBytes: 65536 },
        }),
      );
      ws.once('message', (data) => {
        const m = JSON.parse(data.toString());
        const fields = {
          origin: url,
          serverNonce: nonce,
          clientNonce: Buffer.from(m.clientNonce, 'base64url'),
          issuedAt: m.issuedAt,
          clientPublicKey: Buffer.from(m.publicKey, 'base64url'),
          serverPublicKey,
        };
        const clientKey = { key: { kty: 'OKP', crv: 'Ed25519', x: m.publicKey }, format: 'jwk' };
        if (!verify(null, transcript('C', fields), clientKey, Buffer.from(m.signature, 'base64url')))
          return ws.close(4001);
        const signature = sign(null, transcript('S', fields), serverKey).toString('base64url');
        ws.send(JSON.stringify({ type: 'auth.ok', v: 1, sessionId: 's'.repeat(22), signature }));
      });
    });
    stats = () => ({ sessions: wss.clients.size });
    close = () => new Promise((resolve) => wss.close(resolve));
  } else {
    const { createSignalingServer } = await import('../dist/server/index.js');
    const { Identity } = await import('../dist/index.js');
    const server = await createSignalingServer({
      identity: await Identity.generate(),
      port: 0,
      heartbeat: { interval: 600_000, timeout: 600_000 },
      limits: { maxConnections: 100_000 },
    });
    url = server.url;
    stats = () => server.stats();
    close = () => server.close();
  }
  process.on('message', async (message) => {
    if (message === 'cpu') {
      process.send({ cpu: process.cpuUsage(), stats: stats() });
    } else if (message === 'memory') {
      for (let i = 0; i < 3; i++) {
        globalThis.gc?.();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const { rss, heapUsed, external } = process.memoryUsage();
      process.send({ memory: { rss, heapUsed, external } });
    } else if (message === 'close') {
      await close();
      process.exit(0);
    }
  });
  process.send({ url });
}

/** A bare `ws` server on a free loopback port, as the bare and floor modes use it. */
async function listeningServer() {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    maxPayload: 65536,
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  return wss;
}

async function startChild(mode) {
  const proc = fork(fileURLToPath(import.meta.url), ['--child', mode], {
    execArgv: [
      '--expose-gc',
      ...(process.env.BENCH_PROF === mode ? ['--cpu-prof', `--cpu-prof-dir=/tmp/prof-${mode}`] : []),
    ],
  });
  const ask = (message) =>
    new Promise((resolve) => {
      proc.once('message', resolve);
      if (message) proc.send(message);
    });
  const { url } = await ask();
  const stop = () =>
    new Promise((resolve) => {
      proc.once('exit', resolve);
      proc.send('close');
    });
  return { url, ask, stop };
}

async function parent() {
  const [connections = 1000, concurrency = 64, rounds = 5] = process.argv.slice(2).map(Number);
  const { Identity, createAuthResponse } = await import('../dist/index.js');
  const signaling = await startChild('signaling');
  const floor = await startChild('floor');
  const bare = await startChild('bare');
  // Identities are made up front: key generation is not part of a handshake.
  const identities = await Promise.all(Array.from({ length: connections }, () => Identity.generate()));
  const fakeResponse = JSON.stringify({
    type: 'auth.response',
    v: 1,
    publicKey: 'p'.repeat(43),
    clientNonce: 'c'.repeat(43),
    issuedAt: Date.now(),
    signature: 's'.repeat(86),
  });

  const handshake = (url, identity) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.once('error', reject);
      ws.once('message', async (data) => {
        // The bare server's client parses the challenge too, so both sides do the same JSON work.
        const challenge = JSON.parse(data.toString());
        const response = identity
          ? JSON.stringify(await createAuthResponse(challenge, { identity, origin: url }))
          : fakeResponse;
        ws.once('message', (reply) => {
          if (JSON.parse(reply.toString()).type === 'auth.ok') resolve(ws);
          else reject(new Error(`refused: ${reply}`));
        });
        ws.send(response);
      });
    });

  /** Opens `connections` sockets, `concurrency` handshakes in flight at a time. */
  async function openAll(url, sign) {
    const sockets = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < connections) {
          const identity = sign ? identities[next] : undefined;
          next++;
          sockets.push(await handshake(url, identity));
        }
      }),
    );
    return sockets;
  }

  const closeAll = (sockets) =>
    Promise.all(
      sockets.map(
        (ws) =>
          new Promise((resolve) => {
            ws.once('close', resolve);
            ws.close();
          }),
      ),
    );

  /** One round against one server: wall-clock handshakes/s and server CPU µs per handshake. */
  async function measure(server, sign, withMemory) {
    const before = withMemory ? await server.ask('memory') : undefined;
    const cpu0 = await server.ask('cpu');
    const start = performance.now();
    const sockets = await openAll(server.url, sign);
    const seconds = (performance.now() - start) / 1000;
    const cpu1 = await server.ask('cpu');
    if (cpu1.stats.sessions !== connections)
      throw new Error(`expected ${connections} sessions, saw ${cpu1.stats.sessions}`);
    const after = withMemory ? await server.ask('memory') : undefined;
    await closeAll(sockets);
    const cpuMicros = (cpu1.cpu.user + cpu1.cpu.system - cpu0.cpu.user - cpu0.cpu.system) / connections;
    return {
      wall: connections / seconds,
      cpuMicros,
      memory: withMemory && {
        heap: (after.memory.heapUsed - before.memory.heapUsed) / connections,
        offHeap: (after.memory.external - before.memory.external) / connections,
        rss: (after.memory.rss - before.memory.rss) / connections,
      },
    };
  }

  const message = randomBytes(220);
  const pair = generateKeyPairSync('ed25519');
  const signature = sign(null, message, pair.privateKey);
  const { x } = pair.publicKey.export({ format: 'jwk' });
  function verifiesPerSecond(ms = 1000) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < ms) {
      for (let i = 0; i < 100; i++) {
        const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
        if (!verify(null, message, key, signature)) throw new Error('verify failed');
      }
      n += 100;
    }
    return (n * 1000) / (performance.now() - start);
  }

  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const rows = [];
  await measure(signaling, true, false); // warm-up
  await measure(floor, true, false);
  await measure(bare, false, false);
  for (let round = 1; round <= rounds; round++) {
    const verifies = verifiesPerSecond();
    const ours = await measure(signaling, true, false);
    const least = await measure(floor, true, false);
    const ceiling = await measure(bare, false, false);
    rows.push({ verifies, ours, least, ceiling });
    console.log(
      `round ${round}: ${ours.wall.toFixed(0)} handshakes/s (server ${ours.cpuMicros.toFixed(0)} µs CPU each → ` +
        `${(1e6 / ours.cpuMicros).toFixed(0)}/s per core); floor ${least.cpuMicros.toFixed(0)} µs ` +
        `(${(ours.cpuMicros / least.cpuMicros).toFixed(2)}×); bare ws ${ceiling.wall.toFixed(0)}/s ` +
        `(${ceiling.cpuMicros.toFixed(0)} µs); node:crypto ${verifies.toFixed(0)} verifies/s`,
    );
  }
  // Memory rounds come after every CPU round: their forced GCs shrink the heap, and a server whose
  // heap has just been shrunk spends far more CPU on the next handshakes regrowing it (measured: about
  // +200 µs a handshake), which no real server pays and the bare server, never forced, would not either.
  for (const row of rows) {
    row.ours.memory = (await measure(signaling, true, true)).memory;
    row.ceiling.memory = (await measure(bare, false, true)).memory;
  }
  await signaling.stop();
  await floor.stop();
  await bare.stop();

  const m = (f) => median(rows.map(f));
  const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
  const capacity = (row) => 1e6 / row.ours.cpuMicros;
  console.log(
    `\nserver, ${connections} connections, ${concurrency} handshakes in flight, median of ${rounds} rounds:`,
  );
  console.log(`  node:crypto verifies/s (key per call)       ${m((r) => r.verifies).toFixed(0)}`);
  console.log(
    `  handshakes/s, wall clock                     ${m((r) => r.ours.wall).toFixed(0)}   ratio to verifies ${m((r) => r.ours.wall / r.verifies).toFixed(2)}×`,
  );
  console.log(
    `  handshakes/s per server core (CPU time)      ${m(capacity).toFixed(0)}   ratio to verifies ${m((r) => capacity(r) / r.verifies).toFixed(2)}×  (the floor's: ${m((r) => 1e6 / r.least.cpuMicros / r.verifies).toFixed(2)}×)`,
  );
  console.log(
    `  bare ws, same frames, no crypto: wall        ${m((r) => r.ceiling.wall).toFixed(0)}/s, per core ${m((r) => 1e6 / r.ceiling.cpuMicros).toFixed(0)}/s`,
  );
  console.log(
    `  server CPU per handshake: ours ${m((r) => r.ours.cpuMicros).toFixed(0)} µs, bare ws ${m((r) => r.ceiling.cpuMicros).toFixed(0)} µs, one verify ${m((r) => 1e6 / r.verifies).toFixed(0)} µs`,
  );
  console.log(
    `  floor (bare ws + one verify + one sign): ${m((r) => r.least.cpuMicros).toFixed(0)} µs CPU per handshake`,
  );
  const memory = (side) =>
    `heap ${kb(m((r) => r[side].memory.heap))}, off-heap ${kb(m((r) => r[side].memory.offHeap))}, ` +
    `rss ${kb(m((r) => r[side].memory.rss))}`;
  console.log(`  memory per idle authenticated connection: ${memory('ours')}`);
  console.log(
    `  memory per idle bare ws connection:         ${memory('ceiling')}   heap ratio ${m((r) => r.ours.memory.heap / r.ceiling.memory.heap).toFixed(2)}× (goal ≤ 1.5×)`,
  );
  console.log(
    `server CPU per handshake vs floor: ${m((r) => r.ours.cpuMicros / r.least.cpuMicros).toFixed(2)}×`,
  );
}
