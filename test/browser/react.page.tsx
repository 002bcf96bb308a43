/**
 * Runs in Chromium: renders the React example with a real client. The server URL comes from
 * `?server=`; every text the status showed is recorded, so the test can see it change.
 */
import { createRoot } from 'react-dom/client';
import { createSignalingClient, Identity } from 'signaling-actor';
import { SignalingStatus } from '../../examples/react/SignalingStatus.js';

const url = new URLSearchParams(location.search).get('server') ?? '';
const seen: string[] = [];
const root = document.createElement('div');
document.body.append(root);
new MutationObserver(() => {
  const text = root.querySelector('[data-testid="signaling-state"]')?.textContent ?? '';
  if (text !== seen.at(-1)) seen.push(text);
}).observe(root, { subtree: true, childList: true, characterData: true });

const identity = await Identity.generate();
const client = createSignalingClient({ url, identity, backoff: { initialDelay: 60_000, jitter: 'none' } });
createRoot(root).render(<SignalingStatus client={client} />);

const w = window as unknown as Record<string, unknown>;
w.seen = seen;
w.connect = () => client.connect();
w.ready = true;
