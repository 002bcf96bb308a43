import type { Signer } from '../identity/identity.js';
import type { PeerSignalBody, SignalCheck } from '../machines/peer.types.js';
import { decodeExact, encodeBase64url } from '../protocol/base64url.js';
import { SIGNATURE_BYTES } from '../protocol/constants.js';
import { verifyEd25519 } from '../protocol/ed25519.js';

/** The `webrtc` field of the signals this package sends: format 2, signed (format 1 was unsigned). */
export const PEER_SIGNAL_VERSION = 2;
/** The domain-separation tag that starts every signed peer-signal transcript (then a zero byte). */
export const PEER_SIGNAL_CONTEXT = 'signaling-actor/peer-signal/v2';

/**
 * The `data` of a WebRTC `signal`, as this package sends it:
 * `{ webrtc: 2, s: SESSION, r?: SESSION, ...body, sig }` where `s` is the sender's peer-connection
 * session (random, one per `createPeerConnection`), `r` the receiver's session once the sender knows
 * it, the body one of `{ description, generation }`, `{ candidate }`, `{ bye: true }`, and `sig` the
 * sender's Ed25519 signature over {@link peerSignalTranscript}. The sessions tell a signal for an
 * earlier connection between the same two keys apart; the generation, an older description of the
 * same connection; the signature, a signal the sender's key did not make for this receiver.
 */
export interface PeerSignal {
  /** The `webrtc` field: {@link PEER_SIGNAL_VERSION} for a signed signal; 1 for the old unsigned format. */
  version: number;
  /** The sender's session. */
  session: string;
  /** The receiver's session the sender addressed, if it knew one. */
  to: string | undefined;
  body: PeerSignalBody;
  /** The `sig` field as received (base64url), if any. */
  sig: string | undefined;
}

/** Longest session id accepted (ids are 16 characters; room left for other implementations). */
const MAX_SESSION = 32;

const isSession = (v: unknown): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= MAX_SESSION;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The signal's `data` for `body`, signed with `sig` (base64url). */
export function encodePeerSignal(
  session: string,
  to: string | undefined,
  body: PeerSignalBody,
  sig: string,
): object {
  const head =
    to === undefined
      ? { webrtc: PEER_SIGNAL_VERSION, s: session }
      : { webrtc: PEER_SIGNAL_VERSION, s: session, r: to };
  return { ...head, ...body, sig };
}

/**
 * Reads a signal's `data`; `undefined` when it is not a well-formed peer signal (another use of
 * `signal` by the application, or garbage from a misbehaving peer: dropped, never thrown). A signal of
 * another format version (1, unsigned; or a later one) is read too, so the receiver can refuse it.
 * The body is rebuilt from the documented fields only: anything else is neither signed nor used.
 */
export function parsePeerSignal(data: unknown): PeerSignal | undefined {
  if (!isObject(data) || !Number.isSafeInteger(data.webrtc) || (data.webrtc as number) < 1) return undefined;
  if (!isSession(data.s)) return undefined;
  if (data.r !== undefined && !isSession(data.r)) return undefined;
  const head = {
    version: data.webrtc as number,
    session: data.s,
    to: data.r as string | undefined,
    sig: typeof data.sig === 'string' ? data.sig : undefined,
  };
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
    if (isIndex(sdpMLineIndex) || sdpMLineIndex === null) init.sdpMLineIndex = sdpMLineIndex;
    if (typeof usernameFragment === 'string' || usernameFragment === null)
      init.usernameFragment = usernameFragment;
    return { ...head, body: { candidate: init } };
  }
  return undefined;
}

/** `sdpMLineIndex` is an unsigned short (W3C `RTCIceCandidateInit`). */
const isIndex = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffff;

/** What a signal is, for the chart and for the app (`identityFailure.signal`). */
export function signalKind(body: PeerSignalBody): 'description' | 'candidate' | 'bye' {
  return 'bye' in body ? 'bye' : 'candidate' in body ? 'candidate' : 'description';
}

const encoder = new TextEncoder();
const CONTEXT = encoder.encode(`${PEER_SIGNAL_CONTEXT}\0`);
const KIND = { description: 0x44, candidate: 0x43, bye: 0x42 } as const; // 'D', 'C', 'B'

