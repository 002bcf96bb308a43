import { SignalingError } from '../errors.js';
import { tryDecodeBase64url } from './base64url.js';
import {
  CloseCode,
  isReservedType,
  KEY_BYTES,
  MAX_ID_LENGTH,
  MAX_PRESENCE_KEYS,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  SIGNATURE_BYTES,
} from './constants.js';
import type { ApplicationMessage, ClientMessage, Sender, ServerMessage } from './messages.js';

/** How {@link parseFrame} reads a frame. */
export interface ParseOptions {
  /** Who sent the frame. */
  sender: Sender;
  /** Largest accepted frame in UTF-8 bytes; larger frames are a `too-large` error (close 1009). */
  maxBytes?: number;
}

/** A valid message from `S`: a protocol message that side sends, or an application message. */
export type ParsedMessage<S extends Sender> =
  | (S extends 'server' ? ServerMessage : ClientMessage)
  | ApplicationMessage;

/** The outcome of parsing: the message, or a typed error carrying its close code. */
export type ParseResult<S extends Sender> =
  | { ok: true; message: ParsedMessage<S> }
  | { ok: false; error: SignalingError };

/**
 * Reads one WebSocket frame. Never throws: a bad frame comes back as a typed error carrying the close
 * code the spec assigns (1003 binary, 1007 bad JSON or fields, 1009 too large, 4010 wrong version).
 * Application messages (unreserved types) are returned as parsed, unchecked beyond `type`.
 */
export function parseFrame<S extends Sender>(
  data: string | ArrayBuffer | ArrayBufferView,
  options: ParseOptions & { sender: S },
): ParseResult<S> {
  if (typeof data !== 'string') {
    return fail('protocol', 'binary frames are not part of the protocol', CloseCode.UNSUPPORTED_DATA);
  }
  const max = options.maxBytes;
  if (max !== undefined && data.length > max / 3 && utf8Length(data) > max) {
    return fail('too-large', `frame exceeds ${max} bytes`, CloseCode.TOO_BIG);
  }
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return fail('malformed', 'frame is not JSON', CloseCode.INVALID_PAYLOAD);
  }
  return validateMessage(value, options.sender);
}

/** Checks an already-parsed value as a message from `sender`. */
export function validateMessage<S extends Sender>(value: unknown, sender: S): ParseResult<S> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('malformed', 'frame is not a JSON object', CloseCode.INVALID_PAYLOAD);
  }
  const m = value as Record<string, unknown>;
  const type = m.type;
  if (typeof type !== 'string') {
    return fail('malformed', 'frame has no string `type`', CloseCode.INVALID_PAYLOAD);
  }
  if (!isReservedType(type)) return { ok: true, message: m as ApplicationMessage };
  const problem = sender === 'server' ? checkServerMessage(type, m) : checkClientMessage(type, m);
  if (problem === undefined) return { ok: true, message: m as unknown as ParsedMessage<S> };
  if (problem === VERSION) {
    return fail(
      'unsupported-version',
      `${type}: unsupported protocol version`,
      CloseCode.UNSUPPORTED_VERSION,
    );
  }
  return fail('malformed', `${type}: ${problem}`, CloseCode.INVALID_PAYLOAD);
}

const VERSION = Symbol('version');
type Problem = string | typeof VERSION | undefined;

