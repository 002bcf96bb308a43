/**
 * The `signaling-actor` command line: `serve` runs the reference server, `keygen` makes an identity.
 * Kept apart from `cli.ts` (the executable) so tests can run it in-process with their own streams.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { isSignalingError } from '../errors.js';
import { Identity } from '../identity/identity.js';
import { encodeIdentityFile, loadOrCreateIdentityFile, saveIdentityFile } from '../node/key-file.js';
import { DEFAULT_TURN_TTL_SECONDS } from '../stun/constants.js';
import { iceServersForClient } from '../stun/ice-servers.js';
import { parseIceUrl } from '../stun/uri.js';
import { isRedisUrl } from './cluster/index.js';
import { runDemo } from './demo.js';
import { jsonLineLogger, type LogLevel } from './logger.js';
import type { SignalingServerOptions } from './options.js';
import { createSignalingServer, DEFAULT_DRAIN_MS, type SignalingServer } from './server.js';
import { packageVersion } from './version.js';

/** The process around the CLI: streams, environment, stop signal; injectable so tests run it in-process. */
export interface CliIo {
  /** JSON-line logs (and `keygen`'s key file without `--out`). */
  stdout: (text: string) => void;
  /** Human-readable lines: the URL and key at start, usage, errors. */
  stderr: (text: string) => void;
  /** Environment: `XDG_CONFIG_HOME`/`HOME` for the default key path, the variables `--passphrase-env` and `--turn-secret-env` name. */
  env: Record<string, string | undefined>;
  /**
   * Stops `serve`: aborted with the reason `'SIGINT'` it closes every session at once (1001); with any
   * other reason (the executable's SIGTERM) it drains over `--drain-ms` (1012). The executable wires
   * SIGINT and SIGTERM to it.
   */
  signal?: AbortSignal;
  /** Called once `serve` listens (tests read the port from it). */
  onListening?: (server: SignalingServer) => void;
}

/** The port `serve` listens on without `--port`. */
export const DEFAULT_PORT = 8787;

/** Each command's usage, printed by `signaling-actor COMMAND --help` and, together, by `--help`. */
const COMMAND_USAGE = {
  serve: `  signaling-actor serve [--host 127.0.0.1] [--port ${DEFAULT_PORT}] [--path /] [--origin URL]...
                        [--key-file FILE [--create-dirs]] [--passphrase-env VAR] [--log-level info]
                        [--redis URL... [--redis-password-env VAR] [--node-id ID]]
                        [--metrics] [--drain-ms ${DEFAULT_DRAIN_MS}]
                        [--turn-url turn:HOST:PORT... --turn-secret-env VAR [--turn-ttl 86400]]
      Runs the reference signaling server. On first run it creates its identity in the key file
      (default: $XDG_CONFIG_HOME/signaling-actor/server-key.json) and reuses it afterwards, so
      clients can pin its public key; a --key-file in a directory that does not exist is an error
      unless --create-dirs. --origin (repeatable, at most 8) names the URLs clients dial
      when that is not the loopback address (e.g. behind a TLS proxy). Logs are JSON lines on stdout.
      --redis makes this process one node of a cluster (start every node with the same key file and
      --origin list; see docs/cluster.md): a redis:// or rediss:// URL, repeatable to name several
      nodes of a Redis Cluster. --redis-password-env names the variable holding Redis's password
      (never put it in argv); --node-id names this node in Redis (default: random per start).
      GET /healthz and GET /readyz answer on the same port; --metrics adds GET /metrics for
      Prometheus (needs prom-client installed). SIGTERM drains: /readyz and new upgrades get 503,
      sessions are closed with 1012 spread over --drain-ms, then it exits 0; SIGINT closes them at
      once (1001); a second signal exits at once. See docs/operations.md.
      --turn-url (repeatable) hands every authenticated client those TURN servers in auth.ok, with
      its own TURN REST credentials (coturn use-auth-secret) minted from the secret in the
      environment variable --turn-secret-env names, valid for --turn-ttl seconds.
`,
  keygen: `  signaling-actor keygen [--out FILE [--create-dirs]] [--force] [--passphrase-env VAR]
      Creates a new identity: written to FILE (mode 0600), or printed to stdout without --out.
      The public key goes to stderr. An existing FILE is kept unless --force replaces it; its
      directory must exist unless --create-dirs.
`,
  demo: `  signaling-actor demo [--inspect]
      A server and two peers on loopback: presence, acknowledged signals, a server restart and
      reconnection by backoff, every state change printed (--inspect: every statechart transition).
`,
};
const PASSPHRASE_NOTE =
  'A passphrase is read from the environment variable named by --passphrase-env, never from argv.\n';
