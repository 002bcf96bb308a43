export { type BrowserStoreOptions, deleteIdentity, loadIdentity, saveIdentity } from './browser-store.js';
export { Identity, type IdentityOptions, type Signer } from './identity.js';
export type { Ed25519PrivateJwk, Ed25519PublicJwk } from './key-formats.js';
export type { HandleOptions, SignerKind } from './signers.js';
