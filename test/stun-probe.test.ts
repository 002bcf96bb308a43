import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBindingResponse, encodeBindingRequest } from '../src/server/stun-message.js';
import { probeStunServer } from '../src/server/stun-probe.js';
import { IceServerError } from '../src/stun/index.js';

/**
 * Fake STUN servers on loopback, built here with Buffer (independently of the code under test), to
 * drive the probe through the cases a real server cannot be made to produce on demand: silence,
 * lost requests, errors, garbage. The real-server case is in stun-coturn.test.ts.
 */

const COOKIE = 0x2112a442;
type Reply = (request: Buffer, from: RemoteInfo) => Buffer[] | undefined;

interface FakeServer {
  url: string;
  port: number;
  requests: { at: number; packet: Buffer }[];
}

const open: Socket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

async function fakeServer(reply: Reply, family: 'udp4' | 'udp6' = 'udp4'): Promise<FakeServer> {
  const socket = createSocket(family);
  open.push(socket);
  const host = family === 'udp4' ? '127.0.0.1' : '::1';
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  const port = socket.address().port;
  const server: FakeServer = {
    url: family === 'udp4' ? `stun:127.0.0.1:${port}` : `stun:[::1]:${port}`,
    port,
    requests: [],
  };
  socket.on('message', (packet, from) => {
    server.requests.push({ at: performance.now(), packet });
    for (const out of reply(packet, from) ?? []) socket.send(out, from.port, from.address);
  });
  return server;
}

function attribute(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

function message(type: number, transactionId: Buffer, attrs: Buffer[], cookie = COOKIE): Buffer {
  const body = Buffer.concat(attrs);
  const head = Buffer.alloc(20);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(body.length, 2);
  head.writeUInt32BE(cookie, 4);
  transactionId.copy(head, 8);
  return Buffer.concat([head, body]);
}

/** XOR-MAPPED-ADDRESS (or plain MAPPED-ADDRESS) for an IPv4 or IPv6 address. */
function mapped(address: string, port: number, transactionId: Buffer, xor = true): Buffer {
  const v6 = address.includes(':');
  const bytes = v6 ? ipv6Bytes(address) : Buffer.from(address.split('.').map(Number));
  const key = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), transactionId]);
  const value = Buffer.alloc(4 + bytes.length);
  value[1] = v6 ? 2 : 1;
  value.writeUInt16BE(xor ? port ^ 0x2112 : port, 2);
  for (let i = 0; i < bytes.length; i++) value[4 + i] = (bytes[i] as number) ^ (xor ? (key[i] as number) : 0);
  return attribute(xor ? 0x0020 : 0x0001, value);
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}

const txid = (request: Buffer) => request.subarray(8, 20);
const success = (request: Buffer, from: RemoteInfo) => [
  message(0x0101, txid(request), [mapped(from.address, from.port, txid(request))]),
];

