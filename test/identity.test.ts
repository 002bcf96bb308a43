import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  verify as nodeVerify,
  webcrypto,
} from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SignalingError } from '../src/errors.js';
import { Identity, type SignerKind } from '../src/identity/index.js';
import { encodeBase64url } from '../src/protocol/base64url.js';
import { type VerifierKind, verifyEd25519 } from '../src/protocol/ed25519.js';

const SIGNERS: readonly SignerKind[] = ['node', 'webcrypto', 'tweetnacl'];
const VERIFIERS: readonly VerifierKind[] = ['node', 'webcrypto', 'tweetnacl'];

const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** The code of the SignalingError `run` throws or rejects with; anything else fails the test. */
async function codeOf(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (error instanceof SignalingError) return error.code;
    throw error;
  }
  return 'resolved';
}

/**
 * RFC 8032 §7.1 (Ed25519) test vectors: SECRET KEY (the seed), PUBLIC KEY, MESSAGE, SIGNATURE.
 * Typed in from the RFC text; the signatures checking out byte for byte is what proves the typing.
 */
const RFC8032 = [
  {
    name: 'TEST 1',
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    seed: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST 1024',
    seed: 'f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5',
    publicKey: '278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e',
    message: [
      '08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1',
      'e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d',
      '658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a',
      '7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e',
      '06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10',
      '3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1',
      '85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d',
      '502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270',
      '88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b',
      'eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba',
      'b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b',
      'e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7',
      '51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d',
      'cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df',
      'f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7',
      '984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4',
      '88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09',
      '43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f',
      'b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161',
      '0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d',
      'b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca',
      'c60c905c15fc910840b94c00a0b9d0',
    ].join(''),
    signature:
      '0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03',
  },
  {
    name: 'TEST SHA(abc)',
    seed: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    publicKey: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature:
      'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
] as const;

describe('RFC 8032 §7.1 test vectors', () => {
  it('are what the RFC says they are (lengths, and SHA(abc) is SHA-512 of "abc")', () => {
    expect(RFC8032.map((v) => v.message.length / 2)).toEqual([0, 1, 2, 1023, 64]);
    expect(RFC8032[4].message).toBe(createHash('sha512').update('abc').digest('hex'));
  });

  for (const vector of RFC8032) {
    for (const signer of SIGNERS) {
      it(`${vector.name}: the ${signer} signer derives the key and the exact signature`, async () => {
        const identity = await Identity.fromSeed(hex(vector.seed), { signer });
        expect(identity.signer).toBe(signer);
        expect(toHex(identity.publicKeyBytes)).toBe(vector.publicKey);
        expect(identity.publicKey).toBe(encodeBase64url(hex(vector.publicKey)));
        expect(toHex(await identity.sign(hex(vector.message)))).toBe(vector.signature);
      });
    }

    for (const verifier of VERIFIERS) {
      it(`${vector.name}: the ${verifier} verifier accepts it and refuses any altered copy`, async () => {
        const publicKey = hex(vector.publicKey);
        const message = hex(vector.message);
        const signature = hex(vector.signature);
        expect(await verifyEd25519(publicKey, message, signature, verifier)).toBe(true);

        const badSignature = signature.slice();
        badSignature[10] = (badSignature[10] as number) ^ 1;
        expect(await verifyEd25519(publicKey, message, badSignature, verifier)).toBe(false);
        const badMessage = new Uint8Array([...message, 0]);
        expect(await verifyEd25519(publicKey, badMessage, signature, verifier)).toBe(false);
        const otherKey = hex(RFC8032[(RFC8032.indexOf(vector) + 1) % RFC8032.length]?.publicKey ?? '');
        expect(await verifyEd25519(otherKey, message, signature, verifier)).toBe(false);
      });
    }
  }
});

/** PKCS#8 v2 (OneAsymmetricKey, RFC 8410 §7) carrying the public key, optionally with attributes. */
function pkcs8v2(seed: Uint8Array, publicKey: Uint8Array, attributes = false): Uint8Array {
  const body = [
    0x02,
    0x01,
    0x01, // version 1 (= v2)
    0x30,
    0x05,
    0x06,
    0x03,
    0x2b,
    0x65,
    0x70, // Ed25519
    0x04,
    0x22,
    0x04,
    0x20,
    ...seed,
    ...(attributes ? [0xa0, 0x00] : []),
    0x81,
    0x21,
    0x00,
    ...publicKey,
  ];
  return new Uint8Array([0x30, body.length, ...body]);
}

describe('import and export round trips', () => {
  for (const signer of SIGNERS) {
    describe(`the ${signer} signer`, () => {
      it('generate → exportSeed → fromSeed (bytes and base64url) gives the same key', async () => {
        const identity = await Identity.generate({ signer, extractable: true });
        expect(identity.signer).toBe(signer);
        expect(identity.extractable).toBe(true);
        const seed = await identity.exportSeed();
        expect(seed).toHaveLength(32);
        const message = new TextEncoder().encode(`round trip ${signer}`);
        const signature = await identity.sign(message);
        expect(signature).toHaveLength(64);
        expect(await verifyEd25519(identity.publicKeyBytes, message, signature, 'node')).toBe(true);

        for (const input of [seed, encodeBase64url(seed)]) {
          for (const target of SIGNERS) {
            const again = await Identity.fromSeed(input, { signer: target });
            expect(again.publicKey).toBe(identity.publicKey);
            expect(await again.sign(message)).toEqual(signature);
          }
        }
      });

      it('PKCS#8 DER and PEM, v1 and v2-with-public-key', async () => {
        const identity = await Identity.generate({ signer, extractable: true });
        const der = await identity.exportPkcs8('der');
        expect(der).toHaveLength(48);
        const pem = await identity.exportPkcs8('pem');
        expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PRIVATE KEY-----\n$/);
        const seed = await identity.exportSeed();
        const v2 = pkcs8v2(seed, identity.publicKeyBytes);
        const v2WithAttributes = pkcs8v2(seed, identity.publicKeyBytes, true);
        const v2Pem = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(v2).toString('base64')}\n-----END PRIVATE KEY-----\n`;
        for (const input of [der, pem, v2, v2WithAttributes, v2Pem]) {
          const again = await Identity.fromPkcs8(input, { signer, extractable: true });
          expect(again.signer).toBe(signer);
          expect(again.publicKey).toBe(identity.publicKey);
          expect(await again.exportSeed()).toEqual(seed);
        }
        // v2's public key must belong to the seed.
        const other = await Identity.generate();
        expect(await codeOf(() => Identity.fromPkcs8(pkcs8v2(seed, other.publicKeyBytes), { signer }))).toBe(
          'invalid-key',
        );
      });

      it('JWK, with and without x', async () => {
        const identity = await Identity.generate({ signer, extractable: true });
        const jwk = await identity.exportJwk();
        expect(jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', d: jwk.d, x: identity.publicKey });
        expect(identity.publicJwk()).toEqual({ kty: 'OKP', crv: 'Ed25519', x: identity.publicKey });
        for (const input of [jwk, { kty: 'OKP', crv: 'Ed25519', d: jwk.d }]) {
          const again = await Identity.fromJwk(input, { signer, extractable: true });
          expect(again.publicKey).toBe(identity.publicKey);
          expect((await again.exportJwk()).d).toBe(jwk.d);
        }
      });

      it('a non-extractable identity signs but refuses every export with not-extractable', async () => {
        const seed = hex(RFC8032[0].seed);
        for (const identity of [
          await Identity.generate({ signer }),
          await Identity.fromSeed(seed.slice(), { signer }),
          await Identity.fromSeed(seed.slice(), { signer, extractable: false }),
        ]) {
          expect(identity.extractable).toBe(false);
          expect(await identity.sign(new Uint8Array(3))).toHaveLength(64);
          expect(await codeOf(() => identity.exportSeed())).toBe('not-extractable');
          expect(await codeOf(() => identity.exportPkcs8('der'))).toBe('not-extractable');
          expect(await codeOf(() => identity.exportPkcs8('pem'))).toBe('not-extractable');
          expect(await codeOf(() => identity.exportJwk())).toBe('not-extractable');
        }
      });
    });
  }
});

describe('agreement with node:crypto and WebCrypto', () => {
  it('our PKCS#8 is byte for byte what node:crypto exports, and node reads ours', async () => {
    const identity = await Identity.generate({ extractable: true });
    const der = await identity.exportPkcs8('der');
    const pem = await identity.exportPkcs8('pem');
    for (const key of [
      createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }),
      createPrivateKey(pem),
    ]) {
      expect(key.asymmetricKeyType).toBe('ed25519');
      expect(new Uint8Array(key.export({ format: 'der', type: 'pkcs8' }))).toEqual(der);
      expect(key.export({ format: 'pem', type: 'pkcs8' })).toBe(pem);
      const jwk = key.export({ format: 'jwk' });
      expect(jwk.x).toBe(identity.publicKey);
      expect(jwk.d).toBe(encodeBase64url(await identity.exportSeed()));
      expect(createPublicKey(key).export({ format: 'jwk' }).x).toBe(identity.publicKey);
    }
  });

  it('reads what node:crypto generates (DER, PEM, JWK) and signs what node verifies', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const x = publicKey.export({ format: 'jwk' }).x;
    const der = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const jwk = privateKey.export({ format: 'jwk' });
    const message = new TextEncoder().encode('cross-check');
    for (const signer of SIGNERS) {
      for (const identity of [
        await Identity.fromPkcs8(der, { signer }),
        await Identity.fromPkcs8(pem, { signer }),
        await Identity.fromJwk(jwk, { signer }),
      ]) {
        expect(identity.publicKey).toBe(x);
        expect(nodeVerify(null, message, publicKey, await identity.sign(message))).toBe(true);
      }
    }
  });

  it('WebCrypto imports our PKCS#8 and JWK', async () => {
    const identity = await Identity.generate({ extractable: true });
    const der = await identity.exportPkcs8('der');
    const fromDer = await webcrypto.subtle.importKey('pkcs8', der, { name: 'Ed25519' }, true, ['sign']);
    expect((await webcrypto.subtle.exportKey('jwk', fromDer)).x).toBe(identity.publicKey);
    const fromJwk = await webcrypto.subtle.importKey(
      'jwk',
      await identity.exportJwk(),
      { name: 'Ed25519' },
      true,
      ['sign'],
    );
    expect(fromJwk.type).toBe('private');
  });
});

describe('bad input is a typed error', () => {
  it('seeds of the wrong length or encoding', async () => {
    const seed = hex(RFC8032[0].seed);
    expect(await codeOf(() => Identity.fromSeed(seed.subarray(0, 31)))).toBe('invalid-length');
    expect(await codeOf(() => Identity.fromSeed(new Uint8Array(33)))).toBe('invalid-length');
    expect(await codeOf(() => Identity.fromSeed(new Uint8Array(0)))).toBe('invalid-length');
    const b64 = encodeBase64url(seed);
    expect(await codeOf(() => Identity.fromSeed(b64.slice(0, 42)))).toBe('invalid-length');
    expect(await codeOf(() => Identity.fromSeed(`${b64}=`))).toBe('invalid-length');
    expect(await codeOf(() => Identity.fromSeed(`${b64.slice(0, 42)}+`))).toBe('invalid-base64url');
    expect(await codeOf(() => Identity.fromSeed(`${b64.slice(0, 42)} `))).toBe('invalid-base64url');
    // 43 characters carry 258 bits: the last character's two spare bits must be zero.
    const last = b64.charCodeAt(42);
    const dirty = `${b64.slice(0, 42)}${String.fromCharCode(last + 1)}`;
    expect(await codeOf(() => Identity.fromSeed(dirty))).toBe('invalid-base64url');
    for (const signer of SIGNERS) {
      expect(await codeOf(() => Identity.fromSeed(new Uint8Array(16), { signer }))).toBe('invalid-length');
    }
  });

  it('PKCS#8 of other algorithms: X25519, Ed448, RSA, EC (DER and PEM)', async () => {
    for (const type of ['x25519', 'ed448', 'x448'] as const) {
      const { privateKey } = generateKeyPairSync(type as 'x25519');
      const der = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
      const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
      expect([type, await codeOf(() => Identity.fromPkcs8(der))]).toEqual([type, 'unsupported-key']);
      expect([type, await codeOf(() => Identity.fromPkcs8(pem))]).toEqual([type, 'unsupported-key']);
    }
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    for (const key of [rsa, ec]) {
      const der = new Uint8Array(key.export({ format: 'der', type: 'pkcs8' }));
      expect(await codeOf(() => Identity.fromPkcs8(der))).toBe('unsupported-key');
      expect(
        await codeOf(() => Identity.fromPkcs8(key.export({ format: 'pem', type: 'pkcs8' }) as string)),
      ).toBe('unsupported-key');
    }
    // Node's encrypted PKCS#8 (PBKDF2, 2048 iterations) is refused, pointing at key files.
    const { privateKey } = generateKeyPairSync('ed25519');
    const encrypted = privateKey.export({
      format: 'pem',
      type: 'pkcs8',
      cipher: 'aes-256-cbc',
      passphrase: 'pw',
    }) as string;
    expect(await codeOf(() => Identity.fromPkcs8(encrypted))).toBe('unsupported-key');
  });

  it('malformed PKCS#8: truncated at every length, trailing bytes, bad PEM', async () => {
    const identity = await Identity.generate({ extractable: true });
    const der = await identity.exportPkcs8('der');
    for (let cut = 0; cut < der.length; cut++) {
      expect([cut, await codeOf(() => Identity.fromPkcs8(der.subarray(0, cut)))]).toEqual([
        cut,
        'invalid-key',
      ]);
    }
    const v2 = pkcs8v2(await identity.exportSeed(), identity.publicKeyBytes);
    for (let cut = 0; cut < v2.length; cut++) {
      expect(await codeOf(() => Identity.fromPkcs8(v2.subarray(0, cut)))).toBe('invalid-key');
    }
    expect(await codeOf(() => Identity.fromPkcs8(new Uint8Array([...der, 0])))).toBe('invalid-key');
    expect(await codeOf(() => Identity.fromPkcs8('not a pem'))).toBe('invalid-key');
    expect(
      await codeOf(() => Identity.fromPkcs8('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----')),
    ).toBe('invalid-key');
    expect(
      await codeOf(() => Identity.fromPkcs8('-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----')),
    ).toBe('invalid-key');
    // PEM padding may be left out, but unused bits must be zero: one text per key.
    const pem = (body: string) => `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
    const padded = Buffer.from(v2).toString('base64');
    const bare = padded.replace(/=+$/, '');
    expect(bare.length).toBeLessThan(padded.length); // the test needs a body with unused bits
    expect((await Identity.fromPkcs8(pem(bare))).publicKey).toBe(identity.publicKey);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = alphabet.indexOf(bare.slice(-1));
    const dirty = bare.slice(0, -1) + alphabet[last | 1];
    expect(await codeOf(() => Identity.fromPkcs8(pem(dirty)))).toBe('invalid-key');
    // A 33-byte "seed" inside otherwise valid framing.
    const long = new Uint8Array([
      0x30,
      0x2f,
      ...der.subarray(2, 13),
      0x23,
      0x04,
      0x21,
      ...der.subarray(16),
      0,
    ]);
    expect(await codeOf(() => Identity.fromPkcs8(long))).toBe('invalid-key');
  });

  it('JWKs that are not private Ed25519 keys, or whose x does not match d', async () => {
    const identity = await Identity.generate({ extractable: true });
    const jwk = await identity.exportJwk();
    const x25519 = generateKeyPairSync('x25519').privateKey.export({ format: 'jwk' });
    const other = await Identity.generate();
    const cases: [string, unknown, string][] = [
      ['X25519 from node', x25519, 'unsupported-key'],
      ['crv X25519', { ...jwk, crv: 'X25519' }, 'unsupported-key'],
      ['kty EC', { ...jwk, kty: 'EC' }, 'unsupported-key'],
      [
        'RSA from node',
        generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' }),
        'unsupported-key',
      ],
      ['public only', identity.publicJwk(), 'invalid-key'],
      ['x of another key', { ...jwk, x: other.publicKey }, 'invalid-key'],
      ['short d', { ...jwk, d: jwk.d.slice(0, 42) }, 'invalid-key'],
      ['padded d', { ...jwk, d: `${jwk.d}=` }, 'invalid-key'],
      ['numeric d', { ...jwk, d: 5 }, 'invalid-key'],
      ['short x', { ...jwk, x: jwk.x.slice(1) }, 'invalid-key'],
      ['null', null, 'invalid-key'],
      ['string', 'jwk', 'invalid-key'],
    ];
    for (const [name, input, code] of cases) {
      expect([name, await codeOf(() => Identity.fromJwk(input))]).toEqual([name, code]);
    }
  });

  it('fromCryptoKey refuses a key that is not a private Ed25519 key', async () => {
    const ecdsa = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const ed = (await webcrypto.subtle.generateKey({ name: 'Ed25519' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const raw = new Uint8Array(await webcrypto.subtle.exportKey('raw', ed.publicKey));
    expect(await codeOf(() => Identity.fromCryptoKey(ecdsa.privateKey, raw))).toBe('unsupported-key');
    expect(await codeOf(() => Identity.fromCryptoKey(ed.publicKey, raw))).toBe('unsupported-key');
    const wrapped = Identity.fromCryptoKey(ed.privateKey, raw);
    expect(wrapped.extractable).toBe(false);
    expect(await codeOf(() => wrapped.exportSeed())).toBe('not-extractable');
  });
});

describe('the secret never leaves the identity', () => {
  /** Every textual form the 32-byte seed (or tweetnacl's 64-byte secret key) could take. */
  function secretForms(seed: Uint8Array): string[] {
    const b = Buffer.from(seed);
    return [
      b.toString('hex'),
      b.toString('hex').toUpperCase(),
      b.toString('base64'),
      encodeBase64url(seed),
    ].flatMap(
      // A prefix survives being embedded in a longer encoding (seed ‖ public key, PKCS#8, …) at offset 0.
      (form) => [form, form.slice(0, 40)],
    );
  }

  function expectNoSecret(text: string, forms: string[]): void {
    for (const form of forms) expect(text.includes(form)).toBe(false);
  }

  for (const signer of SIGNERS) {
    for (const extractable of [true, false]) {
      it(`${signer}, extractable ${extractable}: JSON, inspect, own keys, structuredClone`, async () => {
        const seed = hex(RFC8032[2].seed);
        const identity = await Identity.fromSeed(seed.slice(), { signer, extractable });
        const forms = secretForms(seed);
        // Sanity: the search finds the seed where it is (an export), so its silence below means something.
        const exported = await Identity.fromSeed(seed.slice(), { extractable: true });
        const jwkText = JSON.stringify(await exported.exportJwk());
        const seedHex = toHex(await exported.exportSeed());
        expect(() => expectNoSecret(jwkText, forms)).toThrow();
        expect(() => expectNoSecret(`seed ${seedHex}`, forms)).toThrow();

        const json = JSON.stringify(identity);
        expect(JSON.parse(json)).toEqual({ publicKey: identity.publicKey });
        expectNoSecret(json, forms);

        for (const options of [
          { showHidden: true, depth: Number.POSITIVE_INFINITY },
          { showHidden: true, depth: Number.POSITIVE_INFINITY, customInspect: false, getters: true },
        ]) {
          expectNoSecret(inspect(identity, options), forms);
        }
        expectNoSecret(String(identity), forms);

        expect(Object.keys(identity)).toEqual(['publicKey']);
        const own = Reflect.ownKeys(identity);
        expect(own).toEqual(['publicKey']);
        for (const key of own) {
          const value = (identity as unknown as Record<PropertyKey, unknown>)[key];
          expectNoSecret(inspect(value, { showHidden: true, depth: Number.POSITIVE_INFINITY }), forms);
        }
        for (const key in identity) expect(key).toBe('publicKey');

        let clone: unknown;
        try {
          clone = structuredClone(identity);
        } catch {
          clone = undefined; // refusing to clone is as good as cloning without the secret
        }
        if (clone !== undefined) {
          expectNoSecret(inspect(clone, { showHidden: true, depth: Number.POSITIVE_INFINITY }), forms);
          expectNoSecret(JSON.stringify(clone), forms);
        }
      });
    }
  }
});
