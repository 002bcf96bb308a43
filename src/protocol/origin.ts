import { SignalingError } from '../errors.js';

/**
 * The transcript's origin: the URL the client dialed, normalized with the WHATWG URL parser as
 * `protocol + "//" + host + pathname` (lower-case host, default port omitted, no query, no fragment).
 * Only `ws:` and `wss:` URLs are dialed.
 * @throws SignalingError `invalid-origin`
 */
export function normalizeOrigin(url: string | URL): string {
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
