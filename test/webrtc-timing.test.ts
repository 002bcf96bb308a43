import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/index.js';
import { createSignalingServer, type SignalingServer } from '../src/server/index.js';
import { iceServersForClient } from '../src/stun/index.js';
import type { PageApi } from './browser/webrtc.page.js';
import { bundle, launchChromium, type PageServer, servePage } from './helpers/browser.js';
import { type Coturn, startCoturn } from './helpers/coturn.js';
import { bundleAgainstDist, ROOT } from './helpers/dist.js';
import { pageApi, type Remote } from './helpers/page-api.js';

/**
 * What signing costs a negotiation, in Chromium: the same page (test/browser/webrtc.page.ts) bundled
 * against this tree's dist (every signal signed and verified) and against the package as it was
 * before signing (WEBRTC_BASELINE_REF, built into a temporary directory), alternated round by round.
 * Each round: two fresh tabs in their own contexts, relay-forced peer connections through coturn on
 * 127.0.0.1, and the ms from `createDataChannel` to the channel's `open` on the offering side (offer,
 * answer, trickled candidates, ICE, DTLS, SCTP). A measurement, not a gate: it runs only with
 * WEBRTC_TIMING=1 (`WEBRTC_TIMING=1 npx vitest run test/webrtc-timing.test.ts`) and prints medians.
 */

const ROUNDS = Number(process.env.WEBRTC_TIMING_ROUNDS ?? 12);
// The last commit before peer signals were signed (issue 21).
const BASELINE_REF = process.env.WEBRTC_BASELINE_REF ?? '5257928';
const PAGE = fileURLToPath(new URL('./browser/webrtc.page.ts', import.meta.url));

/** Builds `ref`'s package into a temporary directory; returns its root. */
function buildBaseline(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'signaling-actor-baseline-'));
  const archive = execFileSync(
    'git',
    ['archive', ref, 'src', 'package.json', 'tsconfig.json', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: dir,
    },
  );
  return dir;
}

/** The page bundled against another build of the package (rooted at `root`). */
function bundleAgainst(root: string): Promise<string> {
  const dist = join(root, 'dist');
  const plugin: Plugin = {
    name: 'use-baseline-dist',
    setup(b) {
      b.onResolve({ filter: /\/src\/index\.js$/ }, () => ({ path: join(dist, 'index.js') }));
      b.onResolve({ filter: /\/src\/webrtc\/index\.js$/ }, () => ({
        path: join(dist, 'webrtc', 'index.js'),
      }));
    },
  };
  return bundle(PAGE, { tsconfigRaw: {}, plugins: [plugin] });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

describe.runIf(process.env.WEBRTC_TIMING === '1')(
  'negotiation time with and without signing, in Chromium',
  () => {
    let browser: Browser;
    let coturn: Coturn;
    let server: SignalingServer;
    let baselineDir: string | undefined;
    let cost: { sign: number; verify: number; signParallel: number } | undefined;
    const pages: Record<'signed' | 'unsigned', PageServer | undefined> = {
      signed: undefined,
      unsigned: undefined,
    };

    beforeAll(async () => {
      baselineDir = buildBaseline(BASELINE_REF);
      pages.signed = await servePage(await bundleAgainstDist(PAGE));
      pages.unsigned = await servePage(await bundleAgainst(baselineDir));
      browser = await launchChromium();
      coturn = await startCoturn();
      server = await createSignalingServer({
        identity: await Identity.generate(),
        iceServers: (publicKey) =>
          iceServersForClient(
            { turn: { urls: coturn.turnUrl, secret: coturn.secret }, includeDefaults: false },
            publicKey,
          ),
      });
    }, 180_000);

    afterAll(async () => {
      await server?.close({ timeout: 200 });
      await browser?.close();
      await coturn?.stop();
      for (const page of Object.values(pages)) await page?.close();
      if (baselineDir && existsSync(baselineDir)) rmSync(baselineDir, { recursive: true, force: true });
    });

    /** One negotiation between two fresh tabs of `variant`: ms until the offerer's channel is open. */
    async function round(variant: 'signed' | 'unsigned'): Promise<{ ms: number; signals: number }> {
      const contexts = [await browser.newContext(), await browser.newContext()];
      try {
        const tabs: { api: Remote<PageApi>; key: string }[] = [];
        for (const context of contexts) {
          const tab = await context.newPage();
          await tab.goto((pages[variant] as PageServer).url);
          await tab.waitForFunction('window.ready === true');
          const api = pageApi<PageApi>(tab);
          const key = await api.start(server.url);
          await api.reach('connected', 15_000);
          tabs.push({ api, key });
        }
        const [a, b] = tabs as [(typeof tabs)[0], (typeof tabs)[0]];
        await b.api.open(a.key, { relay: true });
        await a.api.open(b.key, { relay: true });
        const ms = await a.api.timeChannel('t', 20_000);
        await b.api.channelsOpen(['t'], 20_000);
        if (variant === 'signed') cost ??= await a.api.cryptoCost(6000, 200);
        return { ms, signals: (await a.api.signalsSent()) + (await b.api.signalsSent()) };
      } finally {
        for (const context of contexts) await context.close();
      }
    }

    it(`${ROUNDS} rounds each, alternated`, { timeout: 600_000 }, async () => {
      const times: Record<'signed' | 'unsigned', number[]> = { signed: [], unsigned: [] };
      const signals: number[] = [];
      await round('signed'); // warm-up: the first page load and coturn's first allocations
      await round('unsigned');
      for (let i = 0; i < ROUNDS; i++) {
        const order: ('signed' | 'unsigned')[] = i % 2 ? ['signed', 'unsigned'] : ['unsigned', 'signed'];
        for (const variant of order) {
          const { ms, signals: n } = await round(variant);
          times[variant].push(ms);
          if (variant === 'signed') signals.push(n);
        }
      }
      const signed = median(times.signed);
      const unsigned = median(times.unsigned);
      const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' ');
      console.log(`negotiation, createDataChannel → open, through coturn (ms):
  unsigned (${BASELINE_REF}): median ${unsigned.toFixed(1)}  [${fmt(times.unsigned)}]
  signed   (this tree):   median ${signed.toFixed(1)}  [${fmt(times.signed)}]
  signed / unsigned: ${(signed / unsigned).toFixed(3)}×  (${(signed - unsigned).toFixed(1)} ms)
  signals per negotiation (both sides, signed): median ${median(signals)}
  WebCrypto Ed25519 in this Chromium, 6 kB message (ms/op): sign ${cost?.sign.toFixed(3)}, import+verify ${cost?.verify.toFixed(3)}, sign ×200 at once ${cost?.signParallel.toFixed(3)}`);
      expect(times.signed).toHaveLength(ROUNDS);
    });
  },
);
