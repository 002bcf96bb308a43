/**
 * Identity key files for Node: a small JSON file holding the Ed25519 seed, plain or sealed under a
 * passphrase (scrypt, then XSalsa20-Poly1305 `secretbox`). Written atomically — a temporary file in the
 * same directory, fsynced, then renamed (or hard-linked, when an existing file must not be replaced) —
 * so a crash or a failure leaves either the old file or the new one, never half of one.
 *
 * Node's own encrypted PKCS#8 PEM derives its key with PBKDF2 at 2048 iterations, which a GPU tries
 * by the billion; scrypt at N = 2^15, r = 8 costs 32 MiB and tens of milliseconds per guess.
 */
import { randomBytes as nodeRandomBytes, scrypt } from 'node:crypto';
import { chmod, link, lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SignalingError } from '../errors.js';
import { Identity, type IdentityOptions } from '../identity/identity.js';
import { loadNacl } from '../platform.js';
import { decodeExact, encodeBase64url, tryDecodeBase64url } from '../protocol/base64url.js';
import { KEY_BYTES } from '../protocol/constants.js';
import { equalBytes } from '../protocol/ed25519.js';

/** The `format` field every identity file carries, so a stray JSON file is not mistaken for one. */
export const IDENTITY_FILE_FORMAT = 'signaling-actor-identity';
/** The `version` field this code writes and the only one it reads. */
export const IDENTITY_FILE_VERSION = 1;

/** The scrypt cost every saved file uses: 2^15 × 8 × 128 bytes = 32 MiB per guess. */
export const SCRYPT_PARAMS = Object.freeze({ N: 2 ** 15, r: 8, p: 1 });

// Loading refuses anything cheaper than the saved cost (a downgraded file) …
const MIN_N = 2 ** 15;
const MIN_R = 8;
// … and anything that would make loading itself a memory bomb (1 GiB) or a long stall.
const MAX_SCRYPT_MEMORY = 2 ** 30;
const MAX_P = 16;
const SALT_BYTES = 16;
const MAX_SALT_BYTES = 64;
const NONCE_BYTES = 24; // XSalsa20
const BOX_BYTES = KEY_BYTES + 16; // seed + Poly1305 tag
const CIPHER = 'xsalsa20-poly1305';
/** A valid file is a few hundred bytes; refuse to read anything much bigger. */
const MAX_FILE_BYTES = 64 * 1024;

/** Options of {@link saveIdentityFile}. */
export interface SaveIdentityFileOptions {
  /** Seal the seed under this passphrase (strings are NFC-normalized, then UTF-8). */
  passphrase?: string | Uint8Array;
  /** Replace an existing file. Default `false`: an existing file is a `key-file-exists` error. */
  overwrite?: boolean;
  /**
   * Create the file's directory and missing parents (mode 0700) when they do not exist. Default `true`;
   * `false` makes a missing directory a `key-file-io` error naming it (a mistyped path then fails
   * instead of quietly making a new tree and a new identity: the CLI's `--key-file` and `--out`).
   */
  createDirectories?: boolean;
}

/** Options of {@link loadIdentityFile}: the passphrase, plus how the loaded key is held. */
export interface LoadIdentityFileOptions extends IdentityOptions {
  /** Required for an encrypted file; refused (`key-file-unencrypted`) for a plain one. */
  passphrase?: string | Uint8Array;
}

/**
 * Options of {@link loadOrCreateIdentityFile}: the same as for loading; a new file is sealed under
 * `passphrase` when given, its directory created as {@link SaveIdentityFileOptions.createDirectories} says.
 */
export type LoadOrCreateIdentityFileOptions = LoadIdentityFileOptions &
  Pick<SaveIdentityFileOptions, 'createDirectories'>;

/** The plain file: the seed in clear, for keys a file mode alone protects. */
export interface PlainIdentityFile {
  format: typeof IDENTITY_FILE_FORMAT;
  version: 1;
  publicKey: string;
  seed: string;
}

