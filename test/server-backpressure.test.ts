import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/index.js';
import type { LogFields } from '../src/server/index.js';
import { authenticate, type Frame, type RawClient } from './helpers/server-client.js';
import { serverFixture } from './helpers/server-fixture.js';

const { servers, clients, start } = serverFixture();

/** The TCP socket under a `ws` client, to stop reading from it. */
function tcp(client: RawClient): Socket {
  return (client.ws as unknown as { _socket: Socket })._socket;
}

describe('server backpressure: a slow reader', () => {
  it('is closed 1013 once its send buffer passes the limit, and the sender gets an error', async () => {
    const server = await start({ limits: { maxBufferedBytes: 256 * 1024 } });
    const sender = await authenticate(server.url);
    const slow = await authenticate(server.url);
    clients.push(sender.client, slow.client);
    tcp(slow.client).pause();

    const data = 'x'.repeat(60_000);
    let answer: Frame | undefined;
    let sent = 0;
    // Loopback kernel buffers take a few MB before the server's own buffer grows; 2000 × 60 kB is far more.
    for (; sent < 2000; sent++) {
      sender.client.send({ type: 'signal', to: slow.identity.publicKey, id: `s${sent}`, data });
      answer = await sender.client.next();
      if (answer.type !== 'ack') break;
    }
    expect(answer).toEqual({ type: 'error', code: 'peer-offline', id: `s${sent}` });
    expect(server.stats().sessions).toBe(1); // the slow session left at once

    tcp(slow.client).resume();
    const closed = await slow.client.waitClosed(10_000);
    expect(closed.code).toBe(1013);
    // Only what fit below the limit was queued, so everything the reader got was acknowledged.
    expect(slow.client.frames.length).toBeLessThanOrEqual(sent);

    // The sender is unaffected.
    sender.client.send({ type: 'ping', t: 9 });
    expect(await sender.client.next()).toEqual({ type: 'pong', t: 9 });
  });

  it('keeps a second, fast session of the same key and acknowledges to the sender', async () => {
    const server = await start({ limits: { maxBufferedBytes: 256 * 1024 } });
    const sender = await authenticate(server.url);
    const identity = await Identity.generate();
    const slow = await authenticate(server.url, { identity });
    const fast = await authenticate(server.url, { identity });
    clients.push(sender.client, slow.client, fast.client);
    tcp(slow.client).pause();
    const data = 'y'.repeat(60_000);
    for (let i = 0; i < 2000 && slow.client.ws.readyState === slow.client.ws.OPEN; i++) {
      sender.client.send({ type: 'signal', to: identity.publicKey, id: `f${i}`, data });
      expect(await sender.client.next()).toEqual({ type: 'ack', id: `f${i}` });
      await fast.client.next('signal');
      if (server.stats().sessions === 2) break;
    }
    expect(server.stats().sessions).toBe(2);
    tcp(slow.client).resume();
    expect((await slow.client.waitClosed(10_000)).code).toBe(1013);
  });
});

describe('server logs', () => {
  it('logs structured events without key material or message data', async () => {
    const entries: Array<LogFields & { level: string; msg?: string }> = [];
    const logger = {
      debug: (fields: LogFields, msg?: string) => entries.push({ level: 'debug', msg, ...fields }),
      info: (fields: LogFields, msg?: string) => entries.push({ level: 'info', msg, ...fields }),
      warn: (fields: LogFields, msg?: string) => entries.push({ level: 'warn', msg, ...fields }),
      error: (fields: LogFields, msg?: string) => entries.push({ level: 'error', msg, ...fields }),
    };
    const server = await start({ logger, heartbeat: { interval: 5000, timeout: 5000 } });
    const a = await authenticate(server.url);
    const b = await authenticate(server.url);
    clients.push(a.client, b.client);
    a.client.send({ type: 'signal', to: b.identity.publicKey, id: 'secret-id', data: 'secret-payload' });
    await a.client.next('ack');
    a.client.send('not json');
    await a.client.waitClosed();
    servers.splice(0);
    await server.close();

    expect(entries.map((e) => e.msg)).toEqual(
      expect.arrayContaining(['listening', 'authenticated', 'connected', 'closed', 'closing']),
    );
    const authenticated = entries.find((e) => e.msg === 'authenticated');
    expect(authenticated).toMatchObject({ level: 'info', key: a.identity.publicKey.slice(0, 8) });
    const text = JSON.stringify(entries.filter((e) => e.msg !== 'listening'));
    for (const forbidden of [
      a.identity.publicKey,
      b.identity.publicKey,
      'secret-payload',
      a.response.signature,
    ]) {
      expect(text).not.toContain(forbidden);
    }
  });

  it('survives a logger that throws', async () => {
    const boom = () => {
      throw new Error('logger down');
    };
    const server = await start({ logger: { info: boom, warn: boom, error: boom, debug: boom } });
    const { client, ok } = await authenticate(server.url);
    clients.push(client);
    expect(ok.type).toBe('auth.ok');
  });
});
