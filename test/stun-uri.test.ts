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

describe('parseIceUrl: valid URLs (RFC 7064 / RFC 7065)', () => {
  const cases: [string, Partial<ReturnType<typeof parseIceUrl>>][] = [
    [
      'stun:stun.l.google.com:19302',
      { scheme: 'stun', host: 'stun.l.google.com', port: 19302, explicitPort: true },
    ],
    [
      'stun:example.com',
      { scheme: 'stun', host: 'example.com', port: 3478, explicitPort: false, hostType: 'name' },
    ],
    ['stuns:example.com', { scheme: 'stuns', secure: true, port: 5349, explicitPort: false }],
    ['turn:example.com', { scheme: 'turn', kind: 'turn', port: 3478, transport: undefined }],
    ['turns:example.com', { scheme: 'turns', kind: 'turn', secure: true, port: 5349 }],
    ['turn:192.0.2.1:3478?transport=udp', { host: '192.0.2.1', hostType: 'ipv4', transport: 'udp' }],
    ['turn:192.0.2.1?transport=tcp', { host: '192.0.2.1', port: 3478, transport: 'tcp' }],
    ['turns:turn.example.org:443?transport=tcp', { port: 443, transport: 'tcp', secure: true }],
    ['stun:[::1]', { host: '::1', hostType: 'ipv6', port: 3478 }],
    ['stun:[2001:db8::1]:19302', { host: '2001:db8::1', hostType: 'ipv6', port: 19302 }],
    ['turns:[2001:DB8:0:0:8:800:200C:417A]', { host: '2001:DB8:0:0:8:800:200C:417A', port: 5349 }],
    ['turn:[::ffff:192.0.2.1]:80?transport=udp', { host: '::ffff:192.0.2.1', port: 80, transport: 'udp' }],
    ['stun:1.2.3.4:65535', { port: 65535 }],
    ['stun:1.2.3.4:1', { port: 1 }],
    ['stun:0.0.0.0', { hostType: 'ipv4' }],
    ['stun:_stun._udp.example.com', { hostType: 'name' }],
    ['stun:localhost', { host: 'localhost' }],
    ['stun:EXAMPLE.com.', { host: 'EXAMPLE.com.' }],
    ['stun:xn--bcher-kva.example', { hostType: 'name' }],
    ['stun:3com.net', { hostType: 'name' }],
  ];
  for (const [url, expected] of cases) {
    it(url, () => {
      expect(parseIceUrl(url)).toMatchObject(expected);
      expect(isIceUrl(url)).toBe(true);
    });
  }
});

describe('parseIceUrl: invalid URLs are refused with invalid-ice-server', () => {
  const cases: [string, RegExp][] = [
    ['', /not a stun/],
    ['stun:', /no host/],
    ['stun', /not a stun/],
    ['http://example.com', /not a stun/],
    ['stunx:example.com', /not a stun|invalid host/],
    ['STUN:example.com', /upper-case scheme/],
    ['Turn:example.com', /upper-case scheme/],
    ['stun://example.com', /"\/\/"/],
    ['turn://user:pass@example.com', /"\/\/"/],
    ['turn:user@example.com', /user info/],
    ['stun:example.com/path', /path/],
    ['stun:example.com#frag', /fragment/],
    ['stun:example.com?transport=udp', /STUN URLs take none/],
    ['stuns:example.com?', /STUN URLs take none/],
    ['turn:example.com?transport=tls', /query/],
    ['turn:example.com?transport=UDP', /query/],
    ['turn:example.com?transport=', /query/],
    ['turn:example.com?foo=bar', /query/],
    ['turn:example.com?transport=udp&x=1', /query/],
    ['turn:example.com?', /query/],
    ['stun:example.com:', /port/],
    ['stun:example.com:0', /port/],
    ['stun:example.com:65536', /port/],
    ['stun:example.com:123456', /port/],
    ['stun:example.com:+80', /port/],
    ['stun:example.com:8a', /port/],
    ['stun:example.com: 80', /port/],
    ['stun: example.com', /invalid host/],
    ['stun:exa mple.com', /invalid host/],
    ['stun:example.com ', /invalid host/],
    ['stun:hôst.example', /invalid host/],
    ['stun:a..b', /invalid host/],
    ['stun:.example.com', /invalid host/],
    ['stun:ex%41mple.com', /invalid host/],
    ['stun:exa~mple.com', /invalid host/],
    ['stun:256.0.0.1', /invalid host/],
    ['stun:1.2.3', /invalid host/],
    ['stun:127.1', /invalid host/],
    ['stun:010.0.0.1', /invalid host/],
    ['stun:host.0x10', /invalid host/],
    ['stun:example.123', /invalid host/],
    [`stun:${'a'.repeat(64)}.com`, /invalid host/],
    [`stun:${'abc.'.repeat(64)}com`, /invalid host/],
    ['stun:2001:db8::1', /IPv6 needs \[brackets\]/],
    ['stun:[2001:db8::1', /closing "]"/],
    ['stun:[2001:db8::1]x', /after the IPv6 literal/],
    ['stun:[2001:db8::1]:', /port/],
    ['stun:[fe80::1%25eth0]', /invalid IPv6/],
    ['stun:[:::1]', /invalid IPv6/],
    ['stun:[1:2:3:4:5:6:7:8:9]', /invalid IPv6/],
    ['stun:[1::2::3]', /invalid IPv6/],
    ['stun:[12345::1]', /invalid IPv6/],
    ['stun:[v1.fe80::1]', /invalid IPv6/],
    ['stun:[]', /invalid IPv6/],
    ['stun:[192.0.2.1]', /invalid IPv6/],
  ];
  for (const [url, why] of cases) {
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
