// Child processes the soak and the cluster benchmark start and kill: the reference server
// (test/fixtures/server-child.js, on the built package) and a redis-server of their own.
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { createInterface } from 'node:readline';

const CHILD = new URL('../../test/fixtures/server-child.js', import.meta.url);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts the server child with `config` (and Node flags `nodeArgs`, e.g. `--expose-gc`); resolves with
 * { child, info } once it listens (retrying a busy port).
 */
export async function startServer(config, nodeArgs = []) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [...nodeArgs, CHILD.pathname, JSON.stringify(config)], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d) => {
          stderr += d;
        });
        const onExit = (code) => reject(new Error(`server exited (${code}): ${stderr.trim()}`));
        child.once('exit', onExit);
        createInterface({ input: child.stdout }).once('line', (line) => {
          child.off('exit', onExit);
          resolve({ child, info: JSON.parse(line) });
        });
      });
    } catch (error) {
      if (attempt >= 20 || !String(error).includes('EADDRINUSE')) throw error;
      await sleep(50);
    }
  }
}

/** SIGKILL, resolved once the process is gone. */
export function killHard(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** A redis-server (Debian package) on a free loopback port, without persistence, once it answers PING. */
export async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const pong = () =>
    new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write('PING\r\n'));
      socket.once('data', (d) => {
        socket.destroy();
        resolve(String(d).startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
    });
  for (let i = 0; !(await pong()); i++) {
    if (i > 400 || child.exitCode !== null) throw new Error('redis-server did not start');
    await sleep(25);
  }
  return { child, url: `redis://127.0.0.1:${port}` };
}
