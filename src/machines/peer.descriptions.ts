import type { Description, PeerConnectionLike } from './peer.types.js';

/**
 * The description steps of the peer chart's services, for every `RTCPeerConnection` implementation:
 * the browsers' implicit `setLocalDescription()` and implicit rollback where they exist, the explicit
 * forms (`createOffer`/`createAnswer`, `{ type: 'rollback' }`) where they do not (`@roamhq/wrtc`).
 */

// Connections whose setLocalDescription() refused to run without a description: found out once per
// connection (the first call), then they get the explicit form straight away.
const explicitOnly = new WeakSet<PeerConnectionLike>();

/** The local description a service just set, as it goes on the wire. */
function local(pc: PeerConnectionLike): Description {
  const d = pc.localDescription;
  if (!d) throw new Error('no local description after setLocalDescription()');
  return { type: d.type, sdp: d.sdp };
}

/** Creates and sets the fitting offer or answer; returns it as it goes on the wire. */
export async function setLocal(pc: PeerConnectionLike): Promise<Description> {
  if (!explicitOnly.has(pc)) {
    try {
      await pc.setLocalDescription();
      return local(pc);
    } catch (error) {
      // A TypeError ("Expected an object") is an implementation without the implicit form; anything
      // else is a real failure of the step.
      if (!(error instanceof TypeError)) throw error;
      explicitOnly.add(pc);
    }
  }
  const made = pc.signalingState === 'have-remote-offer' ? await pc.createAnswer() : await pc.createOffer();
  await pc.setLocalDescription(made);
  return local(pc);
}

/** Drops the offer in progress, local or remote, so the connection is `stable` again. */
export async function rollBack(pc: PeerConnectionLike): Promise<void> {
  try {
    await pc.setLocalDescription({ type: 'rollback' });
  } catch (error) {
    // Nothing to roll back (the failed step changed nothing): refused as InvalidStateError in `stable`.
    if (pc.signalingState !== 'stable' || (error as Error | undefined)?.name !== 'InvalidStateError') {
      throw error;
    }
  }
}

/**
 * Sets the peer's offer. Over an offer of ours the browser rolls ours back implicitly; an
 * implementation without implicit rollback refuses it and leaves ours in place, and so does a browser
 * that cannot take the peer's offer on top of ours: then ours is rolled back explicitly and the
 * peer's offer set again, once.
 */
async function setRemoteOffer(pc: PeerConnectionLike, offer: Description): Promise<void> {
  try {
    await pc.setRemoteDescription(offer);
  } catch (error) {
    if (pc.signalingState !== 'have-local-offer') throw error;
    await rollBack(pc);
    await pc.setRemoteDescription(offer);
  }
}

/** Sets the peer's offer and answers it; returns the answer as it goes on the wire. */
export async function answerOffer(pc: PeerConnectionLike, offer: Description): Promise<Description> {
  await setRemoteOffer(pc, offer);
  const answer = await setLocal(pc);
  noteAssociation(pc);
  return answer;
}

const SETUP_LINE = /^a=setup:\w+/gim;
// What names a DTLS association: the certificates' fingerprints and, where sent, its tls-id (RFC 8842).
const ASSOCIATION_LINE = /^a=(?:fingerprint|tls-id):[^\r\n]+/gm;

interface Association {
  /** The peer's `a=fingerprint` and `a=tls-id` lines, sorted: the same association while they hold. */
  id: string;
  /** The peer's role in it: `a=setup:active` (DTLS client) or `a=setup:passive` (server). */
  role: string;
}

// The association each connection set up, as the exchange that set it up stated it. Later answers may
// misstate the roles (see setRemoteAnswer), so the roles are never read again while the peer's
// certificate stays.
const associations = new WeakMap<PeerConnectionLike, Association>();

const associationId = (sdp: string) => [...new Set(sdp.match(ASSOCIATION_LINE))].sort().join('\n');

/** `a=setup:active` or `a=setup:passive` when every section of `sdp` states that one role, else undefined. */
function statedRole(sdp: string): string | undefined {
  const [role, ...others] = new Set(sdp.match(SETUP_LINE)?.map((line) => line.toLowerCase()));
  return others.length === 0 && (role === 'a=setup:active' || role === 'a=setup:passive') ? role : undefined;
}

/**
 * After an exchange completed: notes the peer's DTLS role if the exchange set up a new association
 * (the first one, or the peer's certificate changed); the association already known keeps its roles.
 */
function noteAssociation(
  pc: PeerConnectionLike,
  id = associationId(pc.currentRemoteDescription?.sdp ?? ''),
): void {
  const local = pc.currentLocalDescription;
  const remote = pc.currentRemoteDescription;
  if (!local?.sdp || !remote?.sdp) return;
  if (!id || associations.get(pc)?.id === id) return;
  const ours = statedRole(local.sdp);
  const role =
    remote.type === 'answer'
      ? statedRole(remote.sdp)
      : ours && (ours === 'a=setup:active' ? 'a=setup:passive' : 'a=setup:active');
  if (role) associations.set(pc, { id, role });
}

/**
 * Sets the peer's answer, with the DTLS role of the association already up. An answer with the same
 * fingerprints (and tls-id) keeps the association, and with it both roles (RFC 8842: only a new one
 * may change them; libwebrtc allows a new role only with a new certificate). Firefox (ESR 153)
 * answers an ICE restart with `a=setup:active` even where it is the DTLS server, and goes on as the
 * server; libwebrtc refuses that answer ("Failed to set SSL role for the transport") and the
 * connection could only end. So the role it states is read as the one it has.
 */
export async function setRemoteAnswer(pc: PeerConnectionLike, answer: Description): Promise<void> {
  const id = associationId(answer.sdp ?? '');
  await pc.setRemoteDescription(keepDtlsRole(pc, answer, id));
  // The answer set is now the current remote description: its association is `id`.
  noteAssociation(pc, id);
}

/** `answer`, its `a=setup` lines stating the peer's role in the association it keeps (if it keeps one). */
function keepDtlsRole(pc: PeerConnectionLike, answer: Description, id: string): Description {
  const known = associations.get(pc);
  if (!known || !answer.sdp || id !== known.id) return answer;
  const stated = statedRole(answer.sdp);
  return stated && stated !== known.role
    ? { ...answer, sdp: answer.sdp.replace(SETUP_LINE, known.role) }
    : answer;
}
