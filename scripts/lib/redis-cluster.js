// A Redis Cluster of its own for tests, the soak and the benchmarks: six `redis-server
// --cluster-enabled yes` processes on free 127.0.0.1 ports (3 masters + 3 replicas, formed with
// `redis-cli --cluster create`), without persistence, in a temporary folder. Debian's
// `redis-server` package brings both programs. Forms in a few seconds.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from './processes.js';

const run = promisify(execFile);

/** Whether 127.0.0.1:port can be bound right now. */
function free(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port whose cluster bus port (port + 10000) is free too, both below 65536. */
async function clusterPort(taken) {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if (taken.has(port) || taken.has(port + 10000)) continue;
    if ((await free(port)) && (await free(port + 10000))) {
      taken.add(port);
      taken.add(port + 10000);
      return port;
    }
  }
}

/** Six ports a cluster can use (each with its bus port + 10000 free), for a test that names them first. */
export async function freeClusterPorts() {
  const taken = new Set();
  const ports = [];
  for (let i = 0; i < 6; i++) ports.push(await clusterPort(taken));
  return ports;
}

/**
 * Starts the cluster; resolves once every slot is served and every replica is in sync.
 * @param {{ password?: string, ports?: number[] }} [options] `password`: every node requires it
 *   (`--requirepass`); `ports`: the six ports to use (from {@link freeClusterPorts}), default free ones.
 */
export async function startRedisCluster({ password, ports: given } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'signaling-actor-redis-cluster-'));
  const taken = new Set();
  const ports = given ? [...given] : [];
  while (ports.length < 6) ports.push(await clusterPort(taken));
  const auth = password ? ['-a', password, '--no-auth-warning'] : [];
  const cli = async (port, ...args) =>
    (await run('redis-cli', ['-p', String(port), ...auth, ...args])).stdout;
  const children = new Map();
  const launch = (port) => {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '1000',
        '--repl-diskless-sync-delay',
        '0',
        '--save',
        '',
        '--appendonly',
        'no',
        ...(password ? ['--requirepass', password, '--masterauth', password] : []),
      ],
      { stdio: 'ignore' },
    );
    children.set(port, child);
  };
  for (const port of ports) launch(port);
  const until = async (check, what, timeout = 20_000) => {
    const deadline = Date.now() + timeout;
    for (;;) {
      try {
        if (await check()) return;
      } catch {}
      if (Date.now() > deadline) throw new Error(`redis cluster: ${what} not in time`);
      await sleep(100);
    }
  };
  await until(
    async () => (await Promise.all(ports.map((p) => cli(p, 'ping')))).every((r) => r.trim() === 'PONG'),
    'nodes up',
  );
  await run('redis-cli', [
    ...auth,
    '--cluster',
    'create',
    ...ports.map((p) => `127.0.0.1:${p}`),
    '--cluster-replicas',
    '1',
    '--cluster-yes',
  ]);
  const alive = () =>
    ports.filter((p) => children.get(p)?.exitCode === null && children.get(p)?.signalCode === null);
  const role = async (port) => (await cli(port, 'role')).split('\n')[0].trim();
  const cluster = {
    ports,
    urls: ports.map((p) => `redis://${password ? `:${encodeURIComponent(password)}@` : ''}127.0.0.1:${p}`),
    /** Resolves once every live node says `cluster_state:ok` and every live replica's link is up. */
    async healthy(timeout = 20_000) {
      await until(
        async () => {
          for (const port of alive()) {
            if (!(await cli(port, 'cluster', 'info')).includes('cluster_state:ok')) return false;
            if (
              (await role(port)) === 'slave' &&
              !(await cli(port, 'info', 'replication')).includes('master_link_status:up')
            )
              return false;
          }
          return true;
        },
        'cluster healthy',
        timeout,
      );
    },
    /** The live masters' ports. */
    async masters() {
      const roles = await Promise.all(alive().map(async (p) => [p, await role(p)]));
      return roles.filter(([, r]) => r === 'master').map(([p]) => p);
    },
    /** Keys (DBSIZE) and shard channels (PUBSUB SHARDCHANNELS) a node holds. */
    async holds(port) {
      const keys = Number((await cli(port, 'dbsize')).trim());
      const channels = (await cli(port, 'pubsub', 'shardchannels')).split('\n').filter(Boolean).length;
      return { keys, channels };
    },
    /** The live master that serves `key`'s slot. */
    async masterOf(key) {
      for (const port of await cluster.masters()) {
        if (/^[01]$/.test((await cli(port, 'exists', key)).trim())) return port;
      }
      throw new Error(`redis cluster: no live master serves ${key}`);
    },
    /** SIGKILL one node; resolves once it has exited. */
    async kill(port) {
      const child = children.get(port);
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      await Promise.all(ports.map((p) => cluster.kill(p)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.healthy();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
