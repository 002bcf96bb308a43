import type { NodeEd25519 } from './node-ed25519.js';

/** Browsers have no `node:crypto`: WebCrypto (or the lazily loaded tweetnacl) signs and verifies. */
export const nodeEd25519: NodeEd25519 | null = null;
