import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { SignalingError } from '../errors.js';
import { IceServerError } from '../stun/ice-server-error.js';
import { parseIceUrl } from '../stun/uri.js';
import { decodeBindingResponse, encodeBindingRequest } from './stun-message.js';

/** Options of {@link probeStunServer}. */
export interface StunProbeOptions {
  /** Give up after this many ms, DNS lookup included; default 5000. */
  timeout?: number;
  /** RFC 5389 §7.2.1 initial retransmission timeout (RTO) in ms; doubles after each send. Default 500. */
  rto?: number;
  /** RFC 5389 §7.2.1 `Rc`: how many times the request is sent at most. Default 7. */
  maxTransmissions?: number;
  /** Aborts the probe; it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What a STUN server answered {@link probeStunServer}: this host's public (server-reflexive) address. */
export interface StunProbeResult {
  /** Our address as the STUN server saw it (XOR-MAPPED-ADDRESS). */
  address: string;
  /** Our port as the STUN server saw it. */
  port: number;
  /** The address family of `address`. */
  family: 'IPv4' | 'IPv6';
  /**
   * ms from the last transmission to the response. After a retransmission it is unknowable which
   * request was answered (Karn's problem), so this is then a lower bound.
   */
  rtt: number;
}

/** RFC 5389 §7.2.1: after the last send, wait Rm × RTO before giving up. */
const RM = 16;

/**
 * Sends an RFC 5389 Binding request over UDP to the STUN (or TURN) server named by `url` and resolves
 * with the address it saw. Retransmits on the RFC schedule (RTO, 2·RTO, 4·RTO, …, Rc sends), same
 * transaction id each time. Rejects with a `SignalingError` of code `timeout` when no answer came in
 * time, `unreachable` when the name does not resolve, the network refuses the packet (ICMP port
 * unreachable arrives as ECONNREFUSED on the connected socket) or the server answers with an error,
 * and `invalid-ice-server` for a bad URL or one that is not reachable over UDP (`stuns:`, `turns:`,
 * `?transport=tcp`).
 */
export async function probeStunServer(url: string, options: StunProbeOptions = {}): Promise<StunProbeResult> {
  const { timeout = 5000, rto = 500, maxTransmissions = 7, signal } = options;
  const target = parseIceUrl(url);
  if (target.secure || target.transport === 'tcp') {
    throw new IceServerError('url', `${JSON.stringify(url)}: the probe speaks STUN over UDP only`);
  }
  if (!(timeout > 0) || !(rto > 0) || !Number.isInteger(maxTransmissions) || maxTransmissions < 1) {
    throw new RangeError('probeStunServer: timeout and rto must be > 0, maxTransmissions an integer ≥ 1');
  }
  signal?.throwIfAborted();

  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const deadline = setTimeout(
    () =>
      controller.abort(
        new SignalingError('timeout', `STUN server ${url} did not answer within ${timeout} ms`),
      ),
    timeout,
  );
  try {
    const address = await resolve(target.host, target.hostType, url, controller.signal);
    return await transact(address, target.port, url, { rto, maxTransmissions }, controller.signal);
  } finally {
    clearTimeout(deadline);
    signal?.removeEventListener('abort', onAbort);
  }
}

async function resolve(
  host: string,
  hostType: 'name' | 'ipv4' | 'ipv6',
  url: string,
  signal: AbortSignal,
): Promise<{ address: string; family: 4 | 6 }> {
  if (hostType === 'ipv4') return { address: host, family: 4 };
  if (hostType === 'ipv6') return { address: host, family: 6 };
  const found = lookup(host).then(
    (r) => ({ address: r.address, family: r.family === 6 ? 6 : 4 }) as const,
    (err: unknown) => {
      throw new SignalingError('unreachable', `STUN server ${url}: cannot resolve ${host}`, { cause: err });
    },
  );
  return raceAbort(found, signal);
}

function transact(
  to: { address: string; family: 4 | 6 },
  port: number,
  url: string,
  schedule: { rto: number; maxTransmissions: number },
  signal: AbortSignal,
): Promise<StunProbeResult> {
  return new Promise((resolvePromise, reject) => {
    const transactionId = new Uint8Array(randomBytes(12));
    const request = encodeBindingRequest(transactionId);
    const socket: Socket = createSocket(to.family === 6 ? 'udp6' : 'udp4');
    let timer: ReturnType<typeof setTimeout> | undefined;
    let sent = 0;
    let lastSentAt = 0;
    let settled = false;

    const finish = (error: unknown, result?: StunProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.close();
      if (error === undefined) resolvePromise(result as StunProbeResult);
      else reject(error);
    };
    const onAbort = () => finish(signal.reason);
    const unreachable = (err: unknown) =>
      finish(new SignalingError('unreachable', `STUN server ${url} is unreachable`, { cause: err }));

    const send = () => {
      if (settled) return;
      sent++;
      lastSentAt = performance.now();
      socket.send(request, (err) => {
        if (err) unreachable(err);
      });
      // RTO doubles after each send; after the last one wait Rm × RTO (RFC 5389 §7.2.1).
      const wait = sent < schedule.maxTransmissions ? schedule.rto * 2 ** (sent - 1) : schedule.rto * RM;
      timer = setTimeout(() => {
        if (sent < schedule.maxTransmissions) send();
        else
          finish(new SignalingError('timeout', `STUN server ${url} did not answer after ${sent} requests`));
      }, wait);
    };

    socket.on('error', unreachable);
    socket.on('message', (packet) => {
      const response = decodeBindingResponse(packet, transactionId);
      if (response === undefined) return; // not ours or unusable: keep waiting (RFC 5389 §7.3)
      if (response.kind === 'error') {
        finish(new SignalingError('unreachable', `STUN server ${url} answered error ${response.code}`));
        return;
      }
      const { family, address, port: mappedPort } = response;
      finish(undefined, { address, port: mappedPort, family, rtt: performance.now() - lastSentAt });
    });
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) return onAbort();
    // Connected, so that only the server's packets arrive and ICMP errors surface as socket errors.
    socket.connect(port, to.address, () => send());
  });
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolvePromise(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
