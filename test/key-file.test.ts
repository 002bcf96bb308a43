import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignalingError } from '../src/errors.js';
import { Identity } from '../src/identity/index.js';
import {
  decodeIdentityFile,
  IDENTITY_FILE_FORMAT,
  loadIdentityFile,
  loadOrCreateIdentityFile,
  SCRYPT_PARAMS,
  saveIdentityFile,
} from '../src/node/index.js';
import { writeFileAtomic } from '../src/node/key-file.js';
import { decodeBase64url, encodeBase64url } from '../src/protocol/base64url.js';

let root: string;
let counter = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sa-key-file-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh directory (not yet created) for one test. */
function freshDir(): string {
  counter += 1;
  return join(root, `case-${counter}`);
}

/** The code of the SignalingError `promise` rejects with; anything else fails the test. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SignalingError) return error.code;
    throw error;
  }
  return 'resolved';
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith('.tmp'));
}

const message = new TextEncoder().encode('key-file test message');

async function sameKey(a: Identity, b: Identity): Promise<void> {
  expect(b.publicKey).toBe(a.publicKey);
  // Ed25519 is deterministic: the same seed gives the same signature.
  expect(await b.sign(message)).toEqual(await a.sign(message));
}

describe('plain identity files', () => {
  it('round-trips, 0600 file in a new 0700 directory, the documented JSON shape', async () => {
    const dir = join(freshDir(), 'nested', 'keys');
    const path = join(dir, 'id.json');
    const identity = await Identity.generate({ extractable: true });
    await saveIdentityFile(path, identity);

    expect(await mode(path)).toBe(0o600);
    expect(await mode(dir)).toBe(0o700);
    // A parent made on the way passed through the umask, which can only narrow 0700.
    expect((await mode(join(dir, '..'))) & 0o077).toBe(0);

    const json = JSON.parse(await readFile(path, 'utf8'));
    expect(Object.keys(json).sort()).toEqual(['format', 'publicKey', 'seed', 'version']);
    expect(json.format).toBe(IDENTITY_FILE_FORMAT);
    expect(json.version).toBe(1);
    expect(json.publicKey).toBe(identity.publicKey);
    expect(json.seed).toBe(encodeBase64url(await identity.exportSeed()));

    const loaded = await loadIdentityFile(path);
    await sameKey(identity, loaded);
    expect(loaded.extractable).toBe(false);
    expect(await leftovers(dir)).toEqual([]);
  });

  it('loads with every signer kind and honours extractable', async () => {
    const path = join(freshDir(), 'id.json');
    const identity = await Identity.generate({ extractable: true });
    await saveIdentityFile(path, identity);
    for (const signer of ['node', 'webcrypto', 'tweetnacl'] as const) {
      const loaded = await loadIdentityFile(path, { signer, extractable: true });
      expect(loaded.signer).toBe(signer);
      expect(await loaded.exportSeed()).toEqual(await identity.exportSeed());
      await sameKey(identity, loaded);
    }
  });

  it('leaves an existing directory mode alone (documented: it may be shared on purpose)', async () => {
    const dir = freshDir();
    await mkdir(dir);
    await chmod(dir, 0o755);
    const path = join(dir, 'id.json');
    await saveIdentityFile(path, await Identity.generate({ extractable: true }));
    expect(await mode(dir)).toBe(0o755);
    expect(await mode(path)).toBe(0o600);
  });

  it('refuses a passphrase for a plain file (a sealed file swapped for a plain one)', async () => {
    const path = join(freshDir(), 'id.json');
    await saveIdentityFile(path, await Identity.generate({ extractable: true }));
    expect(await codeOf(loadIdentityFile(path, { passphrase: 'secret' }))).toBe('key-file-unencrypted');
  });
});

describe('encrypted identity files', () => {
  let path: string;
  let identity: Identity;
  let text: string;
  const passphrase = 'correct horse battery staple';

  beforeAll(async () => {
    path = join(freshDir(), 'id.json');
    identity = await Identity.generate({ extractable: true });
    await saveIdentityFile(path, identity, { passphrase });
    text = await readFile(path, 'utf8');
  });

  it('round-trips with scrypt N = 2^15 and secretbox, and never holds the seed in clear', async () => {
    const json = JSON.parse(text);
    expect(Object.keys(json).sort()).toEqual([
      'box',
      'cipher',
      'format',
      'kdf',
      'nonce',
      'publicKey',
      'version',
    ]);
    expect(json.kdf).toMatchObject({ name: 'scrypt', N: 2 ** 15, r: 8, p: 1 });
    expect(SCRYPT_PARAMS.N).toBeGreaterThanOrEqual(2 ** 15);
    expect(decodeBase64url(json.kdf.salt)).toHaveLength(16);
    expect(json.cipher).toBe('xsalsa20-poly1305');
    expect(decodeBase64url(json.nonce)).toHaveLength(24);
    expect(decodeBase64url(json.box)).toHaveLength(48);
    expect(await mode(path)).toBe(0o600);

    const seed = await identity.exportSeed();
    for (const form of [
      encodeBase64url(seed),
      Buffer.from(seed).toString('hex'),
      Buffer.from(seed).toString('base64'),
    ]) {
      expect(text).not.toContain(form);
    }

    await sameKey(identity, await loadIdentityFile(path, { passphrase }));
  });

  it('accepts the passphrase as bytes, and strings in any Unicode normalization', async () => {
    const p = join(freshDir(), 'id.json');
    await saveIdentityFile(p, identity, { passphrase: 'caf\u00e9' });
    await sameKey(identity, await loadIdentityFile(p, { passphrase: 'cafe\u0301' }));
    await sameKey(identity, await loadIdentityFile(p, { passphrase: new TextEncoder().encode('caf\u00e9') }));
  });

  it('wrong, missing and empty passphrases are typed errors', async () => {
    expect(await codeOf(loadIdentityFile(path, { passphrase: 'wrong' }))).toBe('wrong-passphrase');
    expect(await codeOf(loadIdentityFile(path))).toBe('passphrase-required');
    expect(await codeOf(loadIdentityFile(path, { passphrase: '' }))).toBe('passphrase-required');
    expect(await codeOf(saveIdentityFile(join(freshDir(), 'x.json'), identity, { passphrase: '' }))).toBe(
      'passphrase-required',
    );
  });

  it('a flipped bit in the box, nonce or salt is refused by the MAC', async () => {
    const json = JSON.parse(text);
    const flip = (b64: string, at: number): string => {
      const bytes = decodeBase64url(b64);
      bytes[at] = (bytes[at] as number) ^ 0x01;
      return encodeBase64url(bytes);
    };
    const variants = [
      { ...json, box: flip(json.box, 0) },
      { ...json, box: flip(json.box, 47) },
      { ...json, nonce: flip(json.nonce, 5) },
      { ...json, kdf: { ...json.kdf, salt: flip(json.kdf.salt, 3) } },
    ];
    for (const variant of variants) {
      expect(await codeOf(decodeIdentityFile(JSON.stringify(variant), enc(passphrase)))).toBe(
        'wrong-passphrase',
      );
    }
  });

  it('refuses scrypt parameters weaker than N = 2^15, r = 8, and absurd ones', async () => {
    const json = JSON.parse(text);
    const withKdf = (kdf: object) => JSON.stringify({ ...json, kdf: { ...json.kdf, ...kdf } });
    for (const weak of [{ N: 2 ** 14 }, { N: 2 }, { r: 1 }, { r: 7 }]) {
      expect(await codeOf(decodeIdentityFile(withKdf(weak), enc(passphrase)))).toBe('key-file-weak');
    }
    for (const bad of [
      { N: 2 ** 25 }, // 4 GiB of memory to load
      { N: 3 * 2 ** 14 }, // not a power of two
      { N: '32768' },
      { r: 0 },
      { p: 0 },
      { p: 1000 },
      { salt: 'AAAA' }, // 3 bytes
      { name: 'pbkdf2' },
      { extra: 1 },
    ]) {
      expect(await codeOf(decodeIdentityFile(withKdf(bad), enc(passphrase)))).toBe('key-file-corrupt');
    }
  });

  it('a public key that does not belong to the sealed seed is refused', async () => {
    const other = await Identity.generate();
    const dir = freshDir();
    await mkdir(dir);
    const p = join(dir, 'id.json');
    await writeFile(p, JSON.stringify({ ...JSON.parse(text), publicKey: other.publicKey }));
    expect(await codeOf(loadIdentityFile(p, { passphrase }))).toBe('key-file-corrupt');
  });
});

function enc(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

describe('corrupt files are typed errors, never another exception', () => {
  let plain: string;
  let sealed: string;

  beforeAll(async () => {
    const dir = freshDir();
    const identity = await Identity.generate({ extractable: true });
    await saveIdentityFile(join(dir, 'plain.json'), identity);
    await saveIdentityFile(join(dir, 'sealed.json'), identity, { passphrase: 'pw' });
    plain = await readFile(join(dir, 'plain.json'), 'utf8');
    sealed = await readFile(join(dir, 'sealed.json'), 'utf8');
  });

  it('every truncation of a plain or encrypted file (through the filesystem)', async () => {
    const dir = freshDir();
    await mkdir(dir);
    for (const [name, text, passphrase] of [
      ['plain', plain, undefined],
      ['sealed', sealed, 'pw'],
    ] as const) {
      // The trailing newline is insignificant whitespace; every cut into the JSON itself must fail.
      const json = text.trimEnd();
      const path = join(dir, `${name}.json`);
      for (let cut = 0; cut < json.length; cut++) {
        await writeFile(path, json.slice(0, cut));
        expect(await codeOf(loadIdentityFile(path, passphrase ? { passphrase } : {}))).toBe(
          'key-file-corrupt',
        );
      }
      await writeFile(path, json);
      expect(await codeOf(loadIdentityFile(path, passphrase ? { passphrase } : {}))).toBe('resolved');
    }
  });

  it('corrupt JSON, wrong shapes, bad fields', async () => {
    const json = JSON.parse(plain);
    const cases: Record<string, string> = {
      empty: '',
      garbage: 'not json at all',
      array: '[]',
      null: 'null',
      number: '42',
      'other format': JSON.stringify({ ...json, format: 'something-else' }),
      'no format': JSON.stringify({ ...json, format: undefined }),
      'string version': JSON.stringify({ ...json, version: '1' }),
      'version 0': JSON.stringify({ ...json, version: 0 }),
      'fractional version': JSON.stringify({ ...json, version: 1.5 }),
      'extra field': JSON.stringify({ ...json, comment: 'hi' }),
      'seed and box': JSON.stringify({ ...json, box: 'x' }),
      'short seed': JSON.stringify({ ...json, seed: json.seed.slice(0, 42) }),
      'padded seed': JSON.stringify({ ...json, seed: `${json.seed}=` }),
      'base64 seed': JSON.stringify({ ...json, seed: `${json.seed.slice(0, 42)}+` }),
      'numeric seed': JSON.stringify({ ...json, seed: 12 }),
      'bad public key': JSON.stringify({ ...json, publicKey: '!'.repeat(43) }),
      'no seed or box': JSON.stringify({ format: json.format, version: 1, publicKey: json.publicKey }),
      'wrong cipher': JSON.stringify({ ...JSON.parse(sealed), cipher: 'aes-256-gcm' }),
      'kdf not an object': JSON.stringify({ ...JSON.parse(sealed), kdf: 'scrypt' }),
      'short nonce': JSON.stringify({ ...JSON.parse(sealed), nonce: 'AAAA' }),
      'short box': JSON.stringify({ ...JSON.parse(sealed), box: JSON.parse(sealed).box.slice(0, 40) }),
    };
    for (const [name, text] of Object.entries(cases)) {
      expect([name, await codeOf(decodeIdentityFile(text))]).toEqual([name, 'key-file-corrupt']);
    }
  });

  it('non-UTF-8 and oversized files through the filesystem', async () => {
    const dir = freshDir();
    await mkdir(dir);
    const path = join(dir, 'id.json');
    await writeFile(path, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(await codeOf(loadIdentityFile(path))).toBe('key-file-corrupt');
    await writeFile(path, `${plain.trimEnd()}${' '.repeat(70_000)}`);
    expect(await codeOf(loadIdentityFile(path))).toBe('key-file-corrupt');
  });

  it('an unknown version is key-file-version', async () => {
    for (const text of [plain, sealed]) {
      const other = JSON.stringify({ ...JSON.parse(text), version: 2 });
      expect(await codeOf(decodeIdentityFile(other, enc('pw')))).toBe('key-file-version');
    }
    // Only format and version are read before the version is refused: a v2 file may look different.
    expect(
      await codeOf(decodeIdentityFile(JSON.stringify({ format: IDENTITY_FILE_FORMAT, version: 2, x: 1 }))),
    ).toBe('key-file-version');
  });

  it('a public key that does not belong to the seed is refused', async () => {
    const path = join(freshDir(), 'id.json');
    const other = await Identity.generate();
    await saveIdentityFile(path, await Identity.generate({ extractable: true }));
    const json = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...json, publicKey: other.publicKey }));
    expect(await codeOf(loadIdentityFile(path))).toBe('key-file-corrupt');
  });

  it('property: any byte mutation of a plain file loads or fails with a SignalingError', async () => {
    const bytes = Buffer.from(plain);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        async (edits) => {
          const copy = Buffer.from(bytes);
          for (const [at, value] of edits) copy[at] = value;
          const code = await codeOf(decodeIdentityFile(copy.toString('latin1')));
          expect(typeof code).toBe('string');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: any JSON value in any field is refused with a SignalingError, never a crash', async () => {
    const base = JSON.parse(sealed);
    const keys = [...Object.keys(base), 'kdf.N', 'kdf.r', 'kdf.p', 'kdf.salt', 'kdf.name'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keys), fc.jsonValue(), async (key, value) => {
        const copy = structuredClone(base);
        if (key.startsWith('kdf.')) copy.kdf[key.slice(4)] = value;
        else copy[key] = value;
        // No passphrase: a structurally valid file stops at passphrase-required, before scrypt.
        const code = await codeOf(decodeIdentityFile(JSON.stringify(copy)));
        expect(code).not.toBe('resolved');
      }),
      { numRuns: 300 },
    );
  });

  it('missing file and a directory in its place', async () => {
    const dir = freshDir();
    expect(await codeOf(loadIdentityFile(join(dir, 'nope.json')))).toBe('key-file-missing');
    await mkdir(join(dir, 'id.json'), { recursive: true });
    expect(await codeOf(loadIdentityFile(join(dir, 'id.json')))).toBe('key-file-io');
  });
});

describe('atomic, non-clobbering saves', () => {
  it('refuses to overwrite unless asked, and replaces atomically when asked', async () => {
    const dir = freshDir();
    const path = join(dir, 'id.json');
    const first = await Identity.generate({ extractable: true });
    const second = await Identity.generate({ extractable: true });
    await saveIdentityFile(path, first);
    const before = await readFile(path);

    expect(await codeOf(saveIdentityFile(path, second))).toBe('key-file-exists');
    expect(await codeOf(saveIdentityFile(path, second, { passphrase: 'pw' }))).toBe('key-file-exists');
    expect(await readFile(path)).toEqual(before);
    expect(await leftovers(dir)).toEqual([]);

    await saveIdentityFile(path, second, { overwrite: true });
    await sameKey(second, await loadIdentityFile(path));
    expect(await mode(path)).toBe(0o600);
    expect(await leftovers(dir)).toEqual([]);
  });

  it('a non-extractable identity is refused before anything touches the disk', async () => {
    const dir = freshDir();
    const path = join(dir, 'id.json');
    for (const signer of ['node', 'webcrypto', 'tweetnacl'] as const) {
      const locked = await Identity.generate({ signer });
      expect(await codeOf(saveIdentityFile(path, locked))).toBe('not-extractable');
    }
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });

    // An existing file survives a refused overwrite.
    const kept = await Identity.generate({ extractable: true });
    await saveIdentityFile(path, kept);
    const before = await readFile(path);
    const locked = await Identity.generate();
    expect(await codeOf(saveIdentityFile(path, locked, { overwrite: true }))).toBe('not-extractable');
    expect(await readFile(path)).toEqual(before);
  });

  it('a failure at the last step leaves the old file whole and no temporary file', async () => {
    const dir = freshDir();
    const path = join(dir, 'id.json');
    await saveIdentityFile(path, await Identity.generate({ extractable: true }));
    const before = await readFile(path);
    let seenTemp: string | undefined;
    const failure = writeFileAtomic(path, 'new contents', {
      overwrite: true,
      beforeCommit: async (temp) => {
        seenTemp = temp;
        // The temporary file is complete, private and beside the target before the commit.
        expect(await readFile(temp, 'utf8')).toBe('new contents');
        expect(await mode(temp)).toBe(0o600);
        throw new SignalingError('key-file-io', 'simulated failure (disk full)');
      },
    });
    expect(await codeOf(failure)).toBe('key-file-io');
    expect(seenTemp?.startsWith(dir)).toBe(true);
    expect(await readFile(path)).toEqual(before);
    expect(await leftovers(dir)).toEqual([]);
  });

  it('a real rename failure (a directory in the way) cleans up its temporary file', async () => {
    const dir = freshDir();
    const path = join(dir, 'id.json');
    await mkdir(join(path, 'occupied'), { recursive: true });
    const identity = await Identity.generate({ extractable: true });
    expect(await codeOf(saveIdentityFile(path, identity, { overwrite: true }))).toBe('key-file-io');
    expect(await leftovers(dir)).toEqual([]);
    expect((await stat(path)).isDirectory()).toBe(true);
  });

  it('a file where the directory should be is an I/O error, and nothing is created', async () => {
    const dir = freshDir();
    await mkdir(dir);
    await writeFile(join(dir, 'blocker'), 'x');
    const identity = await Identity.generate({ extractable: true });
    expect(await codeOf(saveIdentityFile(join(dir, 'blocker', 'id.json'), identity))).toBe('key-file-io');
    expect(await readdir(dir)).toEqual(['blocker']);
  });

  it('two racing saves without overwrite: exactly one wins, whole', async () => {
    const dir = freshDir();
    const path = join(dir, 'id.json');
    const a = await Identity.generate({ extractable: true });
    const b = await Identity.generate({ extractable: true });
    const results = await Promise.allSettled([saveIdentityFile(path, a), saveIdentityFile(path, b)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'key-file-exists' });
    const winner = results[0]?.status === 'fulfilled' ? a : b;
    await sameKey(winner, await loadIdentityFile(path));
    expect(await leftovers(dir)).toEqual([]);
  });
});

describe('loadOrCreateIdentityFile', () => {
  it('createDirectories: false creates the file, never a missing directory, and names the first one missing', async () => {
    const dir = freshDir();
    const path = join(dir, 'a', 'b', 'id.json');
    const expected = `the directory ${dir} does not exist, so ${path} cannot be created`;
    await expect(loadOrCreateIdentityFile(path, { createDirectories: false })).rejects.toMatchObject({
      code: 'key-file-io',
      message: expected,
    });
    const identity = await Identity.generate({ extractable: true });
    await expect(saveIdentityFile(path, identity, { createDirectories: false })).rejects.toMatchObject({
      code: 'key-file-io',
      message: expected,
    });
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    // The directory there, the file is created in it.
    await mkdir(join(dir, 'a', 'b'), { recursive: true });
    const created = await loadOrCreateIdentityFile(path, { createDirectories: false });
    expect(await mode(path)).toBe(0o600);
    await sameKey(created, await loadOrCreateIdentityFile(path, { createDirectories: false }));
  });

  it('creates on first run and reuses afterwards', async () => {
    const dir = freshDir();
    const path = join(dir, 'server.key.json');
    const first = await loadOrCreateIdentityFile(path);
    expect(await mode(path)).toBe(0o600);
    expect(await mode(dir)).toBe(0o700);
    expect(first.extractable).toBe(false);
    const again = await loadOrCreateIdentityFile(path, { extractable: true });
    await sameKey(first, again);
    expect(again.extractable).toBe(true);
  });

  it('with a passphrase, and refuses the wrong one on reuse', async () => {
    const path = join(freshDir(), 'id.json');
    const first = await loadOrCreateIdentityFile(path, { passphrase: 'pw', signer: 'webcrypto' });
    expect(first.signer).toBe('webcrypto');
    expect(JSON.parse(await readFile(path, 'utf8')).kdf.N).toBe(2 ** 15);
    await sameKey(first, await loadOrCreateIdentityFile(path, { passphrase: 'pw' }));
    expect(await codeOf(loadOrCreateIdentityFile(path, { passphrase: 'nope' }))).toBe('wrong-passphrase');
    expect(await codeOf(loadOrCreateIdentityFile(path))).toBe('passphrase-required');
  });

  it('does not replace a corrupt file with a new identity', async () => {
    const dir = freshDir();
    await mkdir(dir);
    const path = join(dir, 'id.json');
    await writeFile(path, '{"format":');
    expect(await codeOf(loadOrCreateIdentityFile(path))).toBe('key-file-corrupt');
    expect(await readFile(path, 'utf8')).toBe('{"format":');
  });

  it('two processes racing on first run end up with the same identity', async () => {
    const path = join(freshDir(), 'id.json');
    const [a, b] = await Promise.all([loadOrCreateIdentityFile(path), loadOrCreateIdentityFile(path)]);
    expect(a.publicKey).toBe(b.publicKey);
    expect((await loadIdentityFile(path)).publicKey).toBe(a.publicKey);
  });
});
