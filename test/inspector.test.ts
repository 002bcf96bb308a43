import { createServer } from 'node:net';
import { inspect as utilInspect } from 'node:util';
import { createInspector, createWebSocketInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import { createInspectorServer } from '@statelyai/inspect/server';
import nacl from 'tweetnacl';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createActor, fromCallback, type InspectionEvent, SimulatedClock, waitFor } from 'xstate';
import { createSignalingClient } from '../src/client.js';
import { Identity } from '../src/identity/index.js';
import { createConsoleInspector } from '../src/inspect/console-inspector.js';
import { signalingMachine } from '../src/machines/signaling.machine.js';
import {
  ConnectionState,
  type SocketCommand,
  type SocketEvent,
  type SocketInput,
} from '../src/machines/signaling.types.js';
import { createServerProof } from '../src/protocol/auth.js';
import { decodeBase64url, encodeBase64url } from '../src/protocol/base64url.js';
import type { AuthResponse } from '../src/protocol/messages.js';
import { createSignalingServer, type SignalingServer } from '../src/server/index.js';
import { createSignerService } from '../src/services/signer.js';
import { challengeFrom } from './helpers/challenge.js';
import { reach } from './helpers/client-watch.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function randomSeed(): Uint8Array {
  const seed = new Uint8Array(32);
  globalThis.crypto.getRandomValues(seed);
  return seed;
}

/** Every textual form a leaked secret could take in a serialized event. */
function secretForms(name: string, bytes: Uint8Array): [string, string][] {
  const buffer = Buffer.from(bytes);
  const base64 = buffer.toString('base64');
  return [
    [`${name} raw`, buffer.toString('latin1')],
    [`${name} hex`, buffer.toString('hex')],
    [`${name} HEX`, buffer.toString('hex').toUpperCase()],
    [`${name} base64`, base64],
    [`${name} base64 unpadded`, base64.replace(/=+$/, '')],
    [`${name} base64url`, encodeBase64url(bytes)],
    // A byte array serialized as numbers: JSON of a Uint8Array ({"0":1,...}) has the values, an
    // array or util.inspect lists them.
    [`${name} bytes`, Array.from(bytes).join(',')],
    [`${name} bytes spaced`, Array.from(bytes).join(', ')],
    [`${name} first half hex`, buffer.subarray(0, 16).toString('hex')],
  ];
}

/**
 * The inspection event as an inspector could show it: a plain, acyclic copy in which actor refs, state
 * nodes and the machine become their names (their object graphs reach the whole actor system, the
 * clock and Node's timer lists; the machine's definition is public and in statecharts/). Functions show
 * by name; byte arrays by value, so a key kept as bytes would be found.
 */
function view(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'function') return `[function ${value.name}]`;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return value;
  if (ArrayBuffer.isView(value))
    return Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
  if (value instanceof ArrayBuffer) return Array.from(new Uint8Array(value));
  const o = value as Record<string, unknown>;
  if (typeof o.send === 'function' && typeof o.sessionId === 'string') {
    return { actor: o.id, sessionId: o.sessionId, src: typeof o.src === 'string' ? o.src : '[logic]' };
  }
  if (typeof o.path === 'object' && 'machine' in o && typeof o.id === 'string') return `#${o.id}`;
  if ('root' in o && 'implementations' in o) return `[machine ${String(o.id)}]`;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (value instanceof Map || value instanceof Set) return [...value].map((v) => view(v, seen));
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  const out: Record<string, unknown> = Array.isArray(value) ? ([] as unknown as Record<string, unknown>) : {};
  for (const key of Reflect.ownKeys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    const name = typeof key === 'string' ? key : String(key);
    out[name] = descriptor && 'value' in descriptor ? view(descriptor.value, seen) : '[getter]';
  }
  return out;
}

/** Every string in a view (keys too), unescaped: where raw bytes would show as they are. */
function strings(value: unknown): string {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') out.push(v);
    else if (typeof v === 'object' && v !== null) {
      for (const [key, child] of Object.entries(v)) {
        out.push(key);
        walk(child);
      }
    }
  };
  walk(value);
  return out.join('\n');
}

/** Three serializations: raw strings, JSON, and util.inspect (whitespace collapsed, as inspect pads columns). */
function serializations(event: unknown): string[] {
  const v = view(event);
  return [
    strings(v),
    JSON.stringify(v),
    utilInspect(v, {
      depth: Number.POSITIVE_INFINITY,
      maxArrayLength: Number.POSITIVE_INFINITY,
      maxStringLength: Number.POSITIVE_INFINITY,
      breakLength: Number.POSITIVE_INFINITY,
    }).replace(/\s+/g, ' '),
  ];
}

