import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Identity } from '../src/identity/index.js';
import { decodeIdentityFile } from '../src/node/index.js';
import { loadIdentityFile } from '../src/node/key-file.js';
import { verifyServerProof } from '../src/protocol/index.js';
import { type CliIo, defaultKeyFile, runCli } from '../src/server/cli-commands.js';
import type { SignalingServer } from '../src/server/index.js';
import { startRedis } from './helpers/redis.js';
import { authenticate } from './helpers/server-client.js';
import { testClient } from './helpers/test-client.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sa-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function io(extra: Partial<CliIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (t: string) => out.push(t),
      stderr: (t: string) => err.push(t),
      env: {},
      ...extra,
    } as CliIo,
  };
}

/** Runs `serve` in-process until `body` is done, then stops it as SIGINT would. */
async function serving(
  args: string[],
  body: (server: SignalingServer) => Promise<void>,
  env: CliIo['env'] = {},
) {
  const controller = new AbortController();
  let listening: (server: SignalingServer) => void = () => {};
  const started = new Promise<SignalingServer>((resolve) => (listening = resolve));
  const streams = io({ env, signal: controller.signal, onListening: (s) => listening(s) });
  const exit = runCli(['serve', '--port', '0', ...args], streams.io);
  const server = await Promise.race([
    started,
    exit.then((code) => {
      throw new Error(`serve exited ${code}: ${streams.err.join('')}`);
    }),
  ]);
  try {
    await body(server);
  } finally {
    controller.abort();
  }
  expect(await exit).toBe(0);
  return streams;
}

