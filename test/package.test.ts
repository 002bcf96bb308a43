import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, relative } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIST, ensureDist, ROOT } from './helpers/dist.js';

/**
 * What the published package promises: the `.` entry runs in browsers, so nothing reachable from
 * `dist/index.js` (static or dynamic import, or require) may name a Node builtin; the Node-only
 * subpaths resolve only under the `node` condition.
 */

interface Edge {
  importer: string;
  specifier: string;
  kind: string;
}

/** Every import reachable from `entry` through the package's own files; packages are not entered. */
async function importGraph(entry: string): Promise<{ files: string[]; edges: Edge[] }> {
  const edges: Edge[] = [];
  const record: Plugin = {
    name: 'record-imports',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        edges.push({ importer: relative(ROOT, args.importer), specifier: args.path, kind: args.kind });
        // Relative and `#` imports are followed (our own files); packages and builtins stay outside.
        if (/^[./#]/.test(args.path)) return undefined;
        return { path: args.path, external: true };
      });
    },
  };
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [record],
  });
  return { files: Object.keys(result.metafile.inputs).sort(), edges };
}

const builtinEdges = (edges: Edge[]) =>
  edges.filter((e) => e.specifier.startsWith('node:') || isBuiltin(e.specifier));

/** Bundles `source` (an import of the package by name) as an app's bundler would for `platform`. */
async function bundleFor(platform: 'browser' | 'node', source: string): Promise<string[]> {
  // Bundling for node leaves packages to Node itself; resolving the entry is what is tested.
  return (await bundleTextFor(platform, source, platform === 'node')).errors;
}

async function bundleTextFor(
  platform: 'browser' | 'node',
  source: string,
  packagesExternal = false,
): Promise<{ errors: string[]; text: string }> {
  try {
    const result = await build({
      stdin: { contents: source, resolveDir: ROOT, loader: 'js' },
      bundle: true,
      format: 'esm',
      platform,
      write: false,
      logLevel: 'silent',
      // Resolve `signaling-actor` as a consumer does (package exports → dist), not via tsconfig `paths` → src.
      tsconfigRaw: {},
      ...(packagesExternal ? { packages: 'external' as const } : {}),
    });
    return { errors: [], text: result.outputFiles[0]?.text ?? '' };
  } catch (error) {
    return { errors: ((error as { errors?: { text: string }[] }).errors ?? []).map((e) => e.text), text: '' };
  }
}

describe('the published package', () => {
  beforeAll(() => ensureDist(), 120_000);

  it('nothing reachable from dist/index.js imports a Node builtin, statically or dynamically', async () => {
    const { files, edges } = await importGraph(join(DIST, 'index.js'));
    // The walk really covers the client, its services and the lazy tweetnacl import.
    expect(files).toEqual(
      expect.arrayContaining([
        'dist/index.js',
        'dist/client.js',
        'dist/platform.js',
        'dist/services/socket.js',
        'dist/identity/browser-store.js',
      ]),
    );
    expect(files.some((f) => f.startsWith('dist/server/') || f.startsWith('dist/node/'))).toBe(false);
    expect(edges).toContainEqual({
      importer: 'dist/platform.js',
      specifier: 'tweetnacl',
      kind: 'dynamic-import',
    });
    expect(builtinEdges(edges)).toEqual([]);
    // Nor `require`, which an ESM consumer (or a browser) does not have.
    for (const file of files) {
      expect(readFileSync(join(ROOT, file), 'utf8'), file).not.toMatch(/\brequire\(/);
    }
  });

  it('nothing reachable from dist/webrtc/index.js imports a Node builtin; it bundles for browsers', async () => {
    const { files, edges } = await importGraph(join(DIST, 'webrtc', 'index.js'));
    expect(files).toEqual(
      expect.arrayContaining(['dist/webrtc/peer-connection.js', 'dist/machines/peer.machine.js']),
    );
    expect(files.some((f) => f.startsWith('dist/server/') || f.startsWith('dist/node/'))).toBe(false);
    expect(builtinEdges(edges)).toEqual([]);
    expect(await bundleFor('browser', `export * from 'signaling-actor/webrtc';`)).toEqual([]);
  });

  it('the same walk finds the builtins of the Node-only entries (the check can fail)', async () => {
    const server = builtinEdges((await importGraph(join(DIST, 'server', 'index.js'))).edges);
    expect(server.map((e) => e.specifier)).toContain('node:http');
    const node = builtinEdges((await importGraph(join(DIST, 'node', 'index.js'))).edges);
    expect(node.length).toBeGreaterThan(0);
  });

  it('`.` bundles for browsers and for Node; `./server` and `./node` resolve only for Node', async () => {
    expect(await bundleFor('browser', `export * from 'signaling-actor';`)).toEqual([]);
    expect(await bundleFor('node', `export * from 'signaling-actor';`)).toEqual([]);
    for (const sub of ['server', 'node']) {
      expect(await bundleFor('node', `export * from 'signaling-actor/${sub}';`)).toEqual([]);
      const errors = await bundleFor('browser', `export * from 'signaling-actor/${sub}';`);
      expect(errors).toEqual([`Could not resolve "signaling-actor/${sub}"`]);
    }
  });

  it('`#node-ed25519` ships node:crypto code to Node only: a browser bundle has none of it', async () => {
    const source = `export { createSignalingClient, Identity } from 'signaling-actor';`;
    const browser = await bundleTextFor('browser', source);
    const node = await bundleTextFor('node', source);
    expect([browser.errors, node.errors]).toEqual([[], []]);
    for (const nodeOnly of ['getBuiltinModule', 'createPrivateKey']) {
      expect(node.text).toContain(nodeOnly);
      expect(browser.text).not.toContain(nodeOnly);
    }
  });

  it('package.json points every export at a file that exists, the source condition first, then types', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, string | Record<string, string>>;
      imports: Record<string, Record<string, string>>;
      sideEffects: boolean;
      type: string;
    };
    expect(pkg.type).toBe('module');
    expect(pkg.sideEffects).toBe(false);
    for (const [subpath, target] of [...Object.entries(pkg.exports), ...Object.entries(pkg.imports)]) {
      if (typeof target === 'string') continue;
      // The project's own condition (the type checker's way to the sources, see docs/architecture.md)
      // comes first and names a source file; then types, before any runtime condition.
      const [source, ...published] = Object.keys(target);
      expect(source, subpath).toBe('signaling-actor-source');
      expect(target[source as string], subpath).toMatch(/^\.\/src\/.+\.ts$/);
      expect(published[0], subpath).toBe('types');
      for (const file of Object.values(target)) {
        expect(() => readFileSync(join(ROOT, file)), `${subpath} → ${file}`).not.toThrow();
      }
    }
    expect(Object.keys(pkg.exports['.'] as Record<string, string>)).toEqual(
      expect.arrayContaining(['browser', 'node']),
    );
  });
});

describe('the README, as the registry and an installed package show it', () => {
  it('every relative link names a file the package ships', async () => {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: ROOT,
        encoding: 'utf8',
      }),
    ) as [{ files: { path: string }[] }];
    const shipped = new Set(packed.files.map((file) => file.path));
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    // Markdown links and images `](target)`, without a scheme (those leave the package) or an anchor.
    const targets = [...readme.matchAll(/\]\(([^)\s#]+)[^)]*\)/g)]
      .map((match) => match[1] as string)
      .filter((target) => !/^[a-z][a-z+.-]*:/i.test(target));
    expect(targets.length).toBeGreaterThan(3);
    const missing = targets.filter((target) => !shipped.has(target.replace(/^\.\//, '')));
    expect(missing).toEqual([]);
  });
});
