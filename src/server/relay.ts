import type { SignalOut } from '../protocol/messages.js';
import type { Peer } from './peer.js';
import type { Sessions } from './sessions.js';

/** What {@link relaySignal} answered the sender. */
export type RelayOutcome = 'delivered' | 'peer-offline' | 'too-large';

/**
 * Delivers `signal` from `sender` to every live session of `message.to` as one frame built once, then
 * answers the sender: `ack` when at least one session took it, else `error` `peer-offline` (no session,
 * or each was too slow to take it and has been closed 1013), or `too-large` when rewriting `to` as
 * `from` would push the frame over the limit both sides agreed on. In a cluster, sessions on other
 * nodes get it too, and when none here took it the answer waits for theirs (a promise then).
 */
export function relaySignal(
  sender: Peer,
  message: SignalOut,
  sessions: Sessions,
  maxMessageBytes: number,
): RelayOutcome | Promise<RelayOutcome> {
  const targets = sessions.sessionsOf(message.to);
  const elsewhere = sessions.deliverElsewhere;
  let outcome: RelayOutcome = 'peer-offline';
  if (targets || elsewhere) {
    const frame = JSON.stringify({
      type: 'signal',
      from: sender.publicKey,
      id: message.id,
      data: message.data,
    });
    if (frame.length > maxMessageBytes / 3 && Buffer.byteLength(frame) > maxMessageBytes) {
      outcome = 'too-large';
    } else {
      if (sendToEach(targets, frame)) outcome = 'delivered';
      // Other nodes' sessions of the key get it too; the ack waits for them only when none here took it.
      const remote = elsewhere?.call(sessions, message.to, frame, outcome !== 'delivered');
      if (remote) {
        return remote.then((delivered) =>
          answer(sender, message.id, delivered ? 'delivered' : 'peer-offline'),
        );
      }
    }
  }
  return answer(sender, message.id, outcome);
}

function answer(sender: Peer, id: string, outcome: RelayOutcome): RelayOutcome {
  sender.send(
    outcome === 'delivered'
      ? JSON.stringify({ type: 'ack', id })
      : JSON.stringify({ type: 'error', code: outcome, id }),
  );
  return outcome;
}

/** Sends `frame` to each of `targets`; true when one took it. */
export function sendToEach(targets: readonly Peer[] | undefined, frame: string): boolean {
  let delivered = false;
  // A copy: a send that overflows closes that session, which removes it from the live set.
  if (targets) for (const target of [...targets]) if (target.send(frame)) delivered = true;
  return delivered;
}
