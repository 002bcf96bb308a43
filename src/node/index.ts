/**
 * signaling-actor/node — Node-only helpers (they import `node:*`, so they stay out of the `.` entry).
 * @packageDocumentation
 */
export {
  decodeIdentityFile,
  type EncryptedIdentityFile,
  encodeIdentityFile,
  IDENTITY_FILE_FORMAT,
  IDENTITY_FILE_VERSION,
  type LoadIdentityFileOptions,
  type LoadOrCreateIdentityFileOptions,
  loadIdentityFile,
  loadOrCreateIdentityFile,
  type PlainIdentityFile,
  type SaveIdentityFileOptions,
  SCRYPT_PARAMS,
  saveIdentityFile,
} from './key-file.js';
