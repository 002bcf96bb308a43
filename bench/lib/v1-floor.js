// The floor of a protocol-v1 handshake: what any implementation must do, done by hand with node:crypto
// and nothing else — parse the challenge, check its key against the pin, build the transcript (the
// library's transcript()), sign, send, parse auth.ok, verify the proof. Its keys are node:crypto
// KeyObjects made once (its own pair, the pinned server key) and its nonces are cut from one CSPRNG
// draw (one call costs 15–25 µs on a process just woken by the network): no statechart, no checks
// beyond those, no per-connect set-up. Used by bench/handshake.js and bench/handshake-stages.js.
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import WebSocket from 'ws';
import { normalizeOrigin, transcript } from '../../dist/index.js';

/**
 * A floor client for `server` (`{ url, publicKey }` from spawnBenchServer): returns `handshake()`, which
 * dials `server.url` and resolves with the open socket once the server's proof verified.
 */
export function createFloor(server, { WebSocket: Socket = WebSocket } = {}) {
  const keys = generateKeyPairSync('ed25519');
  const publicKey = keys.publicKey.export({ format: 'jwk' }).x;
  const publicKeyBytes = Buffer.from(publicKey, 'base64url');
  const pinned = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: server.publicKey }, format: 'jwk' });
  const pinnedBytes = Buffer.from(server.publicKey, 'base64url');
  const origin = normalizeOrigin(server.url);
  let nonces = Buffer.alloc(0);
  const nonce = () => {
    if (nonces.length < 32) nonces = randomBytes(4096);
    const out = nonces.subarray(0, 32);
    nonces = nonces.subarray(32);
    return out;
  };

  return function handshake() {
    const ws = new Socket(server.url, { perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      let fields;
      ws.on('message', (data) => {
        const m = JSON.parse(data);
        if (m.type === 'auth.challenge') {
          if (m.serverKey !== server.publicKey) return reject(new Error('floor: server key mismatch'));
          const clientNonce = nonce();
          const issuedAt = Date.now();
          fields = {
            origin,
            serverNonce: Buffer.from(m.nonce, 'base64url'),
            clientNonce,
            issuedAt,
            clientPublicKey: publicKeyBytes,
            serverPublicKey: pinnedBytes,
          };
          const signature = sign(null, transcript('C', fields), keys.privateKey);
          ws.send(
            JSON.stringify({
              type: 'auth.response',
              v: 1,
              publicKey,
              clientNonce: clientNonce.toString('base64url'),
              issuedAt,
              signature: signature.toString('base64url'),
            }),
          );
        } else if (m.type === 'auth.ok') {
          const proof = Buffer.from(m.signature, 'base64url');
          if (verify(null, transcript('S', fields), pinned, proof)) resolve(ws);
          else reject(new Error('floor: bad server proof'));
        } else reject(new Error(`floor: unexpected ${m.type}`));
      });
    });
  };
}
