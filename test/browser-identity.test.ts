import { createPublicKey, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyEd25519 } from '../src/index.js';
import { bundle, launchChromium, type PageServer, servePage } from './helpers/browser.js';

describe('identity in Chromium', () => {
  let browser: Browser;
  let page: PageServer;

  beforeAll(async () => {
    const script = await bundle(fileURLToPath(new URL('./browser/identity.page.ts', import.meta.url)));
    page = await servePage(script);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await page?.close();
  });

  it('signs with a non-extractable WebCrypto key that survives a reload in IndexedDB', async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(page.url);
    await tab.waitForFunction('window.ready === true');
    const first = (await tab.evaluate('window.run("first")')) as Record<string, unknown>;
    expect(first).toMatchObject({
      signer: 'webcrypto',
      extractable: false,
      signatureLength: 64,
      verifiesWebCrypto: true,
      verifiesTweetnacl: true,
      exportError: 'not-extractable',
      handshakeOk: true,
      hasNodeCrypto: false,
    });

    await tab.reload();
    await tab.waitForFunction('window.ready === true');
    const after = (await tab.evaluate('window.run("after-reload")')) as Record<string, unknown>;
    expect(after).toMatchObject({
      found: true,
      publicKey: first.publicKey,
      verifies: true,
      exportError: 'not-extractable',
      json: JSON.stringify({ publicKey: first.publicKey }),
    });
    expect(after.other).not.toBe(first.publicKey);
    await context.close();
  });

  it('signatures made in the browser verify with node:crypto, and tampering is caught', async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(page.url);
    await tab.waitForFunction('window.ready === true');
    const text = `chosen by node ${Math.random()}`;
    const signed = (await tab.evaluate(`window.run("sign", ${JSON.stringify(text)})`)) as {
      publicKey: string;
      signature: string;
    };
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: signed.publicKey }, format: 'jwk' });
    const signature = Buffer.from(signed.signature, 'base64url');
    expect(verify(null, Buffer.from(text), key, signature)).toBe(true);
    expect(verify(null, Buffer.from(`${text}!`), key, signature)).toBe(false);
    expect(
      await verifyEd25519(
        new Uint8Array(Buffer.from(signed.publicKey, 'base64url')),
        new TextEncoder().encode(text),
        signature,
      ),
    ).toBe(true);
    await context.close();
  });
});