/** The sealed file: `box` = secretbox(seed, nonce, scrypt(passphrase, salt, N, r, p)). */
export interface EncryptedIdentityFile {
  format: typeof IDENTITY_FILE_FORMAT;
  version: 1;
  publicKey: string;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  cipher: typeof CIPHER;
  nonce: string;
  box: string;
}

/**
 * Saves an extractable identity to `path`: created with mode 0600; its directory, when missing, with
 * 0700 (an existing directory's mode is left as it is — it may be shared on purpose).
 * @throws SignalingError `not-extractable`, `key-file-exists` (unless `overwrite`),
 *   `passphrase-required` (an empty passphrase), `key-file-io`
 */
export async function saveIdentityFile(
  path: string,
  identity: Identity,
  options: SaveIdentityFileOptions = {},
): Promise<void> {
  // Export first: a non-extractable identity must fail before anything touches the disk.
  const seed = await identity.exportSeed();
  let passphrase: Uint8Array | undefined;
  try {
    passphrase = passphraseBytes(options.passphrase);
    const overwrite = options.overwrite ?? false;
    // Fail fast, before paying for scrypt; the commit below re-checks atomically.
    if (!overwrite && (await exists(path))) throw alreadyExists(path);
    const text = await encodeIdentityFile(seed, identity.publicKeyBytes, passphrase);
    await writeFileAtomic(path, text, { overwrite, createDirectories: options.createDirectories });
  } finally {
    seed.fill(0);
    passphrase?.fill(0);
  }
}

/**
 * Loads the identity saved at `path`, checking that its seed yields the public key the file names.
 * @throws SignalingError `key-file-missing`, `key-file-corrupt`, `key-file-version`, `key-file-weak`,
 *   `passphrase-required`, `wrong-passphrase` (also when the sealed box was altered: the two cannot be
 *   told apart), `key-file-unencrypted` (a passphrase was given for a plain file), `key-file-io`
 */
export async function loadIdentityFile(
  path: string,
  options: LoadIdentityFileOptions = {},
): Promise<Identity> {
  const text = await readSmallFile(path);
  const { passphrase: given, ...identityOptions } = options;
  const passphrase = passphraseBytes(given);
  try {
    const { seed, publicKey } = await decodeIdentityFile(text, passphrase);
    try {
      return await fromSeedChecked(seed, publicKey, identityOptions);
    } finally {
      seed.fill(0);
    }
  } finally {
    passphrase?.fill(0);
  }
}

/**
 * Loads `path`, or on first run creates a new identity there (mode 0600, directory 0700). Two
 * processes racing to create it end up with the same identity: the loser loads the winner's file.
 */
export async function loadOrCreateIdentityFile(
  path: string,
  options: LoadOrCreateIdentityFileOptions = {},
): Promise<Identity> {
  try {
    return await loadIdentityFile(path, options);
  } catch (error) {
    if (!(error instanceof SignalingError) || error.code !== 'key-file-missing') throw error;
  }
  const { passphrase: given, createDirectories, ...identityOptions } = options;
  const passphrase = passphraseBytes(given);
  const seed = new Uint8Array(nodeRandomBytes(KEY_BYTES));
  try {
    // The copy that is returned honours `extractable`; the file needs only the seed itself.
    const identity = await Identity.fromSeed(seed, identityOptions);
    const text = await encodeIdentityFile(seed, identity.publicKeyBytes, passphrase);
    try {
      await writeFileAtomic(path, text, { overwrite: false, createDirectories });
    } catch (error) {
      if (error instanceof SignalingError && error.code === 'key-file-exists') {
        return await loadIdentityFile(path, options);
      }
      throw error;
    }
    return identity;
  } finally {
    seed.fill(0);
    passphrase?.fill(0);
  }
}

