import { SignalingError } from '../errors.js';
import { getSubtle } from '../platform.js';
import { cryptoKeyOf, Identity } from './identity.js';
import { seedToPkcs8 } from './pkcs8-seed.js';

/**
 * Keeps an identity in IndexedDB as a non-extractable WebCrypto key: the browser stores the key object
 * itself (structured clone), so script on the page can sign with it after a reload but can never read
 * the secret — not even this library.
 */

/** Where in IndexedDB {@link saveIdentity}, {@link loadIdentity} and {@link deleteIdentity} keep an identity. */
export interface BrowserStoreOptions {
  /** The record's name, to keep several identities apart. Default `'default'`. */
  name?: string;
  /** The IndexedDB database. Default `'signaling-actor'`. */
  database?: string;
}

const STORE = 'identities';

interface StoredIdentity {
  publicKey: string;
  privateKey: CryptoKey;
}

/**
 * Saves `identity` under `name`. A WebCrypto identity is stored as it is; an extractable one from
 * another backend is imported into WebCrypto as non-extractable first.
 * @throws SignalingError `not-extractable` for a non-WebCrypto identity that cannot be exported
 */
export async function saveIdentity(identity: Identity, options: BrowserStoreOptions = {}): Promise<void> {
  let privateKey = cryptoKeyOf(identity);
  if (!privateKey) {
    const subtle = getSubtle();
    if (!subtle) throw new SignalingError('unsupported-key', 'IndexedDB storage needs WebCrypto');
    const pkcs8 = seedToPkcs8(await identity.exportSeed());
    try {
      privateKey = await subtle.importKey(
        'pkcs8',
        pkcs8 as Uint8Array<ArrayBuffer>,
        { name: 'Ed25519' },
        false,
        ['sign'],
      );
    } finally {
      pkcs8.fill(0);
    }
  }
  const record: StoredIdentity = { publicKey: identity.publicKey, privateKey };
  await withStore(options, 'readwrite', (store) => store.put(record, options.name ?? 'default'));
}

/** The identity saved under `name`, or `undefined` when there is none. */
export async function loadIdentity(options: BrowserStoreOptions = {}): Promise<Identity | undefined> {
  const record = (await withStore(options, 'readonly', (store) => store.get(options.name ?? 'default'))) as
    | StoredIdentity
    | undefined;
  return record ? Identity.fromCryptoKey(record.privateKey, record.publicKey) : undefined;
}

/** Removes the identity saved under `name` (nothing happens when there is none). */
export async function deleteIdentity(options: BrowserStoreOptions = {}): Promise<void> {
  await withStore(options, 'readwrite', (store) => store.delete(options.name ?? 'default'));
}

function withStore<T>(
  options: BrowserStoreOptions,
  mode: IDBTransactionMode,
  run: (store: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const indexedDB = globalThis.indexedDB;
  if (!indexedDB)
    return Promise.reject(new SignalingError('unsupported-key', 'this platform has no IndexedDB'));
  return new Promise<T>((resolve, reject) => {
    const open = indexedDB.open(options.database ?? 'signaling-actor', 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(STORE, mode);
      const request = run(tx.objectStore(STORE));
      tx.oncomplete = () => {
        db.close();
        resolve(request.result);
      };
      tx.onerror = () => {
        db.close();
        reject(tx.error);
      };
    };
  });
}
