import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/index.js';
import { runCli } from '../src/server/cli-commands.js';
import { createSignalingServer } from '../src/server/index.js';
import { ROOT } from './helpers/dist.js';
import { type RedisProcess, startRedis } from './helpers/redis.js';

/**
 * examples/deploy/ is tested, not just written: the Dockerfile's and the systemd unit's commands are
 * run through the CLI as they are (only the port, host and key file swapped for a test's), their flags
 * must be in `serve --help`, and every metric that docs/operations.md and the Prometheus files name
 * must exist in a cluster node's /metrics (and every metric the node serves must be in the docs).
 * The Dockerfile is built only where a Docker daemon answers; `systemd-analyze verify` runs where it
 * exists.
 */

const DEPLOY = join(ROOT, 'examples/deploy');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const dockerfile = read('examples/deploy/Dockerfile');
const unit = read('examples/deploy/signaling-actor.service');
const pkg = JSON.parse(read('package.json')) as {
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sa-deploy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A Dockerfile instruction's JSON-array form (exec form), e.g. `CMD ["a", "b"]`. */
function execForm(instruction: string): string[] {
  const line = dockerfile.split('\n').find((l) => l.startsWith(`${instruction} [`));
  if (!line) throw new Error(`the Dockerfile has no ${instruction} in exec form`);
  return JSON.parse(line.slice(instruction.length + 1)) as string[];
}

/** The unit's `Key=value` in its [Service] section. */
function unitValue(key: string): string {
  const line = unit.split('\n').find((l) => l.startsWith(`${key}=`));
  if (line === undefined) throw new Error(`the unit has no ${key}=`);
  return line.slice(key.length + 1);
}

async function serveHelp(): Promise<string> {
  const out: string[] = [];
  expect(await runCli(['serve', '--help'], { stdout: (t) => out.push(t), stderr: () => {}, env: {} })).toBe(
    0,
  );
  return out.join('');
}

/**
 * Runs `serve` in-process with `args` as a deployment file gives them, with the port, host and key file
 * swapped for a test's, and stops it at once: the flags parse and the server starts with them.
 */
async function serveWith(args: string[]): Promise<{ code: number; stderr: string }> {
  const swapped = [...args];
  const swap = (flag: string, value: string) => {
    const at = swapped.indexOf(flag);
    expect(at, `${flag} is given`).toBeGreaterThan(-1);
    swapped[at + 1] = value;
  };
  swap('--port', '0');
  swap('--host', '127.0.0.1');
  swap('--key-file', join(dir, `key-${Math.random().toString(36).slice(2)}.json`));
  const controller = new AbortController();
  const err: string[] = [];
  const code = await runCli(['serve', ...swapped], {
    stdout: () => {},
    stderr: (t) => err.push(t),
    env: {},
    signal: controller.signal,
    onListening: () => controller.abort('SIGINT'),
  });
  return { code, stderr: err.join('') };
}

function flagsOf(args: string[]): string[] {
  return args.filter((a) => a.startsWith('--'));
}

describe('examples/deploy/Dockerfile', () => {
  const entrypoint = execForm('ENTRYPOINT');
  const cmd = execForm('CMD');

  it("runs the package's own executable with `serve`, and every flag of its CMD is in `serve --help`", async () => {
    expect(entrypoint[0]).toBe('node');
    expect(entrypoint[1]).toBe(
      `node_modules/signaling-actor/${pkg.bin['signaling-actor']?.replace(/^\.\//, '')}`,
    );
    expect(entrypoint.slice(2)).toEqual(['serve']);
    const help = await serveHelp();
    for (const flag of flagsOf(cmd)) expect(help, flag).toContain(`[${flag}`);
  });

  it('starts with its CMD as it is (the port, host and key file swapped for the test)', async () => {
    const { code, stderr } = await serveWith(cmd);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('listening on');
  });

  it('exposes, probes and stops what the CMD serves: EXPOSE = --port, HEALTHCHECK on /healthz, SIGTERM', () => {
    const port = cmd[cmd.indexOf('--port') + 1];
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${port}$`, 'm'));
    const healthcheck = dockerfile.split('\n').find((l) => l.startsWith('HEALTHCHECK '));
    expect(healthcheck).toContain(`http://127.0.0.1:${port}/healthz`);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    // The build stage copies files that exist and runs scripts that exist.
    for (const [, sources] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of (sources as string).split(' '))
        expect(existsSync(join(ROOT, source)), source).toBe(true);
    }
    for (const [, script] of dockerfile.matchAll(/npm run (\S+)/g))
      expect(pkg.scripts).toHaveProperty(script as string);
    // The key file lives in the volume, which the image makes writable for its user.
    const keyFile = cmd[cmd.indexOf('--key-file') + 1] as string;
    const volume = /^VOLUME (\S+)$/m.exec(dockerfile)?.[1] as string;
    expect(keyFile.startsWith(`${volume}/`)).toBe(true);
    expect(dockerfile).toContain(`chown node:node ${volume}`);
  });

  const docker = (() => {
    try {
      execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  })();
  it.skipIf(!docker)(
    'builds (only where a Docker daemon answers)',
    async () => {
      await promisify(execFile)(
        'docker',
        ['build', '-f', join(DEPLOY, 'Dockerfile'), '-t', 'signaling-actor-test', ROOT],
        {
          timeout: 600_000,
        },
      );
    },
    600_000,
  );
});

describe('examples/deploy/signaling-actor.service', () => {
  const exec = unitValue('ExecStart').split(' ');

  it("runs the package's executable with `serve`, and every flag is in `serve --help`", async () => {
    expect(exec[0]?.endsWith(`/${Object.keys(pkg.bin)[0]}`)).toBe(true);
    expect(exec[1]).toBe('serve');
    const help = await serveHelp();
    for (const flag of flagsOf(exec.slice(2))) expect(help, flag).toContain(`[${flag}`);
  });

  it('starts with its ExecStart as it is (the port, host and key file swapped for the test)', async () => {
    const { code, stderr } = await serveWith(exec.slice(2));
    expect(code, stderr).toBe(0);
  });

  it('stops with SIGTERM and waits longer than the drain and its close timeout (2 s)', () => {
    expect(unitValue('KillSignal')).toBe('SIGTERM');
    const drainMs = Number(exec[exec.indexOf('--drain-ms') + 1]);
    expect(Number(unitValue('TimeoutStopSec')) * 1000).toBeGreaterThan(drainMs + 2000);
    // The key file is in the unit's own state directory.
    expect(exec[exec.indexOf('--key-file') + 1]).toMatch(
      new RegExp(`^/var/lib/${unitValue('StateDirectory')}/`),
    );
  });

  const analyze = (() => {
    try {
      execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  it.skipIf(!analyze)(
    'passes `systemd-analyze verify` (but for the executable, installed only on a real host)',
    () => {
      let output = '';
      try {
        execFileSync('systemd-analyze', ['verify', join(DEPLOY, 'signaling-actor.service')], {
          stdio: ['ignore', 'pipe', 'pipe'],
          encoding: 'utf8',
        });
      } catch (error) {
        output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
      }
      const problems = output
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.includes(`Command ${exec[0]} is not executable`));
      expect(problems).toEqual([]);
    },
  );
});

describe('the metrics the docs and the Prometheus files name', () => {
  let redis: RedisProcess;
  let exposition = '';
  let health: Record<string, unknown> = {};
  beforeAll(async () => {
    redis = await startRedis();
    // A cluster node, so the Redis gauge is there too.
    const server = await createSignalingServer({
      identity: await Identity.generate(),
      cluster: { redis: redis.url, prefix: 'deploy-test:' },
      metrics: true,
    });
    try {
      exposition = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      health = await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json();
    } finally {
      await server.close();
    }
  }, 30_000);
  afterAll(async () => {
    await redis?.stop();
  });

  /** Metric family → the names its series use (a histogram's `_bucket`, `_sum`, `_count`). */
  const families = () => {
    const names = new Map<string, string>();
    for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      names.set(name as string, name as string);
      if (type === 'histogram')
        for (const suffix of ['_bucket', '_sum', '_count']) names.set(`${name}${suffix}`, name as string);
    }
    return names;
  };
  const METRIC = /\b(?:signaling_actor|nodejs|process)_[a-z0-9_]+\b/g;
  const files = ['docs/operations.md', 'examples/deploy/signaling-actor.rules.yml'];

  it.each(files)('every metric %s names exists in /metrics', (file) => {
    const known = families();
    const named = [...new Set(read(file).match(METRIC) ?? [])];
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((name) => !known.has(name))).toEqual([]);
  });

  it('a cluster node reports its Redis: /healthz says ready, signaling_actor_redis_up is 1', () => {
    expect(health.cluster).toMatchObject({ nodeId: expect.any(String), redis: 'ready' });
    expect(exposition).toMatch(/^signaling_actor_redis_up 1$/m);
  });

  it('the scrape config reads /metrics and loads these rules', () => {
    const scrape = read('examples/deploy/prometheus.yml');
    expect(scrape).toMatch(/^\s+metrics_path: \/metrics$/m);
    expect(scrape).toMatch(/^\s+- signaling-actor\.rules\.yml$/m);
    expect(existsSync(join(DEPLOY, 'signaling-actor.rules.yml'))).toBe(true);
  });

  it('every label value the alert rules select on exists for that metric', () => {
    const rules = read('examples/deploy/signaling-actor.rules.yml');
    const selectors = [...rules.matchAll(/\b((?:signaling_actor|nodejs|process)_[a-z0-9_]+)\{([^}]*)\}/g)];
    expect(selectors.length).toBeGreaterThan(0);
    for (const [, name, matchers] of selectors) {
      for (const [, label, value] of (matchers as string).matchAll(/(\w+)="([^"]*)"/g)) {
        expect(exposition, `${name}{${label}="${value}"}`).toMatch(
          new RegExp(`^${name}\\{[^}]*\\b${label}="${value}"`, 'm'),
        );
      }
    }
  });

  it('every signaling_actor_ metric the server serves is in docs/operations.md', () => {
    const docs = read('docs/operations.md');
    const served = [...families().values()].filter((name) => name.startsWith('signaling_actor_'));
    expect(served.length).toBeGreaterThan(10);
    expect([...new Set(served)].filter((name) => !docs.includes(`\`${name}\``))).toEqual([]);
  });
});
