import net from 'node:net';

/*
 * Just enough of the CQL native protocol (v4) to tell whether a port speaks CQL, whether a login
 * works, and what system.local says — without depending on the driver's connection machinery,
 * which needs to know the datacenter before it connects.
 */

const VERSION = 0x04;
export const OP = {
  ERROR: 0x00, STARTUP: 0x01, READY: 0x02, AUTHENTICATE: 0x03, OPTIONS: 0x05, SUPPORTED: 0x06,
  QUERY: 0x07, RESULT: 0x08, AUTH_RESPONSE: 0x0f, AUTH_SUCCESS: 0x10,
} as const;

export interface Frame { opcode: number; body: Buffer }

export type ProbeResult =
  | { kind: 'closed' } // nothing is listening
  | { kind: 'cql' }
  | { kind: 'other'; detail: string }; // something listens but does not answer like Cassandra

class NotCqlError extends Error {}

const REFUSED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** One connection, one request in flight at a time: all we need for probing. */
export class ProbeConnection {
  private buf = Buffer.alloc(0);
  private waiter?: { resolve: (f: Frame) => void; reject: (e: Error) => void };
  private failure?: Error;

  private constructor(private readonly socket: net.Socket, private readonly timeoutMs: number) {
    socket.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.pump(); });
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new NotCqlError('connection closed without a CQL answer')));
  }

  static connect(host: string, port: number, timeoutMs = 2000): Promise<ProbeConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => { socket.destroy(); reject(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })); }, timeoutMs);
      socket.once('error', (e) => { clearTimeout(timer); reject(e); });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ProbeConnection(socket, timeoutMs));
      });
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failure);
  }

  private pump(): void {
    if (this.buf.length >= 1 && (this.buf[0]! & 0x80) === 0) {
      this.fail(new NotCqlError(`answered with bytes that are not a CQL response (0x${this.buf.subarray(0, 8).toString('hex')})`));
      this.socket.destroy();
      return;
    }
    if (this.buf.length < 9) return;
    const len = this.buf.readInt32BE(5);
    if (len < 0 || len > 16 * 1024 * 1024) { this.fail(new NotCqlError('implausible CQL frame length')); this.socket.destroy(); return; }
    if (this.buf.length < 9 + len) return;
    const frame = { opcode: this.buf[4]!, body: this.buf.subarray(9, 9 + len) };
    this.buf = this.buf.subarray(9 + len);
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve(frame);
  }

  request(opcode: number, body: Buffer = Buffer.alloc(0)): Promise<Frame> {
    if (this.failure) return Promise.reject(this.failure);
    const header = Buffer.alloc(9);
    header[0] = VERSION;
    header.writeInt16BE(1, 2);
    header[4] = opcode;
    header.writeInt32BE(body.length, 5);
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => reject(new NotCqlError(`no CQL answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.waiter = {
        resolve: (f) => { clearTimeout(timer); resolve(f); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      this.socket.write(Buffer.concat([header, body]));
    });
  }

  close(): void { this.socket.destroy(); }
}

// --- body encoding / decoding -------------------------------------------------------------------

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function longStr(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function stringMap(m: Record<string, string>): Buffer {
  const n = Buffer.alloc(2);
  n.writeUInt16BE(Object.keys(m).length);
  return Buffer.concat([n, ...Object.entries(m).flatMap(([k, v]) => [str(k), str(v)])]);
}

class Reader {
  constructor(private readonly b: Buffer, public pos = 0) {}
  int(): number { const v = this.b.readInt32BE(this.pos); this.pos += 4; return v; }
  short(): number { const v = this.b.readUInt16BE(this.pos); this.pos += 2; return v; }
  string(): string { const n = this.short(); const s = this.b.toString('utf8', this.pos, this.pos + n); this.pos += n; return s; }
  bytes(): Buffer | null { const n = this.int(); if (n < 0) return null; const v = this.b.subarray(this.pos, this.pos + n); this.pos += n; return v; }
}

function errorMessage(f: Frame): string {
  const r = new Reader(f.body);
  const code = r.int();
  return `${r.string()} (code 0x${code.toString(16)})`;
}

// --- the probes ---------------------------------------------------------------------------------

/** Does address:port speak CQL? Sends OPTIONS and expects SUPPORTED (an ERROR frame also proves CQL). */
export async function probeCql(host: string, port: number, timeoutMs = 2000): Promise<ProbeResult> {
  let conn: ProbeConnection;
  try {
    conn = await ProbeConnection.connect(host, port, timeoutMs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (REFUSED.has(code)) return { kind: 'closed' };
    return { kind: 'other', detail: (e as Error).message };
  }
  try {
    const f = await conn.request(OP.OPTIONS);
    return f.opcode === OP.SUPPORTED || f.opcode === OP.ERROR
      ? { kind: 'cql' }
      : { kind: 'other', detail: `unexpected CQL opcode 0x${f.opcode.toString(16)}` };
  } catch (e) {
    return { kind: 'other', detail: (e as Error).message };
  } finally {
    conn.close();
  }
}

export interface Credentials { username: string; password: string }

/** STARTUP (+ SASL PLAIN login when the server asks); resolves when the connection is usable. */
async function startup(conn: ProbeConnection, creds?: Credentials): Promise<void> {
  const f = await conn.request(OP.STARTUP, stringMap({ CQL_VERSION: '3.0.0' }));
  if (f.opcode === OP.READY) return;
  if (f.opcode === OP.ERROR) throw new Error(errorMessage(f));
  if (f.opcode !== OP.AUTHENTICATE) throw new Error(`unexpected opcode 0x${f.opcode.toString(16)} after STARTUP`);
  if (!creds) throw new Error('server requires authentication');
  const token = Buffer.from(`\0${creds.username}\0${creds.password}`, 'utf8');
  const len = Buffer.alloc(4);
  len.writeInt32BE(token.length);
  const a = await conn.request(OP.AUTH_RESPONSE, Buffer.concat([len, token]));
  if (a.opcode === OP.AUTH_SUCCESS) return;
  throw new Error(a.opcode === OP.ERROR ? errorMessage(a) : `unexpected opcode 0x${a.opcode.toString(16)} during login`);
}

/** Resolves if a login with these credentials works (used to wait for the default superuser). */
export async function tryLogin(host: string, port: number, creds: Credentials, timeoutMs = 3000): Promise<void> {
  const conn = await ProbeConnection.connect(host, port, timeoutMs);
  try { await startup(conn, creds); } finally { conn.close(); }
}

/** Runs a query whose result columns are all simple types and returns rows as raw buffers. */
async function queryRows(conn: ProbeConnection, cql: string): Promise<{ columns: string[]; rows: (Buffer | null)[][] }> {
  const consistencyOne = Buffer.from([0x00, 0x01, 0x00]); // consistency ONE, no flags
  const f = await conn.request(OP.QUERY, Buffer.concat([longStr(cql), consistencyOne]));
  if (f.opcode === OP.ERROR) throw new Error(errorMessage(f));
  if (f.opcode !== OP.RESULT) throw new Error(`unexpected opcode 0x${f.opcode.toString(16)} for QUERY`);
  const r = new Reader(f.body);
  if (r.int() !== 0x0002) throw new Error('QUERY did not return rows');
  const flags = r.int();
  const count = r.int();
  if (flags & 0x0002) r.bytes(); // paging state
  const global = (flags & 0x0001) !== 0;
  if (global) { r.string(); r.string(); }
  const columns: string[] = [];
  for (let i = 0; i < count; i++) {
    if (!global) { r.string(); r.string(); }
    columns.push(r.string());
    const type = r.short();
    if (type === 0x0000 || type >= 0x0020) throw new Error('only simple column types are supported');
  }
  const rows: (Buffer | null)[][] = [];
  const n = r.int();
  for (let i = 0; i < n; i++) rows.push(columns.map(() => r.bytes()));
  return { columns, rows };
}

/** What the node itself says its cluster and datacenter are. */
export async function readSystemLocal(host: string, port: number, creds?: Credentials, timeoutMs = 3000): Promise<{ clusterName: string; datacenter: string }> {
  const conn = await ProbeConnection.connect(host, port, timeoutMs);
  try {
    await startup(conn, creds);
    const { rows } = await queryRows(conn, 'SELECT cluster_name, data_center FROM system.local');
    const row = rows[0];
    if (!row) throw new Error('system.local is empty');
    return { clusterName: row[0]?.toString('utf8') ?? '', datacenter: row[1]?.toString('utf8') ?? '' };
  } finally {
    conn.close();
  }
}