describe('signaling-actor serve', () => {
  it('creates its identity in the key file on first run, reuses it after, and logs JSON lines', async () => {
    const keyFile = join(dir, 'server-key.json');
    let firstKey = '';
    const first = await serving(['--key-file', keyFile], async (server) => {
      firstKey = server.publicKey;
      const { client, challenge, response, ok } = await authenticate(server.url);
      expect(
        await verifyServerProof(ok, { challenge, response, origin: server.url, pinnedKey: server.publicKey }),
      ).toMatchObject({ ok: true });
      client.close();
      await client.waitClosed();
    });
    expect((await loadIdentityFile(keyFile)).publicKey).toBe(firstKey);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(first.err.join('')).toContain(`server public key: ${firstKey}`);
    expect(first.err.join('')).toMatch(/listening on ws:\/\/127\.0\.0\.1:\d+\//);
    const lines = first.out.join('').trim().split('\n');
    const entries = lines.map((line) => JSON.parse(line) as { level: string; msg: string });
    expect(entries.map((e) => e.msg)).toEqual(
      expect.arrayContaining(['listening', 'authenticated', 'closing']),
    );
    for (const entry of entries) expect(entry).toHaveProperty('time');

    const second = await serving(['--key-file', keyFile], async (server) => {
      expect(server.publicKey).toBe(firstKey);
    });
    expect(second.err.join('')).toContain(firstKey);
  });

  it('seals a new key file under a passphrase read from the environment', async () => {
    const keyFile = join(dir, 'sealed.json');
    // Without the variable set, serve refuses instead of writing an unsealed file.
    const unset = io();
    expect(
      await runCli(['serve', '--port', '0', '--key-file', keyFile, '--passphrase-env', 'SA_PASS'], unset.io),
    ).toBe(2);
    expect(unset.err.join('')).toContain('SA_PASS');
    expect(existsSync(keyFile)).toBe(false);
    const controller = new AbortController();
    controller.abort();
    const streams = io({ env: { SA_PASS: 'correct horse' }, signal: controller.signal });
    expect(
      await runCli(
        ['serve', '--port', '0', '--key-file', keyFile, '--passphrase-env', 'SA_PASS'],
        streams.io,
      ),
    ).toBe(0);
    const text = await readFile(keyFile, 'utf8');
    expect(JSON.parse(text)).toHaveProperty('box');
    await expect(loadIdentityFile(keyFile)).rejects.toMatchObject({ code: 'passphrase-required' });
    expect((await loadIdentityFile(keyFile, { passphrase: 'correct horse' })).publicKey).toMatch(
      /^[\w-]{43}$/,
    );
  });

  it('rejects bad options with exit code 2 and usage errors on stderr', async () => {
    for (const args of [['--port', 'x'], ['--bogus'], ['--log-level', 'loud'], ['--drain-ms', '1.5']]) {
      const streams = io();
      expect(await runCli(['serve', ...args], streams.io)).toBe(2);
      expect(streams.err.join('')).toMatch(/serve/);
    }
  });

  it('refuses a bad --redis, or a Redis password it cannot read, naming the flag', async () => {
    const cases: [string[], RegExp][] = [
      [['--redis', 'redis://127.0.0.1:1', '--redis-password-env', 'SA_NOPE'], /--redis-password-env SA_NOPE/],
      [['--redis-password-env', 'SA_NOPE'], /--redis-password-env needs --redis/],
    ];
    for (const [args, message] of cases) {
      const streams = io();
      expect(await runCli(['serve', ...args], streams.io)).toBe(2);
      expect(streams.err.join('')).toMatch(message);
    }
  });

  it('joins a cluster over a Redis that requires a password, read from the variable --redis-password-env names', async () => {
    const redis = await startRedis({ password: 'from-the-environment' });
    const keyFile = join(dir, 'cluster-key.json');
    const args = ['--key-file', keyFile, '--redis', redis.url, '--redis-password-env', 'SA_REDIS_PASSWORD'];
    const env = { SA_REDIS_PASSWORD: 'from-the-environment' };
    try {
      await serving(
        args,
        async (first) => {
          await serving(
            args,
            async (second) => {
              const cleanups: (() => unknown)[] = [];
              try {
                const a = await testClient(cleanups, first.url, { serverKey: first.publicKey });
                const identity = await Identity.generate();
                const b = await testClient(cleanups, second.url, { serverKey: second.publicKey, identity });
                a.connect();
                b.connect();
                await Promise.all([a.ready(), b.ready()]);
                // Across the two processes: only through the Redis that took the password.
                await a.send({ type: 'signal', to: identity.publicKey, id: 'across', data: 1 });
              } finally {
                await Promise.all(cleanups.map((c) => c()));
              }
            },
            env,
          );
        },
        env,
      );
    } finally {
      await redis.stop();
    }
  });

  it('answers /healthz and /readyz on its port, and /metrics with --metrics', async () => {
    const keyFile = join(dir, 'probes.json');
    await serving(['--key-file', keyFile, '--metrics'], async (server) => {
      const base = `http://127.0.0.1:${server.port}`;
      expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({ ready: true, sessions: 0 });
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect(await (await fetch(`${base}/metrics`)).text()).toContain('\nsignaling_actor_sessions 0\n');
    });
    await serving(['--key-file', keyFile], async (server) => {
      expect((await fetch(`http://127.0.0.1:${server.port}/metrics`)).status).toBe(426);
    });
  });

  it('--turn-url with --turn-secret-env: every auth.ok carries the TURN servers with credentials minted for that key', async () => {
    const secret = 'turn-secret-from-env';
    const urls = ['turn:127.0.0.1:3478', 'turns:turn.example.com:5349?transport=tcp'];
    const args = ['--key-file', join(dir, 'turn-key.json'), '--turn-url', urls[0] as string];
    args.push('--turn-url', urls[1] as string, '--turn-secret-env', 'SA_TURN', '--turn-ttl', '600');
    const streams = await serving(
      args,
      async (server) => {
        const { client, identity, ok } = await authenticate(server.url);
        const publicKey = identity.publicKey;
        const [entry, ...more] = ok.iceServers as { urls: string[]; username: string; credential: string }[];
        expect(more).toEqual([]);
        expect(entry?.urls).toEqual(urls);
        const [expiry, user] = (entry?.username ?? '').split(':');
        expect(user).toBe(publicKey);
        expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(590);
        expect(Number(expiry) - Date.now() / 1000).toBeLessThanOrEqual(600);
        // coturn's check (use-auth-secret), done here independently: base64(HMAC-SHA1(secret, username)).
        expect(entry?.credential).toBe(
          createHmac('sha1', secret)
            .update(entry?.username ?? '')
            .digest('base64'),
        );
        client.close();
        await client.waitClosed();
      },
      { SA_TURN: secret },
    );
    // The secret is in no log line or message.
    expect([...streams.out, ...streams.err].join('')).not.toContain(secret);
  });

  it('bad TURN flags: exit 2 naming the flag', async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [['--turn-url', 'stun:127.0.0.1:3478', '--turn-secret-env', 'S'], { S: 'x' }, 'is a STUN URL'],
      [['--turn-url', 'turn:bad host', '--turn-secret-env', 'S'], { S: 'x' }, '--turn-url: "turn:bad host"'],
      [['--turn-url', 'turn:127.0.0.1'], {}, '--turn-url needs --turn-secret-env'],
      [
        ['--turn-url', 'turn:127.0.0.1', '--turn-secret-env', 'S'],
        {},
        '--turn-secret-env S: that environment variable is empty',
      ],
      [
        ['--turn-url', 'turn:127.0.0.1', '--turn-secret-env', 'S', '--turn-ttl', '0'],
        { S: 'x' },
        '--turn-ttl must be',
      ],
      [['--turn-secret-env', 'S'], { S: 'x' }, 'need --turn-url'],
    ];
    for (const [args, env, message] of cases) {
      const streams = io({ env });
      expect(await runCli(['serve', '--port', '0', ...args], streams.io)).toBe(2);
      expect(streams.err.join('')).toContain(message);
    }
  });

  it('--redis that is not a URL names the flag, not the code option', async () => {
    const streams = io();
    expect(await runCli(['serve', '--redis', 'notaurl'], streams.io)).toBe(2);
    expect(streams.err.join('')).toBe(
      'signaling-actor serve: --redis must be a redis:// or rediss:// URL, e.g. --redis redis://127.0.0.1:6379\n',
    );
  });

  it('fails with exit code 1 and the error code when the key file is corrupt', async () => {
    const keyFile = join(dir, 'corrupt.json');
    await writeFile(keyFile, 'garbage');
    const streams = io();
    expect(await runCli(['serve', '--port', '0', '--key-file', keyFile], streams.io)).toBe(1);
    expect(streams.err.join('')).toContain('key-file-corrupt');
  });

  it('--key-file in a missing directory: exit 2 naming the directory, nothing created; --create-dirs creates it', async () => {
    const missing = join(dir, 'no-such-dir');
    const keyFile = join(missing, 'deeper', 'k.json');
    const streams = io();
    expect(await runCli(['serve', '--port', '0', '--key-file', keyFile], streams.io)).toBe(2);
    expect(streams.err.join('')).toBe(
      `signaling-actor serve: --key-file: the directory ${missing} does not exist, so ${keyFile} cannot be created; create it, or add --create-dirs\n`,
    );
    expect(existsSync(missing)).toBe(false);
    const keygen = io();
    expect(await runCli(['keygen', '--out', keyFile], keygen.io)).toBe(2);
    expect(keygen.err.join('')).toContain(`--out: the directory ${missing} does not exist`);
    expect(existsSync(missing)).toBe(false);
    // Asked for, the tree is made (0700) and the key file in it.
    await serving(['--key-file', keyFile, '--create-dirs'], async () => {});
    expect((await stat(join(missing, 'deeper'))).mode & 0o777).toBe(0o700);
    expect(existsSync(keyFile)).toBe(true);
    // Without --key-file, the default location's directory is the CLI's own to make.
    const config = join(dir, 'xdg-config');
    await serving([], async () => {}, { XDG_CONFIG_HOME: config });
    expect(existsSync(defaultKeyFile({ XDG_CONFIG_HOME: config }))).toBe(true);
  });

  it('keeps its key outside the project by default', () => {
    expect(defaultKeyFile({ XDG_CONFIG_HOME: '/x/cfg' })).toBe('/x/cfg/signaling-actor/server-key.json');
    expect(defaultKeyFile({ HOME: '/home/u' })).toBe('/home/u/.config/signaling-actor/server-key.json');
  });
});

