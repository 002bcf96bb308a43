import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createSignalingClient } from '../src/client.js';
import { Identity } from '../src/identity/index.js';

describe("the client's default WebSocket on Node", () => {
  it('dials without offering permessage-deflate (protocol frames are small JSON)', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    const upgrade = new Promise<IncomingMessage>((resolve) =>
      wss.once('connection', (_ws, req) => resolve(req)),
    );
    const client = createSignalingClient({
      url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`,
      identity: await Identity.generate(),
      globalEvents: false,
    });
    try {
      client.connect();
      const request = await upgrade;
      expect(request.headers['sec-websocket-key']).toBeTypeOf('string'); // a real ws upgrade
      expect(request.headers['sec-websocket-extensions']).toBeUndefined();
    } finally {
      await client.disconnect();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
