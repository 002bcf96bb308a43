import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createSignalingClient, type SignalingClientOptions } from '../src/client.js';
import { SignalingError } from '../src/errors.js';
import { Identity } from '../src/identity/index.js';
import { ConnectionState } from '../src/machines/signaling.types.js';
import { createSignalingServer } from '../src/server/index.js';
import { ensureDist } from './helpers/dist.js';
import { testClient } from './helpers/test-client.js';

/**
 * What a new user runs into: mistakes caught where they are made, a ready() to await, and every
 * promise settling (against the reference server on loopback where a server is involved).
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof SignalingError ? e.code : `untyped: ${String(e)}`),
  );

function thrown(fn: () => unknown): SignalingError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SignalingError) return error;
    throw error;
  }
  throw new Error('did not throw');
}

async function server() {
  const s = await createSignalingServer({ identity: await Identity.generate() });
  cleanups.push(() => s.close({ timeout: 200 }));
  return s;
}

const client = (url: string, options: Partial<SignalingClientOptions> = {}) =>
  testClient(cleanups, url, options);

describe('createSignalingClient catches mistakes at once', () => {
  const url = 'ws://127.0.0.1:9/';

  it('no identity, or a seed string as identity: invalid-option naming `identity`', async () => {
    const none = thrown(() => createSignalingClient({ url } as unknown as SignalingClientOptions));
    expect(none.code).toBe('invalid-option');
    expect(none.message).toMatch(
      /`identity` must be an Identity or Signer.*Identity\.fromSeed.*not undefined/,
    );
    const seed = Buffer.from(await (await Identity.generate({ extractable: true })).exportSeed()).toString(
      'base64url',
    );
    const asString = thrown(() => createSignalingClient({ url, identity: seed as never }));
    expect(asString.message).toMatch(/`identity` must be .*, not string/);
  });

  it('serverKey that is not a key: invalid-option naming `serverKey`', async () => {
    const identity = await Identity.generate();
    const error = thrown(() => createSignalingClient({ url, identity, serverKey: 'nope' }));
    expect(error.code).toBe('invalid-option');
    expect(error.message).toMatch(/`serverKey` must be the server's public key: 43 base64url characters/);
    // A real key passes.
    expect(() => createSignalingClient({ url, identity, serverKey: identity.publicKey })).not.toThrow();
  });

  it('a URL that is not ws: or wss: is refused', async () => {
    const identity = await Identity.generate();
    expect(thrown(() => createSignalingClient({ url: 'http://x/', identity })).code).toBe('invalid-origin');
  });
});

describe('Identity.fromSeed says what a seed is', () => {
  it('hex: names the encoding and how to pass bytes', async () => {
    const error = await Identity.fromSeed('a'.repeat(64)).catch((e: SignalingError) => e);
    expect(error).toBeInstanceOf(SignalingError);
    expect((error as SignalingError).code).toBe('invalid-length');
    expect((error as SignalingError).message).toMatch(/base64url of 43 characters \(got 64 characters\)/);
    expect((error as SignalingError).message).toMatch(/looks like hex.*Buffer\.from\(seed, 'hex'\)/);
  });

  it('padded standard base64: names it', async () => {
    const seed = await (await Identity.generate({ extractable: true })).exportSeed();
    const standard = Buffer.from(seed).toString('base64');
    const error = (await Identity.fromSeed(standard).catch((e: unknown) => e)) as SignalingError;
    expect(error.message).toMatch(/looks like standard or padded base64/);
    // The bytes it names work.
    const again = await Identity.fromSeed(Buffer.from(standard, 'base64'));
    expect(again.publicKey).toHaveLength(43);
  });
});

describe('send refusals', () => {
  it('a local validation error carries no close code', async () => {
    const c = await client('ws://127.0.0.1:9/');
    const error = (await c
      .send({ type: 'signal', id: 'x', data: 1 } as never)
      .catch((e: unknown) => e)) as SignalingError;
    expect(error.code).toBe('malformed');
    expect(error.closeCode).toBeUndefined();
  });

  it('after disconnect() a send rejects at once with disconnected, until the next connect()', async () => {
    const s = await server();
    const c = await client(s.url);
    c.connect();
    await c.ready();
    await c.disconnect();
    expect(await outcome(c.send({ type: 'hello' }))).toBe('disconnected');
    c.connect();
    // Queued again now, and written once connected (the server answers unknown-type, so it was sent).
    const unknown = new Promise((resolve) => c.on('error', resolve));
    expect(await outcome(c.send({ type: 'hello' }))).toBe('resolved');
    await c.ready();
    expect(await unknown).toMatchObject({ type: 'error', code: 'unknown-type' });
  });

  it('before the first connect() a send queues, and goes out once connected', async () => {
    const s = await server();
    const c = await client(s.url);
    const sent = c.send({ type: 'hello' });
    const unknown = new Promise((resolve) => c.on('error', resolve));
    c.connect();
    expect(await outcome(sent)).toBe('resolved');
    expect(await unknown).toMatchObject({ code: 'unknown-type' });
  });
});

describe('ready()', () => {
  it('resolves once connected, and at once when already connected', async () => {
    const s = await server();
    const c = await client(s.url);
    c.connect();
    await c.ready();
    expect(c.state).toBe(ConnectionState.CONNECTED);
    expect(await outcome(c.ready())).toBe('resolved');
  });

  it('rejects with disconnected before connect(), and when disconnect() comes first', async () => {
    const c = await client('ws://127.0.0.1:9/', { backoff: { initialDelay: 5000 } });
    expect(await outcome(c.ready())).toBe('disconnected');
    c.connect();
    const waiting = outcome(c.ready());
    await c.disconnect();
    expect(await waiting).toBe('disconnected');
  });

  it('rejects with failed, saying why, when the connection fails', async () => {
    const s = await server();
    const c = await client(s.url, { serverKey: (await Identity.generate()).publicKey });
    c.connect();
    const error = (await c.ready().catch((e: unknown) => e)) as SignalingError;
    expect(error.code).toBe('failed');
    expect(error.message).toMatch(/server-key-mismatch/);
  });
});

describe('once()', () => {
  it('resolves with the next message of that type', async () => {
    const s = await server();
    const c = await client(s.url);
    c.connect();
    await c.ready();
    const first = c.once('error');
    void c.send({ type: 'hello' });
    expect(await first).toMatchObject({ type: 'error', code: 'unknown-type' });
    // Subscribed once: a second error reaches only a second once().
    const second = c.once('error');
    void c.send({ type: 'hello-again' });
    expect(await second).toMatchObject({ code: 'unknown-type' });
  });
});

describe('await using', () => {
  it('disconnects the client when the scope ends', async () => {
    const s = await server();
    let inner: ReturnType<typeof createSignalingClient> | undefined;
    {
      await using c = createSignalingClient({
        url: s.url,
        identity: await Identity.generate(),
        globalEvents: false,
      });
      inner = c;
      c.connect();
      await c.ready();
      expect(s.stats().sessions).toBe(1);
    }
    expect(inner?.state).toBe(ConnectionState.DISCONNECTED);
    expect(s.stats().connections).toBe(0);
  });
});

describe('every promise settles in a script', () => {
  it('a script that sends after disconnect() exits 0 with every promise settled', () => {
    ensureDist();
    const script = fileURLToPath(new URL('./fixtures/settle-script.js', import.meta.url));
    const run = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 15_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim().split('\n')).toEqual([
      'send after disconnect: disconnected',
      'queued before connect: expired',
      'all settled',
    ]);
    expect(run.status).toBe(0);
  });
});
