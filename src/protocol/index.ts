export * from './auth.js';
export * from './base64url.js';
export * from './constants.js';
export {
  isCanonicalPoint,
  isCanonicalScalar,
  isSmallOrderKey,
  type VerifierKind,
  verifyEd25519,
} from './ed25519.js';
export type * from './messages.js';
export { normalizeOrigin } from './origin.js';
export {
  isKey,
  type ParsedMessage,
  type ParseOptions,
  type ParseResult,
  parseFrame,
  validateMessage,
} from './parse.js';
export { type TranscriptFields, transcript } from './transcript.js';
