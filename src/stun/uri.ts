import { DEFAULT_STUN_PORT, DEFAULT_STUNS_PORT } from './constants.js';
import { IceServerError } from './ice-server-error.js';

/**
 * Strict parsing of ICE server URLs:
 *
 *   stunURI = ("stun" / "stuns") ":" host [ ":" port ]                                  RFC 7064 §3.1
 *   turnURI = ("turn" / "turns") ":" host [ ":" port ] [ "?transport=" ("udp" / "tcp") ] RFC 7065 §3.1
 *
 * It refuses everything a browser's `RTCPeerConnection` refuses (W3C webrtc-pc "validate an ICE server
 * URL", libwebrtc's `ice_server_parsing.cc`; checked against Chromium in test/stun-browser.test.ts),
 * and on purpose a few inputs that some browser accepts only by rewriting them or by failing later,
 * because a configuration that works in one browser only is a bug waiting for a user: whitespace (the
 * URL parser strips it), `transport=` values other than exactly `udp`/`tcp` (the W3C spec compares
 * exactly; Chromium also takes `Tcp`), IPv4 shorthand or octal (`127.1`, `010.0.0.1`), hosts that are
 * not DNS names (sub-delims, percent-encoding, non-ASCII: use punycode), malformed IPv6 literals and
 * zone ids (Chromium only fails on them when resolving), and anything after `]` but a port.
 * Schemes are case-insensitive (RFC 3986 §3.1; browsers lower-case them).
 */

/** The four ICE URL schemes, lower-cased. */
export type IceUrlScheme = 'stun' | 'stuns' | 'turn' | 'turns';

/** A `stun:`/`stuns:`/`turn:`/`turns:` URL taken apart by {@link parseIceUrl}. */
export interface IceUrl {
  /** Lower-cased. */
  scheme: IceUrlScheme;
  /** `stuns:`/`turns:`: the connection runs over TLS (or DTLS). */
  secure: boolean;
  /** `stun:`/`stuns:` (a STUN server) or `turn:`/`turns:` (a relay, needs credentials). */
  kind: 'stun' | 'turn';
  /** The host as written; an IPv6 literal without its brackets. */
  host: string;
  /** Whether `host` is a DNS name, an IPv4 literal or an IPv6 literal. */
  hostType: 'name' | 'ipv4' | 'ipv6';
  /** The port, or the scheme's default (3478, or 5349 for the secure schemes) when none is written. */
  port: number;
  /** Whether the URL names its port. */
  explicitPort: boolean;
  /** The `?transport=` of a TURN URL, if any. */
  transport: 'udp' | 'tcp' | undefined;
}

const SCHEME = /^(stuns?|turns?):/i;
const LABEL = /^[A-Za-z0-9_-]{1,63}$/;
const DEC_OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = new RegExp(`^${DEC_OCTET}(?:\\.${DEC_OCTET}){3}$`);
/** WHATWG's "ends in a number": such a host is parsed as IPv4 by browsers, so it must be one. */
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/i;
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/;
const PORT = /^[0-9]{1,5}$/;

/** Parses `url` or throws an `IceServerError` (code `invalid-ice-server`) that names it by `path`. */
export function parseIceUrl(url: unknown, path = 'url'): IceUrl {
  if (typeof url !== 'string') throw new IceServerError(path, `must be a string, got ${describe(url)}`);
  const fail: (why: string) => never = (why) => {
    throw new IceServerError(path, `${JSON.stringify(url)} ${why}`);
  };
  const match = SCHEME.exec(url);
  if (!match) return fail('is not a stun:, stuns:, turn: or turns: URL');
  const scheme = (match[1] as string).toLowerCase() as IceUrlScheme;
  const kind = scheme === 'stun' || scheme === 'stuns' ? 'stun' : 'turn';
  const secure = scheme === 'stuns' || scheme === 'turns';
  let rest = url.slice(match[0].length);

  let transport: IceUrl['transport'];
  const q = rest.indexOf('?');
  if (q >= 0) {
    if (kind === 'stun') fail('has a query; STUN URLs take none (RFC 7064)');
    const query = rest.slice(q + 1);
    if (query === 'transport=udp') transport = 'udp';
    else if (query === 'transport=tcp') transport = 'tcp';
    else fail('has a query other than ?transport=udp or ?transport=tcp (RFC 7065)');
    rest = rest.slice(0, q);
  }
  if (rest === '') fail('has no host');
  if (rest.startsWith('//')) fail(`must not have "//" after the scheme (write ${scheme}:host[:port])`);
  if (rest.includes('@')) fail('must not carry user info; put credentials in username and credential');
  if (rest.includes('#')) fail('must not have a fragment');
  if (rest.includes('/')) fail('must not have a path');

  let host: string;
  let portText: string | undefined;
  let hostType: IceUrl['hostType'];
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) fail('has an IPv6 literal without its closing "]"');
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) fail('has characters after the IPv6 literal');
      portText = after.slice(1);
    }
    if (!isIpv6(host)) fail('has an invalid IPv6 address (zone ids are not allowed)');
    hostType = 'ipv6';
  } else {
    const colon = rest.indexOf(':');
    if (colon >= 0) {
      if (rest.indexOf(':', colon + 1) >= 0)
        fail('has more than one ":" after the host; IPv6 needs [brackets]');
      portText = rest.slice(colon + 1);
      host = rest.slice(0, colon);
    } else {
      host = rest;
    }
    if (host === '') fail('has no host');
    if (IPV4.test(host)) hostType = 'ipv4';
    else if (isHostName(host)) hostType = 'name';
    else return fail('has an invalid host (a DNS name, a dotted-quad IPv4 address or an [IPv6] literal)');
  }

  let port = secure ? DEFAULT_STUNS_PORT : DEFAULT_STUN_PORT;
  if (portText !== undefined) {
    if (!PORT.test(portText)) fail('has an invalid port (1 to 65535)');
    port = Number(portText);
    if (port < 1 || port > 65_535) fail('has an invalid port (1 to 65535)');
  }
  return { scheme, secure, kind, host, hostType, port, explicitPort: portText !== undefined, transport };
}

/** Whether `url` is a valid ICE server URL under the rules of `parseIceUrl`. */
export function isIceUrl(url: unknown): url is string {
  try {
    parseIceUrl(url);
    return true;
  } catch {
    return false;
  }
}

/** DNS-style names: labels of letters, digits, `-`, `_`; at most 253 characters; may end in a dot. */
function isHostName(host: string): boolean {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  for (const label of labels) if (!LABEL.test(label)) return false;
  return !NUMERIC_LABEL.test(labels[labels.length - 1] as string);
}

/** RFC 4291 text form, checked by the WHATWG URL parser so that we agree with browsers exactly. */
function isIpv6(text: string): boolean {
  if (!IPV6_CHARS.test(text)) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

/** Names a value's type for an error message, without quoting the value (it may be a secret). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
