import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/index.js';
import { createSignalingServer } from '../src/server/index.js';
import { probeStunServer } from '../src/server/stun-probe.js';
import {
  createTurnCredentials,
  getIceServers,
  iceServersForClient,
  validateIceServers,
} from '../src/stun/index.js';
import { type Coturn, startCoturn } from './helpers/coturn.js';
import { authenticate } from './helpers/server-client.js';
import { turnAllocate } from './helpers/turn-allocate.js';

/**
 * Against a real coturn on loopback (started here, stopped after; `.ci/run` installs it — when it is
 * missing these tests fail, they do not skip).
 */

let coturn: Coturn;
beforeAll(async () => {
  coturn = await startCoturn();
});
afterAll(async () => {
  await coturn?.stop();
});

function uclient(username: string, credential: string): Promise<{ code: number; output: string }> {
  // -y: two clients relay to each other through their allocations; -c: no RTCP allocations.
  const args = [
    '-p',
    String(coturn.port),
    '-u',
    username,
    '-w',
    credential,
    '-y',
    '-c',
    '-n',
    '3',
    '-m',
    '1',
    '-l',
    '100',
    '127.0.0.1',
  ];
  return new Promise((resolve) => {
    execFile('turnutils_uclient', args, { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, output: stdout + stderr });
    });
  });
}

describe('against coturn', () => {
  it('probeStunServer returns 127.0.0.1 and an RTT', async () => {
    for (const url of [coturn.stunUrl, coturn.turnUrl, `${coturn.turnUrl}?transport=udp`]) {
      const result = await probeStunServer(url, { timeout: 3000 });
      expect(result.address).toBe('127.0.0.1');
      expect(result.family).toBe('IPv4');
      expect(result.port).toBeGreaterThan(0);
      expect(result.rtt).toBeGreaterThan(0);
      expect(result.rtt).toBeLessThan(1000);
    }
  });

  it('allocates a relay with credentials minted by getIceServers', async () => {
    const [server] = await getIceServers({
      includeDefaults: false,
      turn: [{ urls: coturn.turnUrl, secret: coturn.secret, userId: 'alice', ttlSeconds: 600 }],
    });
    expect(server?.username).toMatch(/^\d+:alice$/);
    const result = await turnAllocate(
      '127.0.0.1',
      coturn.port,
      server?.username as string,
      server?.credential as string,
    );
    expect(result).toEqual({ ok: true, relayed: { address: '127.0.0.1', port: expect.any(Number) } });
  });

  it('allocates with a credential minted for a client key (auth.ok iceServers) and without a userId', async () => {
    const key = 'O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik';
    const servers = await iceServersForClient(
      { includeDefaults: false, turn: { urls: coturn.turnUrl, secret: coturn.secret } },
      key,
    );
    expect(servers[0]?.username).toMatch(new RegExp(`^\\d+:${key}$`));
    const forKey = await turnAllocate(
      '127.0.0.1',
      coturn.port,
      servers[0]?.username as string,
      servers[0]?.credential as string,
    );
    expect(forKey.ok).toBe(true);
    const anonymous = await createTurnCredentials({ secret: coturn.secret, ttlSeconds: 60 });
    expect((await turnAllocate('127.0.0.1', coturn.port, anonymous.username, anonymous.credential)).ok).toBe(
      true,
    );
  });

  it('refuses a wrong credential with 401', async () => {
    const { username, credential } = await createTurnCredentials({
      secret: coturn.secret,
      userId: 'mallory',
    });
    const flipped = `${credential[0] === 'A' ? 'B' : 'A'}${credential.slice(1)}`;
    expect(await turnAllocate('127.0.0.1', coturn.port, username, flipped)).toMatchObject({
      ok: false,
      code: 401,
    });
    const otherSecret = await createTurnCredentials({ secret: `${coturn.secret}x`, userId: 'mallory' });
    expect(
      await turnAllocate('127.0.0.1', coturn.port, otherSecret.username, otherSecret.credential),
    ).toMatchObject({
      ok: false,
      code: 401,
    });
    // The same username with the right credential is accepted: the 401s above are about the credential.
    expect((await turnAllocate('127.0.0.1', coturn.port, username, credential)).ok).toBe(true);
  });

  it('refuses an expired credential with 401', async () => {
    const expired = await createTurnCredentials({
      secret: coturn.secret,
      userId: 'alice',
      ttlSeconds: 3600,
      now: Date.now() - 2 * 3600_000,
    });
    expect(expired.expiresAt).toBeLessThan(Date.now());
    expect(await turnAllocate('127.0.0.1', coturn.port, expired.username, expired.credential)).toMatchObject({
      ok: false,
      code: 401,
    });
  });

  it('turnutils_uclient relays data with minted credentials and fails with wrong ones', async () => {
    const good = await createTurnCredentials({ secret: coturn.secret, userId: 'uclient', ttlSeconds: 600 });
    const ok = await uclient(good.username, good.credential);
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).toMatch(/Total lost packets 0 \(0\.0+%\)/);
    expect(ok.output).toMatch(/tot_recv_bytes ~ [1-9]/);
    const bad = await uclient(good.username, 'd3JvbmcgY3JlZGVudGlhbA==');
    expect(bad.code).not.toBe(0);
    expect(bad.output).toMatch(/Cannot complete Allocation/);
  }, 30_000);
});

describe('auth.ok iceServers end to end', () => {
  it('the reference server hands each client TURN credentials for its key, and coturn accepts them', async () => {
    const iceConfig = {
      stunUrls: coturn.stunUrl,
      includeDefaults: false,
      turn: { urls: coturn.turnUrl, secret: coturn.secret },
    };
    const server = await createSignalingServer({
      identity: await Identity.generate(),
      host: '127.0.0.1',
      port: 0,
      rateLimit: false,
      iceServers: (publicKey) => iceServersForClient(iceConfig, publicKey),
    });
    try {
      const { client, identity, ok } = await authenticate(server.url);
      client.ws.terminate();
      // What a client should do with server-supplied configuration: validate it before use.
      const servers = validateIceServers(ok.iceServers);
      expect(servers[0]).toEqual({ urls: [coturn.stunUrl] });
      const turn = servers[1];
      expect(turn?.username).toMatch(new RegExp(`^\\d+:${identity.publicKey}$`));
      expect(JSON.stringify(ok)).not.toContain(coturn.secret);
      const result = await turnAllocate(
        '127.0.0.1',
        coturn.port,
        turn?.username as string,
        turn?.credential as string,
      );
      expect(result.ok).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe('the coturn test helper', () => {
  it('stops coturn: the process is gone and its port no longer answers', async () => {
    const second = await startCoturn();
    expect(second.port).not.toBe(coturn.port);
    expect((await probeStunServer(second.stunUrl, { timeout: 2000 })).address).toBe('127.0.0.1');
    await second.stop();
    expect(() => process.kill(second.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    await expect(probeStunServer(second.stunUrl, { timeout: 1000, rto: 100 })).rejects.toMatchObject({
      code: expect.stringMatching(/^(unreachable|timeout)$/),
    });
  });
});
