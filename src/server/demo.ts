/**
 * `npm start`: the whole product in one run. A reference server on loopback and two peers, A and B,
 * each a `SignalingClient` with the server's key pinned. They see each other through presence, trade
 * `signal` messages (acknowledged), lose the server when it restarts on the same port, come back by
 * themselves with jittered backoff, and trade messages again. Every state change is printed.
 */
import { createSignalingClient, type SignalingClient } from '../client.js';
import { Identity } from '../identity/identity.js';
import { createConsoleInspector } from '../inspect/console-inspector.js';
import { ConnectionState } from '../machines/signaling.types.js';
import type { SignalIn } from '../protocol/messages.js';
import { createSignalingServer, type SignalingServer } from './server.js';

/** Options of the `npm start` demo. */
export interface DemoOptions {
  /** Where lines go. Default stdout. */
  write?: (line: string) => void;
  /** Also print every transition of both statecharts (the console inspector). */
  inspect?: boolean;
  /** Give up (and fail) after this many ms. Default 20 000. */
  deadline?: number;
}

/** Runs the demo; resolves when it finished cleanly, rejects on any failure. */
export async function runDemo(options: DemoOptions = {}): Promise<void> {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const started = Date.now();
  const stamp = () => `+${((Date.now() - started) / 1000).toFixed(3).padStart(6)}s`;
  const say = (who: string, text: string) => write(`${stamp()}  ${who.padEnd(6)} ${text}`);

  const serverIdentity = await Identity.generate();
  let server: SignalingServer = await createSignalingServer({ identity: serverIdentity, port: 0 });
  const { port, url } = server;
  write('signaling-actor demo: a reference server and two peers on loopback');
  write(`  server ${url}  key ${serverIdentity.publicKey}`);
  write('');

  const peers = new Map<string, { client: SignalingClient; identity: Identity }>();
  for (const name of ['A', 'B']) {
    const identity = await Identity.generate();
    const client = createSignalingClient({
      url,
      identity,
      serverKey: serverIdentity.publicKey,
      backoff: { initialDelay: 300, maxDelay: 3000 },
      // A ping a second (the server announces 25 s), so the demo shows a measured round trip.
      heartbeat: { interval: 1000 },
      ...(options.inspect ? { inspect: createConsoleInspector({ label: `${name} chart`, write }) } : {}),
    });
    client.onStateChange((state, previous, { reason, retryIn, closeCode, error }) => {
      // Why and when, only where the peer is waiting or has given up.
      const waiting = state === ConnectionState.RECONNECTING || state === ConnectionState.FAILED;
      const why = waiting
        ? [
            closeCode === undefined ? reason : `closed ${closeCode}`,
            error ? `${error.code}: ${error.message}` : '',
            retryIn === undefined ? '' : `retry in ${Math.round(retryIn)} ms`,
          ]
            .filter(Boolean)
            .join(', ')
        : '';
      say(name, `${previous} → ${state}${why ? `  (${why})` : ''}`);
    });
    peers.set(name, { client, identity });
  }
  const a = peers.get('A') as { client: SignalingClient; identity: Identity };
  const b = peers.get('B') as { client: SignalingClient; identity: Identity };
  const nameOf = (key: string) =>
    key === a.identity.publicKey ? 'A' : key === b.identity.publicKey ? 'B' : key;

  const online = new Map<string, boolean>();
  const received: string[] = [];
  for (const [name, peer] of peers) {
    const other = name === 'A' ? b : a;
    // Once: the client remembers its subscriptions and renews them on every new session by itself.
    void peer.client.send({ type: 'presence.subscribe', keys: [other.identity.publicKey] }).catch(() => {});
    peer.client.on('presence', (message) => {
      online.set(`${name}:${nameOf(message.key)}`, message.online);
      say(name, `sees ${nameOf(message.key)} ${message.online ? 'online' : 'offline'}`);
    });
    peer.client.on('signal', (message: SignalIn) => {
      received.push(`${name}:${message.id}`);
      say(name, `got ${JSON.stringify(message.data)} from ${nameOf(message.from)} (id ${message.id})`);
    });
  }

  const deadline = options.deadline ?? 20_000;
  const until = async (what: string, check: () => boolean) => {
    const limit = Date.now() + deadline;
    while (!check()) {
      if (Date.now() > limit) throw new Error(`demo: gave up waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const exchange = async (round: number) => {
    const offer = { kind: 'offer', sdp: `v=0 (round ${round})` };
    await a.client.send({ type: 'signal', to: b.identity.publicKey, id: `offer-${round}`, data: offer });
    say('A', `signal offer-${round} to B acknowledged by the server`);
    const answer = { kind: 'answer', sdp: `v=0 (round ${round})` };
    await b.client.send({ type: 'signal', to: a.identity.publicKey, id: `answer-${round}`, data: answer });
    say('B', `signal answer-${round} to A acknowledged by the server`);
    await until(
      `round ${round} delivered`,
      () => received.includes(`B:offer-${round}`) && received.includes(`A:answer-${round}`),
    );
  };

  try {
    a.client.connect();
    b.client.connect();
    await until(
      'both peers connected',
      () => a.client.state === 'connected' && b.client.state === 'connected',
    );
    await until('presence', () => online.get('A:B') === true && online.get('B:A') === true);
    await exchange(1);

    write('');
    say('server', `stops (1001 to every client), restarts on port ${port} in 1 s`);
    await server.close();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    server = await createSignalingServer({ identity: serverIdentity, port });
    say('server', `is back on ${server.url}`);
    // What each peer hears from the new server, not what it heard before the restart.
    online.clear();
    await until(
      'both peers reconnected',
      () => a.client.state === 'connected' && b.client.state === 'connected',
    );
    await until('presence again', () => online.get('A:B') === true && online.get('B:A') === true);
    await exchange(2);

    await until('a heartbeat answered', () => a.client.rtt !== undefined);
    write('');
    say(
      'A',
      `rtt ${a.client.rtt} ms, server key pinned and proven: ${a.client.serverKey === serverIdentity.publicKey}`,
    );
    await Promise.all([a.client.disconnect(), b.client.disconnect()]);
    write('');
    write(
      'done: both peers reconnected by themselves after the restart; 4 signals delivered and acknowledged.',
    );
  } finally {
    await Promise.all([a.client.disconnect(), b.client.disconnect()]);
    await server.close();
  }
}
