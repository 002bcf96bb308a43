import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/dist.js';

/**
 * The short variant of `npm run soak`: the same script (the reference server killed with SIGKILL and
 * restarted 5 times under two numbered streams), judged by the line it prints.
 */
describe('soak (short)', () => {
  it('5 kill -9 restarts: lost 0, duplicated 0, in order, over a hundred messages each way', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'scripts/soak.js'), '--restarts', '5', '--quiet'],
      { timeout: 30_000 },
    ).catch((error: { stdout?: string; message: string }) => {
      throw new Error(`soak failed: ${error.stdout ?? ''} ${error.message}`);
    });
    expect(stdout).toMatch(/^lost 0, duplicated 0$/m);
    expect(stdout).toMatch(/^out of order 0$/m);
    const sent = /sent A→B (\d+), B→A (\d+)/.exec(stdout);
    // Enough traffic to cross every restart (~300 each way on a quiet 2-core machine; 152 seen at a
    // load average of 20).
    expect(Number(sent?.[1])).toBeGreaterThan(100);
    expect(Number(sent?.[2])).toBeGreaterThan(100);
  }, 40_000);

  it.each([
    ['a redis-server', []],
    ['a Redis Cluster (3 masters + 3 replicas)', ['--redis-cluster']],
  ])(
    'cluster: 3 nodes over %s, clients with the URL list, 20 random node kills: lost 0, duplicated 0',
    async (_, extra) => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [join(ROOT, 'scripts/soak.js'), '--cluster', ...extra, '--restarts', '20', '--quiet'],
        { timeout: 150_000 },
      ).catch((error: { stdout?: string; message: string }) => {
        throw new Error(`cluster soak failed: ${error.stdout ?? ''} ${error.message}`);
      });
      expect(stdout).toMatch(/^20 node kills in a cluster of 3/m);
      expect(stdout).toMatch(/^lost 0, duplicated 0$/m);
      expect(stdout).toMatch(/^out of order 0$/m);
      const sent = /sent A→B (\d+), B→A (\d+)/.exec(stdout);
      expect(Number(sent?.[1])).toBeGreaterThan(200);
      expect(Number(sent?.[2])).toBeGreaterThan(200);
    },
    160_000,
  );
});
