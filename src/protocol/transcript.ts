import { SignalingError } from '../errors.js';
import { KEY_BYTES, NONCE_BYTES, ROLE_CLIENT, ROLE_SERVER, type Role, TRANSCRIPT_TAG } from './constants.js';

/** The fields both sides sign. `origin` is already normalized (see `normalizeOrigin`). */
export interface TranscriptFields {
  origin: string;
  serverNonce: Uint8Array;
  clientNonce: Uint8Array;
  issuedAt: number;
  clientPublicKey: Uint8Array;
  /** Absent when the challenge carried no `serverKey`: 32 zero bytes are signed instead. */
  serverPublicKey?: Uint8Array | undefined;
}

const encoder = new TextEncoder();
const TAG = encoder.encode(TRANSCRIPT_TAG);
const ZERO_KEY = new Uint8Array(KEY_BYTES);
let originText = '';
let originBytes = new Uint8Array(0);

/**
 * The exact bytes of protocol v1's transcript:
 * tag "signaling-actor/auth/v1\0" · role · u16be(len(origin)) · origin · serverNonce · clientNonce ·
 * u64be(issuedAt) · clientPublicKey · serverPublicKey (or 32 zero bytes).
 * @throws SignalingError `invalid-length` for a field of the wrong size or an origin over 65535 bytes
 */
export function transcript(role: Role, fields: TranscriptFields): Uint8Array {
  // A client signs and verifies for one origin, a server for a few: the last one's UTF-8 is kept (the
  // encoding was half of a transcript's cost on the handshake path). '' encodes to no bytes.
  if (fields.origin !== originText) {
    originText = fields.origin;
    originBytes = encoder.encode(originText);
  }
  const origin = originBytes;
  if (origin.length > 0xffff) throw new SignalingError('invalid-length', 'origin is longer than 65535 bytes');
  expectLength(fields.serverNonce, NONCE_BYTES, 'serverNonce');
  expectLength(fields.clientNonce, NONCE_BYTES, 'clientNonce');
  expectLength(fields.clientPublicKey, KEY_BYTES, 'clientPublicKey');
  const serverKey = fields.serverPublicKey ?? ZERO_KEY;
  expectLength(serverKey, KEY_BYTES, 'serverPublicKey');
  const issuedAt = fields.issuedAt;
  if (!Number.isSafeInteger(issuedAt) || issuedAt < 0) {
    throw new SignalingError('invalid-length', 'issuedAt must be a non-negative safe integer');
  }

  const out = new Uint8Array(TAG.length + 1 + 2 + origin.length + 2 * NONCE_BYTES + 8 + 2 * KEY_BYTES);
  const view = new DataView(out.buffer);
  let at = 0;
  out.set(TAG, at);
  at += TAG.length;
  out[at++] = role === 'C' ? ROLE_CLIENT : ROLE_SERVER;
  view.setUint16(at, origin.length);
  at += 2;
  out.set(origin, at);
  at += origin.length;
  out.set(fields.serverNonce, at);
  at += NONCE_BYTES;
  out.set(fields.clientNonce, at);
  at += NONCE_BYTES;
  view.setBigUint64(at, BigInt(issuedAt));
  at += 8;
  out.set(fields.clientPublicKey, at);
  at += KEY_BYTES;
  out.set(serverKey, at);
  return out;
}

function expectLength(bytes: Uint8Array, length: number, name: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new SignalingError('invalid-length', `${name} must be ${length} bytes`);
  }
}