/** The file's text (JSON with a trailing newline) for `seed`. */
export async function encodeIdentityFile(
  seed: Uint8Array,
  publicKey: Uint8Array,
  passphrase?: Uint8Array,
): Promise<string> {
  const head = {
    format: IDENTITY_FILE_FORMAT,
    version: IDENTITY_FILE_VERSION,
    publicKey: encodeBase64url(publicKey),
  } as const;
  if (!passphrase) {
    const file: PlainIdentityFile = { ...head, seed: encodeBase64url(seed) };
    return `${JSON.stringify(file, null, 2)}\n`;
  }
  const { N, r, p } = SCRYPT_PARAMS;
  const salt = new Uint8Array(nodeRandomBytes(SALT_BYTES));
  const nonce = new Uint8Array(nodeRandomBytes(NONCE_BYTES));
  const key = await deriveKey(passphrase, salt, N, r, p);
  const nacl = await loadNacl();
  const box = nacl.secretbox(seed, nonce, key);
  key.fill(0);
  const file: EncryptedIdentityFile = {
    ...head,
    kdf: { name: 'scrypt', N, r, p, salt: encodeBase64url(salt) },
    cipher: CIPHER,
    nonce: encodeBase64url(nonce),
    box: encodeBase64url(box),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/**
 * The seed and the public key a file's text names. Every malformation is a typed error: nothing
 * here may throw anything but a `SignalingError`.
 */
export async function decodeIdentityFile(
  text: string,
  passphrase?: Uint8Array,
): Promise<{ seed: Uint8Array; publicKey: Uint8Array }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corrupt('it is not JSON (truncated?)');
  }
  if (!isRecord(parsed) || parsed.format !== IDENTITY_FILE_FORMAT) {
    throw corrupt(`it is not a "${IDENTITY_FILE_FORMAT}" file`);
  }
  const { version } = parsed;
  if (!Number.isSafeInteger(version) || (version as number) < 1) throw corrupt('bad version field');
  if (version !== IDENTITY_FILE_VERSION) {
    throw new SignalingError(
      'key-file-version',
      `identity file version ${version} is not supported (this library reads version ${IDENTITY_FILE_VERSION})`,
    );
  }
  const publicKey = field(parsed.publicKey, KEY_BYTES, 'publicKey');

  if ('seed' in parsed) {
    exactKeys(parsed, ['format', 'version', 'publicKey', 'seed']);
    const seed = field(parsed.seed, KEY_BYTES, 'seed');
    if (passphrase) {
      seed.fill(0);
      // Refusing protects against a sealed file swapped for a plain one holding someone else's key.
      throw new SignalingError(
        'key-file-unencrypted',
        'a passphrase was given but the identity file is not encrypted; load it without one, then save it with one',
      );
    }
    return { seed, publicKey };
  }

  exactKeys(parsed, ['format', 'version', 'publicKey', 'kdf', 'cipher', 'nonce', 'box']);
  if (parsed.cipher !== CIPHER) throw corrupt(`unknown cipher (expected "${CIPHER}")`);
  const { kdf } = parsed;
  if (!isRecord(kdf) || kdf.name !== 'scrypt') throw corrupt('unknown kdf (expected scrypt)');
  exactKeys(kdf, ['name', 'N', 'r', 'p', 'salt']);
  const { N, r, p } = kdf;
  if (!isPowerOfTwo(N) || !isPositiveInteger(r) || !isPositiveInteger(p)) {
    throw corrupt('scrypt parameters must be positive integers, N a power of two');
  }
  if (N < MIN_N || r < MIN_R) {
    throw new SignalingError(
      'key-file-weak',
      `the file's scrypt cost (N=${N}, r=${r}) is below the minimum (N=${MIN_N}, r=${MIN_R})`,
    );
  }
  if (scryptMemory(N, r, p) > MAX_SCRYPT_MEMORY || p > MAX_P) {
    throw corrupt('scrypt parameters are beyond what this library ever writes or will spend');
  }
  const salt = typeof kdf.salt === 'string' ? tryDecodeBase64url(kdf.salt) : undefined;
  if (!salt || salt.length < SALT_BYTES || salt.length > MAX_SALT_BYTES) throw corrupt('bad salt');
  const nonce = field(parsed.nonce, NONCE_BYTES, 'nonce');
  const box = field(parsed.box, BOX_BYTES, 'box');

  if (!passphrase) {
    throw new SignalingError('passphrase-required', 'the identity file is encrypted: a passphrase is needed');
  }
  const key = await deriveKey(passphrase, salt, N, r, p);
  const nacl = await loadNacl();
  const seed = nacl.secretbox.open(box, nonce, key);
  key.fill(0);
  if (!seed) {
    throw new SignalingError(
      'wrong-passphrase',
      'wrong passphrase (or the encrypted part of the file was altered)',
    );
  }
  return { seed, publicKey };
}

