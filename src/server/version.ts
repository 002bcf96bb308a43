import { readFileSync } from 'node:fs';

let version: string | undefined;

/** This package's version (its package.json, read once), or `'unknown'` when it cannot be read. */
export function packageVersion(): string {
  if (version === undefined) {
    try {
      const url = new URL('../../package.json', import.meta.url);
      version = (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
    } catch {
      version = 'unknown';
    }
  }
  return version;
}
