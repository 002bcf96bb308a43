import { STUN_MAGIC_COOKIE } from '../stun/constants.js';

/**
 * The slice of the STUN message format (RFC 5389 §6, §15) a Binding probe needs: build a request,
 * and read the matching response. Pure bytes, no I/O.
 */

/** STUN message type of a Binding request. */
export const BINDING_REQUEST = 0x0001;
/** STUN message type of a Binding success response. */
export const BINDING_SUCCESS = 0x0101;
/** STUN message type of a Binding error response. */
export const BINDING_ERROR = 0x0111;
const HEADER_BYTES = 20;

const ATTR_MAPPED_ADDRESS = 0x0001;
const ATTR_ERROR_CODE = 0x0009;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
/**
 * Comprehension-required attributes (type < 0x8000) a Binding response may carry: RFC 5389 ones
 * and RFC 3489's legacy addresses (0x0002-0x0005) that older servers still add. A response with any
 * other comprehension-required attribute must be discarded (RFC 5389 §7.3.3).
 */
const KNOWN_REQUIRED = new Set([
  0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x0008, 0x0009, 0x000a, 0x0014, 0x0015, 0x001c, 0x001d,
  0x001e, 0x0020,
]);

/** A decoded Binding response: the mapped address, or the server's error code and reason. */
export type BindingResponse =
  | { kind: 'success'; family: 'IPv4' | 'IPv6'; address: string; port: number }
  | { kind: 'error'; code: number; reason: string };

/** A Binding request with no attributes: a 20-byte header. `transactionId` must be 12 random bytes. */
export function encodeBindingRequest(transactionId: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint16(0, BINDING_REQUEST);
  view.setUint16(2, 0);
  view.setUint32(4, STUN_MAGIC_COOKIE);
  out.set(transactionId, 8);
  return out;
}

/**
 * Decodes `packet` as the response to the Binding request `transactionId`. Returns `undefined` for
 * anything to ignore: another transaction, not STUN, malformed, unknown comprehension-required
 * attributes, or a success without a mapped address.
 */
export function decodeBindingResponse(
  packet: Uint8Array,
  transactionId: Uint8Array,
): BindingResponse | undefined {
  if (packet.length < HEADER_BYTES) return undefined;
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const type = view.getUint16(0);
  const length = view.getUint16(2);
  if (length !== packet.length - HEADER_BYTES || length % 4 !== 0) return undefined;
  if (view.getUint32(4) !== STUN_MAGIC_COOKIE) return undefined;
  for (let i = 0; i < 12; i++) if (packet[8 + i] !== transactionId[i]) return undefined;
  if (type !== BINDING_SUCCESS && type !== BINDING_ERROR) return undefined;

  let xorMapped: BindingResponse | undefined;
  let mapped: BindingResponse | undefined;
  let error: BindingResponse | undefined;
  for (let at = HEADER_BYTES; at < packet.length; ) {
    if (at + 4 > packet.length) return undefined;
    const attrType = view.getUint16(at);
    const attrLength = view.getUint16(at + 2);
    const start = at + 4;
    if (start + attrLength > packet.length) return undefined;
    const value = packet.subarray(start, start + attrLength);
    if (attrType < 0x8000 && !KNOWN_REQUIRED.has(attrType)) return undefined;
    if (attrType === ATTR_XOR_MAPPED_ADDRESS) xorMapped ??= readAddress(value, packet.subarray(4, 20));
    else if (attrType === ATTR_MAPPED_ADDRESS) mapped ??= readAddress(value, undefined);
    else if (attrType === ATTR_ERROR_CODE && value.length >= 4) {
      const code = ((value[2] as number) & 7) * 100 + (value[3] as number);
      error ??= { kind: 'error', code, reason: new TextDecoder().decode(value.subarray(4)) };
    }
    at = start + ((attrLength + 3) & ~3); // attributes are padded to 4 bytes
  }
  if (type === BINDING_ERROR) return error ?? { kind: 'error', code: 0, reason: 'no ERROR-CODE' };
  // MAPPED-ADDRESS only as a fallback for RFC 3489 servers that lack XOR-MAPPED-ADDRESS.
  return xorMapped ?? mapped;
}

/**
 * (XOR-)MAPPED-ADDRESS (RFC 5389 §15.1, §15.2). `xorKey` is the magic cookie followed by the
 * transaction id; XOR-MAPPED-ADDRESS masks the port with its first two bytes and the address with its
 * first 4 (IPv4) or all 16 (IPv6).
 */
function readAddress(value: Uint8Array, xorKey: Uint8Array | undefined): BindingResponse | undefined {
  if (value.length < 4 || value[0] !== 0) return undefined;
  const family = value[1];
  const addressLength = family === 0x01 ? 4 : family === 0x02 ? 16 : 0;
  if (addressLength === 0 || value.length !== 4 + addressLength) return undefined;
  const mask = (i: number) => (xorKey ? (xorKey[i] as number) : 0);
  const port = (((value[2] as number) ^ mask(0)) << 8) | ((value[3] as number) ^ mask(1));
  const bytes = new Uint8Array(addressLength);
  for (let i = 0; i < addressLength; i++) bytes[i] = (value[4 + i] as number) ^ mask(i);
  if (family === 0x01) return { kind: 'success', family: 'IPv4', address: bytes.join('.'), port };
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  // The WHATWG URL serializer gives the RFC 5952 canonical text (longest zero run as "::").
  const address = new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
  return { kind: 'success', family: 'IPv6', address, port };
}
