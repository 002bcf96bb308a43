// Runs every benchmark in bench/ (each `*.js` but this one), one after another so they do not compete
// for the CPU. `npm run bench` builds first, then calls this. Exits non-zero if any benchmark failed.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const self = basename(fileURLToPath(import.meta.url));
const benches = readdirSync(here)
  .filter((name) => name.endsWith('.js') && name !== self)
  .sort();

const failed = [];
for (const name of benches) {
  console.log(`\n=== bench/${name} ===`);
  const { status, signal } = spawnSync(process.execPath, [join(here, name)], { stdio: 'inherit' });
  if (status !== 0) failed.push(`${name} (${signal ?? `exit ${status}`})`);
}

if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
