import { SignalingError } from '../errors.js';

/**
 * The transcript's origin: the URL the client dialed, normalized with the WHATWG URL parser as
 * `protocol + "//" + host + pathname` (lower-case host, default port omitted, no query, no fragment).
 * Only `ws:` and `wss:` URLs are dialed.
 * @throws SignalingError `invalid-origin`
 */
export function normalizeOrigin(url: string | URL): string {
  // A server normalizes its few configured origins on every handshake: remembering the answer for a
  // string spares a URL parse each time (the result depends on the string alone).
  const known = typeof url === 'string' ? normalized.get(url) : undefined;
  if (known !== undefined) return known;
  const origin = parseOrigin(url);
  if (typeof url === 'string') {
    if (normalized.size >= MAX_REMEMBERED) normalized.clear();
    normalized.set(url, origin);
  }
  return origin;
}

/** Bounds the memo: clients dial one or two URLs and servers have at most 8 origins. */
const MAX_REMEMBERED = 64;
const normalized = new Map<string, string>();

function parseOrigin(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch (cause) {
    throw new SignalingError('invalid-origin', `not a URL: ${String(url)}`, { cause });
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new SignalingError('invalid-origin', `a signaling URL is ws: or wss:, not ${parsed.protocol}`);
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