/**
 * Everything reachable from `roots` through own data properties (no getters run): strings as they are
 * and byte arrays as numbers. For the actor objects the stream refers to, walked once in full.
 */
function reachable(roots: unknown[]): string {
  const out: string[] = [];
  const seen = new WeakSet<object>();
  const walk = (v: unknown) => {
    if (typeof v === 'string') out.push(v);
    if ((typeof v !== 'object' && typeof v !== 'function') || v === null || seen.has(v)) return;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      out.push(Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).join(','));
      return;
    }
    if (v instanceof Map || v instanceof Set) for (const entry of v) walk(entry);
    for (const key of Reflect.ownKeys(v)) {
      const descriptor = Object.getOwnPropertyDescriptor(v, key);
      if (descriptor && 'value' in descriptor) walk(descriptor.value);
    }
  };
  for (const root of roots) walk(root);
  return out.join('\n');
}

function leaks(text: string, forms: [string, string][]): string[] {
  return forms.filter(([, form]) => text.includes(form)).map(([name]) => name);
}

describe('the inspect option of createSignalingClient', () => {
  it('reaches the actor: its inspector sees the actor, its events and microsteps', async () => {
    const server = await createSignalingServer({ identity: await Identity.generate(), port: 0 });
    cleanups.push(() => server.close({ timeout: 200 }));
    const events: InspectionEvent[] = [];
    const client = createSignalingClient({
      url: server.url,
      identity: await Identity.generate(),
      globalEvents: false,
      inspect: (event) => events.push(event),
    });
    cleanups.push(() => client.disconnect());
    client.connect();
    await reach(client, ConnectionState.CONNECTED);
    const root = events.filter((e) => e.actorRef === client.actor);
    expect(root.some((e) => e.type === '@xstate.actor')).toBe(true);
    expect(root.some((e) => e.type === '@xstate.event' && e.event.type === 'CONNECT')).toBe(true);
    expect(root.some((e) => e.type === '@xstate.microstep')).toBe(true);
    const last = root.filter((e) => e.type === '@xstate.snapshot').at(-1);
    expect((last?.snapshot as { value?: unknown } | undefined)?.value).toEqual({
      session: { connected: 'idle' },
    });
    // The invoked services are inspected too (socket, signer, verifier).
    expect(
      events.some(
        (e) => e.type === '@xstate.actor' && (e.actorRef as unknown as { id: string }).id === 'socket',
      ),
    ).toBe(true);
  });

  it('also takes an observer such as @statelyai/inspect’s `inspector.inspect`', async () => {
    const server = await createSignalingServer({ identity: await Identity.generate(), port: 0 });
    cleanups.push(() => server.close({ timeout: 200 }));
    const sent: StatelyInspectionEvent[] = [];
    const inspector = createInspector({ start() {}, stop() {}, send: (e) => sent.push(e) });
    const client = createSignalingClient({
      url: server.url,
      identity: await Identity.generate(),
      globalEvents: false,
      inspect: inspector.inspect,
    });
    cleanups.push(() => client.disconnect());
    client.connect();
    await reach(client, ConnectionState.CONNECTED);
    expect(sent.some((e) => e.type === '@xstate.actor' && e.definition?.includes('"signaling"'))).toBe(true);
    expect(sent.some((e) => e.type === '@xstate.event' && e.event.type === 'SOCKET.OPEN')).toBe(true);
  });
});

