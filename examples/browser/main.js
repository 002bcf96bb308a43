// The client in a plain page: a key kept in IndexedDB, the connection state on screen, signals both ways.
import { createSignalingClient, Identity, loadIdentity, saveIdentity } from 'signaling-actor';

const $ = (id) => document.getElementById(id);
const log = (text) => $('log').append(Object.assign(document.createElement('li'), { textContent: text }));

const url = new URLSearchParams(location.search).get('server') ?? 'ws://127.0.0.1:8787/';

// One identity per browser profile: a non-extractable WebCrypto key, created on the first visit.
let identity = await loadIdentity({ name: 'example' });
if (!identity) {
  identity = await Identity.generate();
  await saveIdentity(identity, { name: 'example' });
}
$('key').textContent = identity.publicKey;

const client = createSignalingClient({ url, identity });
client.onStateChange((state, _previous, { reason, retryIn }) => {
  $('state').textContent = state;
  const why = reason && state !== 'connected' ? ` (${reason})` : '';
  log(`${state}${why}${retryIn === undefined ? '' : `, next try in ${Math.round(retryIn)} ms`}`);
});
client.on('signal', (message) => log(`signal from ${message.from}: ${JSON.stringify(message.data)}`));

$('send').addEventListener('submit', async (event) => {
  event.preventDefault();
  const to = $('to').value.trim();
  try {
    // Resolves when the server acknowledged delivery; queued while reconnecting.
    await client.send({ type: 'signal', to, id: crypto.randomUUID(), data: { text: $('text').value } });
    log(`delivered to ${to}`);
  } catch (error) {
    log(`not delivered: ${error.code ?? error}`);
  }
});

client.connect();
