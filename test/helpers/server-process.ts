import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './dist.js';

/**
 * The reference server (built `dist/`) as a child process that tests can `kill -9`, freeze (SIGSTOP) and
 * start again on the same port with the same key. `npm test` builds `dist/` first; run alone, build it
 * with `npm run build` (the helper refuses to run a missing build rather than test stale code).
 */

export const SERVER_CHILD = join(ROOT, 'test/fixtures/server-child.js');
const DIST_SERVER = join(ROOT, 'dist/server/index.js');

export interface ServerProcessOptions {
  /** Environment variables for the child on top of this process's (e.g. `NODE_EXTRA_CA_CERTS`). */
  env?: Record<string, string>;
  /** Port to listen on; default: a free one picked now and kept across restarts. */
  port?: number;
  /** 32-byte seed (base64url) of the server key; default: a random one kept across restarts. */
  seed?: string;
  heartbeat?: { interval?: number; timeout?: number };
  authTimeout?: number;
  rateLimit?: false;
  /** Further URLs clients dial (e.g. a fault proxy's), besides the loopback ones of the port. */
  origins?: string[];
  /** One node of a cluster over this Redis. */
  cluster?: { redis: string | string[]; password?: string; leaseMs?: number; nodeId?: string };
  limits?: { maxSessionsPerKey?: number };
  /** Warn and error records on stderr, read back with {@link ServerProcess.warnings}. */
  logWarnings?: boolean;
  /** Serve `GET /metrics` (Prometheus). */
  metrics?: boolean;
  /** SIGTERM drains, spreading its 1012 closes over this many ms; without it (and on SIGINT) it closes at once (1001). */
  drainMs?: number;
  /** The runtime's command line to run it under (e.g. `['deno', 'run', '-A']`); default this Node. */
  runtime?: string[];
}

export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly publicKey: string;
  /** The pid of the running child, or undefined while it is down. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Sends `signal` (default SIGKILL) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Freezes / thaws the process (SIGSTOP / SIGCONT): its sockets stay open and silent. */
  pause(): void;
  resume(): void;
  /** Starts it again on the same port with the same key (kills the old one first if it still runs). */
  restart(): Promise<void>;
  /** Kills it for good (idempotent). */
  stop(): Promise<void>;
  /** The `msg` of each warn and error record so far, every run of it (with `logWarnings`). */
  warnings(): string[];
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export function randomSeed(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
}

interface Ready {
  url: string;
  port: number;
  publicKey: string;
}

function launch(
  config: object,
  onStderr: (text: string) => void,
  runtime: string[] = [process.execPath],
): Promise<{ child: ChildProcess; ready: Ready }> {
  return new Promise((resolve, reject) => {
    const { env, ...rest } = config as { env?: Record<string, string> };
    const [command, ...args] = runtime as [string, ...string[]];
    const child = spawn(command, [...args, SERVER_CHILD, JSON.stringify(rest)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += String(d);
      onStderr(String(d));
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`server child exited before listening (${code ?? signal}): ${stderr.trim()}`));
    child.once('exit', onExit);
    child.once('error', reject);
    lines.once('line', (line) => {
      child.off('exit', onExit);
      resolve({ child, ready: JSON.parse(line) as Ready });
    });
  });
}

/** Restarting can race the kernel releasing the port for a moment: retry EADDRINUSE briefly. */
async function launchRetrying(
  config: object,
  onStderr: (text: string) => void,
  runtime?: string[],
): Promise<{ child: ChildProcess; ready: Ready }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await launch(config, onStderr, runtime);
    } catch (error) {
      if (attempt >= 20 || !String(error).includes('EADDRINUSE')) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  if (!existsSync(DIST_SERVER)) {
    throw new Error(`${DIST_SERVER} is missing: run \`npm run build\` first (npm test builds it)`);
  }
  const { runtime, ...rest } = options;
  const config = { ...rest, port: options.port ?? (await freePort()), seed: options.seed ?? randomSeed() };
  let stderr = '';
  const onStderr = (text: string) => {
    stderr += text;
  };
  let { child, ready } = await launchRetrying(config, onStderr, runtime);
  let exited: Promise<void> = new Promise((r) => child.once('exit', () => r()));
  let alive = true;
  child.once('exit', () => {
    alive = false;
  });

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (!alive) return;
    child.kill(signal);
    await exited;
  };

  return {
    get url() {
      return ready.url;
    },
    get port() {
      return ready.port;
    },
    get publicKey() {
      return ready.publicKey;
    },
    get pid() {
      return alive ? child.pid : undefined;
    },
    get running() {
      return alive;
    },
    kill,
    pause: () => {
      if (alive) child.kill('SIGSTOP');
    },
    resume: () => {
      if (alive) child.kill('SIGCONT');
    },
    async restart() {
      await kill();
      ({ child, ready } = await launchRetrying(config, onStderr, runtime));
      alive = true;
      exited = new Promise((r) => child.once('exit', () => r()));
      child.once('exit', () => {
        alive = false;
      });
    },
    stop: () => kill(),
    warnings: () =>
      stderr
        .split('\n')
        .slice(0, -1) // the last piece is an unfinished line (or empty)
        .filter((line) => line.startsWith('{'))
        .map((line) => (JSON.parse(line) as { msg: string }).msg),
  };
}

/**
 * Starts `count` server processes one after another with one new seed (one server identity, as the
 * nodes of a cluster have); node `i` gets `options(i)`. Each is pushed into `nodes` as it starts, so
 * the suite's teardown stops those already up should a later one fail.
 */
export async function startNodes(
  nodes: ServerProcess[],
  count: number,
  options: (i: number) => ServerProcessOptions,
): Promise<ServerProcess[]> {
  const seed = randomSeed();
  for (let i = 0; i < count; i++) nodes.push(await startServerProcess({ seed, ...options(i) }));
  return nodes;
}
