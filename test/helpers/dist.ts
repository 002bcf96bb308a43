import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { bundle } from './browser.js';

/**
 * Tests of what users get: the compiled `dist/`, not `src/`. `npm test` builds before vitest; run alone,
 * a test builds it here when it is missing or older than a source file.
 */

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DIST = join(ROOT, 'dist');
export const DIST_INDEX = join(DIST, 'index.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Runs `npm run build` unless `dist/index.js` is newer than every file in `src/`. */
export function ensureDist(): void {
  if (existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= newestMtime(join(ROOT, 'src'))) return;
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
}

/**
 * Page entries import `src/index.js` (and `src/webrtc/index.js`) for their types (so they type-check
 * before anything is built); this plugin bundles them against `dist/` instead, as an app's bundler
 * would see the package.
 */
const useDist: Plugin = {
  name: 'use-dist',
  setup(b) {
    b.onResolve({ filter: /\/src\/index\.js$/ }, () => ({ path: DIST_INDEX }));
    b.onResolve({ filter: /\/src\/webrtc\/index\.js$/ }, () => ({ path: join(DIST, 'webrtc', 'index.js') }));
  },
};

/** Bundles a browser page entry against the built package, for Chromium. */
export async function bundleAgainstDist(entry: string): Promise<string> {
  ensureDist();
  // Ignore tsconfig `paths` (they map the package name to src for the type checker).
  return bundle(entry, { tsconfigRaw: {}, plugins: [useDist] });
}
