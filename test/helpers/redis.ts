import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './server-process.js';

/**
 * A `redis-server` of the test's own (Debian package `redis-server`) on a free 127.0.0.1 port, without
 * persistence, that a test may `kill -9` and start again on the same port.
 */
export interface RedisProcess {
  readonly url: string;
  readonly port: number;
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** SIGSTOP: frozen, its sockets open and silent (a stalled host, a long GC-like pause). */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  stop(): Promise<void>;
}

function ping(port: number, password: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = createConnection({ host: '127.0.0.1', port }, () =>
      socket.write(password ? `AUTH ${password}\r\nPING\r\n` : 'PING\r\n'),
    );
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    // With AUTH, `+OK` and `+PONG` may come in one chunk or two.
    socket.on('data', (data) => {
      answer += String(data);
      if (answer.includes('+PONG')) done(true);
      else if (answer.startsWith('-') || answer.includes('\r\n-')) done(false);
    });
    socket.once('error', () => resolve(false));
  });
}

async function launch(port: number, password: string | undefined): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
      ...(password ? ['--requirepass', password] : []),
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  while (!(await ping(port, password))) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`redis-server did not start on ${port}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return child;
}

/** `password`: the server requires it (`--requirepass`); `url` then does not carry it. */
export async function startRedis({ password }: { password?: string } = {}): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined = await launch(port, password);
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    async restart() {
      await kill();
      child = await launch(port, password);
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    stop: kill,
  };
}
