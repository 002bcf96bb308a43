/**
 * The React example's entry: one client for the page, its status badge and the buttons that drive it.
 * The key is made per page load here; a real app keeps it (see examples/browser: saveIdentity).
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createSignalingClient, Identity } from 'signaling-actor';
import { App } from './App.js';

const url = new URLSearchParams(location.search).get('server') ?? 'ws://127.0.0.1:8787/';
const client = createSignalingClient({ url, identity: await Identity.generate() });

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <App client={client} />
  </StrictMode>,
);
