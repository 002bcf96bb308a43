import { describe, expect, it } from 'vitest';
import type { SocketCommand } from '../src/machines/signaling.types.js';
import { harness, tag } from './helpers/machine-harness.js';

const HB = { heartbeat: { interval: 1000, timeout: 300 } };

function pings(commands: SocketCommand[]): number[] {
  return commands.flatMap((c) =>
    c.type === 'SOCKET.SEND' && (c.frame as { type: string }).type === 'ping'
      ? [(c.frame as { t: number }).t]
      : [],
  );
}

describe('signalingMachine: heartbeat', () => {
  it('pings every interval while connected, and not before', async () => {
    const h = await harness();
    h.actor.send({ type: 'CONNECT' });
    await h.authenticate(HB);
    h.advance(999);
    expect(pings(h.socket().commands)).toHaveLength(0);
    h.advance(1);
    expect(pings(h.socket().commands)).toHaveLength(1);
    const [t] = pings(h.socket().commands);
    h.advance(20);
    h.socket().report({ type: 'PONG', t: t as number });
    expect(h.actor.getSnapshot().context.rtt).toBe(20);
    h.advance(1000);
    expect(pings(h.socket().commands)).toHaveLength(2);
  });

  it('no frame within timeout after a ping → close 4008 and reconnect with backoff', async () => {
    const h = await harness();
    h.actor.send({ type: 'CONNECT' });
    await h.authenticate(HB);
    h.advance(1000);
    h.advance(299);
    expect(tag(h.actor)).toBe('connected');
    h.advance(1);
    expect(tag(h.actor)).toBe('reconnecting');
    expect(h.actor.getSnapshot().context.reason).toBe('heartbeat-timeout');
    expect(h.sockets[0]?.commands.at(-1)).toMatchObject({ type: 'SOCKET.CLOSE_WITH', code: 4008 });
    expect(h.sockets[0]?.stopped).toBe(true);
  });

  it('any frame after the ping counts as life (SOCKET.ALIVE), once per ping', async () => {
    const h = await harness();
    h.actor.send({ type: 'CONNECT' });
    await h.authenticate(HB);
    h.advance(1000);
    expect(h.socket().commands.filter((c) => c.type === 'SOCKET.PING')).toHaveLength(1);
    h.advance(200);
    h.socket().report({ type: 'SOCKET.ALIVE' });
    h.advance(200); // past the pong timeout of the first ping: still fine
    expect(tag(h.actor)).toBe('connected');
    h.advance(1300); // second ping at 2200, no answer by 2500
    expect(tag(h.actor)).toBe('reconnecting');
  });

  it('VISIBLE pings now; a timeout then finds a dead socket within `timeout`', async () => {
    const h = await harness();
    h.actor.send({ type: 'CONNECT' });
    await h.authenticate(HB);
    h.advance(100);
    h.actor.send({ type: 'VISIBLE' });
    expect(pings(h.socket().commands)).toHaveLength(1);
    h.advance(300);
    expect(tag(h.actor)).toBe('reconnecting');
  });

  it('no heartbeat timers outside connected', async () => {
    const h = await harness();
    h.actor.send({ type: 'CONNECT' });
    h.socket().report({ type: 'SOCKET.OPEN' });
    h.advance(5000);
    expect(h.socket().commands.filter((c) => c.type === 'SOCKET.PING')).toHaveLength(0);
  });
});