describe('signaling-actor keygen', () => {
  it('writes a loadable key file with --out and prints the public key', async () => {
    const out = join(dir, 'keygen.json');
    const streams = io();
    expect(await runCli(['keygen', '--out', out], streams.io)).toBe(0);
    const identity = await loadIdentityFile(out);
    expect(streams.err.join('')).toContain(`public key: ${identity.publicKey}`);
    expect(streams.out).toEqual([]);

    const again = io();
    expect(await runCli(['keygen', '--out', out], again.io)).toBe(2);
    expect(again.err.join('')).toContain(`${out} exists; pass --force to replace it`);
    expect(again.err.join('')).not.toContain('overwrite');
    expect((await loadIdentityFile(out)).publicKey).toBe(identity.publicKey);
    expect(await runCli(['keygen', '--out', out, '--force'], io().io)).toBe(0);
    expect((await loadIdentityFile(out)).publicKey).not.toBe(identity.publicKey);
  });

  it('prints the key file to stdout without --out', async () => {
    const streams = io();
    expect(await runCli(['keygen'], streams.io)).toBe(0);
    const { publicKey } = await decodeIdentityFile(streams.out.join(''));
    expect(publicKey).toHaveLength(32);
  });

  it('answers an unknown or missing command with usage and exit code 2', async () => {
    const streams = io();
    expect(await runCli(['frobnicate'], streams.io)).toBe(2);
    expect(streams.err.join('')).toContain('Usage:');
    expect(await runCli([], io().io)).toBe(2);
    expect(await runCli(['--help'], io().io)).toBe(0);
  });

  it("prints one command's usage for COMMAND --help (or -h) and exits 0", async () => {
    for (const [command, flags] of [
      ['serve', '--origin URL'],
      ['keygen', '--force'],
      ['demo', '--inspect'],
    ] as const) {
      for (const help of ['--help', '-h']) {
        const streams = io();
        expect(await runCli([command, help], streams.io)).toBe(0);
        const text = streams.out.join('');
        expect(text).toContain(`signaling-actor ${command} `);
        expect(text).toContain(flags);
        // Only that command.
        for (const other of ['serve', 'keygen', 'demo'].filter((c) => c !== command)) {
          expect(text).not.toContain(`signaling-actor ${other}`);
        }
        expect(streams.err).toEqual([]);
      }
    }
  });
});

