// A chat between two tabs over a WebRTC data channel. The signaling client introduces the peers; the
// peer chart (perfect negotiation) does the offer/answer/ICE exchange; messages then go peer to peer.
import { createSignalingClient, Identity } from 'signaling-actor';
import { createPeerConnection, onPeerRequest } from 'signaling-actor/webrtc';

const $ = (id) => document.getElementById(id);
const log = (text) => $('log').append(Object.assign(document.createElement('li'), { textContent: text }));
const url = new URLSearchParams(location.search).get('server') ?? 'ws://127.0.0.1:8787/';

// A fresh key per tab, so two tabs of one browser are two peers.
const identity = await Identity.generate();
$('key').textContent = identity.publicKey;

const client = createSignalingClient({ url, identity });
client.onStateChange((state) => {
  $('state').textContent = state;
});

let peer;
let channel;

function attachChannel(ch) {
  channel = ch;
  ch.addEventListener('open', () => {
    $('say').querySelector('button[type=submit]').disabled = false;
    log('channel open');
  });
  ch.addEventListener('message', (e) => log(`them: ${e.data}`));
  if (ch.readyState === 'open') ch.dispatchEvent(new Event('open'));
}

function call(key, { initiate }) {
  peer?.close();
  peer = createPeerConnection(client, { peer: key, identity });
  window.peer = peer; // for the console (and the example's test)
  $('peer').value = key;
  $('peer-state').textContent = peer.state;
  $('hang-up').disabled = false;
  peer.onStateChange((state) => {
    $('peer-state').textContent = state;
    log(`peer ${state}${state === 'closed' ? ` (${peer.closeReason})` : ''}`);
  });
  peer.onDataChannel(attachChannel);
  // The caller opens the channel; its creation starts the negotiation.
  if (initiate) attachChannel(peer.createDataChannel('chat'));
}

// Someone called us: take the call (what they sent so far was held and is replayed now).
onPeerRequest(client, (key) => {
  log(`call from ${key}`);
  call(key, { initiate: false });
});

$('call').addEventListener('submit', (event) => {
  event.preventDefault();
  call($('peer').value.trim(), { initiate: true });
});

$('say').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('text').value;
  channel.send(text);
  log(`me: ${text}`);
  $('text').value = '';
});

$('hang-up').addEventListener('click', () => peer?.close());

client.connect();
