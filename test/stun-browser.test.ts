import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTurnCredentials } from '../src/stun/index.js';
import { bundle, launchChromium, type PageServer, servePage } from './helpers/browser.js';
import { INVALID_URLS, VALID_URLS } from './helpers/ice-url-cases.js';

/**
 * Differential test against Chromium's own ICE server parsing: everything `new RTCPeerConnection`
 * refuses, `validateIceServers` refuses too. Where we are stricter on purpose (inputs some browser
 * accepts or silently rewrites, see src/stun/uri.ts), the case is listed here, so any other
 * disagreement fails.
 */

/** Accepted by Chromium, refused here on purpose. */
const STRICTER_THAN_CHROMIUM = new Set([
  'stun:example.com ', // whitespace, stripped by the URL parser
  ' stun:example.com',
  'stun:exa\tmple.com',
  'stun:example.com\n',
  'turn:example.com?transport=Tcp', // the W3C spec compares `transport=tcp` exactly
  'turn:example.com?transport=UDP',
  // Malformed IPv6 literals: Chromium takes the text between the brackets and fails only on resolving.
  'stun:[2001:db8::1]x',
  'stun:[fe80::1%25eth0]',
  'stun:[:::1]',
  'stun:[1:2:3:4:5:6:7:8:9]',
  'stun:[1::2::3]',
  'stun:[12345::1]',
  'stun:[v1.fe80::1]',
  'stun:[192.0.2.1]',
  'stun:exa~mple.com', // RFC 3986 reg-name allows it; not a DNS name
  'stun:ex%41mple.com', // percent-encoding in a host name
  'stun:127.1', // IPv4 shorthand, rewritten to 127.0.0.1
  'stun:010.0.0.1', // octal, rewritten to 8.0.0.1
  'stun:host.0x10', // hex, parsed as an IPv4 address
  'stun:example.123',
  'stun:1.2.3',
  'stun:256.0.0.1',
  'stun:a..b',
  'stun:.example.com',
  'stun:hôst.example', // non-ASCII: rewritten to punycode
  `stun:${'a'.repeat(64)}.com`,
  `stun:${'abc.'.repeat(64)}com`,
]);

describe('ICE server validation agrees with Chromium', () => {
  let browser: Browser;
  let server: PageServer;
  let tab: Page;

  beforeAll(async () => {
    const script = await bundle(fileURLToPath(new URL('./browser/stun.page.ts', import.meta.url)));
    server = await servePage(script);
    browser = await launchChromium();
    tab = await browser.newPage();
    await tab.goto(server.url);
    await tab.waitForFunction('window.ready === true');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const check = (iceServers: unknown) =>
    tab.evaluate(
      (s) => (window as unknown as { check(x: unknown): { browser: string; ours: string } }).check(s),
      iceServers,
    );

  it('valid URLs: both accept', async () => {
    for (const [url] of VALID_URLS) {
      expect({ url, ...(await check([{ urls: url, username: 'u', credential: 'c' }])) }).toEqual({
        url,
        browser: 'ok',
        ours: 'ok',
      });
    }
  });

  it('invalid URLs: whatever Chromium refuses we refuse, and we refuse only the listed extras', async () => {
    const disagreements: string[] = [];
    for (const [url] of INVALID_URLS) {
      const { browser: verdict, ours } = await check([{ urls: url, username: 'u', credential: 'c' }]);
      expect(ours, url).toBe('invalid-ice-server');
      if (verdict === 'ok' && !STRICTER_THAN_CHROMIUM.has(url)) disagreements.push(url);
      if (verdict !== 'ok' && STRICTER_THAN_CHROMIUM.has(url))
        disagreements.push(`${url} (listed, but Chromium refuses it)`);
    }
    expect(disagreements).toEqual([]);
  });

  it('TURN credentials: both refuse a missing or empty username or credential', async () => {
    const turn = 'turn:turn.example.com';
    for (const entry of [
      { urls: turn },
      { urls: turn, username: 'u' },
      { urls: turn, credential: 'c' },
      { urls: turn, username: '', credential: 'c' },
      { urls: turn, username: 'u', credential: '' },
      { urls: ['stun:stun.example.com', turn] },
      { urls: [] },
    ]) {
      const result = await check([entry]);
      expect({ entry, ...result }).toMatchObject({ entry, ours: 'invalid-ice-server' });
      expect(result.browser, JSON.stringify(entry)).not.toBe('ok');
    }
    expect(await check([{ urls: turn, username: 'u', credential: 'c' }, { urls: 'stun:s.example' }])).toEqual(
      {
        browser: 'ok',
        ours: 'ok',
      },
    );
  });

  it('mints the same TURN REST credentials with the browser WebCrypto as with Node', async () => {
    const options = { secret: 'north', userId: 'alice', ttlSeconds: 600, now: 1_700_000_000_000 };
    const inBrowser = await tab.evaluate(
      (o) => (window as unknown as { mint(x: unknown): Promise<unknown> }).mint(o),
      options,
    );
    expect(inBrowser).toEqual(await createTurnCredentials(options));
  });
});
