import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/dist.js';

/**
 * `npm pack` from a fresh clone (no `dist/`: it is not committed) must still pack the build: `prepack`
 * builds it. Run on a copy of what a clone has, its node_modules linked, so the checkout's own `dist/`
 * is neither used nor replaced while other tests read it.
 */

let clone: string;
let out: string;
beforeAll(() => {
  clone = mkdtempSync(join(tmpdir(), 'sa-clone-'));
  out = mkdtempSync(join(tmpdir(), 'sa-pack-'));
  for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'src', 'docs']) {
    cpSync(join(ROOT, entry), join(clone, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
});
afterAll(() => {
  rmSync(clone, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
});

describe('npm pack of a fresh clone', () => {
  it('builds on prepack: the tarball has dist/ with every entry, the CLI and the types', () => {
    expect(readdirSync(clone)).not.toContain('dist');
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', out], {
        cwd: clone,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as [{ filename: string; files: { path: string }[] }];
    const files = packed.files.map((file) => file.path);
    for (const path of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/webrtc/index.js',
      'dist/node/index.js',
      'dist/server/index.js',
      'dist/server/cli.js',
    ]) {
      expect(files).toContain(path);
    }
    expect(files.filter((path) => path.endsWith('.map'))).toEqual([]);
    // The tarball itself, as `npm install ./signaling-actor-x.y.z.tgz` reads it.
    const listed = execFileSync('tar', ['-tzf', join(out, packed.filename)], { encoding: 'utf8' });
    expect(listed).toContain('package/dist/server/cli.js');
  }, 120_000);
});
