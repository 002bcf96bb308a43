import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as entry from '../src/index.js';
import {
  DEFAULT_STUN_SERVERS,
  getIceServers,
  IceServerError,
  iceServersForClient,
  parseIceUrl,
  validateIceServers,
} from '../src/stun/index.js';

const NOW = 1_700_000_000_000;
const urlsOf = (servers: readonly { urls: string | string[] }[]) =>
  servers.flatMap((s) => (typeof s.urls === 'string' ? [s.urls] : s.urls));

describe('DEFAULT_STUN_SERVERS', () => {
  it('are valid STUN URLs from at least three independent operators', () => {
    expect(validateIceServers(DEFAULT_STUN_SERVERS)).toEqual(DEFAULT_STUN_SERVERS);
    const urls = urlsOf(DEFAULT_STUN_SERVERS);
    for (const url of urls) expect(parseIceUrl(url).kind).toBe('stun');
    // The operator is the registrable domain (last two labels of the host).
    const operators = new Set(urls.map((u) => parseIceUrl(u).host.split('.').slice(-2).join('.')));
    expect(operators.size).toBeGreaterThanOrEqual(3);
    // Five or more URLs slow gathering (Firefox warns), so the defaults stay below that.
    expect(urls.length).toBeLessThan(5);
  });

  it('cannot be changed by a caller', () => {
    expect(Object.isFrozen(DEFAULT_STUN_SERVERS)).toBe(true);
    for (const server of DEFAULT_STUN_SERVERS) expect(Object.isFrozen(server)).toBe(true);
  });

  it('are exported from the package entry together with the rest of the STUN API', () => {
    expect(entry.DEFAULT_STUN_SERVERS).toBe(DEFAULT_STUN_SERVERS);
    expect(entry.getIceServers).toBe(getIceServers);
    expect(typeof entry.createTurnCredentials).toBe('function');
    expect(typeof entry.iceServersForClient).toBe('function');
  });
});

