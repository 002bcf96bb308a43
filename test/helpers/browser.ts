import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Plugin } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';

/**
 * Real-browser tests: Debian's Chromium (`apt-get install chromium`, done by .ci/run) driven by
 * playwright-core, pages served from 127.0.0.1 (a secure context, so `crypto.subtle` exists).
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// The sources' `#` imports, as package.json maps them for browsers (tsconfig `paths` know no conditions).
const browserImports: Plugin = {
  name: 'browser-imports',
  setup(b) {
    const sources: Record<string, string> = {
      '#node-ed25519': '../../src/node-ed25519.browser.ts',
      '#web-socket': '../../src/services/web-socket.browser.ts',
    };
    b.onResolve({ filter: /^#/ }, (args) => {
      const source = sources[args.path];
      return source ? { path: fileURLToPath(new URL(source, import.meta.url)) } : undefined;
    });
  },
};

/**
 * Bundles a browser entry (TypeScript allowed) the way an app's bundler would. Sources are bundled
 * through tsconfig `paths`; with `tsconfigRaw` given (the built package), package.json resolves.
 */
export async function bundle(
  entry: string,
  options: Pick<BuildOptions, 'plugins' | 'tsconfigRaw'> = {},
): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    ...options,
    plugins: [...(options.tsconfigRaw === undefined ? [browserImports] : []), ...(options.plugins ?? [])],
  });
  return result.outputFiles[0]?.text ?? '';
}

export interface PageServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `index.html` running `script` as a module, on 127.0.0.1 and a free port. */
export async function servePage(script: string): Promise<PageServer> {
  const html =
    '<!doctype html><meta charset="utf-8"><title>test</title><script type="module" src="/app.js"></script>';
  const server: Server = createServer((req, res) => {
    if (req.url === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else if (req.url === '/' || req.url?.startsWith('/?')) {
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
