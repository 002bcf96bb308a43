import { execSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { createServer as createViteServer } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSignalingClient, type SignalingClient } from '../src/client.js';
import { Identity } from '../src/identity/index.js';
import type { SignalIn } from '../src/protocol/messages.js';
import { runCli } from '../src/server/cli-commands.js';
import { createSignalingServer, type SignalingServer } from '../src/server/index.js';
import { DEFAULT_STUN_SERVERS, iceServersForClient } from '../src/stun/index.js';
import { launchChromium, servePage } from './helpers/browser.js';
import { startCoturn } from './helpers/coturn.js';
import { ensureDist, ROOT } from './helpers/dist.js';

/** Each example in `examples/` runs as a user would run it, against the built package. */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

let browser: Browser;
beforeAll(async () => {
  ensureDist();
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
});

async function server(): Promise<SignalingServer> {
  const s = await createSignalingServer({ identity: await Identity.generate() });
  cleanups.push(() => s.close({ timeout: 200 }));
  return s;
}

async function nodePeer(url: string): Promise<{ client: SignalingClient; identity: Identity }> {
  const identity = await Identity.generate();
  const client = createSignalingClient({ url, identity, globalEvents: false });
  cleanups.push(() => client.disconnect());
  const connected = new Promise<void>((resolve) => {
    const off = client.onStateChange((s) => {
      if (s === 'connected') {
        off();
        resolve();
      }
    });
  });
  client.connect();
  await connected;
  return { client, identity };
}

/** Serves `files` (URL path → body) on 127.0.0.1. */
/** A fresh browser context (closed after the test) showing `url`, and the page errors it reports. */
async function openTab(url: string) {
  const context = await browser.newContext();
  cleanups.push(() => context.close());
  const tab = await context.newPage();
  const errors: string[] = [];
  tab.on('pageerror', (e) => errors.push(String(e)));
  // A missing file (the favicon a browser asks for by itself included) is an error too.
  tab.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
  await tab.goto(url);
  return { tab, errors };
}

async function serveFiles(files: Map<string, string | Uint8Array>): Promise<string> {
  const types: Record<string, string> = { html: 'text/html', js: 'text/javascript' };
  const http = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const body = files.get(path === '/' ? '/index.html' : path);
    if (body === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': types[path.split('.').pop() ?? ''] ?? 'text/html' }).end(body);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => http.close(resolve)));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;
}

describe('examples/node/peers.js', () => {
  it('runs to the end: two peers connect, trade an offer and an answer, and exit 0', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'examples/node/peers.js')], { cwd: ROOT });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      err += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(err).toBe('');
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^server listening on ws:\/\/127\.0\.0\.1:\d+\/$/);
    expect(lines).toEqual(
      expect.arrayContaining([
        'alice: connected',
        'bob: connected',
        'bob got v=0 offer from alice',
        'alice got v=0 answer from bob',
        'alice: disconnected',
        'bob: disconnected',
      ]),
    );
    expect(lines.indexOf('bob got v=0 offer from alice')).toBeLessThan(
      lines.indexOf('alice got v=0 answer from bob'),
    );
    expect(lines.at(-1)).toBe('done');
  });
});

describe('examples/browser', () => {
  it('the plain page connects, shows its key, and signals both ways with a Node peer', async () => {
    // The page's vendor bundle, built exactly as its comment tells a user to.
    const site = await serveExample('browser', { 'signaling-actor': 'signaling-actor' });
    const s = await server();

    const { tab, errors } = await openTab(`${site}?server=${encodeURIComponent(s.url)}`);
    await tab.waitForFunction(() => document.getElementById('state')?.textContent === 'connected');
    const key = (await tab.textContent('#key')) ?? '';
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const node = await nodePeer(s.url);
    await node.client.send({ type: 'signal', to: key, id: 'n1', data: { text: 'hi from node' } });
    await tab.waitForFunction(() => document.getElementById('log')?.textContent?.includes('hi from node'));

    const received = new Promise<SignalIn>((resolve) => node.client.on('signal', resolve));
    await tab.fill('#to', node.identity.publicKey);
    await tab.fill('#text', 'hi from the page');
    await tab.click('button[type=submit]');
    const signal = await received;
    expect(signal).toMatchObject({ from: key, data: { text: 'hi from the page' } });
    await tab.waitForFunction(() => document.getElementById('log')?.textContent?.includes('delivered to'));

    // The key lives in IndexedDB: after a reload the page is the same peer.
    await tab.reload();
    await tab.waitForFunction(() => document.getElementById('state')?.textContent === 'connected');
    expect(await tab.textContent('#key')).toBe(key);
    expect(errors).toEqual([]);
  });
});

