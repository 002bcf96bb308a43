/** Bounds of what `signaling-actor/webrtc` holds for peers that have no `createPeerConnection` yet. */

/** Signals held per unknown peer; older ones are dropped first. */
export const MAX_HELD_SIGNALS = 64;
/** Unknown peers with held signals; the one heard from longest ago is dropped first. */
export const MAX_HELD_PEERS = 32;
/** Ms a held signal stays replayable. */
export const HELD_SIGNAL_MAX_AGE = 30_000;
/** Ended sessions remembered per peer key, so their late signals are dropped, not held. */
export const MAX_RETIRED_SESSIONS = 16;
/** Signals kept for a peer while it is offline, resent when it comes back. */
export const MAX_UNDELIVERED = 256;
