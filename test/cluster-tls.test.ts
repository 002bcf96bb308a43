import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignalingClient } from '../src/client.js';
import { Identity } from '../src/identity/index.js';
import { clusterPeer } from './helpers/cluster-peer.js';
import { ensureDist } from './helpers/dist.js';
import { freePort, type ServerProcess, startNodes } from './helpers/server-process.js';
import { eventually, until } from './helpers/until.js';

/**
 * A Redis that is not open to the world, reached over TLS: `redis-server --tls-port` with a
 * certificate of the test's own CA (made with `openssl`), the nodes given a plain `rediss://user:pass@`
 * URL and the CA through `NODE_EXTRA_CA_CERTS`, as a deployment would.
 */

const run = promisify(execFile);

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

let dir: string;
let redis: ChildProcess;
let url: string;
const nodes: ServerProcess[] = [];
const clients: SignalingClient[] = [];

beforeAll(async () => {
  ensureDist();
  dir = await mkdtemp(join(tmpdir(), 'sa-redis-tls-'));
  const file = (name: string) => join(dir, name);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=test CA',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
  ]);
  await run('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    file('redis.key'),
    '-out',
    file('redis.csr'),
  ]);
  await writeFile(file('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    file('redis.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    file('san.ext'),
    '-out',
    file('redis.pem'),
  ]);
  const port = await freePort();
  redis = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--tls-cert-file',
      file('redis.pem'),
      '--tls-key-file',
      file('redis.key'),
      '--tls-ca-cert-file',
      file('ca.pem'),
      '--tls-auth-clients',
      'no',
      '--requirepass',
      'tls-and-a-password',
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    {
      stdio: 'ignore',
    },
  );
  url = `rediss://default:tls-and-a-password@127.0.0.1:${port}`;
  await eventually(() => listening(port), 10_000);
  await startNodes(nodes, 2, () => ({
    cluster: { redis: url },
    env: { NODE_EXTRA_CA_CERTS: file('ca.pem') },
    logWarnings: true,
  }));
}, 60_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.disconnect()));
  for (const node of nodes) await node.stop();
  redis?.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('a cluster over Redis with TLS and a password (rediss://user:password@)', () => {
  it('relays across nodes through it, and no node says Redis is unreachable', async () => {
    const receiver = await Identity.generate();
    const sender = (await clusterPeer(clients, nodes[0] as ServerProcess)).client;
    const got: string[] = [];
    (await clusterPeer(clients, nodes[1] as ServerProcess, receiver)).client.on('signal', (m) =>
      got.push(m.id),
    );
    await sender.send({ type: 'signal', to: receiver.publicKey, id: 'over-tls', data: 1 });
    await until(() => got.length > 0);
    expect(got).toEqual(['over-tls']);
    expect(nodes.flatMap((n) => n.warnings())).toEqual([]);
  });
});
