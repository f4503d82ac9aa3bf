// A bare CQL connection for tests that need what drivers hide: exact frames, unread answers,
// REGISTER and EVENT frames, a client that vanishes mid-handshake.

import net from 'node:net';
import { BodyWriter, FrameReader, Opcode, encodeFrame, parseError, type Frame } from '../../src/cqlproxy/frame.js';

export class RawCql {
  readonly frames: Frame[] = [];
  readonly closed: Promise<void>;
  private waiters: Array<() => void> = [];
  private readonly reader = new FrameReader();

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (chunk: Buffer) =>
      this.reader.push(chunk, (f) => {
        this.frames.push({ ...f, body: Buffer.from(f.body) });
        for (const w of this.waiters.splice(0)) w();
      }),
    );
    sock.on('error', () => {});
    this.closed = new Promise((resolve) => sock.once('close', () => resolve()));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawCql> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, host, () => {
        sock.removeListener('error', reject);
        resolve(new RawCql(sock));
      });
      sock.once('error', reject);
    });
  }

  send(stream: number, opcode: number, body: Buffer, version = 4): void {
    this.sock.write(encodeFrame(version, false, 0, stream, opcode, body));
  }

  /** The next frame (in arrival order) that matches, waiting up to timeoutMs. */
  async next(match: (f: Frame) => boolean, timeoutMs = 30000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(match);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no matching frame in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  answer(stream: number, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.stream === stream, timeoutMs);
  }

  /** STARTUP (and PLAIN auth when asked); resolves on READY / AUTH_SUCCESS. */
  async startup(credentials?: { username: string; password: string }): Promise<void> {
    this.send(0, Opcode.STARTUP, new BodyWriter().stringMap({ CQL_VERSION: '3.0.0' }).build());
    let f = await this.answer(0);
    if (f.opcode === Opcode.AUTHENTICATE && credentials) {
      const token = Buffer.from(`\0${credentials.username}\0${credentials.password}`);
      this.send(0, Opcode.AUTH_RESPONSE, new BodyWriter().bytes(token).build());
      f = await this.answer(0);
    }
    if (f.opcode !== Opcode.READY && f.opcode !== Opcode.AUTH_SUCCESS) throw new Error(`startup: ${describeFrame(f)}`);
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** QUERY body: the text, a consistency and no values. */
export function queryBody(q: string, consistency = 0x0001): Buffer {
  return new BodyWriter().longString(q).short(consistency).byte(0).build();
}

export function describeFrame(f: Frame): string {
  if (f.opcode !== Opcode.ERROR) return `opcode ${f.opcode}`;
  const e = parseError(f.body);
  return `error 0x${e.code.toString(16).padStart(4, '0')}: ${e.message}`;
}