describe('getIceServers', () => {
  it('with no options: a fresh copy of the defaults', async () => {
    const servers = await getIceServers();
    expect(servers).toEqual(DEFAULT_STUN_SERVERS);
    (servers[0] as { urls: string }).urls = 'stun:changed.example';
    expect(await getIceServers()).toEqual(DEFAULT_STUN_SERVERS);
  });

  it('puts your STUN servers first and does not repeat a default you listed', async () => {
    const firstDefault = urlsOf(DEFAULT_STUN_SERVERS)[0] as string;
    const servers = await getIceServers({
      stunUrls: ['stun:stun.example.org', firstDefault, 'stun:stun.example.org'],
    });
    expect(servers[0]).toEqual({ urls: ['stun:stun.example.org', firstDefault] });
    const all = urlsOf(servers);
    expect(all.filter((u) => u === firstDefault)).toHaveLength(1);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual(expect.arrayContaining(urlsOf(DEFAULT_STUN_SERVERS)));
  });

  it('includeDefaults: false gives only what you configured', async () => {
    expect(await getIceServers({ includeDefaults: false })).toEqual([]);
    expect(await getIceServers({ stunUrls: 'stun:[2001:db8::1]:3478', includeDefaults: false })).toEqual([
      { urls: ['stun:[2001:db8::1]:3478'] },
    ]);
  });

  it('passes static TURN entries through and mints credentials for shared-secret ones', async () => {
    const servers = await getIceServers({
      includeDefaults: false,
      now: NOW,
      turn: [
        { urls: 'turn:turn.example.com', username: 'static', credential: 'pw' },
        {
          urls: ['turn:turn.example.com?transport=tcp', 'turns:turn.example.com:443'],
          secret: 'north',
          userId: 'alice',
        },
        { urls: 'turn:turn2.example.com', secret: 'north', ttlSeconds: 60 },
      ],
    });
    expect(servers).toEqual([
      { urls: 'turn:turn.example.com', username: 'static', credential: 'pw' },
      {
        urls: ['turn:turn.example.com?transport=tcp', 'turns:turn.example.com:443'],
        username: '1700086400:alice',
        credential: 'SXua5ne/+mDhiHTp0pQJzRO4ESg=',
      },
      {
        urls: 'turn:turn2.example.com',
        username: '1700000060',
        credential: createHmac('sha1', 'north').update('1700000060').digest('base64'),
      },
    ]);
    // The secret never leaves: it is in no output field.
    expect(JSON.stringify(servers)).not.toContain('north');
  });

  it('accepts a single TURN entry without an array', async () => {
    const servers = await getIceServers({
      includeDefaults: false,
      turn: { urls: 'turn:t.example', username: 'u', credential: 'c' },
    });
    expect(servers).toEqual([{ urls: 'turn:t.example', username: 'u', credential: 'c' }]);
  });

  const bad: [Parameters<typeof getIceServers>[0], string, RegExp][] = [
    [{ stunUrls: ['stun:ok.example', 'stun:bad host'] }, 'stunUrls[1]', /invalid host/],
    [{ stunUrls: 'stun:x.example?transport=udp' }, 'stunUrls', /query/],
    [{ stunUrls: ['turn:t.example'] }, 'stunUrls[0]', /TURN URL/],
    [{ stunUrls: 42 as never }, 'stunUrls', /string or an array/],
    [
      {
        turn: [
          { urls: 'turn:t.example', username: 'u', credential: 'c' },
          { urls: 'turn:t.example' } as never,
        ],
      },
      'turn[1].username',
      /required/,
    ],
    [{ turn: [{ urls: 'turn:t.example', username: 'u', credential: '' }] }, 'turn[0].credential', /required/],
    [
      { turn: [{ urls: ['turn:t.example', 'turn:t.example:99999'], secret: 'x' }] },
      'turn[0].urls[1]',
      /port/,
    ],
    [{ turn: [{ urls: 'stun:s.example', secret: 'x' }] }, 'turn[0].urls', /not a turn/],
    [{ turn: [{ urls: 'turn:t.example', secret: '' }] }, 'turn[0].secret', /non-empty/],
    [
      { turn: [{ urls: 'turn:t.example', secret: 'x', ttlSeconds: 0 }] },
      'turn[0].ttlSeconds',
      /positive integer/,
    ],
    [{ turn: { urls: 'turn:t.example', secret: 'x', userId: '' } }, 'turn.userId', /non-empty/],
    [
      { turn: [{ urls: 'turn:t.example', secret: 'x', credential: 'c' } as never] },
      'turn[0]',
      /both a secret/,
    ],
    [{ turn: [{ urls: [] as string[], secret: 'x' }] }, 'turn[0].urls', /at least one/],
    [{ turn: ['turn:t.example' as never] }, 'turn[0]', /object/],
  ];
  for (const [options, path, why] of bad) {
    it(`refuses ${JSON.stringify(options)} naming ${path}`, async () => {
      const err = await getIceServers(options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IceServerError);
      expect((err as IceServerError).code).toBe('invalid-ice-server');
      expect((err as IceServerError).path).toBe(path);
      expect((err as IceServerError).reason).toMatch(why);
      expect((err as Error).message).not.toMatch(/"x"/);
    });
  }
});

describe('iceServersForClient (the auth.ok iceServers of one client)', () => {
  const publicKey = 'O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik';
  const config = {
    stunUrls: ['stun:stun.example.org'],
    includeDefaults: false,
    turn: [
      { urls: 'turn:turn.example.org', secret: 'north', userId: 'ignored', ttlSeconds: 600 },
      { urls: 'turns:relay.example.org', username: 'static', credential: 'pw' },
    ],
  };

  it("mints each shared-secret TURN credential for the client's public key", async () => {
    const servers = await iceServersForClient(config, publicKey, NOW);
    const username = `1700000600:${publicKey}`;
    expect(servers).toEqual([
      { urls: ['stun:stun.example.org'] },
      {
        urls: 'turn:turn.example.org',
        username,
        credential: createHmac('sha1', 'north').update(username).digest('base64'),
      },
      { urls: 'turns:relay.example.org', username: 'static', credential: 'pw' },
    ]);
    // What a client receives in auth.ok validates as-is.
    expect(validateIceServers(JSON.parse(JSON.stringify(servers)))).toEqual(servers);
  });

  it('gives different clients different credentials and leaves the config untouched', async () => {
    const other = 'A'.repeat(43);
    const [a, b] = await Promise.all([
      iceServersForClient(config, publicKey, NOW),
      iceServersForClient(config, other, NOW),
    ]);
    expect(a[1]?.credential).not.toBe(b[1]?.credential);
    expect(config.turn[0]).toEqual({
      urls: 'turn:turn.example.org',
      secret: 'north',
      userId: 'ignored',
      ttlSeconds: 600,
    });
  });
});

describe('browser safety', () => {
  it('nothing in src/stun imports a node: module', () => {
    const dir = join(import.meta.dirname, '../src/stun');
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8');
      expect(text, file).not.toMatch(/from ['"]node:|import\(['"]node:|require\(/);
    }
  });
});
