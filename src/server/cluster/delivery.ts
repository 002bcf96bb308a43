import { sendToEach } from '../relay.js';
import type { SessionRegistry } from '../sessions.js';
import type { ClusterKeys } from './keys.js';
import type { Leases } from './leases.js';
import { RETRY_PUBLISH_MS } from './options.js';
import type { RedisLink } from './redis.js';
import { sessionNodes } from './scripts.js';

/**
 * On a key's delivery channel, a frame for the key's sessions travels as `NODE|REQUEST|FRAME` (the
 * sender's node, the request to answer — empty for none — and the frame as the sessions get it):
 * no JSON around JSON, so neither side escapes or unescapes the frame. Ids hold no `|`. Anything
 * starting with `{` is a {@link MembershipNote}. Answers travel as `REQUEST|1` (delivered) or `REQUEST|0`.
 */
function frameMessage(node: string, request: string, frame: string): string {
  return `${node}|${request}|${frame}`;
}

/**
 * A change of a key's sessions, from the script that made it, with the key's version: session `j`
 * joined on node `n`, `l` left, or the limit replaced `x` (to be closed by their nodes).
 */
interface MembershipNote {
  v: string;
  j?: string;
  n?: string;
  l?: string;
  x?: [string, string][];
}

/**
 * For a key this node has sessions of: the other nodes' sessions of it as of version `version`, so a
 * frame delivered here goes to Redis only when another node has the key too. `version` −1: the
 * registration's answer is on its way, and the notes that come first wait in `early`.
 */
interface Members {
  version: number;
  /** The other nodes' session ids; `undefined` when none (most keys), to keep a session's cost small. */
  others: string[] | undefined;
  early: MembershipNote[] | undefined;
}

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
  /** The keys this node has sessions of → the other nodes' sessions of each. */
  private readonly members = new Map<string, Members>();

  constructor(
    private readonly nodeId: string,
    private readonly leaseMs: number,
    private readonly keys: ClusterKeys,
    private readonly leases: Leases,
    private readonly local: SessionRegistry,
    private readonly link: () => RedisLink | undefined,
    /** Closes this node's session `id` as replaced. */
    private readonly replace: (id: string) => void,
  ) {}

  readonly onDeliveryMessage = (message: string, channel: string): void => {
    const key = this.keys.keyOfChannel(channel);
    if (message.startsWith('{')) {
      this.onNote(key, message);
      return;
    }
    const first = message.indexOf('|');
    const second = message.indexOf('|', first + 1);
    if (first < 0 || second < 0) return;
    const node = message.slice(0, first);
    const request = message.slice(first + 1, second);
    if (node === this.nodeId) {
      // This node's own frame came back: it was counted among the receivers, and delivers nothing.
      if (request) this.refused(request);
      return;
    }
    const frame = message.slice(second + 1);
    const held = this.held.get(key);
    if (held && !this.local.sessionsOf(key)) held.push(() => this.deliverHere(key, node, request, frame));
    else this.deliverHere(key, node, request, frame);
  };

  /** Sends another node's frame to this node's sessions of `key`, and answers that node's request. */
  private deliverHere(key: string, node: string, request: string, frame: string): void {
    const delivered = sendToEach(this.local.sessionsOf(key), frame);
    if (request) this.publish(this.keys.results(node), `${request}|${delivered ? 1 : 0}`);
  }

  readonly onResult = (message: string): void => {
    const bar = message.lastIndexOf('|');
    const request = message.slice(0, bar);
    if (message.endsWith('|1')) this.settle(request, true);
    else this.refused(request);
  };

  private onNote(key: string, message: string): void {
    let note: MembershipNote;
    try {
      note = JSON.parse(message) as MembershipNote;
    } catch {
      return;
    }
    for (const [id, node] of note.x ?? []) if (node === this.nodeId) this.replace(id);
    const members = this.members.get(key);
    if (!members) return;
    if (members.version >= 0) this.apply(members, note);
    else if (members.early) members.early.push(note);
    else members.early = [note];
  }

  private refused(request: string): void {
    const pending = this.pending.get(request);
    if (pending && ++pending.refused >= (pending.expected ?? Number.POSITIVE_INFINITY)) {
      this.settle(request, false);
    }
  }

  /** This node's first session of `key` is being registered: follow the key's other sessions. */
  track(key: string): void {
    if (!this.members.has(key)) this.members.set(key, { version: -1, others: undefined, early: undefined });
  }

  /** The key's sessions as the registration answered them, at `version`; notes older than that are dropped. */
  snapshot(key: string, version: number, sessions: readonly (readonly [string, string])[]): void {
    const members = this.members.get(key);
    // A note newer than this answer may have come first (on the other connection): keep it.
    if (!members || (members.version >= 0 && version <= members.version)) return;
    const others = sessions.filter(([, node]) => node !== this.nodeId).map(([id]) => id);
    members.others = others.length > 0 ? others : undefined;
    members.version = version;
    for (const note of members.early ?? []) this.apply(members, note);
    members.early = undefined;
  }

  /** This node's last session of `key` left. */
  untrack(key: string): void {
    this.members.delete(key);
  }

  private apply(members: Members, note: MembershipNote): void {
    const version = Number(note.v);
    if (version <= members.version) return;
    members.version = version;
    if (note.j !== undefined && note.n !== this.nodeId && !members.others?.includes(note.j)) {
      members.others = [...(members.others ?? []), note.j];
    }
    const left = note.l === undefined ? note.x?.map(([id]) => id) : [note.l];
    if (left && members.others) {
      const others = members.others.filter((id) => !left.includes(id));
      members.others = others.length > 0 ? others : undefined;
    }
  }

  /** Whether another node may have a session of `key` (yes while this node's registration is on its way). */
  private elsewhere(key: string): boolean {
    const members = this.members.get(key);
    return members === undefined || members.version < 0 || members.others !== undefined;
  }

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
      if (this.elsewhere(key)) this.publish(this.keys.delivery(key), frameMessage(this.nodeId, '', frame));
      return undefined;
    }
    const request = `${this.nodeId}:${++this.serial}`;
    const message = frameMessage(this.nodeId, request, frame);
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
      if (receivers > 0) {
        pending.expected = receivers;
        if (pending.refused >= receivers) this.settle(request, false);
        return;
      }
      // Nobody subscribed: a session registered on a live node is on its way (a subscription coming
      // back after a failover), so try again; none is `peer-offline` now.
      const hash = await link.commands.hGetAll(this.keys.sessions(key));
      const nodes = sessionNodes(hash, this.nodeId);
      const waiting = nodes.length > 0 && (await this.leases.anyAlive(link.commands, nodes));
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
