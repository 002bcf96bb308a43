// Ed25519 sign and verify throughput of every Identity signer and every verifyEd25519 backend, each
// against node:crypto measured in the same run. Run `npm run build` first: this imports ../dist.
//
//   node bench/sign.js            (or `npm run bench`, which runs every benchmark)
//
// Goals (brief): the default signer on Node ≥ 0.8× node:crypto's sign; the default verifier ≥ 0.9×
// node:crypto's verify with a KeyObject made per call from the raw key — what a server holding only
// the client's 32-byte key must do. The ratio to a pre-made KeyObject is printed too.
import { createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { Identity, verifyEd25519 } from '../dist/index.js';

const ROUNDS = 5;
// node:crypto and WebCrypto do thousands per second; tweetnacl (pure JS) far fewer.
const ITERATIONS = { fast: 3000, slow: 40 };
// About the size of a v1 auth transcript (tag, role, keys, nonces, origin, timestamp).
const MESSAGE = randomBytes(220);

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/** ops/s of `op` run `n` times in sequence, each awaited when it returns a promise. */
async function opsPerSecond(op, n) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const result = op();
    if (result instanceof Promise) await result;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return n / seconds;
}

/**
 * Runs `candidate` and each baseline alternately for ROUNDS rounds (after one warm-up round), so
 * drift in machine load hits all of them alike; returns median ops/s and median per-round ratios.
 */
async function compare(n, candidate, baselines) {
  // Baselines always run the full count: a few dozen calls of a fast op time mostly noise.
  const samples = { candidate: [], ...Object.fromEntries(Object.keys(baselines).map((k) => [k, []])) };
  const ratios = Object.fromEntries(Object.keys(baselines).map((k) => [k, []]));
  for (let round = -1; round < ROUNDS; round++) {
    const c = await opsPerSecond(candidate, n);
    const measured = {};
    for (const [name, op] of Object.entries(baselines))
      measured[name] = await opsPerSecond(op, ITERATIONS.fast);
    if (round < 0) continue; // warm-up: JIT, lazy imports, key caches
    samples.candidate.push(c);
    for (const name of Object.keys(baselines)) {
      samples[name].push(measured[name]);
      ratios[name].push(c / measured[name]);
    }
  }
  return {
    ops: median(samples.candidate),
    baselines: Object.fromEntries(Object.keys(baselines).map((k) => [k, median(samples[k])])),
    ratios: Object.fromEntries(Object.keys(baselines).map((k) => [k, median(ratios[k])])),
  };
}

const fmt = (ops) => Math.round(ops).toLocaleString('en-US').padStart(8);
const fmtRatio = (r) => `${r.toFixed(2)}×`.padStart(6);

async function main() {
  const seed = randomBytes(32);
  const reference = await Identity.fromSeed(new Uint8Array(seed), { extractable: true });
  const privateKey = createPrivateKey({ key: await reference.exportJwk(), format: 'jwk' });
  const publicRaw = reference.publicKeyBytes;
  const publicX = Buffer.from(publicRaw).toString('base64url');
  const publicKeyObject = createPublicKey(privateKey);
  const signature = sign(null, MESSAGE, privateKey);

  // Sanity: every path agrees before anything is timed.
  if (!verify(null, MESSAGE, publicKeyObject, signature))
    throw new Error('node:crypto disagrees with itself');

  const baselineSign = () => sign(null, MESSAGE, privateKey);
  const baselineVerifyPerCall = () =>
    verify(
      null,
      MESSAGE,
      createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicX }, format: 'jwk' }),
      signature,
    );
  const baselineVerifyKeyObject = () => verify(null, MESSAGE, publicKeyObject, signature);

  console.log(`Ed25519, ${MESSAGE.length}-byte message, ${ROUNDS} rounds (median), Node ${process.version}`);
  console.log('');
  console.log('sign                  ops/s   node:crypto.sign   ratio');
  const results = {};
  for (const signer of ['auto', 'node', 'webcrypto', 'tweetnacl']) {
    const identity = await Identity.fromSeed(new Uint8Array(seed), signer === 'auto' ? {} : { signer });
    const ours = await identity.sign(MESSAGE);
    if (!Buffer.from(ours).equals(signature)) throw new Error(`${signer} signer gave a different signature`);
    const n = signer === 'tweetnacl' ? ITERATIONS.slow : ITERATIONS.fast;
    const r = await compare(n, () => identity.sign(MESSAGE), { sign: baselineSign });
    results[`sign:${signer}`] = r;
    const label = signer === 'auto' ? `default (${identity.signer})` : signer;
    console.log(
      `  ${label.padEnd(17)} ${fmt(r.ops)}   ${fmt(r.baselines.sign)}           ${fmtRatio(r.ratios.sign)}`,
    );
  }

  console.log('');
  console.log('verifyEd25519         ops/s   node:crypto.verify   ratio   node:crypto.verify   ratio');
  console.log('                              (KeyObject per call)          (KeyObject made once)');
  for (const verifier of ['auto', 'node', 'webcrypto', 'tweetnacl']) {
    const kind = verifier === 'auto' ? undefined : verifier;
    if (!(await verifyEd25519(publicRaw, MESSAGE, signature, kind))) throw new Error(`${verifier} refused`);
    const n = verifier === 'tweetnacl' ? ITERATIONS.slow : ITERATIONS.fast;
    const r = await compare(n, () => verifyEd25519(publicRaw, MESSAGE, signature, kind), {
      perCall: baselineVerifyPerCall,
      keyObject: baselineVerifyKeyObject,
    });
    results[`verify:${verifier}`] = r;
    const label = verifier === 'auto' ? 'default (node)' : verifier;
    console.log(
      `  ${label.padEnd(17)} ${fmt(r.ops)}   ${fmt(r.baselines.perCall)}             ${fmtRatio(r.ratios.perCall)}   ${fmt(r.baselines.keyObject)}             ${fmtRatio(r.ratios.keyObject)}`,
    );
  }

  const signRatio = results['sign:auto'].ratios.sign;
  const verifyRatio = results['verify:auto'].ratios.perCall;
  console.log('');
  console.log(
    `goal: default signer ≥ 0.80× node:crypto sign       → ${signRatio.toFixed(2)}× ${signRatio >= 0.8 ? 'met' : 'NOT met'}`,
  );
  console.log(
    `goal: default verifier ≥ 0.90× node:crypto verify   → ${verifyRatio.toFixed(2)}× ${verifyRatio >= 0.9 ? 'met' : 'NOT met'} (per-call KeyObject baseline)`,
  );
}

await main();
