import { afterEach, describe, expect, it } from 'vitest';
import { type Actor, createActor } from 'xstate';
import { peerMachine } from '../src/machines/peer.machine.js';
import type { Description, PeerSignalBody } from '../src/machines/peer.types.js';
import { PeerState } from '../src/machines/peer.types.js';
import { type FakeFeatures, FakePeerConnection } from './model/fake-peer-connection.js';

/**
 * Two peer charts wired to each other, each on a fake connection that settles its operations by
 * itself and fires `negotiationneeded` as a browser does (stable, with a change not yet offered). The
 * polite side refuses the impolite side's offer while a change of its own is not negotiated yet — what
 * Chromium does to Firefox's offer when both add video at once ("RTP extension ID reassignment not
 * supported"). Before issue 24 this stalled for good; now both sides must end stable with every change
 * negotiated, and the polite side's app must have heard of the failure.
 */

const ANSWER_TIMEOUT = 60;

class Side extends FakePeerConnection {
  /** A change (a track added) no offer of ours has carried yet. */
  dirty = false;
  refuses = false;
  actor!: Actor<typeof peerMachine>;
  #offered = false;

  constructor(features: FakeFeatures) {
    super(features);
    this.#pump();
  }

  addTrack(): void {
    this.dirty = true;
    this.#maybeNegotiationNeeded();
  }

  override async setLocalDescription(description?: Description): Promise<void> {
    await super.setLocalDescription(description);
    if (this.signalingState === 'have-local-offer') this.#offered = this.dirty;
    if (description?.type === 'rollback') this.#offered = false;
    this.#maybeNegotiationNeeded();
  }

  override async setRemoteDescription(description: Description): Promise<void> {
    if (description.type === 'offer' && this.refuses && this.dirty) {
      this.calls.push('setRemoteDescription offer (refused)');
      throw Object.assign(new Error('RTP extension ID reassignment not supported'), {
        name: 'InvalidAccessError',
      });
    }
    await super.setRemoteDescription(description);
    // Our offer answered: our change is negotiated. The peer's offer rolled ours back: it is not.
    if (description.type === 'answer' && this.#offered) this.dirty = this.#offered = false;
    if (description.type === 'offer') this.#offered = false;
    this.#maybeNegotiationNeeded();
  }

  #maybeNegotiationNeeded(): void {
    queueMicrotask(() => {
      if (this.signalingState === 'stable' && this.dirty && !this.#offered) {
        this.actor?.send({ type: 'NEGOTIATION_NEEDED' });
      }
    });
  }

  // Settles every operation as soon as it is asked for, as a browser does.
  #pump(): void {
    const timer = setInterval(() => {
      while (this.settleNext(true)) {}
      if (this.signalingState === 'closed') clearInterval(timer);
    }, 1);
    timer.unref();
    this.stop = () => clearInterval(timer);
  }

  stop = () => {};
}

const running: Side[] = [];
afterEach(() => {
  for (const side of running.splice(0)) {
    side.actor.stop();
    side.stop();
  }
});

function pair(features: FakeFeatures) {
  const polite = new Side(features);
  const impolite = new Side(features);
  // What the polite side's app is told while its negotiation recovers or after it gave up.
  const seen: { state: PeerState; error: string | undefined }[] = [];
  const link = (from: Side, to: Side, isPolite: boolean) => {
    from.actor = createActor(peerMachine, {
      input: {
        pc: from,
        polite: isPolite,
        answerTimeout: ANSWER_TIMEOUT,
        send: (body: PeerSignalBody) =>
          setTimeout(() => {
            if ('description' in body) to.actor.send({ type: 'SIGNAL.DESCRIPTION', ...body });
            else if ('bye' in body) to.actor.send({ type: 'SIGNAL.BYE' });
          }, 2),
      },
    });
  };
  link(polite, impolite, true);
  link(impolite, polite, false);
  const impoliteErrors = new Set<string>();
  impolite.actor.subscribe((s) => {
    if (s.context.error) impoliteErrors.add(s.context.error);
  });
  polite.actor.subscribe((s) => {
    if (s.matches({ open: { negotiation: 'recovering' } })) {
      seen.push({ state: PeerState.NEGOTIATING, error: s.context.error });
    } else if (s.hasTag(PeerState.FAILED)) seen.push({ state: PeerState.FAILED, error: s.context.error });
  });
  running.push(polite, impolite);
  polite.actor.start();
  impolite.actor.start();
  return { polite, impolite, seen, impoliteErrors };
}

