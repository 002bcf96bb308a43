/**
 * Starts a real coturn (`turnserver`) on 127.0.0.1 for the STUN/TURN tests, on a port found free at
 * run time, with TURN REST (`use-auth-secret`) authentication, and stops it again. Nothing is skipped
 * when coturn is missing: `.ci/run` installs it, so its absence is a failure with a clear message.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Identity } from '../../src/identity/index.js';
import { createSignalingServer, type SignalingServer } from '../../src/server/index.js';
import { iceServersForClient } from '../../src/stun/index.js';

export interface Coturn {
  pid: number;
  host: '127.0.0.1';
  port: number;
  secret: string;
  realm: string;
  /** `turn:127.0.0.1:<port>` */
  turnUrl: string;
  /** `stun:127.0.0.1:<port>` */
  stunUrl: string;
  /** coturn's output so far, for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after 3 s; resolves once the process has exited. */
  stop(): Promise<void>;
}

const MISSING =
  'coturn is not installed: the STUN/TURN tests need `turnserver` on PATH. ' +
  'Install it with `apt-get install -y coturn` (.ci/run does this before npm test).';

export function assertCoturnInstalled(): void {
  const probe = spawnSync('turnserver', ['--help'], { stdio: 'ignore', timeout: 5000 });
  if (probe.error) throw new Error(`${MISSING} (${probe.error.message})`);
}

/**
 * `port`, `secret` and `realm` given (another coturn's, after its `stop()`): the same relay comes back,
 * as a restarted server would — with none of the old one's allocations.
 */
export async function startCoturn(
  options: { secret?: string; realm?: string; port?: number } = {},
): Promise<Coturn> {
  assertCoturnInstalled();
  const secret = options.secret ?? randomBytes(18).toString('base64url');
  const realm = options.realm ?? 'signaling-actor.test';
  if (options.port !== undefined) return launch(options.port, secret, realm);
  let lastError: unknown;
  // The free port can be taken between our check and coturn's bind; try a few ports.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeUdpTcpPort();
    try {
      return await launch(port, secret, realm);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function launch(port: number, secret: string, realm: string): Promise<Coturn> {
  const dir = mkdtempSync(join(tmpdir(), 'coturn-'));
  const args = [
    '-n', // no configuration file
    '--listening-ip=127.0.0.1',
    `--listening-port=${port}`,
    '--relay-ip=127.0.0.1',
    '--use-auth-secret',
    `--static-auth-secret=${secret}`,
    `--realm=${realm}`,
    '--no-tls',
    '--no-dtls',
    '--no-cli',
    // Without it coturn answers a loopback peer with 403 Forbidden IP, and every peer here is loopback.
    '--allow-loopback-peers',
    '--log-file=stdout',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--db=${join(dir, 'turndb')}`,
  ];
  const child = spawn('turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // If the test process dies without calling stop(), do not leave coturn behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    await waitUntilAnswering(child, port, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    pid: child.pid as number,
    host: '127.0.0.1',
    port,
    secret,
    realm,
    turnUrl: `turn:127.0.0.1:${port}`,
    stunUrl: `stun:127.0.0.1:${port}`,
    output: () => output,
    stop,
  };
}

/**
 * Ready means: answers a STUN Binding request over UDP. The request is built here by hand (20 bytes),
 * independently of the code under test.
 */
async function waitUntilAnswering(child: ChildProcess, port: number, output: () => string): Promise<void> {
  const socket = createSocket('udp4');
  const request = Buffer.alloc(20);
  request.writeUInt16BE(0x0001, 0);
  request.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(request, 8);
  let done = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 10_000;
      socket.on('message', (msg) => {
        if (
          msg.length >= 20 &&
          msg.readUInt16BE(0) === 0x0101 &&
          msg.subarray(8, 20).equals(request.subarray(8))
        ) {
          resolve();
        }
      });
      socket.on('error', () => {}); // ICMP port unreachable while coturn is still starting
      const tick = () => {
        if (done) return;
        if (child.exitCode !== null || child.signalCode !== null) {
          reject(new Error(`turnserver exited during start-up on port ${port}:\n${output().slice(-3000)}`));
        } else if (Date.now() > deadline) {
          reject(
            new Error(
              `turnserver did not answer STUN on 127.0.0.1:${port} within 10 s:\n${output().slice(-3000)}`,
            ),
          );
        } else {
          socket.send(request, port, '127.0.0.1');
          timer = setTimeout(tick, 100);
        }
      };
      tick();
    });
  } finally {
    done = true;
    clearTimeout(timer);
    socket.close();
  }
}

/** A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both). */
async function freeUdpTcpPort(): Promise<number> {
  for (;;) {
    const udp = createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve(udp.address().port));
    });
    const tcpFree = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (tcpFree) return port;
  }
}

/**
 * The reference server as the WebRTC suites run it: every client gets TURN REST credentials for
 * `coturn` on loopback in its `auth.ok` (never the public default STUN hosts); closed by `cleanups`.
 */
export async function turnSignalingServer(
  cleanups: (() => unknown)[],
  coturn: Coturn,
  { identity, port = 0, origins }: { identity?: Identity; port?: number; origins?: string[] } = {},
): Promise<SignalingServer> {
  const s = await createSignalingServer({
    identity: identity ?? (await Identity.generate()),
    port,
    ...(origins ? { origins } : {}),
    iceServers: (publicKey) =>
      iceServersForClient(
        { turn: { urls: coturn.turnUrl, secret: coturn.secret }, includeDefaults: false },
        publicKey,
      ),
  });
  cleanups.push(() => s.close({ timeout: 200 }));
  return s;
}
