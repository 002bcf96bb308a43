import { KEY_BYTES } from '../protocol/constants.js';

/**
 * The one key format every signer needs (WebCrypto and node:crypto import seeds as PKCS#8), kept apart
 * from the other formats so that those load only when an app imports or exports keys.
 */
// PKCS#8 v1 for Ed25519: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }
const PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

/** The 48-byte PKCS#8 v1 DER of a seed. */
export function seedToPkcs8(seed: Uint8Array): Uint8Array {
  const out = new Uint8Array(PKCS8_PREFIX.length + KEY_BYTES);
  out.set(PKCS8_PREFIX);
  out.set(seed, PKCS8_PREFIX.length);
  return out;
}
