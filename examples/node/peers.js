// Two Node peers exchange a WebRTC-style offer and answer through a local reference server.
// Run from the package root after `npm run build`: `node examples/node/peers.js`
import { ConnectionState, createSignalingClient, Identity } from 'signaling-actor';
import { createSignalingServer } from 'signaling-actor/server';

const server = await createSignalingServer({ identity: await Identity.generate(), port: 0 });
console.log(`server listening on ${server.url}`);

/** A peer: its own key, a client that reconnects by itself, and a promise for its first signal. */
async function peer(name) {
  const identity = await Identity.generate();
  const client = createSignalingClient({ url: server.url, identity });
  client.onStateChange((state) => console.log(`${name}: ${state}`));
  const firstSignal = new Promise((resolve) => {
    const off = client.on('signal', (message) => {
      off();
      resolve(message);
    });
  });
  const connected = new Promise((resolve) => {
    const off = client.onStateChange((state) => {
      if (state === ConnectionState.CONNECTED) {
        off();
        resolve();
      }
    });
  });
  client.connect();
  await connected;
  return { name, identity, client, firstSignal };
}

const alice = await peer('alice');
const bob = await peer('bob');

// `send` resolves once the server acknowledged delivery to every live session of the key.
await alice.client.send({
  type: 'signal',
  to: bob.identity.publicKey,
  id: 'offer-1',
  data: { sdp: 'v=0 offer' },
});
const offer = await bob.firstSignal;
console.log(
  `bob got ${offer.data.sdp} from ${offer.from === alice.identity.publicKey ? 'alice' : 'someone else'}`,
);

await bob.client.send({ type: 'signal', to: offer.from, id: 'answer-1', data: { sdp: 'v=0 answer' } });
const answer = await alice.firstSignal;
console.log(
  `alice got ${answer.data.sdp} from ${answer.from === bob.identity.publicKey ? 'bob' : 'someone else'}`,
);

await Promise.all([alice.client.disconnect(), bob.client.disconnect()]);
await server.close();
console.log('done');
