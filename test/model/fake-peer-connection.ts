import type { Description, PeerConnectionLike } from '../../src/machines/peer.types.js';

interface Operation {
  name: 'setLocalDescription' | 'setRemoteDescription';
  settle(ok: boolean): void;
}

/** What the fake implements of the W3C shortcuts; a browser has both, `@roamhq/wrtc` neither. */
export interface FakeFeatures {
  /** `setLocalDescription()` without a description (else it throws a `TypeError`). */
  implicitDescription: boolean;
  /** `setRemoteDescription(offer)` in `have-local-offer` rolls ours back (else `InvalidStateError`). */
  implicitRollback: boolean;
}

const BROWSER: FakeFeatures = { implicitDescription: true, implicitRollback: true };

const stateError = (message: string) => Object.assign(new Error(message), { name: 'InvalidStateError' });

/**
 * Stands in for the browser's `RTCPeerConnection` (only the part the peer chart's services call): every
 * description operation waits until the test settles it, so each step of a path sees the chart exactly
 * where the model is; a failed one changes nothing, as in a browser. It keeps the W3C signaling state
 * and records the calls the chart makes. The chart is what is under test.
 */
export class FakePeerConnection implements PeerConnectionLike {
  localDescription: Description | null = null;
  remoteDescription: Description | null = null;
  signalingState: RTCSignalingState = 'stable';
  readonly calls: string[] = [];
  readonly pending: Operation[] = [];
  readonly features: FakeFeatures;
  #offers = 0;

  constructor(features: FakeFeatures = BROWSER) {
    this.features = features;
  }

  setLocalDescription(description?: Description): Promise<void> {
    this.calls.push(`setLocalDescription${description ? ` ${description.type}` : ''}`);
    if (!description && !this.features.implicitDescription) {
      return Promise.reject(new TypeError('Expected an object'));
    }
    return this.#wait('setLocalDescription', () => {
      const type = description?.type ?? (this.signalingState === 'have-remote-offer' ? 'answer' : 'offer');
      if (type === 'rollback') {
        if (this.signalingState === 'stable') throw stateError('nothing to roll back in stable');
        if (this.signalingState === 'have-remote-offer') this.remoteDescription = null;
        this.signalingState = 'stable';
        return;
      }
      this.localDescription = { type, sdp: description?.sdp ?? `fake ${type} ${++this.#offers}` };
      this.signalingState = type === 'offer' ? 'have-local-offer' : 'stable';
    });
  }

  setRemoteDescription(description: Description): Promise<void> {
    this.calls.push(`setRemoteDescription ${description.type}`);
    return this.#wait('setRemoteDescription', () => {
      if (description.type === 'offer' && this.signalingState === 'have-local-offer') {
        if (!this.features.implicitRollback) throw stateError('remote offer in have-local-offer');
      }
      this.remoteDescription = description;
      this.signalingState = description.type === 'offer' ? 'have-remote-offer' : 'stable';
    });
  }

  createOffer(): Promise<Description> {
    this.calls.push('createOffer');
    return Promise.resolve({ type: 'offer', sdp: `fake offer ${++this.#offers}` });
  }

  createAnswer(): Promise<Description> {
    this.calls.push('createAnswer');
    return Promise.resolve({ type: 'answer', sdp: `fake answer ${++this.#offers}` });
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
          try {
            apply();
            resolve();
          } catch (error) {
            reject(error);
          }
        },
      });
    });
  }
}
