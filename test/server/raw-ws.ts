import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** The GUID of RFC 6455 §1.3: the server proves it read our key by hashing it with this. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Frame opcodes (RFC 6455 §5.2); 0x3 is one of the reserved non-control ones. */
export const OP = { text: 0x1, binary: 0x2, reserved: 0x3, close: 0x8 } as const;

export interface FrameOptions {
  opcode: number;
  payload?: Buffer;
  /** Clients must mask every frame (§5.3); false builds the protocol error of an unmasked one. */
  mask?: boolean;
  /** The RSV1..3 bits (0–7): nonzero without a negotiated extension is a protocol error. */
  rsv?: number;
  fin?: boolean;
}

/** One WebSocket frame as a client sends it, built by hand so that it can be malformed. */
export function frame(opts: FrameOptions): Buffer {
  const payload = opts.payload ?? Buffer.alloc(0);
  const mask = opts.mask ?? true;
  const first = ((opts.fin ?? true) ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opts.opcode;
  const n = payload.length;
  const length =
    n < 126
      ? Buffer.from([n])
      : n < 65536
        ? Buffer.from([126, n >> 8, n & 0xff])
        : Buffer.concat([Buffer.from([127]), bigEndian64(n)]);
  if (mask) length[0]! |= 0x80;
  const key = mask ? randomBytes(4) : Buffer.alloc(0);
  const body = Buffer.from(payload);
  if (mask) for (let i = 0; i < body.length; i++) body[i]! ^= key[i % 4]!;
  return Buffer.concat([Buffer.from([first]), length, key, body]);
}

function bigEndian64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** A well-formed, masked text frame carrying `text` (an RPC request). */
export const textFrame = (text: string) => frame({ opcode: OP.text, payload: Buffer.from(text) });

/** A frame from the server: servers never mask (§5.1). */
export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/** The close frame's status code and reason (§5.5.1); code null: the frame carried none. */
export interface CloseInfo {
  code: number | null;
  reason: string;
}

/**
 * A raw TCP connection that did the WebSocket upgrade by hand: what it writes goes to the server
 * byte for byte, and it parses the server's frames itself (to read a close frame's code).
 */
export class RawWebSocket {
  readonly socket: Socket;
  /** The close frame the server sent, once one arrived. */
  closeFrame: CloseInfo | undefined;
  /** Text frames received (answers and events), counted: they can be many. */
  texts = 0;
  /** The texts themselves, kept only once `keepTexts()` was called. */
  kept: string[] | undefined;
  readonly closed: Promise<void>;
  /** Bytes received and not yet parsed; `#need`: how many a whole next frame takes (at least). */
  #chunks: Buffer[];
  #length: number;
  #need = 2;
  #textWaiters: { test: (text: string) => boolean; resolve: (text: string) => void }[] = [];

  private constructor(socket: Socket, leftover: Buffer) {
    this.socket = socket;
    this.#chunks = [leftover];
    this.#length = leftover.length;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
      this.#parse();
    });
    this.#parse();
  }

  /** Connects to ws://127.0.0.1:`port``path` and completes the opening handshake (status 101). */
  static async connect(port: number, path = '/ws'): Promise<RawWebSocket> {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.on('error', () => {}); // a reset by the server shows as 'close', which is what we test
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const key = randomBytes(16).toString('base64');
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const { head, rest } = await readHead(socket);
    if (!/^HTTP\/1\.1 101 /.test(head))
      throw new Error(`upgrade refused: ${head.split('\r\n')[0]}`);
    const accept = createHash('sha1')
      .update(key + WS_GUID)
      .digest('base64');
    if (!head.includes(`Sec-WebSocket-Accept: ${accept}`)) {
      throw new Error(`bad Sec-WebSocket-Accept in ${head}`);
    }
    return new RawWebSocket(socket, rest);
  }

  /** Keeps every text frame received from now on, in `kept`. */
  keepTexts(): string[] {
    return (this.kept = []);
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(bytes, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** Resolves with the next text frame received that passes `test`. */
  nextText(test: (text: string) => boolean = () => true): Promise<string> {
    return new Promise((resolve) => this.#textWaiters.push({ test, resolve }));
  }

  /** Resolves once the TCP connection is closed, or rejects after `ms`. */
  async waitClosed(ms: number, what: string): Promise<CloseInfo | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms);
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return this.closeFrame;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Parses the whole frames received; joins the chunks only once a frame is all here. */
  #parse(): void {
    if (this.#length < this.#need) return;
    let buffer = Buffer.concat(this.#chunks);
    for (;;) {
      const parsed = parseFrame(buffer);
      if (typeof parsed === 'number') {
        this.#need = parsed;
        break;
      }
      buffer = buffer.subarray(parsed.size);
      this.#receive(parsed.frame);
    }
    this.#chunks = [buffer];
    this.#length = buffer.length;
  }

  #receive({ opcode, payload }: ServerFrame): void {
    if (opcode === OP.close) {
      this.closeFrame =
        payload.length >= 2
          ? { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') }
          : { code: null, reason: '' };
      // Answer it, as RFC 6455 §5.5.1 asks: the server may then end the TCP connection at once.
      if (this.socket.writable) this.socket.write(frame({ opcode: OP.close }));
      return;
    }
    if (opcode !== OP.text) return;
    this.texts++;
    if (this.#textWaiters.length === 0 && !this.kept) return;
    const text = payload.toString('utf8');
    this.kept?.push(text);
    const at = this.#textWaiters.findIndex((w) => w.test(text));
    if (at >= 0) this.#textWaiters.splice(at, 1)[0]!.resolve(text);
  }
}

/** Reads the HTTP response head of the upgrade; `rest` is what followed it (the first frames). */
function readHead(socket: Socket): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve({ head: got.subarray(0, end).toString('latin1'), rest: got.subarray(end + 4) });
    };
    const onClose = () => reject(new Error(`closed during the handshake: ${got.toString()}`));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/**
 * One whole unmasked frame at the start of `buf`, and its size; a number: not all here yet, the
 * bytes needed to know more.
 */
function parseFrame(buf: Buffer): { frame: ServerFrame; size: number } | number {
  if (buf.length < 2) return 2;
  const opcode = buf[0]! & 0x0f;
  let length = buf[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buf.length < 4) return 4;
    length = buf.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buf.length < 10) return 10;
    length = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  if (buf.length < offset + length) return offset + length;
  return {
    frame: { opcode, payload: buf.subarray(offset, offset + length) },
    size: offset + length,
  };
}