describe('no secret in the inspection stream', () => {
  it('a full session against the reference server (connect, authenticate, messages both ways, a reconnect) shows no seed or secret key in any form', async () => {
    const serverSeed = randomSeed();
    const aliceSeed = randomSeed();
    const bobSeed = randomSeed();
    const secrets = [
      ['server seed', serverSeed],
      ['alice seed', aliceSeed],
      ['bob seed', bobSeed],
      // tweetnacl's 64-byte secret key is seed ‖ public key.
      ['server secret key', nacl.sign.keyPair.fromSeed(serverSeed).secretKey],
      ['alice secret key', nacl.sign.keyPair.fromSeed(aliceSeed).secretKey],
      ['bob secret key', nacl.sign.keyPair.fromSeed(bobSeed).secretKey],
    ] as const;
    const forms = secrets.flatMap(([name, bytes]) => secretForms(name, bytes));

    // Extractable, so the keys could be exported if anything tried; fromSeed gets copies.
    const serverIdentity = await Identity.fromSeed(serverSeed.slice(), { extractable: true });
    const alice = await Identity.fromSeed(aliceSeed.slice(), { extractable: true });
    const bob = await Identity.fromSeed(bobSeed.slice(), { extractable: true });
    expect(alice.publicKey).toBe(encodeBase64url(nacl.sign.keyPair.fromSeed(aliceSeed).publicKey));

    let server: SignalingServer = await createSignalingServer({ identity: serverIdentity, port: 0 });
    cleanups.push(() => server.close({ timeout: 200 }));
    const port = server.port;

    const events: InspectionEvent[] = [];
    const stately: StatelyInspectionEvent[] = [];
    const statelyInspector = createInspector({ start() {}, stop() {}, send: (e) => stately.push(e) });
    const collect = (event: InspectionEvent) => {
      events.push(event);
      statelyInspector.inspect.next?.(event);
    };
    const options = {
      url: server.url,
      globalEvents: false as const,
      inspect: collect,
      backoff: { initialDelay: 50 },
    };
    const a = createSignalingClient({ ...options, identity: alice });
    const b = createSignalingClient({ ...options, identity: bob });
    cleanups.push(
      () => a.disconnect(),
      () => b.disconnect(),
    );
    const inboxA: unknown[] = [];
    const inboxB: unknown[] = [];
    a.on('signal', (m) => inboxA.push(m.data));
    b.on('signal', (m) => inboxB.push(m.data));

    a.connect();
    b.connect();
    await Promise.all([reach(a, ConnectionState.CONNECTED), reach(b, ConnectionState.CONNECTED)]);
    await a.send({ type: 'signal', to: bob.publicKey, id: 'a1', data: { sdp: 'offer from alice' } });
    await b.send({ type: 'signal', to: alice.publicKey, id: 'b1', data: { sdp: 'answer from bob' } });

    // The server restarts on the same port: both clients see 1001, back off, and authenticate again.
    const reconnecting = Promise.all([
      reach(a, ConnectionState.RECONNECTING),
      reach(b, ConnectionState.RECONNECTING),
    ]);
    await server.close({ timeout: 200 });
    await reconnecting;
    server = await createSignalingServer({ identity: serverIdentity, port });
    await Promise.all([reach(a, ConnectionState.CONNECTED), reach(b, ConnectionState.CONNECTED)]);
    await a.send({ type: 'signal', to: bob.publicKey, id: 'a2', data: { candidate: 'after reconnect' } });
    await b.send({ type: 'signal', to: alice.publicKey, id: 'b2', data: { candidate: 'after reconnect' } });
    await a.disconnect();
    await b.disconnect();

    expect(inboxB).toEqual([{ sdp: 'offer from alice' }, { candidate: 'after reconnect' }]);
    expect(inboxA).toEqual([{ sdp: 'answer from bob' }, { candidate: 'after reconnect' }]);
    // The stream really covers the session: both handshakes twice, the reconnect, the messages' acks.
    const types = events.map((e) => (e.type === '@xstate.event' ? e.event.type : e.type));
    expect(types.filter((t) => t === 'AUTH.OK')).toHaveLength(4);
    expect(types).toContain('SOCKET.CLOSE');
    expect(events.length).toBeGreaterThan(100);

    const found = new Set<string>();
    for (const event of events) {
      for (const text of serializations(event)) for (const leak of leaks(text, forms)) found.add(leak);
    }
    for (const event of stately)
      for (const leak of leaks(JSON.stringify(view(event)), forms)) found.add(leak);
    // The actor objects themselves (system, logic, children, options), walked in full once.
    const actors = reachable([...new Set(events.map((e) => e.actorRef))]);
    expect(actors).toContain(alice.publicKey);
    for (const leak of leaks(actors, forms)) found.add(leak);
    expect([...found]).toEqual([]);
    // Application messages bypass the chart, so their payloads are not in the stream either.
    const all = events.map((e) => JSON.stringify(view(e))).join('\n');
    expect(all).not.toContain('offer from alice');
    expect(all).not.toContain('after reconnect');
  });

  it('the scan finds a secret planted in an event, in every form', () => {
    const seed = randomSeed();
    const forms = secretForms('seed', seed);
    const planted: [string, unknown][] = [
      [
        'seed raw',
        { type: '@xstate.event', event: { type: 'X', raw: Buffer.from(seed).toString('latin1') } },
      ],
      ['seed hex', { hex: Buffer.from(seed).toString('hex') }],
      ['seed base64', { b64: Buffer.from(seed).toString('base64') }],
      ['seed base64url', { b64url: encodeBase64url(seed) }],
      ['seed bytes', { bytes: seed }],
      ['seed bytes spaced', { nested: { deeper: { bytes: seed.slice() } } }],
    ];
    for (const [form, event] of planted) {
      const found = serializations(event).flatMap((text) => leaks(text, forms));
      expect(found).toContain(form);
    }
  });
});