/** The fields a peer signal's signature covers, besides its body. */
export interface PeerSignalHead {
  /** The sender's 32-byte Ed25519 public key. */
  from: Uint8Array;
  /** The receiver's 32-byte Ed25519 public key. */
  to: Uint8Array;
  /** The sender's session (`s`). */
  session: string;
  /** The receiver's session (`r`), when the sender knew it. */
  remoteSession: string | undefined;
}

/**
 * The exact bytes a peer signal's `sig` signs (format 2; docs/webrtc.md has a test vector):
 * ```
 * "signaling-actor/peer-signal/v2" 0x00 | from(32) | to(32) | u8 len(s) s | u8 len(r) r (0 bytes if none)
 * | u64be generation (0 unless a description) | kind 'D' / 'C' / 'B' | body
 * body 'D': str(type) str(sdp)
 * body 'C': 0x00 for null (end of candidates), else 0x01 str(candidate) opt(sdpMid) optIndex(sdpMLineIndex) opt(usernameFragment)
 * body 'B': nothing
 * str(x) = u32be len(UTF-8 of x) · UTF-8 of x;  opt(x) = 0x00 absent | 0x01 null | 0x02 str(x);
 * optIndex(x) = 0x00 absent | 0x01 null | 0x02 u16be(x)
 * ```
 */
export function peerSignalTranscript(head: PeerSignalHead, body: PeerSignalBody): Uint8Array {
  const chunks: Uint8Array[] = [CONTEXT, head.from, head.to];
  const raw = (...values: number[]) => chunks.push(Uint8Array.of(...values));
  const u32 = (n: number) => raw(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  const short = (text: string) => {
    const b = encoder.encode(text);
    raw(b.length);
    chunks.push(b);
  };
  const str = (text: string) => {
    const b = encoder.encode(text);
    u32(b.length);
    chunks.push(b);
  };
  const opt = (v: string | null | undefined) => {
    if (v === undefined || v === null) raw(v === null ? 1 : 0);
    else {
      raw(2);
      str(v);
    }
  };
  short(head.session);
  short(head.remoteSession ?? '');
  const generation = 'generation' in body ? body.generation : 0;
  u32(Math.floor(generation / 2 ** 32));
  u32(generation >>> 0);
  raw(KIND[signalKind(body)]);
  if ('description' in body) {
    str(body.description.type);
    str(body.description.sdp ?? '');
  } else if ('candidate' in body) {
    const c = body.candidate;
    if (c === null) raw(0);
    else {
      raw(1);
      str(c.candidate ?? '');
      opt(c.sdpMid);
      const index = c.sdpMLineIndex;
      if (index === undefined || index === null) raw(index === null ? 1 : 0);
      else raw(2, (index >>> 8) & 255, index & 255);
      opt(c.usernameFragment);
    }
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** The signal's `data` for `body`, signed by `signer` (whose key must be `head.from`). */
export async function signPeerSignal(
  signer: Signer,
  head: PeerSignalHead,
  body: PeerSignalBody,
): Promise<object> {
  const sig = await signer.sign(peerSignalTranscript(head, body));
  return encodePeerSignal(head.session, head.remoteSession, body, encodeBase64url(sig));
}

/**
 * The check `signal` fails as one `head.from` sent to `head.to`, or `undefined` when it passes:
 * `version` (a format this package does not speak), `unsigned` (format 1, or no `sig`), `signature`
 * (malformed, or not `head.from`'s signature over this transcript: forged, altered, signed by another
 * key or for another receiver). Never throws.
 */
export async function checkPeerSignal(
  signal: PeerSignal,
  from: Uint8Array,
  to: Uint8Array,
): Promise<SignalCheck | undefined> {
  if (signal.version !== PEER_SIGNAL_VERSION) return signal.version === 1 ? 'unsigned' : 'version';
  if (signal.sig === undefined) return 'unsigned';
  const sig = decodeExact(signal.sig, SIGNATURE_BYTES);
  if (!sig) return 'signature';
  const message = peerSignalTranscript(
    { from, to, session: signal.session, remoteSession: signal.to },
    signal.body,
  );
  return (await verifyEd25519(from, message, sig)) ? undefined : 'signature';
}