/**
 * Writes `text` to `target` atomically: a temporary file in the same directory (created exclusively,
 * mode 0600), fsync, then rename — or, without `overwrite`, a hard link, which fails rather than
 * replace a file that appeared meanwhile — then fsync of the directory. On any failure the temporary
 * file is removed and `target` is untouched.
 * @internal `beforeCommit` lets tests fail the write at its last step.
 */
export async function writeFileAtomic(
  target: string,
  text: string,
  options: {
    overwrite: boolean;
    /** Default `true`; `false`: a missing directory is `key-file-io` naming the first missing one. */
    createDirectories?: boolean | undefined;
    beforeCommit?: (tempPath: string) => Promise<void> | void;
  },
): Promise<void> {
  const dir = dirname(target);
  if (options.createDirectories ?? true) await ensureDirectory(dir);
  else await requireDirectory(dir, target);
  const temp = join(dir, `.${basename(target)}.${nodeRandomBytes(6).toString('hex')}.tmp`);
  let created = false;
  let committed = false;
  try {
    const handle = await open(temp, 'wx', 0o600).catch((error: unknown) => {
      throw ioError(`cannot create a file in ${dir}`, error);
    });
    created = true;
    try {
      await handle.chmod(0o600); // the umask could only have narrowed it; this pins it exactly
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } catch (error) {
      throw ioError(`cannot write ${temp}`, error);
    } finally {
      await handle.close().catch(() => {});
    }
    await options.beforeCommit?.(temp);
    await commit(temp, target, options.overwrite);
    committed = true;
  } finally {
    if (created && !committed) await rm(temp, { force: true }).catch(() => {});
  }
  await syncDirectory(dir);
}

async function commit(temp: string, target: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await rename(temp, target).catch((error: unknown) => {
      throw ioError(`cannot replace ${target}`, error);
    });
    return;
  }
  try {
    await link(temp, target);
  } catch (error) {
    if (errno(error) === 'EEXIST') throw alreadyExists(target);
    // A filesystem without hard links: check, then rename (a narrow race, but never a torn file).
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(errno(error) ?? '')) {
      throw ioError(`cannot create ${target}`, error);
    }
    if (await exists(target)) throw alreadyExists(target);
    await rename(temp, target).catch((cause: unknown) => {
      throw ioError(`cannot create ${target}`, cause);
    });
    return;
  }
  await rm(temp, { force: true }).catch(() => {});
}

/** Creates `dir` (and parents) with mode 0700 when missing; an existing directory is left alone. */
async function ensureDirectory(dir: string): Promise<void> {
  let first: string | undefined;
  try {
    first = await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw ioError(`cannot create directory ${dir}`, error);
  }
  // mkdir's mode passes through the umask; a directory made here gets exactly 0700.
  if (first !== undefined) await chmod(dir, 0o700).catch(() => {});
}

/** Fails, naming the outermost missing directory, when `dir` does not exist; creates nothing. */
async function requireDirectory(dir: string, target: string): Promise<void> {
  if (await exists(dir)) return;
  let missing = dir;
  while (dirname(missing) !== missing && !(await exists(dirname(missing)))) missing = dirname(missing);
  throw new SignalingError(
    'key-file-io',
    `the directory ${missing} does not exist, so ${target} cannot be created`,
  );
}

