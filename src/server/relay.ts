import type { SignalOut } from '../protocol/messages.js';
import type { Peer } from './peer.js';
import type { SessionRegistry } from './sessions.js';

/** What {@link relaySignal} answered the sender. */
export type RelayOutcome = 'delivered' | 'peer-offline' | 'too-large';

/**
 * Delivers `signal` from `sender` to every live session of `message.to` as one frame built once, then
 * answers the sender: `ack` when at least one session took it, else `error` `peer-offline` (no session,
 * or each was too slow to take it and has been closed 1013), or `too-large` when rewriting `to` as
 * `from` would push the frame over the limit both sides agreed on.
 */
export function relaySignal(
  sender: Peer,
  message: SignalOut,
  sessions: SessionRegistry,
  maxMessageBytes: number,
): RelayOutcome {
  const targets = sessions.sessionsOf(message.to);
  let outcome: RelayOutcome = 'peer-offline';
  if (targets) {
    const frame = JSON.stringify({
      type: 'signal',
      from: sender.publicKey,
      id: message.id,
      data: message.data,
    });
    if (frame.length > maxMessageBytes / 3 && Buffer.byteLength(frame) > maxMessageBytes)
      outcome = 'too-large';
    else {
      // A copy: a send that overflows closes that session, which removes it from the live set.
      for (const target of [...targets]) if (target.send(frame)) outcome = 'delivered';
    }
  }
  sender.send(
    outcome === 'delivered'
      ? JSON.stringify({ type: 'ack', id: message.id })
      : JSON.stringify({ type: 'error', code: outcome, id: message.id }),
  );
  return outcome;
}
