/**
 * signaling-actor — the browser-safe entry: nothing reachable from here imports `node:*`.
 * @packageDocumentation
 */
export type { Inbound, SignalingActor } from './client.js';
export {
  createSignalingClient,
  type EventTargetLike,
  type InboundMessages,
  type OutboundMessage,
  type SendOptions,
  SignalingClient,
  type SignalingClientOptions,
  type StateChangeDetails,
  type StateChangeListener,
} from './client.js';
export { type ErrorCode, isSignalingError, SignalingError } from './errors.js';
export * from './identity/index.js';
export { type ConsoleInspectorOptions, createConsoleInspector } from './inspect/console-inspector.js';
export type { ResolvedBackoff } from './machines/backoff.js';
export {
  type BackoffOptions,
  type BackoffStep,
  backoffCeiling,
  backoffDelay,
  DEFAULT_BACKOFF,
  type Jitter,
  resolveBackoff,
} from './machines/backoff.js';
export { type CloseAction, closeAction } from './machines/close-codes.js';
export { type SignalingMachine, signalingMachine } from './machines/signaling.machine.js';
export type {
  ConnectionError,
  ControlEvent,
  InternalEvent,
  ServiceDoneEvent,
  SignalingConfig,
  SignerInput,
  SocketInput,
  VerifierInput,
} from './machines/signaling.types.js';
export {
  ConnectionState,
  type FailureReason,
  type ReconnectReason,
  type SignalingContext,
  type SignalingEvent,
  type SignalingInput,
  type SocketCommand,
  type SocketEvent,
} from './machines/signaling.types.js';
export * from './protocol/index.js';
export type { TimerClock } from './services/dispatcher.js';
export { DEFAULT_QUEUE, type QueueOptions } from './services/dispatcher.js';
export type { Channel, Link } from './services/link.js';
export {
  type AuthResponder,
  authResponder,
  createSignerService,
  type SignerServiceOptions,
} from './services/signer.js';
export {
  createSocketService,
  type SocketCallback,
  type SocketServiceOptions,
  socketCallback,
  type WebSocketConstructor,
  type WebSocketLike,
} from './services/socket.js';
export * from './stun/index.js';