/** Makes the rename itself durable. Some platforms (Windows) cannot open a directory: best effort. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The file is complete either way; only the rename's durability across a power cut is at stake.
  }
}

async function readSmallFile(path: string): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (errno(error) === 'ENOENT') {
      throw new SignalingError('key-file-missing', `no identity file at ${path}`, { cause: error });
    }
    throw ioError(`cannot open ${path}`, error);
  }
  try {
    const buffer = Buffer.alloc(MAX_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_FILE_BYTES) throw corrupt(`it is larger than ${MAX_FILE_BYTES} bytes`);
    const bytes = buffer.subarray(0, length);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw corrupt('it is not UTF-8 text');
    } finally {
      buffer.fill(0);
    }
  } catch (error) {
    if (error instanceof SignalingError) throw error;
    throw ioError(`cannot read ${path}`, error);
  } finally {
    await handle.close().catch(() => {});
  }
}

async function fromSeedChecked(
  seed: Uint8Array,
  publicKey: Uint8Array,
  options: IdentityOptions,
): Promise<Identity> {
  const identity = await Identity.fromSeed(seed, options);
  if (!equalBytes(identity.publicKeyBytes, publicKey)) {
    throw corrupt('its public key does not belong to its seed');
  }
  return identity;
}

function deriveKey(passphrase: Uint8Array, salt: Uint8Array, N: number, r: number, p: number) {
  return new Promise<Uint8Array>((resolve, reject) => {
    // maxmem must cover OpenSSL's 128·r·(N + p + 2) bytes; Node's 32 MiB default is just short of N = 2^15.
    const maxmem = scryptMemory(N, r, p) + 1024 * 1024;
    scrypt(passphrase, salt, KEY_BYTES, { N, r, p, maxmem }, (error, key) => {
      if (error) reject(ioError('scrypt failed', error));
      else resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength));
    });
  });
}

function scryptMemory(N: number, r: number, p: number): number {
  return 128 * r * (N + p + 2);
}

function passphraseBytes(passphrase: string | Uint8Array | undefined): Uint8Array | undefined {
  if (passphrase === undefined) return undefined;
  const bytes =
    typeof passphrase === 'string'
      ? new TextEncoder().encode(passphrase.normalize('NFC'))
      : passphrase instanceof Uint8Array
        ? passphrase.slice()
        : undefined;
  if (!bytes) throw new SignalingError('passphrase-required', 'a passphrase is a string or bytes');
  // An empty passphrase is almost always an unset variable; sealing under it would only look safe.
  if (bytes.length === 0) throw new SignalingError('passphrase-required', 'the passphrase is empty');
  return bytes;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errno(error) === 'ENOENT') return false;
    throw ioError(`cannot inspect ${path}`, error);
  }
}

function field(value: unknown, length: number, name: string): Uint8Array {
  const bytes = decodeExact(value, length);
  if (!bytes) throw corrupt(`"${name}" is not ${length} bytes of base64url`);
  return bytes;
}

function exactKeys(record: Record<string, unknown>, keys: readonly string[]): void {
  const actual = Object.keys(record);
  if (actual.length !== keys.length || !keys.every((k) => Object.hasOwn(record, k))) {
    throw corrupt(`expected exactly the fields ${keys.join(', ')}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPositiveInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function isPowerOfTwo(value: unknown): value is number {
  return isPositiveInteger(value) && value > 1 && Number.isInteger(Math.log2(value));
}

function errno(error: unknown): string | undefined {
  return (error as { code?: unknown } | null)?.code as string | undefined;
}

function corrupt(why: string): SignalingError {
  return new SignalingError('key-file-corrupt', `identity file is corrupt: ${why}`);
}

function alreadyExists(path: string): SignalingError {
  return new SignalingError(
    'key-file-exists',
    `${path} already exists; pass { overwrite: true } to replace it`,
  );
}

function ioError(message: string, cause: unknown): SignalingError {
  const detail = errno(cause);
  return new SignalingError('key-file-io', detail ? `${message} (${detail})` : message, { cause });
}
