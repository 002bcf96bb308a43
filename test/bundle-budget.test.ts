import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDist, ROOT } from './helpers/dist.js';

/**
 * The budget gate itself (`npm run check:bundle`): it measures a real split bundle and its verdict
 * follows the budget. The budget (DEFAULT_BUDGET in the script) is enforced by `npm test` running the script, not here.
 */

interface Report {
  budget: number;
  entry: { file: string; bytes: number; gzip: number };
  initial: { files: string[]; gzip: number };
  tweetnacl: { file: string; bytes: number; gzip: number }[];
  webrtc: { budget: number; gzip: number };
  failures: string[];
}

function run(budget: number): { status: number | null; report: Report; stderr: string } {
  const result = spawnSync(
    process.execPath,
    [join(ROOT, 'scripts', 'check-bundle.js'), '--json', '--budget', String(budget)],
    {
      encoding: 'utf8',
    },
  );
  return { status: result.status, report: JSON.parse(result.stdout) as Report, stderr: result.stderr };
}

describe('check:bundle', () => {
  beforeAll(() => ensureDist(), 120_000);

  it('splits tweetnacl into a lazy chunk and measures the entry gzipped', () => {
    const { status, report } = run(1_000_000);
    expect(status).toBe(0);
    expect(report.failures).toEqual([]);
    expect(report.tweetnacl).toHaveLength(1);
    const [nacl] = report.tweetnacl;
    // tweetnacl's nacl-fast is ~32 kB minified: if it were in the entry, the entry would show it.
    expect(nacl?.bytes).toBeGreaterThan(20_000);
    expect(report.initial.files).not.toContain(nacl?.file);
    expect(report.entry.gzip).toBeGreaterThan(1000);
    expect(report.entry.gzip).toBeLessThan(report.entry.bytes);
    expect(report.initial.gzip).toBeGreaterThanOrEqual(report.entry.gzip);
    // signaling-actor/webrtc is its own entry: an app importing it pays more, the core app nothing.
    expect(report.webrtc.gzip).toBeGreaterThan(report.initial.gzip + 1000);
    expect(report.webrtc.gzip).toBeLessThanOrEqual(report.webrtc.budget);
  });

  it('fails, saying the size, when the bundle is over the budget', () => {
    const { status, report, stderr } = run(1000);
    expect(status).toBe(1);
    expect(stderr).toContain(`initial load is ${report.initial.gzip} B gzipped, over the 1000 B budget`);
  });
});