describe('examples/browser-chat', () => {
  it('two tabs chat over a WebRTC data channel (ICE through a local coturn), then one hangs up', async () => {
    // Both entries bundled as the page's comment tells a user to: one shared chunk, from dist/.
    const site = await serveExample('browser-chat', {
      'signaling-actor': 'signaling-actor',
      'signaling-actor-webrtc': 'signaling-actor/webrtc',
    });
    const coturn = await startCoturn();
    cleanups.push(() => coturn.stop());
    // The server hands each client coturn credentials: the pages never list the public STUN hosts.
    const s = await createSignalingServer({
      identity: await Identity.generate(),
      iceServers: (key) =>
        iceServersForClient(
          { turn: { urls: coturn.turnUrl, secret: coturn.secret }, includeDefaults: false },
          key,
        ),
    });
    cleanups.push(() => s.close({ timeout: 200 }));

    const page = `${site}?server=${encodeURIComponent(s.url)}`;
    const a = await openTab(page);
    const b = await openTab(page);
    for (const { tab } of [a, b]) {
      await tab.waitForFunction(() => document.getElementById('state')?.textContent === 'connected');
    }
    const bKey = (await b.tab.textContent('#key')) ?? '';
    await a.tab.fill('#peer', bKey);
    await a.tab.click('#call button[type=submit]');
    for (const { tab } of [a, b]) {
      await tab.waitForFunction(() => document.getElementById('peer-state')?.textContent === 'connected');
      await tab.waitForFunction(() => document.getElementById('log')?.textContent?.includes('channel open'));
      const urls = (await tab.evaluate(() =>
        (window as unknown as { peer: { pc: RTCPeerConnection } }).peer.pc
          .getConfiguration()
          .iceServers?.flatMap((x) => x.urls),
      )) as string[];
      expect(urls).toContain(coturn.turnUrl);
      for (const stun of DEFAULT_STUN_SERVERS) expect(urls).not.toContain(stun.urls);
    }
    expect(await b.tab.inputValue('#peer')).toBe((await a.tab.textContent('#key')) ?? '');

    await a.tab.fill('#text', 'hello from a');
    await a.tab.click('#say button[type=submit]');
    await b.tab.waitForFunction(() =>
      document.getElementById('log')?.textContent?.includes('them: hello from a'),
    );
    await b.tab.fill('#text', 'hi back');
    await b.tab.click('#say button[type=submit]');
    await a.tab.waitForFunction(() => document.getElementById('log')?.textContent?.includes('them: hi back'));

    // Each tab says "channel open" once (the answering tab's channel may be open before its event).
    for (const { tab } of [a, b]) expect(await logLines(tab, 'channel open')).toBe(1);

    await a.tab.click('#hang-up');
    await b.tab.waitForFunction(() =>
      document.getElementById('log')?.textContent?.includes('peer closed (remote)'),
    );
    expect(await a.tab.textContent('#peer-state')).toBe('closed');
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it('?relay=1 with a server started as docs/webrtc.md says (serve --turn-url): the selected candidate pair is a relay on both tabs', async () => {
    const site = await serveExample('browser-chat', {
      'signaling-actor': 'signaling-actor',
      'signaling-actor-webrtc': 'signaling-actor/webrtc',
    });
    const coturn = await startCoturn();
    cleanups.push(() => coturn.stop());
    const keyDir = mkdtempSync(join(tmpdir(), 'sa-chat-relay-'));
    cleanups.push(async () => rmSync(keyDir, { recursive: true, force: true }));
    const s = await cliServer(
      [
        '--key-file',
        join(keyDir, 'key.json'),
        '--turn-url',
        coturn.turnUrl,
        '--turn-secret-env',
        'TURN_SECRET',
      ],
      { TURN_SECRET: coturn.secret },
    );

    const page = `${site}?server=${encodeURIComponent(s.url)}&relay=1`;
    const a = await openTab(page);
    const b = await openTab(page);
    for (const { tab } of [a, b]) {
      await tab.waitForFunction(() => document.getElementById('state')?.textContent === 'connected');
    }
    await a.tab.fill('#peer', (await b.tab.textContent('#key')) ?? '');
    await a.tab.click('#call button[type=submit]');
    for (const { tab } of [a, b]) {
      await tab.waitForFunction(() => document.getElementById('log')?.textContent?.includes('channel open'));
    }
    await a.tab.fill('#text', 'through the relay');
    await a.tab.click('#say button[type=submit]');
    await b.tab.waitForFunction(() =>
      document.getElementById('log')?.textContent?.includes('them: through the relay'),
    );
    for (const { tab } of [a, b]) {
      // What ICE chose, from the browser's own stats: both ends of the pair carrying the data are relays.
      expect(await selectedPair(tab)).toEqual({ local: 'relay', remote: 'relay' });
      expect(await logLines(tab, 'relay mode: TURN only')).toBe(1);
    }
    expect([...a.errors, ...b.errors]).toEqual([]);
  });
});

/** How many lines of the page's log are exactly `text`. */
function logLines(tab: Page, text: string): Promise<number> {
  return tab.evaluate(
    (t) => [...document.querySelectorAll('#log li')].filter((li) => li.textContent === t).length,
    text,
  );
}

/** The candidate types of the ICE pair selected for the page's peer connection (`window.peer`). */
function selectedPair(tab: Page): Promise<{ local?: string; remote?: string }> {
  return tab.evaluate(async () => {
    const stats = await (window as unknown as { peer: { pc: RTCPeerConnection } }).peer.pc.getStats();
    let pairId: string | undefined;
    for (const s of stats.values())
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    const pair = pairId === undefined ? undefined : stats.get(pairId);
    return {
      local: pair && stats.get(pair.localCandidateId)?.candidateType,
      remote: pair && stats.get(pair.remoteCandidateId)?.candidateType,
    };
  });
}

/** `signaling-actor serve --port 0 …args` in-process, with `env`; stopped as SIGINT would by the cleanups. */
async function cliServer(args: string[], env: Record<string, string>): Promise<SignalingServer> {
  const controller = new AbortController();
  let listening: (server: SignalingServer) => void = () => {};
  const started = new Promise<SignalingServer>((resolve) => (listening = resolve));
  let stderr = '';
  const exit = runCli(['serve', '--port', '0', ...args], {
    stdout: () => {},
    stderr: (text) => {
      stderr += text;
    },
    env,
    signal: controller.signal,
    onListening: (server) => listening(server),
  });
  cleanups.push(async () => {
    controller.abort();
    await exit;
  });
  return Promise.race([
    started,
    exit.then((code) => {
      throw new Error(`serve exited ${code}: ${stderr}`);
    }),
  ]);
}

describe('examples/react/SignalingStatus.tsx', () => {
  it('renders in Chromium and follows the actor: disconnected → connected → reconnecting', async () => {
    const result = await build({
      entryPoints: [join(ROOT, 'test/browser/react.page.tsx')],
      absWorkingDir: ROOT,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      jsx: 'automatic',
      define: { 'process.env.NODE_ENV': '"production"' },
      write: false,
      metafile: true,
      logLevel: 'silent',
      // Resolve `signaling-actor` as a consumer does (package exports → dist), not via tsconfig `paths` → src.
      tsconfigRaw: {},
    });
    expect(builtFromDist(result.metafile)).toBe(true);
    const page = await servePage(result.outputFiles[0]?.text ?? '');
    cleanups.push(() => page.close());
    const s = await server();

    const { tab, errors } = await openTab(`${page.url}?server=${encodeURIComponent(s.url)}`);
    await tab.waitForFunction('window.ready === true');
    const state = tab.getByTestId('signaling-state');
    await expectText(() => state.textContent(), 'disconnected');

    await tab.evaluate('window.connect()');
    await expectText(() => state.textContent(), 'connected');
    const seen = (await tab.evaluate('window.seen')) as string[];
    expect(seen[0]).toBe('disconnected');
    expect(seen.at(-1)).toBe('connected');

    await s.close({ timeout: 200 });
    await expectText(() => state.textContent(), 'reconnecting');
    expect(await tab.getByTestId('signaling-reason').textContent()).toBe(' (closed)');
    expect(errors).toEqual([]);
  });
});

describe('examples/react (Vite + @xstate/react)', () => {
  it('`npm run example:react` serves an app that connects, disconnects and shows its heartbeat', async () => {
    // The dev server that script starts (vite examples/react), on a free port.
    const vite = await createViteServer({
      root: join(ROOT, 'examples/react'),
      configFile: false,
      logLevel: 'silent',
      server: { host: '127.0.0.1', port: 0, strictPort: false },
    });
    cleanups.push(() => vite.close());
    await vite.listen();
    const site = vite.resolvedUrls?.local[0] ?? '';
    expect(site).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const s = await createSignalingServer({
      identity: await Identity.generate(),
      heartbeat: { interval: 300 },
    });
    cleanups.push(() => s.close({ timeout: 200 }));

    const { tab, errors } = await openTab(`${site}?server=${encodeURIComponent(s.url)}`);
    const state = tab.getByTestId('signaling-state');
    await expectText(() => state.textContent(), 'disconnected', 30_000);
    await tab.getByTestId('connect').click();
    await expectText(() => state.textContent(), 'connected');
    await tab.waitForFunction(() =>
      /^rtt \d+ ms$/.test(document.querySelector('[data-testid="rtt"]')?.textContent ?? ''),
    );
    expect(s.stats().sessions).toBe(1);
    await tab.getByTestId('disconnect').click();
    await expectText(() => state.textContent(), 'disconnected');
    expect(errors).toEqual([]);
  }, 60_000);
});

/**
 * Serves `examples/<name>/` (index.html, main.js) with its `vendor/` bundle built by the very command
 * the page's comment gives a user (`npx esbuild …`, run in the package's folder), which must resolve
 * the package as a consumer does (package exports → dist) and write every `entries` file.
 */
async function serveExample(name: string, entries: Record<string, string>): Promise<string> {
  const html = readFileSync(join(ROOT, `examples/${name}/index.html`), 'utf8');
  const command = /^\s*(npx esbuild .+)$/m.exec(html)?.[1] ?? '';
  const vendorDir = join(ROOT, `examples/${name}/vendor`);
  expect(command).toContain(`--outdir=examples/${name}/vendor`);
  rmSync(vendorDir, { recursive: true, force: true });
  execSync(`${command} --metafile=${join(vendorDir, 'meta.json')} --log-level=warning`, { cwd: ROOT });
  const metafile = JSON.parse(readFileSync(join(vendorDir, 'meta.json'), 'utf8')) as Metafile;
  expect(builtFromDist(metafile)).toBe(true);
  const files = new Map<string, string | Uint8Array>([
    ['/index.html', html],
    ['/main.js', readFileSync(join(ROOT, `examples/${name}/main.js`), 'utf8')],
  ]);
  for (const file of readdirSync(vendorDir)) {
    if (file.endsWith('.js')) files.set(`/vendor/${file}`, readFileSync(join(vendorDir, file)));
  }
  for (const entry of Object.keys(entries)) expect(files.has(`/vendor/${entry}.js`)).toBe(true);
  return serveFiles(files);
}

/** The bundle took the package from `dist/` (as a consumer gets it), nothing from `src/`. */
function builtFromDist(metafile: Metafile): boolean {
  const inputs = Object.keys(metafile.inputs);
  return inputs.includes('dist/index.js') && !inputs.some((i) => i.startsWith('src/'));
}

async function expectText(read: () => Promise<string | null>, want: string, timeout = 10_000): Promise<void> {
  const end = Date.now() + timeout;
  let text = await read();
  while (text !== want && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 25));
    text = await read();
  }
  expect(text).toBe(want);
}
