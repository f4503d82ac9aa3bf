// Statement classification from the CQL text itself, and substitution of
// non-deterministic functions so both clusters store the same values.

import { randomBytes } from 'node:crypto';

export type StatementKind =
  | 'read' // SELECT and other read-only statements: source only (optionally mirrored)
  | 'write' // DML: both clusters, with an explicit timestamp
  | 'ddl' // schema and role changes: both clusters
  | 'use' // USE keyspace: both (connection state)
  | 'system'; // SELECT from system.local / system.peers*: answered for the proxy

export interface Classified {
  kind: StatementKind;
  /** For reads/writes: the keyspace and table named in the statement, when found. */
  keyspace?: string;
  table?: string;
  /** For 'system': which table. */
  systemTable?: 'local' | 'peers' | 'peers_v2';
  /** For 'use': the keyspace. */
  useKeyspace?: string;
  /**
   * Writes that add to a value (`c = c + x`, `l = l - x`, `l = x + l`): 'repeats' when applying
   * twice changes the result (counter by a number, list by [...]), 'marker' when that depends on
   * the type of a bind marker. Set and map additions ({...}) repeat harmlessly.
   */
  increment?: 'repeats' | 'marker';
}

/**
 * Remove comments and string/identifier contents' influence, returning code-only text
 * where string literals are replaced by '' (so keywords inside strings are ignored).
 */
