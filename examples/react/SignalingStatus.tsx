/**
 * A status badge for a signaling connection. `useSelector` subscribes to the client's XState actor and
 * re-renders only when the selected value changes, so a heartbeat (which changes the snapshot but not
 * the connection state) does not re-render the component.
 *
 *   const client = createSignalingClient({ url, identity });
 *   <SignalingStatus client={client} />
 */
import { useSelector } from '@xstate/react';
import { ConnectionState, type SignalingClient } from 'signaling-actor';

type Snapshot = ReturnType<SignalingClient['actor']['getSnapshot']>;

const STATES = Object.values(ConnectionState);

/** The application-facing state is a tag on the chart's (nested) states. */
const selectState = (snapshot: Snapshot): ConnectionState =>
  STATES.find((state) => snapshot.hasTag(state)) ?? ConnectionState.DISCONNECTED;

/** Why it is reconnecting or failed, if it is. */
const selectReason = (snapshot: Snapshot) => snapshot.context.reason;

export function SignalingStatus({ client }: { client: SignalingClient }) {
  const state = useSelector(client.actor, selectState);
  const reason = useSelector(client.actor, selectReason);
  const detail =
    state === ConnectionState.RECONNECTING || state === ConnectionState.FAILED ? reason : undefined;
  return (
    <p className={`signaling-status signaling-status--${state}`}>
      <output data-testid="signaling-state">{state}</output>
      {detail ? <small data-testid="signaling-reason"> ({detail})</small> : null}
    </p>
  );
}