function checkServerMessage(type: string, m: Record<string, unknown>): Problem {
  switch (type) {
    case 'auth.challenge': {
      if (m.v !== PROTOCOL_VERSION) return VERSION;
      if (!isBytes(m.nonce, NONCE_BYTES)) return '`nonce` must be 32 bytes';
      if (m.serverKey !== undefined && !isBytes(m.serverKey, KEY_BYTES))
        return '`serverKey` must be 32 bytes';
      const hb = m.heartbeat as Record<string, unknown> | undefined;
      if (!isObject(hb) || !isPositiveInt(hb.interval) || !isPositiveInt(hb.timeout)) {
        return '`heartbeat` needs positive integer `interval` and `timeout`';
      }
      const limits = m.limits as Record<string, unknown> | undefined;
      if (!isObject(limits) || !isPositiveInt(limits.maxMessageBytes)) {
        return '`limits.maxMessageBytes` must be a positive integer';
      }
      return undefined;
    }
    case 'auth.ok':
      if (m.v !== PROTOCOL_VERSION) return VERSION;
      if (typeof m.sessionId !== 'string' || m.sessionId.length === 0) return '`sessionId` must be a string';
      if (!isBytes(m.signature, SIGNATURE_BYTES)) return '`signature` must be 64 bytes';
      if (m.iceServers !== undefined && !Array.isArray(m.iceServers)) return '`iceServers` must be an array';
      return undefined;
    case 'auth.error':
      if (!AUTH_ERROR_CODES.has(m.code as string)) return 'unknown `code`';
      if (m.retryAfter !== undefined && !isNonNegativeInt(m.retryAfter)) return '`retryAfter` must be ms';
      return undefined;
    case 'pong':
      return isSafeInt(m.t) ? undefined : '`t` must be an integer';
    case 'ack':
      return isId(m.id) ? undefined : '`id` must be 1-64 characters';
    case 'error':
      if (typeof m.code !== 'string') return '`code` must be a string';
      return m.id === undefined || isId(m.id) ? undefined : '`id` must be 1-64 characters';
    case 'presence':
      if (!isKey(m.key)) return '`key` must be 32 bytes';
      return typeof m.online === 'boolean' ? undefined : '`online` must be a boolean';
    case 'signal':
      if (!isKey(m.from)) return '`from` must be 32 bytes';
      return isId(m.id) ? undefined : '`id` must be 1-64 characters';
    default:
      return 'not a message a server sends';
  }
}

function checkClientMessage(type: string, m: Record<string, unknown>): Problem {
  switch (type) {
    case 'auth.response':
      if (m.v !== PROTOCOL_VERSION) return VERSION;
      if (!isBytes(m.publicKey, KEY_BYTES)) return '`publicKey` must be 32 bytes';
      if (!isBytes(m.clientNonce, NONCE_BYTES)) return '`clientNonce` must be 32 bytes';
      if (!isNonNegativeInt(m.issuedAt)) return '`issuedAt` must be ms since the epoch';
      return isBytes(m.signature, SIGNATURE_BYTES) ? undefined : '`signature` must be 64 bytes';
    case 'ping':
      return isSafeInt(m.t) ? undefined : '`t` must be an integer';
    case 'signal':
      if (!isKey(m.to)) return '`to` must be 32 bytes';
      return isId(m.id) ? undefined : '`id` must be 1-64 characters';
    case 'presence.subscribe':
    case 'presence.unsubscribe': {
      const keys = m.keys;
      if (!Array.isArray(keys) || keys.length > MAX_PRESENCE_KEYS)
        return '`keys` must be an array of ≤ 1024 keys';
      return keys.every(isKey) ? undefined : 'every key must be 32 bytes';
    }
    default:
      return 'not a message a client sends';
  }
}

const AUTH_ERROR_CODES: ReadonlySet<string> = new Set([
  'denied',
  'expired',
  'rate-limited',
  'unsupported-version',
  'malformed',
]);

// A 32-byte value in strict base64url: 43 characters, the last one's two unused bits zero. Checked
// without decoding because `signal` and `presence` are on the hot path.
const KEY_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** True when `value` is a strict base64url 32-byte key. */
export function isKey(value: unknown): value is string {
  return typeof value === 'string' && value.length === 43 && KEY_PATTERN.test(value);
}

function isBytes(value: unknown, length: number): boolean {
  if (typeof value !== 'string') return false;
  if (length === KEY_BYTES) return isKey(value);
  return value.length === Math.ceil((length * 4) / 3) && tryDecodeBase64url(value) !== undefined;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= MAX_ID_LENGTH;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSafeInt(value: unknown): value is number {
  return Number.isSafeInteger(value);
}

function isNonNegativeInt(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isPositiveInt(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

/** UTF-8 length of a JS string without allocating (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2; // 4 bytes for the pair, already counted 2
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}

function fail(
  code: 'protocol' | 'malformed' | 'too-large' | 'unsupported-version',
  message: string,
  closeCode: number,
) {
  return { ok: false as const, error: new SignalingError(code, message, { closeCode }) };
}