describe('the built executable', () => {
  // A package of its own (package.json beside dist, as when installed): its `imports` must resolve.
  const packageDir = join(process.cwd(), 'node_modules', '.cache', `sa-cli-test-${process.pid}`);
  const outDir = join(packageDir, 'dist');
  const cli = join(outDir, 'server', 'cli.js');

  beforeAll(async () => {
    await mkdir(packageDir, { recursive: true });
    await copyFile('package.json', join(packageDir, 'package.json'));
    // Emits even when a file elsewhere in the tree has a type error, so only the output is checked.
    await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', outDir]).catch(
      () => {},
    );
    if (!existsSync(cli)) throw new Error('tsc emitted no server/cli.js');
  }, 120_000);
  afterAll(async () => {
    await rm(packageDir, { recursive: true, force: true });
  });

  /** Starts the executable's `serve` with `args` and resolves with it and its URL once it listens. */
  async function serveExecutable(name: string, args: string[] = []) {
    const keyFile = join(dir, `exe-${name}.json`);
    const child: ChildProcess = spawn(
      process.execPath,
      [cli, 'serve', '--port', '0', '--key-file', keyFile, ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /listening on (ws:\/\/\S+)/.exec(stderr);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, url, exited };
  }

  it('SIGINT closes clients with 1001 at once and exits 0', async () => {
    const { child, url, exited } = await serveExecutable('sigint');
    const { client } = await authenticate(url);
    child.kill('SIGINT');
    expect((await client.waitClosed()).code).toBe(1001);
    expect(await exited).toBe(0);
  });

  it('SIGTERM drains: /readyz 503 at once, clients closed 1012 over --drain-ms, exit 0; a second SIGTERM exits at once', async () => {
    const { child, url, exited } = await serveExecutable('sigterm', ['--drain-ms', '400']);
    const port = new URL(url).port;
    const sessions = await Promise.all([0, 1].map(() => authenticate(url)));
    const started = performance.now();
    child.kill('SIGTERM');
    // Not ready from the moment the signal lands, while the sessions are still being closed.
    let ready = 200;
    while (ready === 200) ready = (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
    expect(ready).toBe(503);
    expect(sessions[1]?.client.ws.readyState).toBe(WebSocket.OPEN);
    const closes = await Promise.all(sessions.map(({ client }) => client.waitClosed()));
    expect(closes.map((c) => c.code)).toEqual([1012, 1012]);
    expect(await exited).toBe(0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);

    const again = await serveExecutable('sigterm-twice', ['--drain-ms', '60000']);
    const { client } = await authenticate(again.url);
    const { client: other } = await authenticate(again.url);
    again.child.kill('SIGTERM');
    // The first session is closed at once; the second would wait 30 s, but a second SIGTERM ends it now.
    expect((await client.waitClosed()).code).toBe(1012);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(1);
    expect((await other.waitClosed()).code).toBe(1006);
  });
});