const USAGE = `Usage:\n${Object.values(COMMAND_USAGE).join('')}${PASSPHRASE_NOTE}`;

/** Runs one command line; resolves with the process exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && Object.hasOwn(COMMAND_USAGE, command) && /^(--help|-h)$/.test(rest[0] ?? '')) {
    io.stdout(
      `Usage:\n${COMMAND_USAGE[command as keyof typeof COMMAND_USAGE]}${command === 'demo' ? '' : PASSPHRASE_NOTE}`,
    );
    return 0;
  }
  try {
    switch (command) {
      case 'serve':
        return await serve(rest, io);
      case 'demo':
        await runDemo({ write: (line) => io.stdout(`${line}\n`), inspect: rest.includes('--inspect') });
        return 0;
      case 'keygen':
        return await keygen(rest, io);
      case 'help':
      case '--help':
      case '-h':
        io.stderr(USAGE);
        return 0;
      case '--version':
      case '-v':
        io.stderr(`${packageVersion()}\n`);
        return 0;
      default:
        io.stderr(
          `${command === undefined ? 'No command given.' : `Unknown command: ${command}`}\n\n${USAGE}`,
        );
        return 2;
    }
  } catch (error) {
    io.stderr(`signaling-actor ${command}: ${describe(error)}\n`);
    return isUsageError(error) ? 2 : 1;
  }
}

async function serve(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: String(DEFAULT_PORT) },
      path: { type: 'string', default: '/' },
      origin: { type: 'string', multiple: true },
      'key-file': { type: 'string' },
      'create-dirs': { type: 'boolean', default: false },
      'passphrase-env': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      redis: { type: 'string', multiple: true },
      'redis-password-env': { type: 'string' },
      'node-id': { type: 'string' },
      metrics: { type: 'boolean', default: false },
      'drain-ms': { type: 'string', default: String(DEFAULT_DRAIN_MS) },
      'turn-url': { type: 'string', multiple: true },
      'turn-secret-env': { type: 'string' },
      'turn-ttl': { type: 'string' },
    },
    strict: true,
  });
  if (values['node-id'] !== undefined && values.redis === undefined) throw usage('--node-id needs --redis');
  if (values['redis-password-env'] !== undefined && values.redis === undefined)
    throw usage('--redis-password-env needs --redis');
  for (const url of values.redis ?? []) {
    if (!isRedisUrl(url)) {
      throw usage('--redis must be a redis:// or rediss:// URL, e.g. --redis redis://127.0.0.1:6379');
    }
  }
  const redisPassword = readSecretEnv('--redis-password-env', values['redis-password-env'], io.env);
  const level = values['log-level'] as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level))
    throw usage(`--log-level must be debug, info, warn or error`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usage(`--port must be 0–65535`);
  const drainMs = Number(values['drain-ms']);
  if (!/^\d+$/.test(values['drain-ms']) || !Number.isSafeInteger(drainMs)) {
    throw usage('--drain-ms must be a whole number of milliseconds');
  }
  const iceServers = turnOption(values['turn-url'], values['turn-secret-env'], values['turn-ttl'], io.env);
  const keyFile = values['key-file'] ?? defaultKeyFile(io.env);
  const passphrase = readSecretEnv('--passphrase-env', values['passphrase-env'], io.env);
  // The default location's directory is ours to make; a given path's is the user's (a typo must not
  // quietly become a new tree and a new identity).
  const createDirectories = values['key-file'] === undefined || values['create-dirs'];
  const identity = await loadOrCreateIdentityFile(keyFile, {
    createDirectories,
    ...(passphrase === undefined ? {} : { passphrase }),
  }).catch(missingDirectory('--key-file', keyFile));

  const server = await createSignalingServer({
    identity,
    host: values.host,
    port,
    path: values.path,
    ...(values.origin ? { origins: values.origin } : {}),
    logger: jsonLineLogger(io.stdout, { level }),
    metrics: values.metrics,
    ...(iceServers ? { iceServers } : {}),
    ...(values.redis
      ? {
          cluster: {
            redis: values.redis,
            ...(redisPassword === undefined ? {} : { password: redisPassword }),
            ...(values['node-id'] ? { nodeId: values['node-id'] } : {}),
          },
        }
      : {}),
  });
  io.stderr(`signaling-actor listening on ${server.url}\n`);
  io.stderr(`server public key: ${server.publicKey}  (key file ${keyFile})\n`);
  io.onListening?.(server);

  await new Promise<void>((resolve) => {
    if (io.signal?.aborted) resolve();
    io.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  if (io.signal?.reason === 'SIGINT') {
    io.stderr('shutting down…\n');
    await server.close();
  } else {
    io.stderr(`draining: closing ${server.stats().connections} connections over ${drainMs} ms…\n`);
    await server.drain({ within: drainMs });
  }
  return 0;
}

async function keygen(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      out: { type: 'string' },
      force: { type: 'boolean', default: false },
      'create-dirs': { type: 'boolean', default: false },
      'passphrase-env': { type: 'string' },
    },
    strict: true,
  });
  const passphrase = readSecretEnv('--passphrase-env', values['passphrase-env'], io.env);
  const identity = await Identity.generate({ extractable: true });
  if (values.out) {
    try {
      await saveIdentityFile(values.out, identity, {
        overwrite: values.force,
        createDirectories: values['create-dirs'],
        ...(passphrase === undefined ? {} : { passphrase }),
      }).catch(missingDirectory('--out', values.out));
    } catch (error) {
      if (isSignalingError(error, 'key-file-exists')) {
        throw usage(`${values.out} exists; pass --force to replace it (its identity is then lost)`);
      }
      throw error;
    }
    io.stderr(`wrote ${values.out}\n`);
  } else {
    const seed = await identity.exportSeed();
    try {
      io.stdout(await encodeIdentityFile(seed, identity.publicKeyBytes, passphraseBytes(passphrase)));
    } finally {
      seed.fill(0);
    }
  }
  io.stderr(`public key: ${identity.publicKey}\n`);
  return 0;
}

/** A key file whose directory is missing: a usage error that names the flag and the way out. */
function missingDirectory(flag: string, file: string) {
  return (error: unknown): never => {
    if (isSignalingError(error, 'key-file-io') && !existsSync(dirname(file))) {
      throw usage(`${flag}: ${error.message}; create it, or add --create-dirs`);
    }
    throw error;
  };
}

