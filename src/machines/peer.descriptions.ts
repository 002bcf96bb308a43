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
export function local(pc: PeerConnectionLike): Description {
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
export async function setRemoteOffer(pc: PeerConnectionLike, offer: Description): Promise<void> {
  try {
    await pc.setRemoteDescription(offer);
  } catch (error) {
    if (pc.signalingState !== 'have-local-offer') throw error;
    await rollBack(pc);
    await pc.setRemoteDescription(offer);
  }
}

const SETUP_LINE = /^a=setup:\w+/gim;
// What names a DTLS association: the certificates' fingerprints and, where sent, its tls-id (RFC 8842).
const ASSOCIATION_LINE = /^a=(?:fingerprint|tls-id):[^\r\n]+/gim;

const lineSet = (sdp: string, line: RegExp) => new Set(sdp.toLowerCase().match(line));

/** `a=setup:active` or `a=setup:passive` when every section of `sdp` states that role, else undefined. */
function statedRole(sdp: string): string | undefined {
  const [role, ...others] = lineSet(sdp, SETUP_LINE);
  return others.length === 0 && role !== 'a=setup:actpass' ? role : undefined;
}

const otherRole = (role: string | undefined) =>
  role && (role === 'a=setup:active' ? 'a=setup:passive' : 'a=setup:active');

/**
 * The peer's answer, with the DTLS role of the association already up. An answer with the same
 * fingerprints (and tls-id) keeps the association, and with it both roles: only a new certificate or
 * tls-id starts a new one (RFC 8842), the one case where libwebrtc lets a role change. Firefox (ESR
 * 153) answers an ICE restart with `a=setup:active` even where it is the DTLS server, and goes on as
 * the server; libwebrtc refuses that answer ("Failed to set SSL role for the transport") and the
 * connection could only end. So the role it states is read as the one it has.
 */
export function keepDtlsRole(pc: PeerConnectionLike, answer: Description): Description {
  const local = pc.currentLocalDescription?.sdp;
  const remote = pc.currentRemoteDescription;
  if (!answer.sdp || !local || !remote?.sdp) return answer;
  // The peer's role in the association up now, from the last completed exchange.
  const role = remote.type === 'answer' ? statedRole(remote.sdp) : otherRole(statedRole(local));
  const stated = statedRole(answer.sdp);
  const association = lineSet(answer.sdp, ASSOCIATION_LINE);
  const before = lineSet(remote.sdp, ASSOCIATION_LINE);
  const same =
    association.size > 0 && association.size === before.size && [...before].every((l) => association.has(l));
  return role && stated && stated !== role && same
    ? { ...answer, sdp: answer.sdp.replace(SETUP_LINE, role) }
    : answer;
}