describe('probeStunServer against fake servers', () => {
  it('returns the XOR-MAPPED-ADDRESS the server saw, and an RTT', async () => {
    let seen: RemoteInfo | undefined;
    const server = await fakeServer((request, from) => {
      seen = from;
      return success(request, from);
    });
    const result = await probeStunServer(server.url, { timeout: 2000 });
    expect(result).toEqual({
      address: '127.0.0.1',
      port: seen?.port,
      family: 'IPv4',
      rtt: expect.any(Number),
    });
    expect(result.rtt).toBeGreaterThanOrEqual(0);
    expect(result.rtt).toBeLessThan(1000);
    // The request itself: a 20-byte Binding request with the magic cookie (RFC 5389 §6).
    const request = server.requests[0]?.packet as Buffer;
    expect(request).toHaveLength(20);
    expect(request.readUInt16BE(0)).toBe(0x0001);
    expect(request.readUInt16BE(2)).toBe(0);
    expect(request.readUInt32BE(4)).toBe(COOKIE);
  });

  it('works over IPv6 ([::1])', async () => {
    const server = await fakeServer(success, 'udp6');
    const result = await probeStunServer(server.url, { timeout: 2000 });
    expect(result).toMatchObject({ address: '::1', family: 'IPv6' });
  });

  it('decodes an IPv6 XOR-MAPPED-ADDRESS (masked with cookie and transaction id)', async () => {
    const server = await fakeServer((request) => [
      message(0x0101, txid(request), [mapped('2001:db8:0:0:1:0:0:1', 54321, txid(request))]),
    ]);
    await expect(probeStunServer(server.url)).resolves.toMatchObject({
      address: '2001:db8::1:0:0:1',
      port: 54321,
      family: 'IPv6',
    });
  });

  it('falls back to MAPPED-ADDRESS from RFC 3489 servers', async () => {
    const server = await fakeServer((request) => [
      message(0x0101, txid(request), [mapped('192.0.2.7', 4242, txid(request), false)]),
    ]);
    await expect(probeStunServer(server.url)).resolves.toMatchObject({ address: '192.0.2.7', port: 4242 });
  });

  it('retransmits on the RFC 5389 schedule with the same transaction id until answered', async () => {
    const server = await fakeServer((request, from) =>
      server.requests.length < 3 ? undefined : success(request, from),
    );
    const result = await probeStunServer(server.url, { rto: 200, timeout: 5000 });
    expect(result.address).toBe('127.0.0.1');
    expect(server.requests).toHaveLength(3);
    const [a, b, c] = server.requests as [
      FakeServer['requests'][0],
      FakeServer['requests'][0],
      FakeServer['requests'][0],
    ];
    expect(txid(b.packet).equals(txid(a.packet))).toBe(true);
    expect(txid(c.packet).equals(txid(a.packet))).toBe(true);
    // RTO, then 2·RTO. Times are when the fake server received each packet, so a delivery delayed by a
    // busy 2-core machine shortens one gap: the bounds leave a quarter of the RTO for that.
    expect(b.at - a.at).toBeGreaterThanOrEqual(150);
    expect(c.at - b.at).toBeGreaterThanOrEqual(350);
    expect(c.at - b.at).toBeGreaterThan(b.at - a.at);
    // The RTT is measured from the last transmission, not the first.
    expect(result.rtt).toBeLessThan(c.at - a.at);
  });

  it('gives up with `timeout` after Rc sends and a final wait of Rm·RTO', async () => {
    const server = await fakeServer(() => undefined);
    const rto = 20;
    const started = performance.now();
    const err = await probeStunServer(server.url, { rto, maxTransmissions: 7, timeout: 10_000 }).catch(
      (e: unknown) => e,
    );
    const elapsed = performance.now() - started;
    expect(err).toMatchObject({ name: 'SignalingError', code: 'timeout' });
    expect(server.requests).toHaveLength(7);
    // Sends at 0, 1, 3, 7, 15, 31, 63 RTO; failure at 63 + 16 = 79 RTO (RFC 5389 §7.2.1: 39.5 s at 500 ms).
    const sendTimes = server.requests.map((r) => (r.at - (server.requests[0]?.at ?? 0)) / rto);
    expect(sendTimes[6]).toBeGreaterThanOrEqual(62);
    expect(elapsed).toBeGreaterThanOrEqual(79 * rto - 5);
    expect(elapsed).toBeLessThan(79 * rto + 1500);
  });

  it('gives up with `timeout` when the overall timeout comes first', async () => {
    const server = await fakeServer(() => undefined);
    const started = performance.now();
    const err = await probeStunServer(server.url, { timeout: 300, rto: 100 }).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(err).toMatchObject({ code: 'timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(295);
    expect(elapsed).toBeLessThan(1500);
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
  });

  it('reports `unreachable` at once when nothing listens (ICMP port unreachable)', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const port = socket.address().port;
    await new Promise<void>((resolve) => socket.close(resolve));
    const started = performance.now();
    const err = await probeStunServer(`stun:127.0.0.1:${port}`, { timeout: 5000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unreachable' });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('reports `unreachable` for a name that does not resolve', async () => {
    const err = await probeStunServer('stun:no-such-host.invalid', { timeout: 5000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'unreachable' });
  });

  it('reports `unreachable` with the code of a Binding error response', async () => {
    const server = await fakeServer((request) => {
      const value = Buffer.concat([Buffer.from([0, 0, 4, 20]), Buffer.from('Unknown Attribute')]);
      return [message(0x0111, txid(request), [attribute(0x0009, value)])];
    });
    const err = await probeStunServer(server.url).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unreachable', message: expect.stringContaining('420') });
  });

  it('ignores garbage, other transactions, a wrong cookie and unknown comprehension-required attributes', async () => {
    const server = await fakeServer((request, from) => {
      const id = txid(request);
      if (server.requests.length === 1) {
        return [
          Buffer.from('not stun at all'),
          Buffer.alloc(0),
          message(0x0101, Buffer.alloc(12, 7), [mapped('10.0.0.1', 1, Buffer.alloc(12, 7))]),
          message(0x0101, id, [mapped('10.0.0.2', 2, id)], 0x12345678),
          message(0x0101, id, [mapped('10.0.0.3', 3, id), attribute(0x7777, Buffer.alloc(4))]),
          message(0x0101, id, []), // success without an address
          message(0x0001, id, []), // a request, not a response
          Buffer.concat([message(0x0101, id, [mapped('10.0.0.4', 4, id)]), Buffer.alloc(4)]), // length lies
        ];
      }
      return [
        message(0x0101, id, [attribute(0x8022, Buffer.from('fake')), mapped(from.address, from.port, id)]),
      ];
    });
    const result = await probeStunServer(server.url, { rto: 50, timeout: 3000 });
    expect(result).toMatchObject({ address: '127.0.0.1' });
    expect(server.requests).toHaveLength(2);
  });

  it('rejects with the reason when aborted', async () => {
    const server = await fakeServer(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user gave up')), 50);
    await expect(probeStunServer(server.url, { signal: controller.signal })).rejects.toThrow('user gave up');
    const aborted = AbortSignal.abort(new Error('before start'));
    await expect(probeStunServer(server.url, { signal: aborted })).rejects.toThrow('before start');
  });

  it('refuses URLs it cannot probe over UDP, and invalid ones', async () => {
    for (const url of [
      'stuns:127.0.0.1',
      'turns:127.0.0.1',
      'turn:127.0.0.1?transport=tcp',
      'stun:bad host',
      'http://x',
    ]) {
      await expect(probeStunServer(url)).rejects.toBeInstanceOf(IceServerError);
    }
    await expect(probeStunServer('stun:127.0.0.1', { rto: 0 })).rejects.toBeInstanceOf(RangeError);
  });
});

describe('STUN message codec', () => {
  it('round-trips a request id through a response', () => {
    const id = new Uint8Array(12).map((_, i) => i * 17);
    const request = encodeBindingRequest(id);
    expect(Array.from(request.subarray(8))).toEqual(Array.from(id));
    const response = message(0x0101, Buffer.from(id), [mapped('203.0.113.9', 65535, Buffer.from(id))]);
    expect(decodeBindingResponse(response, id)).toEqual({
      kind: 'success',
      family: 'IPv4',
      address: '203.0.113.9',
      port: 65535,
    });
    expect(decodeBindingResponse(response, new Uint8Array(12))).toBeUndefined();
  });

  it('never throws on truncated or corrupted input', () => {
    const id = new Uint8Array(12);
    const good = message(0x0101, Buffer.from(id), [mapped('2001:db8::1', 1, Buffer.from(id))]);
    for (let cut = 0; cut < good.length; cut++)
      expect(() => decodeBindingResponse(good.subarray(0, cut), id)).not.toThrow();
    for (let i = 0; i < good.length; i++) {
      for (const bit of [1, 0x80]) {
        const bad = Buffer.from(good);
        bad[i] = (bad[i] as number) ^ bit;
        expect(() => decodeBindingResponse(bad, id)).not.toThrow();
      }
    }
  });
});
