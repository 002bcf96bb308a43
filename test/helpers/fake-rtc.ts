import type { Description } from '../../src/machines/peer.types.js';

/**
 * A stand-in for the browser's `RTCPeerConnection` in Node, for the adapter's routing tests (the real
 * negotiation is tested in Chromium): descriptions are set at once, the implicit description is an
 * offer or the answer to a remote offer, `createDataChannel` fires `negotiationneeded`, and the test
 * moves `connectionState` itself. Every call is recorded.
 */
export class FakeRTCPeerConnection extends EventTarget {
  static readonly instances: FakeRTCPeerConnection[] = [];
  localDescription: Description | null = null;
  remoteDescription: Description | null = null;
  connectionState: RTCPeerConnectionState = 'new';
  readonly calls: string[] = [];
  readonly candidates: (RTCIceCandidateInit | undefined)[] = [];

  constructor(readonly config?: RTCConfiguration) {
    super();
    FakeRTCPeerConnection.instances.push(this);
  }

  async setLocalDescription(): Promise<void> {
    const type = this.remoteDescription?.type === 'offer' ? 'answer' : 'offer';
    this.calls.push(`setLocalDescription ${type}`);
    this.localDescription = { type, sdp: `v=0 fake ${type}` };
  }

  async setRemoteDescription(description: Description): Promise<void> {
    this.calls.push(`setRemoteDescription ${description.type}`);
    this.remoteDescription = description;
  }

  async addIceCandidate(candidate?: RTCIceCandidateInit): Promise<void> {
    this.calls.push('addIceCandidate');
    this.candidates.push(candidate);
  }

  restartIce(): void {
    this.calls.push('restartIce');
  }

  close(): void {
    this.calls.push('close');
    this.connectionState = 'closed';
  }

  createDataChannel(label: string): { label: string } {
    this.calls.push(`createDataChannel ${label}`);
    queueMicrotask(() => this.dispatchEvent(new Event('negotiationneeded')));
    return { label };
  }

  getConfiguration(): RTCConfiguration {
    return this.config ?? {};
  }

  /** Moves `connectionState` and fires `connectionstatechange`, as the browser would. */
  setConnectionState(state: RTCPeerConnectionState): void {
    this.connectionState = state;
    this.dispatchEvent(new Event('connectionstatechange'));
  }
}