/** How long a negotiation may take in real time: its steps are timers and promises, slow on a loaded machine. */
const WITHIN_MS = 10_000;

const settled = async (...sides: Side[]) => {
  for (const deadline = Date.now() + WITHIN_MS; Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const done = sides.every(
      (s) =>
        !s.dirty &&
        s.signalingState === 'stable' &&
        (s.actor.getSnapshot().value as { open?: { negotiation?: string } }).open?.negotiation === 'stable',
    );
    if (done) return;
  }
  const where = sides.map((s) => JSON.stringify(s.actor.getSnapshot().value)).join(' / ');
  throw new Error(`no settled negotiation after ${WITHIN_MS} ms: ${where}`);
};

describe.each([
  ['browser', { implicitDescription: true, implicitRollback: true }],
  ['explicit-only (like @roamhq/wrtc)', { implicitDescription: false, implicitRollback: false }],
] as const)('negotiation recovery, %s connections', (_name, features) => {
  it('both add a track at once; the polite side refuses the offer: it recovers, the app is told', async () => {
    const { polite, impolite, seen, impoliteErrors } = pair(features);
    polite.refuses = true;
    polite.addTrack();
    impolite.addTrack();
    await settled(polite, impolite);
    // The polite side's app saw `negotiating` with the refusal's message while it recovered.
    expect(seen.some((s) => s.state === PeerState.NEGOTIATING && /extension ID/.test(s.error ?? ''))).toBe(
      true,
    );
    expect(polite.calls).toContain('setRemoteDescription offer (refused)');
    // The impolite side answered the polite side's held offer after its own went unanswered.
    expect([...impoliteErrors]).toEqual(["no answer within 60 ms; answering the peer's offer"]);
  });

  it('both add a track at once, no refusal: glare resolves without a failure', async () => {
    const { polite, impolite, seen } = pair(features);
    polite.addTrack();
    impolite.addTrack();
    await settled(polite, impolite);
    expect(seen).toEqual([]);
    for (const side of [polite, impolite]) expect(side.actor.getSnapshot().context.error).toBeUndefined();
  });

  it('a peer whose offers are always refused: failed with closeReason negotiation, never a silent wait', async () => {
    const { polite, impolite } = pair(features);
    polite.refuses = true;
    // The polite side's change never gets negotiated (its own offers are answered, but it stays dirty).
    polite.addTrack();
    impolite.addTrack();
    const stuck = polite.setRemoteDescription.bind(polite);
    polite.setRemoteDescription = async (d) => {
      await stuck(d);
      polite.dirty = true;
    };
    const sides = [polite, impolite];
    const deadline = Date.now() + WITHIN_MS;
    while (Date.now() < deadline && sides.some((s) => s.actor.getSnapshot().status === 'active')) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Whichever side reaches MAX_NEGOTIATION_FAILURES first gives up (failed, 'negotiation') and says
    // bye; the other ends on that bye ('remote') unless it gave up too. Nobody waits on.
    const ends = sides.map((s) => s.actor.getSnapshot());
    expect(ends.map((e) => e.status)).toEqual(['done', 'done']);
    const reasons = ends.map((e) => e.context.reason);
    expect(reasons).toContain('negotiation');
    for (const reason of reasons) expect(['negotiation', 'remote']).toContain(reason);
    const gaveUp = ends.filter((e) => e.context.reason === 'negotiation');
    for (const end of gaveUp) expect(end.hasTag(PeerState.FAILED)).toBe(true);
  });
});
