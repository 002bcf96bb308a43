import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTurnCredentials, IceServerError } from '../src/stun/index.js';

const NOW = 1_700_000_000_000; // 2023-11-14T22:13:20Z

describe('createTurnCredentials (coturn use-auth-secret)', () => {
  // Expected credentials computed outside this code base:
  //   printf %s "$username" | openssl dgst -sha1 -hmac "$secret" -binary | base64
  const vectors: [Parameters<typeof createTurnCredentials>[0], string, string][] = [
    [{ secret: 'north', userId: 'alice', now: NOW }, '1700086400:alice', 'SXua5ne/+mDhiHTp0pQJzRO4ESg='],
    [{ secret: 'north', now: NOW }, '1700086400', 'K+RlgFj3QLvB7WAVHfjfgMgyBeA='],
    [
      { secret: 'north', userId: 'A'.repeat(43), ttlSeconds: 86_400, now: 0 },
      `86400:${'A'.repeat(43)}`,
      'RCe6DnqTWWeDb/A1r4W0qhpdqB0=',
    ],
    [
      { secret: 's3cret with spaces é', userId: 'alice', now: NOW + 999 },
      '1700086400:alice',
      '1Hb/StovLcE3mXXVO44IRVX4Rqk=',
    ],
  ];
  for (const [options, username, credential] of vectors) {
    it(`${username} → ${credential}`, async () => {
      await expect(createTurnCredentials(options)).resolves.toEqual({
        username,
        credential,
        expiresAt: Number(username.split(':')[0]) * 1000,
      });
    });
  }

  it('a byte-array secret is the same as its UTF-8 string', async () => {
    const fromBytes = await createTurnCredentials({
      secret: new TextEncoder().encode('north'),
      userId: 'alice',
      now: NOW,
    });
    expect(fromBytes.credential).toBe('SXua5ne/+mDhiHTp0pQJzRO4ESg=');
  });

  it('defaults: one day from Date.now()', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { username, expiresAt } = await createTurnCredentials({ secret: 'north', userId: 'bob' });
    const expiry = Number(username.split(':')[0]);
    expect(expiry).toBeGreaterThanOrEqual(before + 86_400);
    expect(expiry).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 86_400);
    expect(expiresAt).toBe(expiry * 1000);
  });

  it('agrees with node:crypto HMAC-SHA1 for any secret, user id and lifetime', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.option(fc.string({ minLength: 1, maxLength: 64 }), { nil: undefined }),
        fc.integer({ min: 1, max: 10 * 365 * 86_400 }),
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        async (secret, userId, ttlSeconds, now) => {
          const out = await createTurnCredentials({ secret, userId, ttlSeconds, now });
          const expiry = Math.floor(now / 1000) + ttlSeconds;
          expect(out.username).toBe(userId === undefined ? `${expiry}` : `${expiry}:${userId}`);
          expect(out.credential).toBe(
            createHmac('sha1', secret).update(out.username, 'utf8').digest('base64'),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  const bad: [Record<string, unknown>, string][] = [
    [{ secret: '' }, 'secret'],
    [{ secret: new Uint8Array(0) }, 'secret'],
    [{ secret: 42 }, 'secret'],
    [{}, 'secret'],
    [{ secret: 'x', userId: '' }, 'userId'],
    [{ secret: 'x', userId: 7 }, 'userId'],
    [{ secret: 'x', ttlSeconds: 0 }, 'ttlSeconds'],
    [{ secret: 'x', ttlSeconds: -5 }, 'ttlSeconds'],
    [{ secret: 'x', ttlSeconds: 1.5 }, 'ttlSeconds'],
    [{ secret: 'x', ttlSeconds: Number.NaN }, 'ttlSeconds'],
    [{ secret: 'x', now: Number.POSITIVE_INFINITY }, 'now'],
    [{ secret: 'x', now: -1 }, 'now'],
    [{ secret: 'x', userId: 'u'.repeat(500) }, 'userId'],
  ];
  for (const [options, path] of bad) {
    it(`refuses ${path} in ${JSON.stringify(options)}`, async () => {
      const err = await createTurnCredentials(options as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IceServerError);
      expect((err as IceServerError).code).toBe('invalid-ice-server');
      expect((err as IceServerError).path).toBe(path);
    });
  }

  it('never puts the secret in an error message', async () => {
    const err = await createTurnCredentials({ secret: 'hunter2-secret', ttlSeconds: -1 }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).not.toContain('hunter2');
  });
});
