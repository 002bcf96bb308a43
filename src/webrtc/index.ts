/**
 * signaling-actor/webrtc — WebRTC peer connections negotiated over the signaling client, with perfect
 * negotiation as a statechart. Browser-first: nothing here imports `node:*`.
 * @packageDocumentation
 */
export { type Described, type PeerMachine, peerMachine } from '../machines/peer.machine.js';
export {
  DEFAULT_ANSWER_TIMEOUT,
  DEFAULT_RESTART,
  type Description,
  type IdentityFailure,
  MAX_NEGOTIATION_FAILURES,
  type PeerCloseReason,
  type PeerConnectionLike,
  type PeerContext,
  type PeerEvent,
  type PeerInput,
  type PeerSignalBody,
  PeerState,
  type ResolvedRestart,
  type RestartOptions,
  type SignalCheck,
} from '../machines/peer.types.js';
export {
  HELD_SIGNAL_MAX_AGE,
  MAX_HELD_PEERS,
  MAX_HELD_SIGNALS,
  MAX_RETIRED_SESSIONS,
  MAX_UNDELIVERED,
} from './constants.js';
export {
  createPeerConnection,
  type PeerActor,
  type PeerConnection,
  type PeerConnectionOptions,
  type PeerStateListener,
} from './peer-connection.js';
export { onPeerRequest, type PeerRequestListener } from './registry.js';
export {
  checkPeerSignal,
  encodePeerSignal,
  PEER_SIGNAL_CONTEXT,
  PEER_SIGNAL_VERSION,
  type PeerSignal,
  type PeerSignalHead,
  parsePeerSignal,
  peerSignalTranscript,
  signPeerSignal,
} from './signal.js';
