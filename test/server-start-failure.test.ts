import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST, ensureDist, ROOT } from './helpers/dist.js';
import { freePort } from './helpers/server-process.js';

/**
 * A server that fails to start leaves nothing behind. The failure used here is the one users met: a
 * cluster without `@redis/client` installed. The built package is installed, as an app gets it, into a
 * directory whose node_modules holds the dependencies but not the optional Redis client, so the
 * import really fails; the process must then end by itself (nothing listening, nothing keeping it alive).
 */

let app: string;
beforeAll(async () => {
  ensureDist();
  app = await mkdtemp(join(tmpdir(), 'sa-start-failure-'));
  const pkg = join(app, 'node_modules', 'signaling-actor');
  await mkdir(pkg, { recursive: true });
  await cp(DIST, join(pkg, 'dist'), { recursive: true });
  await cp(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  for (const dependency of ['ws', 'xstate', 'tweetnacl']) {
    await symlink(join(ROOT, 'node_modules', dependency), join(app, 'node_modules', dependency), 'dir');
  }
}, 120_000);
afterAll(async () => {
  await rm(app, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const child: ChildProcess = spawn(process.execPath, args, { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += String(d);
  });
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  // A process that keeps a handle open never exits: kill it after a while so the test fails, not hangs.
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('a server that fails to start', () => {
  it('`serve --redis` without @redis/client says what to install and exits 1 at once', async () => {
    const port = await freePort();
    const cli = join(app, 'node_modules', 'signaling-actor', 'dist', 'server', 'cli.js');
    const result = await run([
      cli,
      'serve',
      '--port',
      String(port),
      '--key-file',
      join(app, 'key.json'),
      '--redis',
      'redis://127.0.0.1:1',
    ]);
    expect(result.stderr).toContain('the cluster option needs the Redis client: npm install @redis/client');
    expect(result.code).toBe(1);
    expect(result.ms).toBeLessThan(5_000);
    expect(await refused(port)).toBe(true);
  });

  it('createSignalingServer rejects and releases its port and every handle, its own server or an attached one', async () => {
    const port = await freePort();
    const attachedPort = await freePort();
    const script = join(app, 'start.mjs');
    await writeFile(
      script,
      `import { createServer, request } from 'node:http';
import { Identity } from 'signaling-actor';
import { createSignalingServer } from 'signaling-actor/server';
const identity = await Identity.generate();
const cluster = { redis: 'redis://127.0.0.1:1' };
const results = [];
try {
  await createSignalingServer({ identity, port: ${port}, cluster });
} catch (error) {
  results.push(error.code);
}
const attached = createServer();
try {
  await createSignalingServer({ identity, server: attached, port: ${attachedPort}, cluster });
} catch (error) {
  results.push(error.code, attached.listening);
}
console.log(JSON.stringify(results));
// No process.exit: the process ends only when nothing is left open.
`,
    );
    const result = await run([script]);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual(['invalid-option', 'invalid-option', false]);
    expect(result.code).toBe(0);
    expect(result.ms).toBeLessThan(5_000);
    expect(await refused(port)).toBe(true);
    expect(await refused(attachedPort)).toBe(true);
  });
});
