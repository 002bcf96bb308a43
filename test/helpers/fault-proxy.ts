import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 (port 0) that injects network faults between a client and a server:
 * - `forward`: bytes pass both ways; a close on one side closes the other.
 * - `blackhole`: bytes in both directions are silently dropped and closes are not passed on, while
 *   every socket stays open (a cable cut / NAT that forgot the flow: nobody is told).
 * - `reset`: every open pair is destroyed with a TCP RST, and new connections are reset at once.
 * `setMode('blackhole', 'to-client')` drops one direction only (e.g. acks lost, requests delivered).
 * `inject` writes raw bytes to the client side (or the server side) of every open pair.
 */

export type ProxyMode = 'forward' | 'blackhole' | 'reset';
/** Which direction a blackhole drops. */
export type Direction = 'both' | 'to-client' | 'to-server';

interface Pair {
  client: Socket;
  upstream: Socket;
}

export interface FaultProxy {
  readonly url: string;
  readonly port: number;
  readonly mode: ProxyMode;
  /** Pairs open now. */
  readonly connections: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** The port the proxy forwards to (may change, e.g. for a server restarted elsewhere). */
  target: number;
  setMode(mode: ProxyMode, direction?: Direction): void;
  /** Every chunk that reached the client side (forwarded or injected), in order. */
  readonly toClient: Buffer[];
  inject(bytes: Buffer | string, to?: 'client' | 'server'): void;
  close(): Promise<void>;
}

export async function createFaultProxy(target: number): Promise<FaultProxy> {
  let mode: ProxyMode = 'forward';
  let dropping: Direction = 'both';
  const toClient: Buffer[] = [];
  const passes = (towards: 'client' | 'server') =>
    mode === 'forward' || (mode === 'blackhole' && dropping !== 'both' && dropping !== `to-${towards}`);
  let accepted = 0;
  const pairs = new Set<Pair>();

  const reset = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.resetAndDestroy();
    pair.upstream.resetAndDestroy();
  };

  const server: Server = createServer((client) => {
    accepted++;
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const upstream = proxy.connectUpstream();
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    const pipe = (from: Socket, to: Socket) => {
      const towards = to === client ? 'client' : 'server';
      from.on('data', (chunk: Buffer) => {
        if (!passes(towards) || to.destroyed) return;
        if (towards === 'client') toClient.push(chunk);
        to.write(chunk);
      });
      from.on('end', () => {
        if (mode === 'forward') to.end();
      });
      from.on('close', () => {
        if (mode === 'forward') {
          pairs.delete(pair);
          to.destroy();
        }
      });
      // Errors (ECONNRESET, ECONNREFUSED upstream) end up as `close`.
      from.on('error', () => {});
    };
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  const proxy = {
    target,
    connectUpstream(): Socket {
      return createConnection({ host: '127.0.0.1', port: proxy.target });
    },
  };

  return {
    url: `ws://127.0.0.1:${port}/`,
    port,
    get mode() {
      return mode;
    },
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    get target() {
      return proxy.target;
    },
    set target(value: number) {
      proxy.target = value;
    },
    toClient,
    setMode(next, direction = 'both') {
      mode = next;
      dropping = direction;
      if (next === 'reset') for (const pair of [...pairs]) reset(pair);
      if (next === 'forward') {
        // A side that closed while blackholed: pass the close on now, as the network would have.
        for (const pair of [...pairs]) {
          if (pair.client.destroyed || pair.upstream.destroyed) {
            pairs.delete(pair);
            pair.client.destroy();
            pair.upstream.destroy();
          }
        }
      }
    },
    inject(bytes, to = 'client') {
      for (const pair of pairs) {
        const socket = to === 'client' ? pair.client : pair.upstream;
        if (socket.destroyed) continue;
        if (to === 'client') toClient.push(Buffer.from(bytes));
        socket.write(bytes);
      }
    },
    async close() {
      for (const pair of [...pairs]) {
        pairs.delete(pair);
        pair.client.destroy();
        pair.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
