import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/dist.js';

/**
 * Every relative link in docs/ names a file (or folder) of the repository, and a `#anchor` into a
 * Markdown file names one of its headings. (README.md's links must name files the package ships: see
 * package.test.ts.)
 */

const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n');
const files = new Set(tracked);
const folders = new Set(
  tracked.flatMap((file) =>
    file
      .split('/')
      .slice(0, -1)
      .map((_, i, parts) => parts.slice(0, i + 1).join('/')),
  ),
);

/** Markdown links and images `](target)` without a scheme; `[target, anchor]`. */
function relativeLinks(markdown: string): [string, string | undefined][] {
  return [...markdown.matchAll(/\]\(([^)\s]+)[^)]*\)/g)]
    .map((match) => match[1] as string)
    .filter((target) => !/^[a-z][a-z+.-]*:/i.test(target))
    .map((target) => {
      const [path = '', anchor] = target.split('#');
      return [path, anchor];
    });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((match) => slug(match[1] as string)));
}

const docs = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md'));

describe('the links of docs/', () => {
  it('finds links to check (the walk is not empty)', () => {
    expect(docs.length).toBeGreaterThan(5);
    expect(relativeLinks(readFileSync(join(ROOT, 'docs/webrtc.md'), 'utf8')).length).toBeGreaterThan(3);
  });

  it.each(docs)('every relative link in docs/%s names a file of the repository', (name) => {
    const source = join('docs', name);
    const markdown = readFileSync(join(ROOT, source), 'utf8');
    const broken: string[] = [];
    for (const [path, anchor] of relativeLinks(markdown)) {
      const target = path === '' ? source : normalize(join(dirname(source), path)).replace(/\/$/, '');
      if (
        relative(ROOT, join(ROOT, target)).startsWith('..') ||
        !(files.has(target) || folders.has(target))
      ) {
        broken.push(`${path}: no ${target} in the repository`);
        continue;
      }
      if (anchor !== undefined && target.endsWith('.md')) {
        if (!anchors(readFileSync(join(ROOT, target), 'utf8')).has(anchor))
          broken.push(`${path}#${anchor}: no such heading`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the wire contract the docs point to is in the repository and shipped with them', () => {
    expect(files.has('docs/protocol-v1.md')).toBe(true);
    expect(readFileSync(join(ROOT, 'docs/protocol.md'), 'utf8')).toContain('](protocol-v1.md)');
  });
});
