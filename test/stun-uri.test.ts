import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSignalingError } from '../src/errors.js';
import {
  IceServerError,
  isIceUrl,
  parseIceUrl,
  validateIceServer,
  validateIceServers,
} from '../src/stun/index.js';
import { INVALID_URLS, VALID_URLS } from './helpers/ice-url-cases.js';

describe('parseIceUrl: valid URLs (RFC 7064 / RFC 7065)', () => {
  for (const [url, expected] of VALID_URLS) {
    it(url, () => {
      expect(parseIceUrl(url)).toMatchObject(expected);
      expect(isIceUrl(url)).toBe(true);
    });
  }
});

describe('parseIceUrl: invalid URLs are refused with invalid-ice-server', () => {
  for (const [url, why] of INVALID_URLS) {
    it(JSON.stringify(url), () => {
      let caught: unknown;
      try {
        parseIceUrl(url, 'iceServers[3].urls[1]');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(IceServerError);
      expect(isSignalingError(caught, 'invalid-ice-server')).toBe(true);
      const error = caught as IceServerError;
      expect(error.path).toBe('iceServers[3].urls[1]');
      expect(error.message).toMatch(/^iceServers\[3\]\.urls\[1\]: /);
      expect(error.reason).toMatch(why);
      expect(isIceUrl(url)).toBe(false);
    });
  }

  it('refuses non-strings', () => {
    for (const value of [undefined, null, 3478, {}, ['stun:a']]) {
      expect(() => parseIceUrl(value)).toThrow(IceServerError);
    }
  });
});

describe('parseIceUrl: properties', () => {
  const label = fc.stringMatching(/^[a-z0-9_-]{1,20}$/);
  const name = fc
    .tuple(fc.array(label, { minLength: 0, maxLength: 3 }), fc.stringMatching(/^[a-z][a-z0-9-]{0,9}$/))
    .map(([labels, tld]) => [...labels, tld].join('.'));
  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
  const ipv6 = fc.ipV6().map((a) => `[${a}]`);
  const host = fc.oneof(name, ipv4, ipv6);
  const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
  const scheme = fc.constantFrom('stun', 'stuns', 'turn', 'turns');

  it('every generated valid URL parses back to its parts, with the right default port', () => {
    fc.assert(
      fc.property(scheme, host, port, fc.constantFrom(undefined, 'udp', 'tcp'), (s, h, p, t) => {
        const transport = s.startsWith('turn') ? t : undefined;
        const url = `${s}:${h}${p === undefined ? '' : `:${p}`}${transport ? `?transport=${transport}` : ''}`;
        const parsed = parseIceUrl(url);
        expect(parsed.scheme).toBe(s);
        expect(parsed.host).toBe(h.startsWith('[') ? h.slice(1, -1) : h);
        expect(parsed.port).toBe(p ?? (s.endsWith('s') ? 5349 : 3478));
        expect(parsed.transport).toBe(transport);
      }),
    );
  });

  it('never throws anything but an IceServerError, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `stun:${s}`),
          fc.string().map((s) => `turn:${s}`),
        ),
        (s) => {
          try {
            parseIceUrl(s);
          } catch (err) {
            expect(err).toBeInstanceOf(IceServerError);
          }
        },
      ),
    );
  });
});

describe('validateIceServers: what RTCPeerConnection refuses', () => {
  const turnUrl = 'turn:turn.example.com:3478?transport=udp';

  it('accepts STUN without credentials and TURN with them, returning clean copies', () => {
    const input = [
      { urls: 'stun:stun.example.com' },
      { urls: [turnUrl, 'turns:turn.example.com'], username: 'u', credential: 'p', extra: 'dropped' },
    ];
    const out = validateIceServers(input);
    expect(out).toEqual([
      { urls: 'stun:stun.example.com' },
      { urls: [turnUrl, 'turns:turn.example.com'], username: 'u', credential: 'p' },
    ]);
    expect(out[1]?.urls).not.toBe(input[1]?.urls);
    // Usable as the DOM type without casts.
    const dom: RTCIceServer[] = out;
    expect(dom).toHaveLength(2);
  });

  it('accepts an empty list (no ICE servers: host candidates only)', () => {
    expect(validateIceServers([])).toEqual([]);
  });

  const bad: [unknown, string, RegExp][] = [
    [{ urls: turnUrl }, 'iceServers[0].username', /required/],
    [{ urls: turnUrl, username: 'u' }, 'iceServers[0].credential', /required/],
    [{ urls: turnUrl, username: '', credential: 'p' }, 'iceServers[0].username', /required/],
    [{ urls: turnUrl, username: 'u', credential: '' }, 'iceServers[0].credential', /required/],
    [{ urls: ['stun:a.example', turnUrl] }, 'iceServers[0].username', /required/],
    [{ urls: turnUrl, username: 'u', credential: 7 }, 'iceServers[0].credential', /must be a string/],
    [{ urls: turnUrl, username: 'x'.repeat(510), credential: 'p' }, 'iceServers[0].username', /509 bytes/],
    [{ urls: turnUrl, username: 'é'.repeat(255), credential: 'p' }, 'iceServers[0].username', /509 bytes/],
    [{ urls: [] }, 'iceServers[0].urls', /at least one/],
    [{}, 'iceServers[0].urls', /string or an array/],
    [{ url: 'stun:a.example' }, 'iceServers[0].urls', /string or an array/],
    [{ urls: ['stun:a.example', 'stun:b.example:0'] }, 'iceServers[0].urls[1]', /port/],
    [{ urls: 'stun:a.example?x' }, 'iceServers[0].urls', /query/],
    ['stun:a.example', 'iceServers[0]', /object/],
    [null, 'iceServers[0]', /object/],
  ];
  for (const [entry, path, why] of bad) {
    it(`refuses ${JSON.stringify(entry)} naming ${path}`, () => {
      try {
        validateIceServers([entry]);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(IceServerError);
        expect((err as IceServerError).path).toBe(path);
        expect((err as IceServerError).reason).toMatch(why);
      }
    });
  }

  it('names the entry by its index in the list', () => {
    expect(() => validateIceServers([{ urls: 'stun:a.example' }, { urls: turnUrl }])).toThrow(
      /^iceServers\[1\]\.username: /,
    );
  });

  it('accepts a 509-byte username and refuses a non-array list', () => {
    expect(
      validateIceServer({ urls: turnUrl, username: 'x'.repeat(509), credential: 'p' }).username,
    ).toHaveLength(509);
    expect(() => validateIceServers({ urls: 'stun:a.example' })).toThrow(/^iceServers: must be an array/);
  });

  it('never puts a credential in an error message', () => {
    try {
      validateIceServers([{ urls: 'turn:bad host', username: 'user-secret', credential: 'password-secret' }]);
      expect.unreachable();
    } catch (err) {
      expect(String((err as Error).message)).not.toMatch(/secret/);
    }
  });
});
