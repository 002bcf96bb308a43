import { describe, expect, it } from 'vitest';
import { SignalingError } from '../src/errors.js';
import type { ParsedMessage } from '../src/protocol/parse.js';
import { Dispatcher } from '../src/services/dispatcher.js';
import type { Channel } from '../src/services/link.js';

/** The dispatcher alone: routing, de-duplication, acks, resends — with a recording channel. */

const FROM = 'KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio';
const TO = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
const signal = (id: string) => ({ type: 'signal', from: FROM, id, data: null }) as ParsedMessage<'server'>;

function channel(maxMessageBytes = 65_536) {
  const sent: string[] = [];
  let open = true;
  const c: Channel & { sent: string[]; close(): void } = {
    maxMessageBytes,
    sent,
    send(text) {
      if (!open) throw new SignalingError('closed', 'closed');
      sent.push(text);
    },
    close() {
      open = false;
    },
  };
  return c;
}

describe('Dispatcher', () => {
  it('drops a repeated (from, id) within the last 1024 and forgets older ones', () => {
    const d = new Dispatcher();
    const got: string[] = [];
    d.subscribeType('signal', (m) => got.push((m as { id: string }).id));
    for (let i = 0; i <= 1024; i++) d.deliver(signal(String(i)));
    expect(got).toHaveLength(1025);
    d.deliver(signal('1024')); // within the window: dropped
    d.deliver(signal('1')); // 1025 ids later, 0 fell out but 1 is still remembered
    expect(got).toHaveLength(1025);
    d.deliver(signal('0')); // fell out of the window: delivered again
    expect(got.at(-1)).toBe('0');
    // The same id from another sender is another message.
    d.deliver({ type: 'signal', from: TO, id: '5', data: null } as ParsedMessage<'server'>);
    expect(got.at(-1)).toBe('5');
  });

  it('routes every message to onMessage and by type; unsubscribe is exact and idempotent', () => {
    const d = new Dispatcher();
    const all: string[] = [];
    const chats: string[] = [];
    const listener = (m: ParsedMessage<'server'>) => chats.push(m.type);
    const offAll = d.subscribe((m) => all.push(m.type));
    const off1 = d.subscribeType('chat', listener);
    d.subscribeType('chat', listener); // the same function twice: called twice
    d.deliver({ type: 'chat' });
    d.deliver({ type: 'other' });
    expect(all).toEqual(['chat', 'other']);
    expect(chats).toEqual(['chat', 'chat']);
    off1();
    off1();
    d.deliver({ type: 'chat' });
    expect(chats).toHaveLength(3);
    offAll();
    d.deliver({ type: 'chat' });
    expect(all).toHaveLength(3);
  });

  it('a throwing subscriber does not stop the others', async () => {
    const d = new Dispatcher();
    const got: string[] = [];
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onError);
    try {
      d.subscribe(() => {
        throw new Error('boom');
      });
      d.subscribe((m) => got.push(m.type));
      d.deliver({ type: 'x' });
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(got).toEqual(['x']);
    expect(String(errors[0])).toMatch(/boom/);
  });

  it('a signal resolves on its ack, rejects with peer-offline or send-failed on an error with its id', async () => {
    const d = new Dispatcher();
    const c = channel();
    d.attach(c);
    const ok = d.send({ type: 'signal', to: TO, id: 'a', data: 1 });
    const offline = d.send({ type: 'signal', to: TO, id: 'b', data: 1 });
    const other = d.send({ type: 'signal', to: TO, id: 'c', data: 1 });
    expect(c.sent).toHaveLength(3);
    d.deliver({ type: 'ack', id: 'a' } as ParsedMessage<'server'>);
    d.deliver({ type: 'error', code: 'peer-offline', id: 'b' } as ParsedMessage<'server'>);
    d.deliver({ type: 'error', code: 'slow-down', id: 'c' } as ParsedMessage<'server'>);
    await expect(ok).resolves.toBeUndefined();
    await expect(offline).rejects.toMatchObject({ code: 'peer-offline' });
    await expect(other).rejects.toMatchObject({ code: 'send-failed' });
    // A second signal with an id still awaiting its ack is refused, not silently merged.
    const inFlight = d.send({ type: 'signal', to: TO, id: 'd', data: 1 }).catch((e) => e);
    await expect(d.send({ type: 'signal', to: TO, id: 'd', data: 2 })).rejects.toMatchObject({
      code: 'send-failed',
    });
    d.rejectAll(new SignalingError('closed', 'test over'));
    expect(await inFlight).toMatchObject({ code: 'closed' });
  });

  it('resends unacknowledged signals before the queue, in order, on the next channel', async () => {
    const d = new Dispatcher();
    const first = channel();
    d.attach(first);
    const s1 = d.send({ type: 'signal', to: TO, id: '1', data: null });
    first.close();
    d.detach(first);
    const q = d.send({ type: 'chat', n: 2 });
    const s3 = d.send({ type: 'signal', to: TO, id: '3', data: null });
    const second = channel();
    d.attach(second);
    expect(second.sent.map((t) => JSON.parse(t).id ?? JSON.parse(t).n)).toEqual(['1', 2, '3']);
    await expect(q).resolves.toBeUndefined();
    d.deliver({ type: 'ack', id: '1' } as ParsedMessage<'server'>);
    d.deliver({ type: 'ack', id: '3' } as ParsedMessage<'server'>);
    await expect(Promise.all([s1, s3])).resolves.toEqual([undefined, undefined]);
  });

  it('a write that finds the socket closing queues instead of losing the message', async () => {
    const d = new Dispatcher();
    const c = channel();
    d.attach(c);
    c.close(); // closing, not yet detached
    const p = d.send({ type: 'chat' });
    expect(c.sent).toEqual([]); // not written to the closing socket: queued
    const next = channel();
    d.attach(next);
    await expect(p).resolves.toBeUndefined();
    expect(next.sent).toEqual(['{"type":"chat"}']);
  });
  it('remembers presence keys once written and subscribes a new session to them before the queue', async () => {
    const d = new Dispatcher();
    // Sent before any session: queued, written once on the first attach (no extra resubscribe).
    const early = d.send({ type: 'presence.subscribe', keys: [FROM] });
    const first = channel();
    d.attach(first);
    await early;
    expect(first.sent.map((t) => JSON.parse(t))).toEqual([{ type: 'presence.subscribe', keys: [FROM] }]);
    const keys = [TO];
    await d.send({ type: 'presence.subscribe', keys });
    keys.push(FROM); // the caller's array changing later changes nothing
    await d.send({ type: 'presence.unsubscribe', keys: [FROM] });
    first.close();
    d.detach(first);
    const queued = d.send({ type: 'chat' });
    const second = channel();
    d.attach(second);
    await queued;
    expect(second.sent.map((t) => JSON.parse(t))).toEqual([
      { type: 'presence.subscribe', keys: [TO] },
      { type: 'chat' },
    ]);
    // Unsubscribed from everything: a later session gets no subscribe at all.
    await d.send({ type: 'presence.unsubscribe', keys: [TO] });
    second.close();
    d.detach(second);
    const third = channel();
    d.attach(third);
    expect(third.sent).toEqual([]);
  });

  it('a subscribe whose write failed is not remembered', async () => {
    const d = new Dispatcher();
    const c = channel(10);
    c.send = () => {
      throw new SignalingError('too-large', 'over the limit'); // as the socket's channel refuses it
    };
    d.attach(c);
    await expect(d.send({ type: 'presence.subscribe', keys: [FROM] })).rejects.toMatchObject({
      code: 'too-large',
    });
    c.close();
    d.detach(c);
    const next = channel();
    d.attach(next);
    expect(next.sent).toEqual([]);
  });

  it('whenIdle waits for the sockets alive when asked, not for ones started later', async () => {
    const d = new Dispatcher();
    await d.whenIdle(); // none alive: at once
    const a = d.socketStarted();
    const b = d.socketStarted();
    let idle = false;
    void d.whenIdle().then(() => {
      idle = true;
    });
    const c = d.socketStarted(); // opened after the call: not waited for
    d.socketEnded(c);
    d.socketEnded(a);
    await Promise.resolve();
    expect(idle).toBe(false);
    d.socketEnded(b);
    await Promise.resolve();
    expect(idle).toBe(true);
    // And again once everything had closed.
    const dd = d.socketStarted();
    let again = false;
    void d.whenIdle().then(() => {
      again = true;
    });
    await Promise.resolve();
    expect(again).toBe(false);
    d.socketEnded(dd);
    await Promise.resolve();
    expect(again).toBe(true);
  });
});
