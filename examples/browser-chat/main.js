// A chat between two tabs over a WebRTC data channel. The signaling client introduces the peers; the
// peer chart (perfect negotiation) does the offer/answer/ICE exchange; messages then go peer to peer.
import { createSignalingClient, Identity } from 'signaling-actor';
import { createPeerConnection, onPeerRequest } from 'signaling-actor/webrtc';

const $ = (id) => document.getElementById(id);
const log = (text) => $('log').append(Object.assign(document.createElement('li'), { textContent: text }));
const params = new URLSearchParams(location.search);
const url = params.get('server') ?? 'ws://127.0.0.1:8787/';
// ?relay=1: every packet goes through the TURN server the signaling server hands out (start it with
// `serve --turn-url … --turn-secret-env …`), as it must when no direct path exists between the peers.
const relay = params.get('relay') === '1';

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
  // A channel announced by the other side may already be open, its `open` event still to come: once.
  let opened = false;
  const onOpen = () => {
    if (opened) return;
    opened = true;
    $('say').querySelector('button[type=submit]').disabled = false;
    log('channel open');
  };
  ch.addEventListener('open', onOpen);
  ch.addEventListener('message', (e) => log(`them: ${e.data}`));
  if (ch.readyState === 'open') onOpen();
}

function call(key, { initiate }) {
  peer?.close();
  if (relay && !client.iceServers?.length) log('relay mode, but the server handed out no TURN server');
  const rtcConfig = relay ? { iceServers: client.iceServers ?? [], iceTransportPolicy: 'relay' } : undefined;
  peer = createPeerConnection(client, { peer: key, identity, ...(rtcConfig ? { rtcConfig } : {}) });
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

if (relay) log('relay mode: TURN only');
client.connect();
