import { describe, expect, it } from 'vitest';
import { keepDtlsRole } from '../src/machines/peer.descriptions.js';
import type { Description, PeerConnectionLike } from '../src/machines/peer.types.js';

/**
 * `keepDtlsRole`: the peer's answer states the DTLS role it has in the association already up. The
 * interop it exists for (Firefox answering Chromium's ICE restart with the other role) runs for real in
 * test/webrtc-firefox.test.ts; here, each rule on descriptions shaped as the browsers write them.
 */

const FP_A =
  'sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99';
const FP_B =
  'sha-256 11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF:11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF';

/** A bundled two-section SDP (data and video), `a=setup` and `a=fingerprint` in each section, CRLF. */
function sdp(setup: string, options: { fingerprint?: string; ufrag?: string; tlsId?: string } = {}): string {
  const { fingerprint = FP_A, ufrag = 'u1', tlsId } = options;
  const section = (m: string, mid: number) => [
    m,
    'c=IN IP4 0.0.0.0',
    `a=ice-ufrag:${ufrag}`,
    'a=ice-pwd:0123456789abcdef0123456789',
    `a=fingerprint:${fingerprint}`,
    ...(tlsId ? [`a=tls-id:${tlsId}`] : []),
    `a=setup:${setup}`,
    `a=mid:${mid}`,
  ];
  return [
    'v=0',
    'o=- 1 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    ...section('m=application 9 UDP/DTLS/SCTP webrtc-datachannel', 0),
    ...section('m=video 9 UDP/TLS/RTP/SAVPF 96', 1),
    '',
  ].join('\r\n');
}

/** A connection whose last completed exchange is `local` and `remote` (what keepDtlsRole reads). */
function settledOn(local: Description | null, remote: Description | null): PeerConnectionLike {
  return { currentLocalDescription: local, currentRemoteDescription: remote } as PeerConnectionLike;
}

const setups = (d: Description) => [...(d.sdp ?? '').matchAll(/^a=setup:(\w+)\r$/gm)].map((m) => m[1]);

describe('keepDtlsRole', () => {
  // We offered first (actpass) and the peer answered active: the peer is the DTLS client.
  const weOffered = settledOn(
    { type: 'offer', sdp: sdp('actpass', { fingerprint: FP_B }) },
    { type: 'answer', sdp: sdp('active') },
  );
  // The peer offered first and we answered active: the peer is the DTLS server.
  const weAnswered = settledOn(
    { type: 'answer', sdp: sdp('active', { fingerprint: FP_B }) },
    { type: 'offer', sdp: sdp('actpass') },
  );

  it('an answer to our ICE restart that states the other role, same certificate: the role the peer has', () => {
    const flipped: Description = { type: 'answer', sdp: sdp('active', { ufrag: 'u2' }) };
    const kept = keepDtlsRole(weAnswered, flipped);
    expect(setups(kept)).toEqual(['passive', 'passive']);
    // Nothing else of the answer changes: the new ICE credentials are the restart.
    expect(kept.sdp).toBe((flipped.sdp as string).replaceAll('a=setup:active', 'a=setup:passive'));
    expect(kept.type).toBe('answer');
    expect(setups(keepDtlsRole(weOffered, { type: 'answer', sdp: sdp('passive', { ufrag: 'u2' }) }))).toEqual(
      ['active', 'active'],
    );
  });

  it('an answer that keeps the role is passed on as it is', () => {
    const answer: Description = { type: 'answer', sdp: sdp('active', { ufrag: 'u2' }) };
    expect(keepDtlsRole(weOffered, answer)).toBe(answer);
  });

  it('a new certificate or tls-id is a new association: the peer may take either role', () => {
    const newCertificate: Description = { type: 'answer', sdp: sdp('active', { fingerprint: FP_B }) };
    expect(keepDtlsRole(weAnswered, newCertificate)).toBe(newCertificate);
    const withTlsId = settledOn(
      { type: 'answer', sdp: sdp('active', { fingerprint: FP_B }) },
      { type: 'offer', sdp: sdp('actpass', { tlsId: 'first' }) },
    );
    const newTlsId: Description = { type: 'answer', sdp: sdp('active', { tlsId: 'second' }) };
    expect(keepDtlsRole(withTlsId, newTlsId)).toBe(newTlsId);
    const sameTlsId: Description = { type: 'answer', sdp: sdp('active', { tlsId: 'first' }) };
    expect(setups(keepDtlsRole(withTlsId, sameTlsId))).toEqual(['passive', 'passive']);
  });

  it('the first answer, or a connection that does not say its current descriptions: as it is', () => {
    const answer: Description = { type: 'answer', sdp: sdp('active') };
    expect(keepDtlsRole(settledOn(null, null), answer)).toBe(answer);
    expect(keepDtlsRole({} as PeerConnectionLike, answer)).toBe(answer);
  });

  it('an answer whose sections disagree, or without a role, is not guessed at', () => {
    const mixed: Description = {
      type: 'answer',
      sdp: sdp('active').replace('a=setup:active', 'a=setup:passive'),
    };
    expect(keepDtlsRole(weAnswered, mixed)).toBe(mixed);
    const none: Description = { type: 'answer', sdp: sdp('active').replaceAll(/a=setup:active\r\n/g, '') };
    expect(keepDtlsRole(weAnswered, none)).toBe(none);
  });
});
