import type { Description, PeerConnectionLike } from '../../src/machines/peer.types.js';

interface Operation {
  name: 'setLocalDescription' | 'setRemoteDescription';
  settle(ok: boolean): void;
}

/**
 * Stands in for the browser's `RTCPeerConnection` (only the part the peer chart's services call): every
 * description operation waits until the test settles it, so each step of a path sees the chart exactly
 * where the model is. It records the calls the chart makes. The chart is what is under test.
 */
export class FakePeerConnection implements PeerConnectionLike {
  localDescription: Description | null = null;
  remoteDescription: Description | null = null;
  readonly calls: string[] = [];
  readonly pending: Operation[] = [];
  #offers = 0;

  setLocalDescription(): Promise<void> {
    this.calls.push('setLocalDescription');
    return this.#wait('setLocalDescription', () => {
      // The implicit description: an answer to a remote offer, else an offer.
      const type = this.remoteDescription?.type === 'offer' ? 'answer' : 'offer';
      this.localDescription = { type, sdp: `fake ${type} ${++this.#offers}` };
      if (type === 'answer') this.remoteDescription = null;
    });
  }

  setRemoteDescription(description: Description): Promise<void> {
    this.calls.push(`setRemoteDescription ${description.type}`);
    return this.#wait('setRemoteDescription', () => {
      this.remoteDescription = description;
    });
  }

  addIceCandidate(): Promise<void> {
    this.calls.push('addIceCandidate');
    return Promise.resolve();
  }

  restartIce(): void {
    this.calls.push('restartIce');
  }

  close(): void {
    this.calls.push('close');
  }

  /** Settles the oldest pending operation; false when none is pending. */
  settleNext(ok: boolean): boolean {
    const op = this.pending.shift();
    op?.settle(ok);
    return op !== undefined;
  }

  #wait(name: Operation['name'], apply: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({
        name,
        settle: (ok) => {
          if (!ok) return reject(new Error(`${name} failed`));
          apply();
          resolve();
        },
      });
    });
  }
}
