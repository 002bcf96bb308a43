import type { PeerSignalBody } from '../machines/peer.types.js';

/**
 * The `data` of a WebRTC `signal`, as this package sends it:
 * `{ webrtc: 1, s: SESSION, r?: SESSION, ...body }` where `s` is the sender's peer-connection session
 * (random, one per `createPeerConnection`), `r` the receiver's session once the sender knows it, and
 * the body one of `{ description, generation }`, `{ candidate }`, `{ bye: true }`. The sessions tell a
 * signal for an earlier connection between the same two keys apart; the generation, an older
 * description of the same connection.
 */
export interface PeerSignal {
  /** The sender's session. */
  session: string;
  /** The receiver's session the sender addressed, if it knew one. */
  to: string | undefined;
  body: PeerSignalBody;
}

/** Longest session id accepted (ids are 16 characters; room left for other implementations). */
const MAX_SESSION = 32;

const isSession = (v: unknown): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= MAX_SESSION;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The signal's `data` for `body`. */
export function encodePeerSignal(session: string, to: string | undefined, body: PeerSignalBody): object {
  return to === undefined ? { webrtc: 1, s: session, ...body } : { webrtc: 1, s: session, r: to, ...body };
}

/**
 * Reads a signal's `data`; `undefined` when it is not a well-formed peer signal (another use of
 * `signal` by the application, or garbage from a misbehaving peer: dropped, never thrown).
 */
export function parsePeerSignal(data: unknown): PeerSignal | undefined {
  if (!isObject(data) || data.webrtc !== 1 || !isSession(data.s)) return undefined;
  if (data.r !== undefined && !isSession(data.r)) return undefined;
  const head = { session: data.s, to: data.r as string | undefined };
  if (data.bye === true) return { ...head, body: { bye: true } };
  const { description, generation, candidate } = data;
  if (isObject(description)) {
    const { type, sdp } = description;
    if ((type !== 'offer' && type !== 'answer') || typeof sdp !== 'string') return undefined;
    if (!Number.isSafeInteger(generation) || (generation as number) < 1) return undefined;
    return { ...head, body: { description: { type, sdp }, generation: generation as number } };
  }
  if (candidate === null) return { ...head, body: { candidate: null } };
  if (isObject(candidate) && typeof candidate.candidate === 'string') {
    const { sdpMid, sdpMLineIndex, usernameFragment } = candidate;
    const init: RTCIceCandidateInit = { candidate: candidate.candidate };
    if (typeof sdpMid === 'string' || sdpMid === null) init.sdpMid = sdpMid;
    if (Number.isInteger(sdpMLineIndex) || sdpMLineIndex === null)
      init.sdpMLineIndex = sdpMLineIndex as number | null;
    if (typeof usernameFragment === 'string' || usernameFragment === null)
      init.usernameFragment = usernameFragment;
    return { ...head, body: { candidate: init } };
  }
  return undefined;
}
