/** The page: who we are, the connection's status, and buttons to connect and disconnect. */
import { useSelector } from '@xstate/react';
import type { SignalingClient } from 'signaling-actor';
import { SignalingStatus } from './SignalingStatus.js';

export function App({ client }: { client: SignalingClient }) {
  // The round trip of the last heartbeat: a re-render when it changes, none on other snapshot changes.
  const rtt = useSelector(client.actor, (snapshot) => snapshot.context.rtt);
  return (
    <main>
      <h1>signaling-actor + React</h1>
      <SignalingStatus client={client} />
      <p>
        <button type="button" data-testid="connect" onClick={() => client.connect()}>
          Connect
        </button>{' '}
        <button type="button" data-testid="disconnect" onClick={() => void client.disconnect()}>
          Disconnect
        </button>
      </p>
      <p data-testid="rtt">{rtt === undefined ? 'no heartbeat answered yet' : `rtt ${rtt} ms`}</p>
    </main>
  );
}
