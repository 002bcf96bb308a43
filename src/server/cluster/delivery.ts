import type { SessionRegistry } from '../sessions.js';
import type { ClusterKeys } from './keys.js';
import type { Leases } from './leases.js';
import { RETRY_PUBLISH_MS } from './options.js';
import type { RedisLink } from './redis.js';

/** On a key's delivery channel: a frame for its sessions (`r`: answer to node `n`), or sessions to close (`x`). */
type DeliveryMessage = { n: string; r?: string; f: string } | { x: string[] };

/** A cross-node delivery waiting for the receiving nodes' word. */
interface Pending {
  resolve(delivered: boolean): void;
  timer: ReturnType<typeof setTimeout>;
  /** How many nodes got the frame (known once the publish is answered). */
  expected: number | undefined;
  /** How many of them answered that none of their sessions took it. */
  refused: number;
}

/**
 * Relay between nodes. A key's frames go to its delivery channel, to which exactly the nodes with a
 * session of the key subscribe (before their sessions' `auth.ok`). The publish says how many nodes
 * got it; each answers on the sender's results channel. Nobody got it: the key's hash decides — no
 * session on a live node is `peer-offline` at once, a registered one is tried again (its node's
 * subscription is on its way back after a failover) until the lease says it is gone.
 */
export class Delivery {
  private readonly pending = new Map<string, Pending>();
  private serial = 0;
  /** Deliveries for keys whose session is registered in Redis but not yet in this node's registry. */
  private readonly held = new Map<string, (() => void)[]>();

  constructor(
    private readonly nodeId: string,
    private readonly leaseMs: number,
    private readonly keys: ClusterKeys,
    private readonly leases: Leases,
    private readonly local: SessionRegistry,
    private readonly link: () => RedisLink | undefined,
    /** Whether this node subscribes to `key`'s delivery channel (it then gets its own frames back). */
    private readonly subscribed: (key: string) => boolean,
    /** Closes this node's session `id` as replaced. */
    private readonly replace: (id: string) => void,
    private readonly prefixLength: number,
  ) {}

  readonly onDeliveryMessage = (message: string, channel: string): void => {
    let value: DeliveryMessage;
    try {
      value = JSON.parse(message) as DeliveryMessage;
    } catch {
      return;
    }
    if ('x' in value) {
      for (const id of value.x) this.replace(id);
      return;
    }
    if (value.n === this.nodeId) return;
    const key = channel.slice(this.prefixLength + 1, -3);
    const deliver = () => {
      let ok = false;
      const targets = this.local.sessionsOf(key);
      if (targets) for (const target of [...targets]) if (target.send(value.f)) ok = true;
      if (value.r) this.publish(this.keys.results(value.n), JSON.stringify({ r: value.r, ok }));
    };
    const held = this.held.get(key);
    if (held && !this.local.sessionsOf(key)) held.push(deliver);
    else deliver();
  };

  readonly onResult = (message: string): void => {
    let value: { r: string; ok: boolean };
    try {
      value = JSON.parse(message) as { r: string; ok: boolean };
    } catch {
      return;
    }
    const pending = this.pending.get(value.r);
    if (!pending) return;
    if (value.ok) this.settle(value.r, true);
    else if (++pending.refused >= (pending.expected ?? Number.POSITIVE_INFINITY)) this.settle(value.r, false);
  };

  /** A session of `key` is registered in Redis and about to join this node's registry: hold its frames. */
  hold(key: string): void {
    if (!this.held.has(key)) this.held.set(key, []);
  }

  /** The session joined the registry (or gave up): hand the held frames over. */
  release(key: string): void {
    const held = this.held.get(key);
    if (!held) return;
    this.held.delete(key);
    for (const deliver of held) deliver();
  }

  /**
   * Hands `frame` to `key`'s sessions on other nodes. With `answer`, resolves whether one took it;
   * without, asks for no answer (delivered here already) and returns `undefined`, as it does with
   * Redis away.
   */
  send(key: string, frame: string, answer: boolean): Promise<boolean> | undefined {
    const link = this.link();
    if (!link?.commands.isReady) return undefined;
    if (!answer) {
      this.publish(this.keys.delivery(key), JSON.stringify({ n: this.nodeId, f: frame }));
      return undefined;
    }
    const request = `${this.nodeId}:${++this.serial}`;
    const message = JSON.stringify({ n: this.nodeId, r: request, f: frame });
    return new Promise((resolve) => {
      // A node that never answers (dead, its lease not yet over) counts as one that did not deliver.
      const timer = setTimeout(() => this.settle(request, false), this.leaseMs);
      timer.unref();
      this.pending.set(request, { resolve, timer, expected: undefined, refused: 0 });
      this.attempt(link, key, request, message);
    });
  }

  private attempt(link: RedisLink, key: string, request: string, message: string): void {
    void (async () => {
      const receivers = await link.commands.sPublish(this.keys.delivery(key), message);
      const pending = this.pending.get(request);
      if (!pending) return;
      const others = receivers - (this.subscribed(key) ? 1 : 0);
      if (others > 0) {
        pending.expected = others;
        if (pending.refused >= others) this.settle(request, false);
        return;
      }
      // Nobody subscribed: a session registered on a live node is on its way (a subscription coming
      // back after a failover), so try again; none is `peer-offline` now.
      const now = Date.now();
      const hash = await link.commands.hGetAll(this.keys.sessions(key));
      const waiting = Object.entries(hash).some(
        ([id, value]) =>
          id !== 'v' &&
          this.leases.isLive(value.slice(0, value.indexOf('|')), now) &&
          !value.startsWith(`${this.nodeId}|`),
      );
      if (!waiting) this.settle(request, false);
      else
        setTimeout(
          () => this.pending.has(request) && this.attempt(link, key, request, message),
          RETRY_PUBLISH_MS,
        ).unref();
    })().catch(() => this.settle(request, false));
  }

  private settle(request: string, delivered: boolean): void {
    const pending = this.pending.get(request);
    if (!pending) return;
    this.pending.delete(request);
    clearTimeout(pending.timer);
    pending.resolve(delivered);
  }

  /** Every delivery still waiting is answered `peer-offline` (the node is closing). */
  settleAll(): void {
    for (const request of [...this.pending.keys()]) this.settle(request, false);
  }

  private publish(channel: string, message: string): void {
    this.link()
      ?.commands.sPublish(channel, message)
      .catch(() => {});
  }
}