describe('createConsoleInspector', () => {
  it('writes one readable line per transition of a scripted session', async () => {
    const server = await Identity.generate();
    const client = await Identity.generate();
    const url = 'ws://127.0.0.1:9/';
    const clock = new SimulatedClock();
    const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 0);
    const now = () => T0 + clock.now();
    let socket: ((event: SocketEvent) => void) | undefined;
    const commands: SocketCommand[] = [];
    const machine = signalingMachine.provide({
      actors: {
        socket: fromCallback<SocketCommand, SocketInput>(({ sendBack, receive }) => {
          socket = sendBack;
          receive((command) => commands.push(command));
        }),
        signer: createSignerService({ identity: client, url, now }),
      },
    });
    const lines: string[] = [];
    const actor = createActor(machine, {
      clock,
      input: { url, random: () => 0.5, now, heartbeat: { interval: 1000, timeout: 500 } },
      inspect: createConsoleInspector({ write: (line) => lines.push(line), label: 'A', now }),
    });
    actor.start();
    actor.send({ type: 'CONNECT' });
    socket?.({ type: 'SOCKET.OPEN' });
    const nonce = new Uint8Array(32).fill(4);
    const challenge = challengeFrom(nonce, server.publicKey);
    socket?.({ type: 'AUTH.CHALLENGE', challenge });
    await waitFor(actor, (s) => s.matches({ session: { authenticating: 'awaitingVerdict' } }));
    const response = actor.getSnapshot().context.response as AuthResponse;
    const signature = await createServerProof({ identity: server, origin: url, nonce, response });
    socket?.({ type: 'AUTH.OK', ok: { type: 'auth.ok', v: 1, sessionId: 's', signature } });
    await waitFor(actor, (s) => s.hasTag('connected'));
    clock.increment(1000);
    socket?.({ type: 'PONG', t: actor.getSnapshot().context.pingSentAt as number });
    socket?.({ type: 'SOCKET.CLOSE', code: 1012, reason: 'restart' });
    actor.send({ type: 'DISCONNECT' });
    actor.stop();

    expect(lines).toEqual([
      'A 03:04:05.000  (start) → disconnected  (xstate.init)',
      'A 03:04:05.000  disconnected → session.connecting  (CONNECT)',
      'A 03:04:05.000  session.connecting → session.authenticating.awaitingChallenge  (SOCKET.OPEN)',
      'A 03:04:05.000  session.authenticating.awaitingChallenge → session.authenticating.signing  (AUTH.CHALLENGE)',
      'A 03:04:05.000  session.authenticating.signing → session.authenticating.awaitingVerdict  (signer done)',
      'A 03:04:05.000  session.authenticating.awaitingVerdict → session.authenticating.verifying  (AUTH.OK)',
      'A 03:04:05.000  session.authenticating.verifying → session.connected.idle  (verifier done)',
      'A 03:04:06.000  session.connected.idle → session.connected.awaitingPong  (after pingInterval)',
      'A 03:04:06.000  session.connected.awaitingPong → session.connected.idle  (PONG)',
      'A 03:04:06.000  session.connected.idle → reconnecting  (SOCKET.CLOSE)  reason closed, close 1012, retry in 250 ms',
      'A 03:04:06.000  reconnecting → disconnected  (DISCONNECT)',
    ]);
    // Event types and public context only: no key, nonce or signature reaches the console.
    const text = lines.join('\n');
    for (const value of [
      client.publicKey,
      server.publicKey,
      challenge.nonce,
      signature,
      response.signature,
    ]) {
      expect(text).not.toContain(value);
    }
    expect(decodeBase64url(challenge.nonce, 32)).toEqual(nonce);
  });
});

