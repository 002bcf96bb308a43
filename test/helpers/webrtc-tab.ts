import type { Browser } from 'playwright-core';
import type { PageApi } from '../browser/webrtc.page.js';
import { pageApi, type Remote } from './page-api.js';

/**
 * A Chromium tab of the WebRTC test page (`pageUrl`) in a context of its own, closed by `cleanups`:
 * its client started on the signaling `url` (with `seed`'s identity, else a new one) and connected.
 */
export async function webrtcTab(
  browser: Browser,
  pageUrl: string,
  cleanups: (() => Promise<unknown>)[],
  url: string,
  seed?: string,
): Promise<{ api: Remote<PageApi>; key: string }> {
  const context = await browser.newContext();
  cleanups.push(() => context.close());
  const tab = await context.newPage();
  await tab.goto(pageUrl);
  await tab.waitForFunction('window.ready === true');
  const api = pageApi<PageApi>(tab);
  const key = await api.start(url, seed);
  await api.reach('connected', 15_000);
  return { api, key };
}
