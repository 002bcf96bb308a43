import { afterEach } from 'vitest';
import { Identity } from '../../src/identity/index.js';
import {
  createSignalingServer,
  type SignalingServer,
  type SignalingServerOptions,
} from '../../src/server/index.js';
import type { RawClient } from './server-client.js';

/**
 * Reference servers on 127.0.0.1 port 0 and the raw clients of a test file, all closed after each test.
 * `defaults` are merged under each `start()`'s options.
 */
export function serverFixture(defaults: Partial<SignalingServerOptions> = {}) {
  const servers: SignalingServer[] = [];
  const clients: RawClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.ws.terminate();
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  async function start(options: Partial<SignalingServerOptions> = {}): Promise<SignalingServer> {
    const server = await createSignalingServer({
      identity: await Identity.generate(),
      port: 0,
      ...defaults,
      ...options,
    });
    servers.push(server);
    return server;
  }
  return { servers, clients, start };
}
