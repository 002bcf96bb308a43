import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/index.js';
import { createSignalingServer } from '../src/server/index.js';
import { launchChromium, servePage } from './helpers/browser.js';
import { ensureDist, ROOT } from './helpers/dist.js';

/**
 * An app that uses this checkout through a symlink (`npm link`, a workspace, a `file:` dependency):
 * its bundler sees the package's files at their real path, next to the checkout's tsconfig.json, and
 * applies that tsconfig to them. The browser bundle must still take the browser modules, and connect.
 */

let browser: Browser;
let app: string;
beforeAll(async () => {
  ensureDist();
  app = mkdtempSync(join(tmpdir(), 'sa-linked-app-'));
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(ROOT, join(app, 'node_modules', 'signaling-actor'), 'dir');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module', private: true }));
  writeFileSync(
    join(app, 'main.js'),
    `import { createSignalingClient, Identity } from 'signaling-actor';
const url = new URLSearchParams(location.search).get('server');
const client = createSignalingClient({ url, identity: await Identity.generate() });
client.onStateChange((state, _previous, { error }) => {
  window.states = [...(window.states ?? []), state + (error ? ' ' + error.code : '')];
});
client.connect();
await client.ready();
window.sessionId = client.sessionId;
`,
  );
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  if (app) rmSync(app, { recursive: true, force: true });
});

describe('bundling a linked checkout for the browser', () => {
  it('takes the browser modules (not ws, not node:crypto) and connects from Chromium', async () => {
    // As the app's bundler would, from the app's folder, with nothing but its defaults.
    const result = await build({
      entryPoints: [join(app, 'main.js')],
      absWorkingDir: app,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const fromPackage = inputs.filter((i) => !i.endsWith('main.js'));
    expect(fromPackage.length).toBeGreaterThan(0);
    expect(inputs.some((i) => i.includes('services/web-socket.browser.js'))).toBe(true);
    expect(inputs.some((i) => i.includes('node-ed25519.browser.js'))).toBe(true);
    // Nothing Node-only and nothing from the sources: the checkout's tsconfig sends no import elsewhere.
    for (const input of inputs) {
      expect(input).not.toMatch(/node_modules\/ws\/|services\/web-socket\.js$|\/node-ed25519\.js$|\.ts$/);
    }

    const server = await createSignalingServer({ identity: await Identity.generate() });
    const page = await servePage(result.outputFiles[0]?.text ?? '');
    const context = await browser.newContext();
    try {
      const tab = await context.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(String(e)));
      await tab.goto(`${page.url}?server=${encodeURIComponent(server.url)}`);
      await tab.waitForFunction('typeof window.sessionId === "string"', undefined, { timeout: 15_000 });
      expect(await tab.evaluate('window.states')).toEqual(['connecting', 'authenticating', 'connected']);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      await page.close();
      await server.close({ timeout: 200 });
    }
  });
});