describe('createConsoleInspector details', () => {
  it('says why a chart failed, prints nothing for the invoked services’ own snapshots, and writes to console.log by default', () => {
    const clock = new SimulatedClock();
    const machine = signalingMachine.provide({
      actors: { socket: fromCallback<SocketCommand, SocketInput>(() => {}) },
    });
    const lines: string[] = [];
    const original = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      const actor = createActor(machine, {
        clock,
        input: { url: 'ws://127.0.0.1:9/' },
        inspect: createConsoleInspector({ now: () => Date.UTC(2026, 0, 1) }),
      });
      actor.start();
      actor.send({ type: 'CONNECT' });
      actor.send({ type: 'SOCKET.CLOSE', code: 4001, reason: 'denied' });
      actor.stop();
    } finally {
      console.log = original;
    }
    expect(lines).toEqual([
      '00:00:00.000  (start) → disconnected  (xstate.init)',
      '00:00:00.000  disconnected → session.connecting  (CONNECT)',
      '00:00:00.000  session.connecting → failed  (SOCKET.CLOSE)  reason auth-denied, close 4001',
    ]);
  });

  it('prints why the socket failed, for a retry and for a runtime without a WebSocket', () => {
    const machine = signalingMachine.provide({
      actors: { socket: fromCallback<SocketCommand, SocketInput>(() => {}) },
    });
    const lines: string[] = [];
    const actor = createActor(machine, {
      clock: new SimulatedClock(),
      input: { url: 'ws://127.0.0.1:9/', random: () => 0.5 },
      inspect: createConsoleInspector({ write: (line) => lines.push(line), now: () => Date.UTC(2026, 0, 1) }),
    });
    actor.start();
    actor.send({ type: 'CONNECT' });
    const refused = { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:9' };
    actor.send({ type: 'SOCKET.CLOSE', code: 1006, reason: '', error: refused });
    actor.send({ type: 'CONNECT' });
    const unsupported = { code: 'socket-construct', message: 'WebSocket is not defined' };
    actor.send({ type: 'SOCKET.UNSUPPORTED', error: unsupported });
    actor.stop();
    expect(lines.slice(2)).toEqual([
      '00:00:00.000  session.connecting → reconnecting  (SOCKET.CLOSE)  reason closed, close 1006, error ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:9), retry in 250 ms',
      '00:00:00.000  reconnecting → session.connecting  (CONNECT)',
      '00:00:00.000  session.connecting → failed  (SOCKET.UNSUPPORTED)  reason unsupported-runtime, error socket-construct (WebSocket is not defined)',
    ]);
  });
});

/** A port nothing listens on now (createInspectorServer cannot report the one it got from port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describe('@statelyai/inspect over a WebSocket, as docs/inspector.md sets it up', () => {
  it('the relay passes the client’s chart to the inspector UI, and what goes over the wire has no secret', async () => {
    const port = await freePort();
    const relay = createInspectorServer({ port, autoOpen: false });
    cleanups.push(async () => relay.stop());
    // The UI side: the browser page the relay would open, here a plain socket collecting what it is sent.
    const received: string[] = [];
    const ui = await new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}`);
      socket.on('message', (data) => received.push(data.toString()));
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    });
    cleanups.push(async () => ui.close());
    const inspector = createWebSocketInspector({ url: `ws://127.0.0.1:${port}` });
    cleanups.push(async () => inspector.stop());

    const seed = randomSeed();
    const server = await createSignalingServer({ identity: await Identity.generate(), port: 0 });
    cleanups.push(() => server.close({ timeout: 200 }));
    const client = createSignalingClient({
      url: server.url,
      identity: await Identity.fromSeed(seed.slice(), { extractable: true }),
      globalEvents: false,
      inspect: inspector.inspect,
    });
    cleanups.push(() => client.disconnect());
    client.connect();
    await reach(client, ConnectionState.CONNECTED);
    const deadline = Date.now() + 5000;
    const connected = () => received.some((m) => m.includes('"connected"') && m.includes('@xstate.snapshot'));
    while (!connected() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));

    const events = received.map((m) => JSON.parse(m) as { type: string; definition?: string });
    expect(events.some((e) => e.type === '@xstate.actor' && e.definition?.includes('"signaling"'))).toBe(
      true,
    );
    expect(connected()).toBe(true);
    const forms = [
      ...secretForms('seed', seed),
      ...secretForms('secret key', nacl.sign.keyPair.fromSeed(seed).secretKey),
    ];
    const wire = received.join('\n');
    expect(wire).toContain(encodeBase64url(nacl.sign.keyPair.fromSeed(seed).publicKey)); // public: shown
    expect(leaks(wire, forms)).toEqual([]);
  });
});
