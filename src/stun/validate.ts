import { MAX_TURN_USERNAME_BYTES } from './constants.js';
import { IceServerError } from './ice-server-error.js';
import type { IceServer } from './types.js';
import { describe, parseIceUrl } from './uri.js';

const encoder = new TextEncoder();

/**
 * Checks a list of ICE servers the way `new RTCPeerConnection({ iceServers })` does, and returns a
 * clean copy holding only `urls`, `username` and `credential`. Use it on anything that came from
 * configuration or from the network (e.g. the `iceServers` of `auth.ok`): a bad entry throws an
 * `IceServerError` naming it, instead of failing later inside the browser with a bare `SyntaxError`.
 */
export function validateIceServers(value: unknown, path = 'iceServers'): IceServer[] {
  if (!Array.isArray(value)) throw new IceServerError(path, `must be an array, got ${describe(value)}`);
  return value.map((entry, i) => validateIceServer(entry, `${path}[${i}]`));
}

/** One entry of `validateIceServers`. */
export function validateIceServer(value: unknown, path = 'iceServer'): IceServer {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new IceServerError(path, `must be an object with urls, got ${describe(value)}`);
  }
  const { urls, username, credential } = value as Record<string, unknown>;
  let list: unknown[];
  if (typeof urls === 'string') list = [urls];
  else if (Array.isArray(urls)) list = urls;
  else
    throw new IceServerError(
      `${path}.urls`,
      `must be a string or an array of strings, got ${describe(urls)}`,
    );
  if (list.length === 0) throw new IceServerError(`${path}.urls`, 'must name at least one URL');

  let needsCredentials = false;
  list.forEach((url, i) => {
    const parsed = parseIceUrl(url, typeof urls === 'string' ? `${path}.urls` : `${path}.urls[${i}]`);
    if (parsed.kind === 'turn') needsCredentials = true;
  });
  if (username !== undefined && typeof username !== 'string') {
    throw new IceServerError(`${path}.username`, `must be a string, got ${describe(username)}`);
  }
  if (credential !== undefined && typeof credential !== 'string') {
    throw new IceServerError(`${path}.credential`, `must be a string, got ${describe(credential)}`);
  }
  if (needsCredentials) {
    // Browsers throw InvalidAccessError here ("TURN server with empty username or password" in Chrome).
    if (!username)
      throw new IceServerError(`${path}.username`, 'is required (non-empty) for turn:/turns: URLs');
    if (!credential) {
      throw new IceServerError(`${path}.credential`, 'is required (non-empty) for turn:/turns: URLs');
    }
    if (encoder.encode(username).length > MAX_TURN_USERNAME_BYTES) {
      throw new IceServerError(`${path}.username`, `is longer than ${MAX_TURN_USERNAME_BYTES} bytes`);
    }
  }

  const out: IceServer = { urls: typeof urls === 'string' ? urls : (list as string[]).slice() };
  if (username !== undefined) out.username = username;
  if (credential !== undefined) out.credential = credential;
  return out;
}
