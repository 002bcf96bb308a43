import { DEFAULT_STUN_SERVERS } from './constants.js';
import { IceServerError } from './ice-server-error.js';
import { createTurnCredentials } from './turn-credentials.js';
import type { IceServer, SecretTurnServer, TurnServerConfig } from './types.js';
import { describe, parseIceUrl } from './uri.js';
import { validateIceServer } from './validate.js';

/** What {@link getIceServers} builds the list from. */
export interface GetIceServersOptions {
  /** Your own STUN servers (`stun:`/`stuns:` URLs), listed before the defaults. */
  stunUrls?: string | readonly string[];
  /**
   * TURN servers: `{ urls, username, credential }` with fixed credentials, or
   * `{ urls, secret, userId?, ttlSeconds? }` to mint TURN REST credentials on every call.
   */
  turn?: TurnServerConfig | readonly TurnServerConfig[];
  /** Whether to include `DEFAULT_STUN_SERVERS`; default true. */
  includeDefaults?: boolean;
  /** The time credentials are minted at, in ms since the Unix epoch; default `Date.now()`. */
  now?: number;
}

/**
 * The `iceServers` for `new RTCPeerConnection({ iceServers })`: your STUN servers, then the defaults
 * (without repeating a URL you already listed), then your TURN servers, in that order (libwebrtc gives
 * earlier TURN servers higher priority). Every URL and every TURN entry is validated strictly, so a
 * mistake throws here, as an `IceServerError` naming the entry, not later inside the browser.
 * Asynchronous because minting TURN REST credentials uses WebCrypto's HMAC.
 */
export async function getIceServers(options: GetIceServersOptions = {}): Promise<IceServer[]> {
  const { stunUrls, turn, includeDefaults = true, now } = options;
  const servers: IceServer[] = [];

  const own = stunUrls === undefined ? [] : typeof stunUrls === 'string' ? [stunUrls] : stunUrls;
  if (!Array.isArray(own)) {
    throw new IceServerError(
      'stunUrls',
      `must be a string or an array of strings, got ${describe(stunUrls)}`,
    );
  }
  own.forEach((url, i) => {
    const path = typeof stunUrls === 'string' ? 'stunUrls' : `stunUrls[${i}]`;
    if (parseIceUrl(url, path).kind !== 'stun') {
      throw new IceServerError(
        path,
        `${JSON.stringify(url)} is a TURN URL; list it under turn, with credentials`,
      );
    }
  });
  const seen = new Set(own);
  if (own.length > 0) servers.push({ urls: [...seen] });

  if (includeDefaults) {
    for (const server of DEFAULT_STUN_SERVERS) {
      const urls = (typeof server.urls === 'string' ? [server.urls] : server.urls).filter(
        (u) => !seen.has(u),
      );
      if (urls.length > 0) servers.push({ urls: urls.length === 1 ? (urls[0] as string) : urls });
    }
  }

  const turnList = turn === undefined ? [] : Array.isArray(turn) ? turn : [turn as TurnServerConfig];
  const relays = await Promise.all(
    turnList.map((entry, i) => turnServer(entry, Array.isArray(turn) ? `turn[${i}]` : 'turn', now)),
  );
  servers.push(...relays);
  return servers;
}

/**
 * The ICE configuration the reference server hands one authenticated client (the optional
 * `iceServers` of `auth.ok`): `getIceServers(config)` with every shared-secret TURN entry minted for
 * that client's public key, so the TURN server's logs and quotas can tell clients apart.
 */
export function iceServersForClient(
  config: GetIceServersOptions,
  publicKey: string,
  now: number = Date.now(),
): Promise<IceServer[]> {
  const turn = config.turn;
  const forClient = (entry: TurnServerConfig): TurnServerConfig =>
    isSecretEntry(entry) ? { ...entry, userId: publicKey } : entry;
  return getIceServers({
    ...config,
    now,
    turn:
      turn === undefined
        ? undefined
        : Array.isArray(turn)
          ? turn.map(forClient)
          : forClient(turn as TurnServerConfig),
  });
}

async function turnServer(entry: unknown, path: string, now: number | undefined): Promise<IceServer> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new IceServerError(path, `must be an object, got ${describe(entry)}`);
  }
  const urls = (entry as { urls?: unknown }).urls;
  const list = typeof urls === 'string' ? [urls] : Array.isArray(urls) ? urls : undefined;
  if (list === undefined) {
    throw new IceServerError(
      `${path}.urls`,
      `must be a string or an array of strings, got ${describe(urls)}`,
    );
  }
  if (list.length === 0) throw new IceServerError(`${path}.urls`, 'must name at least one URL');
  list.forEach((url, i) => {
    const urlPath = typeof urls === 'string' ? `${path}.urls` : `${path}.urls[${i}]`;
    if (parseIceUrl(url, urlPath).kind !== 'turn') {
      throw new IceServerError(urlPath, `${JSON.stringify(url)} is not a turn:/turns: URL`);
    }
  });

  if (!isSecretEntry(entry)) return validateIceServer(entry, path);
  if ('credential' in entry || 'username' in entry) {
    throw new IceServerError(path, 'has both a secret and a username/credential; give one or the other');
  }
  const { username, credential } = await createTurnCredentials({
    secret: entry.secret,
    userId: entry.userId,
    ttlSeconds: entry.ttlSeconds,
    now,
  }).catch((err: unknown) => {
    // Re-point the error at this entry (e.g. turn[1].secret) so the bad one can be found.
    if (err instanceof IceServerError) throw new IceServerError(`${path}.${err.path}`, err.reason);
    throw err;
  });
  return validateIceServer({ urls: typeof urls === 'string' ? urls : [...list], username, credential }, path);
}

function isSecretEntry(entry: object): entry is SecretTurnServer {
  return 'secret' in entry;
}