/**
 * The server's `iceServers` option from the TURN flags: per client, the TURN URLs with REST credentials
 * minted for its key. Checked now (URLs, secret, lifetime), so a mistake is a usage error naming the
 * flag, not an error logged on every handshake.
 */
function turnOption(
  urls: string[] | undefined,
  secretVariable: string | undefined,
  ttl: string | undefined,
  env: Record<string, string | undefined>,
): SignalingServerOptions['iceServers'] {
  if (urls === undefined) {
    if (secretVariable !== undefined || ttl !== undefined)
      throw usage('--turn-secret-env and --turn-ttl need --turn-url');
    return undefined;
  }
  for (const url of urls) {
    let kind: string;
    try {
      kind = parseIceUrl(url, '--turn-url').kind;
    } catch (error) {
      throw usage((error as Error).message);
    }
    if (kind !== 'turn')
      throw usage(`--turn-url: ${JSON.stringify(url)} is a STUN URL; give a turn: or turns: URL`);
  }
  if (secretVariable === undefined)
    throw usage("--turn-url needs --turn-secret-env VAR (the TURN server's static-auth-secret)");
  const secret = env[secretVariable];
  if (!secret)
    throw usage(`--turn-secret-env ${secretVariable}: that environment variable is empty or unset`);
  const ttlSeconds = ttl === undefined ? DEFAULT_TURN_TTL_SECONDS : Number(ttl);
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0)
    throw usage('--turn-ttl must be a positive number of seconds');
  const turn = { urls, secret, ttlSeconds };
  return (publicKey) => iceServersForClient({ turn, includeDefaults: false }, publicKey);
}

/** `$XDG_CONFIG_HOME/signaling-actor/server-key.json`, else `~/.config/…`: outside any project tree, so it is not committed by accident. */
export function defaultKeyFile(env: Record<string, string | undefined>): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'signaling-actor', 'server-key.json');
}

/** The secret in the environment variable `variable` that `flag` names (secrets never come from argv). */
function readSecretEnv(
  flag: string,
  variable: string | undefined,
  env: Record<string, string | undefined>,
): string | undefined {
  if (variable === undefined) return undefined;
  const value = env[variable];
  if (!value) throw usage(`${flag} ${variable}: that environment variable is empty or unset`);
  return value;
}

function passphraseBytes(passphrase: string | undefined): Uint8Array | undefined {
  return passphrase === undefined ? undefined : new TextEncoder().encode(passphrase.normalize('NFC'));
}

class UsageError extends Error {}

function usage(message: string): UsageError {
  return new UsageError(message);
}

function isUsageError(error: unknown): boolean {
  // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed options.
  return (
    error instanceof UsageError ||
    (typeof (error as { code?: unknown })?.code === 'string' &&
      (error as { code: string }).code.startsWith('ERR_PARSE_ARGS'))
  );
}

function describe(error: unknown): string {
  if (isSignalingError(error)) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}
