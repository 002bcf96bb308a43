/**
 * A minimal TURN client for the tests (RFC 5766 Allocate with RFC 5389 long-term credentials), written
 * with Node's Buffer and crypto, independently of the package's own STUN code, so that the tests can
 * assert exactly what coturn answered to a given username/credential: 200 with a relayed address,
 * or the error code (401 for a refused credential).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';

const COOKIE = 0x2112a442;
const ALLOCATE_REQUEST = 0x0003;
const ALLOCATE_SUCCESS = 0x0103;
const ALLOCATE_ERROR = 0x0113;
const ATTR = {
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_RELAYED_ADDRESS: 0x0016,
  REQUESTED_TRANSPORT: 0x0019,
} as const;

export type AllocateResult =
  | { ok: true; relayed: { address: string; port: number } }
  | { ok: false; code: number; reason: string };

/**
 * Allocates a UDP relay on `host:port` as `username`/`credential`: an unauthenticated Allocate to
 * learn REALM and NONCE (answered 401), then the authenticated one, whose answer is returned.
 */
export async function turnAllocate(
  host: string,
  port: number,
  username: string,
  credential: string,
): Promise<AllocateResult> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.connect(port, host, resolve));
  try {
    const challenge = await exchange(socket, allocate([]));
    if (challenge.type !== ALLOCATE_ERROR || errorCode(challenge) !== 401) {
      throw new Error(`expected 401 challenge, got type 0x${challenge.type.toString(16)}`);
    }
    const realm = challenge.attrs.get(ATTR.REALM);
    const nonce = challenge.attrs.get(ATTR.NONCE);
    if (!realm || !nonce) throw new Error('401 challenge without REALM or NONCE');
    // RFC 5389 §15.4: long-term key = MD5(username ":" realm ":" password)
    const key = createHash('md5')
      .update(`${username}:${realm.toString('utf8')}:${credential}`)
      .digest();
    const answer = await exchange(
      socket,
      allocate(
        [
          [ATTR.USERNAME, Buffer.from(username, 'utf8')],
          [ATTR.REALM, realm],
          [ATTR.NONCE, nonce],
        ],
        key,
      ),
    );
    if (answer.type === ALLOCATE_SUCCESS) {
      const relayed = answer.attrs.get(ATTR.XOR_RELAYED_ADDRESS);
      if (!relayed) throw new Error('Allocate success without XOR-RELAYED-ADDRESS');
      const relayedPort = relayed.readUInt16BE(2) ^ (COOKIE >>> 16);
      const a = relayed.readUInt32BE(4) ^ COOKIE;
      return {
        ok: true,
        relayed: {
          address: [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.'),
          port: relayedPort,
        },
      };
    }
    if (answer.type === ALLOCATE_ERROR) {
      const reason = answer.attrs.get(ATTR.ERROR_CODE)?.subarray(4).toString('utf8') ?? '';
      return { ok: false, code: errorCode(answer), reason };
    }
    throw new Error(`unexpected answer type 0x${answer.type.toString(16)}`);
  } finally {
    socket.close();
  }
}

interface Message {
  type: number;
  attrs: Map<number, Buffer>;
}

function allocate(attrs: [number, Buffer][], key?: Buffer): Buffer {
  const transport = Buffer.from([17, 0, 0, 0]); // UDP
  const body = [[ATTR.REQUESTED_TRANSPORT, transport] as [number, Buffer], ...attrs].map(([type, value]) => {
    const header = Buffer.alloc(4);
    header.writeUInt16BE(type, 0);
    header.writeUInt16BE(value.length, 2);
    return Buffer.concat([header, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
  });
  let payload = Buffer.concat(body);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(ALLOCATE_REQUEST, 0);
  header.writeUInt32BE(COOKIE, 4);
  randomBytes(12).copy(header, 8);
  if (key) {
    // RFC 5389 §15.4: the HMAC covers the message with its length already counting MESSAGE-INTEGRITY.
    header.writeUInt16BE(payload.length + 24, 2);
    const mac = createHmac('sha1', key)
      .update(Buffer.concat([header, payload]))
      .digest();
    const attr = Buffer.alloc(4);
    attr.writeUInt16BE(ATTR.MESSAGE_INTEGRITY, 0);
    attr.writeUInt16BE(20, 2);
    payload = Buffer.concat([payload, attr, mac]);
  }
  header.writeUInt16BE(payload.length, 2);
  return Buffer.concat([header, payload]);
}

function exchange(socket: ReturnType<typeof createSocket>, request: Buffer): Promise<Message> {
  const id = request.subarray(8, 20);
  return new Promise((resolve, reject) => {
    let tries = 0;
    let timer: ReturnType<typeof setTimeout>;
    const onMessage = (msg: Buffer) => {
      if (msg.length < 20 || !msg.subarray(8, 20).equals(id)) return;
      cleanup();
      const attrs = new Map<number, Buffer>();
      for (let at = 20; at + 4 <= msg.length; ) {
        const type = msg.readUInt16BE(at);
        const length = msg.readUInt16BE(at + 2);
        if (!attrs.has(type)) attrs.set(type, msg.subarray(at + 4, at + 4 + length));
        at += 4 + length + ((4 - (length % 4)) % 4);
      }
      resolve({ type: msg.readUInt16BE(0), attrs });
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      socket.off('error', onError);
    };
    const send = () => {
      if (++tries > 5) {
        cleanup();
        reject(new Error('no answer from the TURN server'));
        return;
      }
      socket.send(request);
      timer = setTimeout(send, 500);
    };
    socket.on('message', onMessage);
    socket.on('error', onError);
    send();
  });
}

function errorCode(message: Message): number {
  const value = message.attrs.get(ATTR.ERROR_CODE);
  return value ? ((value[2] as number) & 7) * 100 + (value[3] as number) : 0;
}
