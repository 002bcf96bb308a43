import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { launchChromium, type PageServer, servePage } from './browser.js';
import { bundleAgainstDist } from './dist.js';

/** A page's `window.api`, seen from Node: every method returns a promise of its (JSON) result. */
export type Remote<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/** Calls `window.api` in the page; arguments and results cross as JSON. */
export function pageApi<T>(tab: Page): Remote<T> {
  return new Proxy({} as Remote<T>, {
    get:
      (_target, method: string) =>
      (...args: unknown[]) =>
        tab.evaluate(
          ([m, a]) =>
            (window as unknown as { api: Record<string, (...x: unknown[]) => unknown> }).api[m as string]?.(
              ...(a as unknown[]),
            ),
          [method, args] as const,
        ),
  });
}

/** Reads until `ok` holds or `timeout` ms pass, then returns the last value read (the test asserts on it). */
export async function untilValue<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  timeout = 10_000,
): Promise<T> {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A test file's Chromium and the page it serves (`entry`, bundled against the built package): started
 * before the file, closed after it; `cleanups` run after each case, last registered first.
 */
export function chromiumSuite(entry: URL): {
  browser(): Browser;
  url(): string;
  cleanups: (() => Promise<unknown>)[];
} {
  let browser: Browser | undefined;
  let page: PageServer | undefined;
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    page = await servePage(await bundleAgainstDist(fileURLToPath(entry)));
    browser = await launchChromium();
  }, 120_000);
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });
  afterAll(async () => {
    await browser?.close();
    await page?.close();
  });
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('chromiumSuite: not started');
    return value;
  };
  return { browser: () => need(browser), url: () => need(page).url, cleanups };
}
