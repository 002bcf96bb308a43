/**
 * Runs in Chromium. Exposes `window.run(step)` for the Node side to call; each step returns plain data.
 * Step 'first' makes and stores a non-extractable identity; step 'after-reload' loads it again.
 */
import {
  createAuthResponse,
  encodeBase64url,
  Identity,
  loadIdentity,
  saveIdentity,
  verifyChallenge,
  verifyEd25519,
} from '../../src/index.js';

const message = new TextEncoder().encode('browser says hi');

async function first() {
  const identity = await Identity.generate();
  await saveIdentity(identity, { name: 'me' });
  const signature = await identity.sign(message);
  let exportError = '';
  try {
    await identity.exportSeed();
  } catch (error) {
    exportError = (error as { code?: string }).code ?? String(error);
  }
  // A whole handshake in the browser: client proof made and checked with WebCrypto.
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  const challenge = {
    type: 'auth.challenge',
    v: 1,
    nonce: encodeBase64url(nonce),
    heartbeat: { interval: 25000, timeout: 10000 },
    limits: { maxMessageBytes: 65536 },
  };
  const origin = 'ws://127.0.0.1:9/';
  const response = await createAuthResponse(challenge, { identity, origin });
  const verdict = await verifyChallenge(response, { nonce, origins: [origin], now: Date.now() });
  return {
    signer: identity.signer,
    extractable: identity.extractable,
    publicKey: identity.publicKey,
    signatureLength: signature.length,
    verifiesWebCrypto: await verifyEd25519(identity.publicKeyBytes, message, signature, 'webcrypto'),
    verifiesTweetnacl: await verifyEd25519(identity.publicKeyBytes, message, signature, 'tweetnacl'),
    exportError,
    handshakeOk: verdict.ok,
    hasNodeCrypto: typeof (globalThis as { process?: unknown }).process !== 'undefined',
  };
}

async function afterReload() {
  const identity = await Identity.generate(); // unrelated, proves loading is not just "any key"
  const loaded = await loadIdentity({ name: 'me' });
  if (!loaded) return { found: false };
  const signature = await loaded.sign(message);
  let exportError = '';
  try {
    await loaded.exportSeed();
  } catch (error) {
    exportError = (error as { code?: string }).code ?? String(error);
  }
  return {
    found: true,
    publicKey: loaded.publicKey,
    other: identity.publicKey,
    verifies: await verifyEd25519(loaded.publicKeyBytes, message, signature),
    exportError,
    json: JSON.stringify(loaded),
  };
}

/** Signs a message chosen by the Node side, with a fresh identity, for Node to verify. */
async function signFor(text: string) {
  const identity = await Identity.generate();
  const signature = await identity.sign(new TextEncoder().encode(text));
  return { publicKey: identity.publicKey, signature: encodeBase64url(signature) };
}

const steps: Record<string, (arg: string) => Promise<unknown>> = {
  first,
  'after-reload': afterReload,
  sign: signFor,
};
(window as unknown as { run: (step: string, arg?: string) => Promise<unknown> }).run = (step, arg = '') =>
  (steps[step] as (arg: string) => Promise<unknown>)(arg);
(window as unknown as { ready: boolean }).ready = true;