export function stripForClassify(q: string): string {
  let out = '';
  const n = q.length;
  let i = 0;
  while (i < n) {
    const c = q[i]!;
    const d = q[i + 1];
    if (c === '-' && d === '-') {
      while (i < n && q[i] !== '\n') i++;
      out += ' ';
    } else if (c === '/' && d === '/') {
      while (i < n && q[i] !== '\n') i++;
      out += ' ';
    } else if (c === '/' && d === '*') {
      const e = q.indexOf('*/', i + 2);
      i = e < 0 ? n : e + 2;
      out += ' ';
    } else if (c === "'") {
      i = skipQuoted(q, i, "'");
      out += "''";
    } else if (c === '$' && d === '$') {
      const e = q.indexOf('$$', i + 2);
      i = e < 0 ? n : e + 2;
      out += "''";
    } else if (c === '"') {
      const s = i;
      i = skipQuoted(q, i, '"');
      out += q.slice(s, i); // quoted identifiers matter for table names
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function skipQuoted(q: string, i: number, quote: string): number {
  i++;
  while (i < q.length) {
    if (q[i] === quote) {
      if (q[i + 1] === quote) i += 2; // doubled quote escapes itself
      else return i + 1;
    } else i++;
  }
  return i;
}

const IDENT = `(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*)`;
const FROM_RE = new RegExp(`\\bFROM\\s+(${IDENT})(?:\\s*\\.\\s*(${IDENT}))?`, 'i');
const INTO_RE = new RegExp(`^\\s*INSERT\\s+INTO\\s+(${IDENT})(?:\\s*\\.\\s*(${IDENT}))?`, 'i');
const UPDATE_RE = new RegExp(`^\\s*UPDATE\\s+(${IDENT})(?:\\s*\\.\\s*(${IDENT}))?`, 'i');
const USE_RE = new RegExp(`^\\s*USE\\s+(${IDENT})`, 'i');

function unquote(id: string): string {
  return id.startsWith('"') ? id.slice(1, -1).replace(/""/g, '"') : id.toLowerCase();
}

function tableRef(m: RegExpExecArray | null): { keyspace?: string; table?: string } {
  if (!m) return {};
  if (m[2] !== undefined) return { keyspace: unquote(m[1]!), table: unquote(m[2]) };
  return { table: unquote(m[1]!) };
}

const cache = new Map<string, Classified>();

export function classify(query: string): Classified {
  const hit = cache.get(query);
  if (hit) return hit;
  const c = classifyUncached(query);
  // Drivers repeat the same texts; a bounded cache avoids re-scanning them.
  if (cache.size > 10_000) cache.clear();
  cache.set(query, c);
  return c;
}

const INCREMENT_RE = new RegExp(`(${IDENT})\\s*=\\s*(?:(${IDENT})\\s*[-+]\\s*([^\\s,;]+)|(\\[[^\\]]*\\]|[^\\s,;=]+)\\s*\\+\\s*(${IDENT}))`, 'g');

function increment(code: string): Classified['increment'] {
  let found: Classified['increment'];
  for (const m of code.matchAll(INCREMENT_RE)) {
    const [, col, same, operand, preOperand, preSame] = m;
    if ((same ?? preSame)?.toLowerCase() !== col!.toLowerCase()) continue;
    const first = (operand ?? preOperand)![0]!;
    if (first === '{') continue;
    if (first === '?' || first === ':') found = 'marker';
    else return 'repeats';
  }
  return found;
}

function withIncrement(code: string): Pick<Classified, 'increment'> {
  const inc = increment(code);
  return inc ? { increment: inc } : {};
}

function classifyUncached(query: string): Classified {
  const code = stripForClassify(query);
  const first = /^\s*([A-Za-z]+)/.exec(code)?.[1]?.toUpperCase() ?? '';
  switch (first) {
    case 'SELECT': {
      const ref = tableRef(FROM_RE.exec(code));
      if (ref.keyspace === 'system' && (ref.table === 'local' || ref.table === 'peers' || ref.table === 'peers_v2')) {
        return { kind: 'system', systemTable: ref.table, ...ref };
      }
      return { kind: 'read', ...ref };
    }
    case 'INSERT':
      return { kind: 'write', ...tableRef(INTO_RE.exec(code)) };
    case 'UPDATE':
      return { kind: 'write', ...tableRef(UPDATE_RE.exec(code)), ...withIncrement(code) };
    case 'DELETE':
      return { kind: 'write', ...tableRef(FROM_RE.exec(code)) };
    case 'BEGIN':
    case 'APPLY':
      return { kind: 'write', ...(/^\s*BEGIN\s+COUNTER\b/i.test(code) ? { increment: 'repeats' } : withIncrement(code)) };
    case 'TRUNCATE':
      return { kind: 'ddl' };
    case 'USE': {
      const m = USE_RE.exec(code);
      return m ? { kind: 'use', useKeyspace: unquote(m[1]!) } : { kind: 'use' };
    }
    case 'CREATE':
    case 'ALTER':
    case 'DROP':
    case 'GRANT':
    case 'REVOKE':
      return { kind: 'ddl' };
    default:
      // LIST ROLES, DESCRIBE (server-side in Cassandra 4+), anything unknown: read-only.
      return { kind: 'read' };
  }
}

// ---------------------------------------------------------------------------
// Non-deterministic functions.

const ND_RE = /\b(now|uuid|currenttimeuuid|currenttimestamp|currentdate|currenttime)\s*\(\s*\)/gi;
const ND_TEST = /\b(?:now|uuid|currenttimeuuid|currenttimestamp|currentdate|currenttime)\s*\(\s*\)/i;

export function hasNonDeterministic(query: string): boolean {
  return ND_TEST.test(query) && ND_TEST.test(stripForClassify(query));
}

export type NdFunction = 'now' | 'uuid' | 'currenttimeuuid' | 'currenttimestamp' | 'currentdate' | 'currenttime';

/**
 * Replace each call to a non-deterministic function outside strings and comments by
 * `replace(fn)`; returns the new text and the functions in order of appearance.
 */
export function substituteNonDeterministic(query: string, replace: (fn: NdFunction) => string): { text: string; fns: NdFunction[] } {
  const fns: NdFunction[] = [];
  let out = '';
  const n = query.length;
  let i = 0;
  let codeStart = 0;
  const flushCode = (end: number): void => {
    out += query.slice(codeStart, end).replace(ND_RE, (_m, fn: string) => {
      const f = fn.toLowerCase() as NdFunction;
      fns.push(f);
      return replace(f);
    });
  };
  while (i < n) {
    const c = query[i]!;
    const d = query[i + 1];
    let end = -1;
    if ((c === '-' && d === '-') || (c === '/' && d === '/')) {
      const e = query.indexOf('\n', i);
      end = e < 0 ? n : e;
    } else if (c === '/' && d === '*') {
      const e = query.indexOf('*/', i + 2);
      end = e < 0 ? n : e + 2;
    } else if (c === "'") end = skipQuoted(query, i, "'");
    else if (c === '"') end = skipQuoted(query, i, '"');
    else if (c === '$' && d === '$') {
      const e = query.indexOf('$$', i + 2);
      end = e < 0 ? n : e + 2;
    }
    if (end >= 0) {
      flushCode(i);
      out += query.slice(i, end);
      i = end;
      codeStart = end;
    } else i++;
  }
  flushCode(n);
  return { text: out, fns };
}

// Time-based UUID (version 1): 100-ns intervals since 1582-10-15 in the time fields.
const GREGORIAN_OFFSET_MS = 12219292800000n;
let lastTicks = 0n;
const clockSeqAndNode = randomBytes(8);
clockSeqAndNode[0] = (clockSeqAndNode[0]! & 0x3f) | 0x80; // RFC 4122 variant
clockSeqAndNode[2] = clockSeqAndNode[2]! | 0x01; // multicast bit: not a real MAC

export function timeUuidBytes(ms: number = Date.now()): Buffer {
  let ticks = (BigInt(ms) + GREGORIAN_OFFSET_MS) * 10000n;
  // Strictly increasing within this process, so two calls never collide.
  if (ticks <= lastTicks) ticks = lastTicks + 1n;
  lastTicks = ticks;
  const b = Buffer.allocUnsafe(16);
  const low = Number(ticks & 0xffffffffn);
  const mid = Number((ticks >> 32n) & 0xffffn);
  const hi = Number((ticks >> 48n) & 0x0fffn) | 0x1000;
  b.writeUInt32BE(low, 0);
  b.writeUInt16BE(mid, 4);
  b.writeUInt16BE(hi, 6);
  clockSeqAndNode.copy(b, 8);
  return b;
}

export function randomUuidBytes(): Buffer {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return b;
}

export function uuidString(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** The CQL type each non-deterministic function returns. */
const ND_TYPES: Record<NdFunction, string> = {
  now: 'timeuuid',
  currenttimeuuid: 'timeuuid',
  uuid: 'uuid',
  currenttimestamp: 'timestamp',
  currentdate: 'date',
  currenttime: 'time',
};

/**
 * A term standing for one call, typed like the call: `(timeuuid)<literal>` or `(timeuuid)?`.
 * An untyped literal or marker would make overloaded functions ambiguous (toTimestamp takes a
 * date or a timeuuid, toDate a timestamp or a timeuuid), where the call itself is not.
 */
export function ndTerm(fn: NdFunction, term: string): string {
  return `(${ND_TYPES[fn]})${term}`;
}

/** A typed CQL literal for one call, for simple (non-prepared) statements. */
export function ndLiteral(fn: NdFunction, nowMs: number): string {
  return ndTerm(fn, untypedLiteral(fn, nowMs));
}

function untypedLiteral(fn: NdFunction, nowMs: number): string {
  const d = new Date(nowMs);
  switch (fn) {
    case 'now':
    case 'currenttimeuuid':
      return uuidString(timeUuidBytes(nowMs));
    case 'uuid':
      return uuidString(randomUuidBytes());
    case 'currenttimestamp':
      return `'${d.toISOString().replace('T', ' ').replace('Z', '+0000')}'`;
    case 'currentdate':
      return `'${d.toISOString().slice(0, 10)}'`;
    case 'currenttime':
      return `'${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}000000'`;
  }
}

/** The serialized value of one call, for prepared statements (bound as a variable). */
export function ndValue(fn: NdFunction, nowMs: number): Buffer {
  switch (fn) {
    case 'now':
    case 'currenttimeuuid':
      return timeUuidBytes(nowMs);
    case 'uuid':
      return randomUuidBytes();
    case 'currenttimestamp': {
      const b = Buffer.allocUnsafe(8);
      b.writeBigInt64BE(BigInt(nowMs), 0);
      return b;
    }
    case 'currentdate': {
      // CQL date: unsigned days with the epoch at 2^31.
      const b = Buffer.allocUnsafe(4);
      b.writeUInt32BE(Math.floor(nowMs / 86400000) + 2 ** 31, 0);
      return b;
    }
    case 'currenttime': {
      const b = Buffer.allocUnsafe(8);
      b.writeBigInt64BE(BigInt(nowMs % 86400000) * 1000000n, 0);
      return b;
    }
  }
}

/** Strictly increasing microsecond timestamps for writes sent to both clusters. */
let lastMicros = 0n;
export function nextTimestampMicros(): bigint {
  let t = BigInt(Date.now()) * 1000n;
  if (t <= lastMicros) t = lastMicros + 1n;
  lastMicros = t;
  return t;
}
