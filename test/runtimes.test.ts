import { type ChildProcess, spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { createSignalingClient, type SignalingClient } from '../src/client.js';
import { Identity } from '../src/identity/index.js';
import { ensureDist, ROOT } from './helpers/dist.js';
import { type ServerProcess, startServerProcess } from './helpers/server-process.js';
import { until } from './helpers/until.js';

/**
 * The built package under Bun and Deno (both from npm, devDependencies), against Node: a client under
 * each runtime talking to the reference server under Node, and the reference server under each runtime
 * serving Node clients. Each way: acknowledged signals both ways, then the server killed (SIGKILL) and
 * started again on its port, the clients back and signalling.
 */

const BIN = join(ROOT, 'node_modules/.bin');
const RUNTIMES: [string, string[]][] = [
  ['Bun', [join(BIN, 'bun')]],
  ['Deno', [join(BIN, 'deno'), 'run', '-A']],
];
const CLIENT = join(ROOT, 'test/fixtures/runtime-client.js');

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A client of the package under another runtime (test/fixtures/runtime-client.js), seen from here. */
interface RemoteClient {
  key: string;
  runtime: string;
  states: string[];
  signals: { from: string; id: string; data: unknown }[];
  acks: string[];
  send(to: string, id: string, data: unknown): void;
}

function remoteClient(runtime: string[], url: string): Promise<RemoteClient> {
  const [command, ...args] = runtime as [string, ...string[]];
  const child: ChildProcess = spawn(command, [...args, CLIENT, JSON.stringify({ url })], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  cleanups.push(() => {
    child.kill('SIGKILL');
  });
  const remote: Omit<RemoteClient, 'key' | 'runtime'> = {
    states: [],
    signals: [],
    acks: [],
    send: (to, id, data) => child.stdin?.write(`${JSON.stringify({ send: { to, id, data } })}\n`),
  };
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`client exited (${code}): ${stderr.trim()}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const m = JSON.parse(line);
      if (m.key) resolve({ ...remote, key: m.key, runtime: m.runtime });
      if (m.state) remote.states.push(m.state);
      if (m.signal) remote.signals.push(m.signal);
      if (m.acked) remote.acks.push(m.acked);
      if (m.failed) remote.acks.push(`failed ${m.failed} ${m.code}`);
    });
  });
}

async function nodeClient(url: string): Promise<{ client: SignalingClient; key: string; inbox: unknown[] }> {
  const identity = await Identity.generate();
  const client = createSignalingClient({ url, identity, backoff: { initialDelay: 100, maxDelay: 400 } });
  cleanups.push(() => client.disconnect());
  const inbox: unknown[] = [];
  client.on('signal', (m) => inbox.push({ from: m.from, id: m.id, data: m.data }));
  client.connect();
  await until(() => client.state === 'connected', 10_000);
  return { client, key: identity.publicKey, inbox };
}

async function server(runtime?: string[]): Promise<ServerProcess> {
  const s = await startServerProcess(runtime ? { runtime } : {});
  cleanups.push(() => s.stop());
  return s;
}

describe.each(RUNTIMES)('%s', { timeout: 60_000 }, (name, runtime) => {
  ensureDist();

  it(`a client under ${name} ↔ the reference server under Node: acked signals both ways, back after a server kill`, async () => {
    const s = await server();
    const node = await nodeClient(s.url);
    const remote = await remoteClient(runtime, s.url);
    expect(remote.runtime).toBe(name.toLowerCase());
    await until(() => remote.states.at(-1) === 'connected', 15_000);

    remote.send(node.key, 'r1', { from: name });
    await until(() => remote.acks.includes('r1'), 10_000);
    await until(() => node.inbox.length === 1, 10_000);
    expect(node.inbox).toEqual([{ from: remote.key, id: 'r1', data: { from: name } }]);
    await node.client.send({ type: 'signal', to: remote.key, id: 'n1', data: { from: 'node' } });
    await until(() => remote.signals.length === 1, 10_000);
    expect(remote.signals).toEqual([{ from: node.key, id: 'n1', data: { from: 'node' } }]);

    await s.kill();
    await until(() => remote.states.at(-1) === 'reconnecting', 10_000);
    await s.restart();
    await until(() => remote.states.at(-1) === 'connected' && node.client.state === 'connected', 15_000);
    remote.send(node.key, 'r2', 'after the kill');
    await until(() => remote.acks.includes('r2'), 10_000);
    await node.client.send({ type: 'signal', to: remote.key, id: 'n2', data: 'after the kill' });
    await until(() => remote.signals.length === 2 && node.inbox.length === 2, 10_000);
    // Up, down on the kill (maybe a refused attempt or two while it restarts), up again.
    expect(remote.states.slice(0, 4)).toEqual(['connecting', 'authenticating', 'connected', 'reconnecting']);
    expect(remote.states.slice(-3)).toEqual(['connecting', 'authenticating', 'connected']);
    expect(remote.acks).toEqual(['r1', 'r2']);
  });

  it(`the reference server under ${name} ↔ Node clients: acked signals both ways, back after a server kill`, async () => {
    const s = await server(runtime);
    // The server process is the runtime's own binary, not a Node behind a shim.
    expect(basename(readlinkSync(`/proc/${s.pid}/exe`))).toMatch(
      new RegExp(`^${name.toLowerCase()}(\\.exe)?$`),
    );
    const a = await nodeClient(s.url);
    const b = await nodeClient(s.url);
    await a.client.send({ type: 'signal', to: b.key, id: 'a1', data: 1 });
    await b.client.send({ type: 'signal', to: a.key, id: 'b1', data: 2 });
    await until(() => a.inbox.length === 1 && b.inbox.length === 1, 10_000);

    await s.kill();
    await until(() => a.client.state === 'reconnecting' && b.client.state === 'reconnecting', 10_000);
    await s.restart();
    await until(() => a.client.state === 'connected' && b.client.state === 'connected', 15_000);
    expect(a.client.serverKey).toBe(s.publicKey);
    await a.client.send({ type: 'signal', to: b.key, id: 'a2', data: 3 });
    await b.client.send({ type: 'signal', to: a.key, id: 'b2', data: 4 });
    await until(() => a.inbox.length === 2 && b.inbox.length === 2, 10_000);
    expect(b.inbox).toEqual([
      { from: a.key, id: 'a1', data: 1 },
      { from: a.key, id: 'a2', data: 3 },
    ]);
    expect(a.inbox).toEqual([
      { from: b.key, id: 'b1', data: 2 },
      { from: b.key, id: 'b2', data: 4 },
    ]);
  });
});
