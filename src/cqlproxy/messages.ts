// Just enough decoding of request and result bodies to route, rewrite prepared ids,
// add write timestamps and rewrite the few results the proxy answers for the cluster.
// Everything is done by offsets so untouched parts are copied, never re-encoded.
// v5 differences: [int] query/batch flags (v3/v4: [byte]), a result metadata id after the
// prepared id in EXECUTE and PREPARED, flags after the text of PREPARE, METADATA_CHANGED rows.

import { BodyReader, BodyWriter } from './frame.js';

export const QueryFlag = {
  VALUES: 0x01,
  SKIP_METADATA: 0x02,
  PAGE_SIZE: 0x04,
  PAGING_STATE: 0x08,
  SERIAL_CONSISTENCY: 0x10,
  DEFAULT_TIMESTAMP: 0x20,
  NAMES_FOR_VALUES: 0x40,
} as const;

/** Query and batch flags are an [int] from v5 on, a [byte] before. */
function flagsLength(version: number): number {
  return version >= 5 ? 4 : 1;
}

/** Read the flags at `pos`; returns them and the offset of their low byte (where the bits above live). */
function readFlags(r: BodyReader, version: number): { flags: number; lowPos: number } {
  const n = flagsLength(version);
  const lowPos = r.pos + n - 1;
  const flags = n === 4 ? r.int() : r.byte();
  return { flags, lowPos };
}

export const ResultKind = { VOID: 1, ROWS: 2, SET_KEYSPACE: 3, PREPARED: 4, SCHEMA_CHANGE: 5 } as const;

/** Offsets of the interesting parts of a [query parameters] block. */
export interface QueryParams {
  /** Offset of the [consistency]. */
  consistencyPos: number;
  flags: number;
  /** Offset of the flags' low byte (the one the flags above are set in). */
  flagsPos: number;
  /** Where the value count starts (only meaningful with VALUES). */
  valuesPos: number;
  /** Start/end offsets of each bound value (the [value] incl. its length). */
  values: Array<{ start: number; end: number; name?: string }>;
  hasPagingState: boolean;
  /** Offset where the timestamp is (when present) or would be inserted. */
  timestampPos: number;
  timestamp?: bigint;
}

export function parseQueryParams(body: Buffer, pos: number, version: number): QueryParams {
  const r = new BodyReader(body);
  r.pos = pos + 2; // consistency
  const { flags, lowPos: flagsPos } = readFlags(r, version);
  const valuesPos = r.pos;
  const values: QueryParams['values'] = [];
  if (flags & QueryFlag.VALUES) {
    const n = r.short();
    for (let i = 0; i < n; i++) {
      const name = flags & QueryFlag.NAMES_FOR_VALUES ? r.string() : undefined;
      const start = r.pos;
      r.skipValue();
      values.push(name === undefined ? { start, end: r.pos } : { start, end: r.pos, name });
    }
  }
  if (flags & QueryFlag.PAGE_SIZE) r.pos += 4;
  if (flags & QueryFlag.PAGING_STATE) r.bytes();
  if (flags & QueryFlag.SERIAL_CONSISTENCY) r.pos += 2;
  r.check();
  const timestampPos = r.pos;
  const out: QueryParams = {
    consistencyPos: pos,
    flags,
    flagsPos,
    valuesPos,
    values,
    hasPagingState: (flags & QueryFlag.PAGING_STATE) !== 0,
    timestampPos,
  };
  if (flags & QueryFlag.DEFAULT_TIMESTAMP) out.timestamp = body.readBigInt64BE(timestampPos);
  return out;
}

/** Insert a default timestamp into a body whose params start at flagsPos/timestampPos. */
export function withTimestamp(body: Buffer, flagsPos: number, timestampPos: number, ts: bigint): Buffer {
  const out = Buffer.allocUnsafe(body.length + 8);
  body.copy(out, 0, 0, timestampPos);
  out[flagsPos] = body[flagsPos]! | QueryFlag.DEFAULT_TIMESTAMP;
  out.writeBigInt64BE(ts, timestampPos);
  body.copy(out, timestampPos + 8, timestampPos);
  return out;
}

export interface QueryRequest {
  query: string;
  paramsPos: number;
  params: QueryParams;
}

export function parseQuery(body: Buffer, start: number, version: number): QueryRequest {
  const r = new BodyReader(body);
  r.pos = start;
  const query = r.longString();
  return { query, paramsPos: r.pos, params: parseQueryParams(body, r.pos, version) };
}

export interface ExecuteRequest {
  id: Buffer;
  idStart: number;
  idEnd: number;
  /** v5: the result metadata id the client holds (after the prepared id). */
  metadataId?: Buffer;
  paramsPos: number;
}

export function parseExecuteHead(body: Buffer, start: number, version: number): ExecuteRequest {
  const r = new BodyReader(body);
  r.pos = start;
  const idStart = r.pos;
  const id = r.shortBytes();
  const idEnd = r.pos;
  if (version < 5) return { id, idStart, idEnd, paramsPos: r.pos };
  const metadataId = r.shortBytes();
  return { id, idStart, idEnd, metadataId, paramsPos: r.pos };
}

/**
 * An EXECUTE body naming another prepared id and, in v5, another result metadata id (each
 * cluster knows a statement by its own ids).
 */
export function withExecuteIds(body: Buffer, head: ExecuteRequest, id: Buffer, metadataId: Buffer | undefined): Buffer {
  const w = new BodyWriter().raw(body.subarray(0, head.idStart)).shortBytes(id);
  if (head.metadataId) w.shortBytes(metadataId ?? head.metadataId);
  return w.raw(body.subarray(head.paramsPos)).build();
}

export interface BatchEntry {
  kind: 0 | 1;
  query?: string;
  id?: Buffer;
  /** Offsets of the query string / id (including its length prefix). */
  start: number;
  end: number;
  values: Array<{ start: number; end: number }>;
}

export interface BatchRequest {
  type: number;
  entries: BatchEntry[];
  /** Offset of the [consistency]. */
  consistencyPos: number;
  flagsPos: number;
  flags: number;
  timestampPos: number;
  timestamp?: bigint;
}

export function parseBatch(body: Buffer, start: number, version: number): BatchRequest {
  const r = new BodyReader(body);
  r.pos = start;
  const type = r.byte();
  const n = r.short();
  const entries: BatchEntry[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.byte() as 0 | 1;
    const s = r.pos;
    const e: BatchEntry = { kind, start: s, end: s, values: [] };
    if (kind === 0) e.query = r.longString();
    else e.id = r.shortBytes();
    e.end = r.pos;
    const nv = r.short();
    for (let j = 0; j < nv; j++) {
      const vs = r.pos;
      r.skipValue();
      e.values.push({ start: vs, end: r.pos });
    }
    entries.push(e);
  }
  const consistencyPos = r.pos;
  r.pos += 2;
  const { flags, lowPos: flagsPos } = readFlags(r, version);
  if (flags & QueryFlag.SERIAL_CONSISTENCY) r.pos += 2;
  r.check();
  const out: BatchRequest = { type, entries, consistencyPos, flagsPos, flags, timestampPos: r.pos };
  if (flags & QueryFlag.DEFAULT_TIMESTAMP) out.timestamp = body.readBigInt64BE(r.pos);
  return out;
}

/** Rebuild a batch body replacing prepared ids (returns the input when nothing changes). */
export function rewriteBatchIds(body: Buffer, batch: BatchRequest, map: (id: Buffer) => Buffer): Buffer {
  const parts: Buffer[] = [];
  let last = 0;
  let changed = false;
  for (const e of batch.entries) {
    if (e.kind !== 1) continue;
    const nid = map(e.id!);
    if (nid.equals(e.id!)) continue;
    changed = true;
    parts.push(body.subarray(last, e.start));
    const len = Buffer.allocUnsafe(2);
    len.writeUInt16BE(nid.length, 0);
    parts.push(len, nid);
    last = e.end;
  }
  if (!changed) return body;
  parts.push(body.subarray(last));
  return Buffer.concat(parts);
}

/** The [consistency] at `pos`, ONE when the body is too short to hold one there. */
export function consistencyAt(body: Buffer, pos: number): number {
  return pos >= 0 && pos + 2 <= body.length ? body.readUInt16BE(pos) : 0x0001;
}

export const BATCH_TYPE_COUNTER = 2;

/** The batch type of a BATCH body (0 logged, 1 unlogged, 2 counter). */
export function batchType(body: Buffer): number {
  return body[0]!;
}

/** Bound values of a parsed parameter block, hex-encoded (for read reports). */
export function boundValuesHex(body: Buffer, params: QueryParams): string[] {
  return params.values.map((v) => body.subarray(v.start + 4, v.end).toString('hex'));
}

/** A body whose leading [long string] (QUERY, PREPARE) is `text`, the rest kept. */
export function withQueryText(body: Buffer, text: string): Buffer {
  const r = new BodyReader(body);
  r.longString();
  return Buffer.concat([queryBodyText(text), r.rest()]);
}

/** A [long string] holding a statement (a PREPARE body before v5, a batch's query). */
export function queryBodyText(q: string): Buffer {
  return new BodyWriter().longString(q).build();
}

/** A PREPARE body: the text, and from v5 on [int] flags (none: no keyspace). */
export function prepareBody(q: string, version: number): Buffer {
  const w = new BodyWriter().longString(q);
  if (version >= 5) w.int(0);
  return w.build();
}

/** QUERY body with consistency ONE and no flags, for the proxy's own statements. */
export function queryBody(q: string, version: number, consistency = 0x0001): Buffer {
  const w = new BodyWriter().longString(q).short(consistency);
  return (version >= 5 ? w.int(0) : w.byte(0)).build();
}

/** The query text of a QUERY body, or '' when it cannot be read. */
export function queryTextOf(body: Buffer): string {
  try {
    return new BodyReader(body).longString();
  } catch {
    return '';
  }
}

/** The id of a statement the cluster answered UNPREPARED for (the extras of that error). */
export function unpreparedId(reader: BodyReader): Buffer {
  return reader.shortBytes();
}

/** The keyspace of a RESULT Set_keyspace, or undefined for any other result. */
export function setKeyspaceOf(body: Buffer, resultPos: number): string | undefined {
  if (resultKind(body, resultPos) !== ResultKind.SET_KEYSPACE) return undefined;
  const r = new BodyReader(body);
  r.pos = resultPos + 4;
  return r.string();
}

// ---------------------------------------------------------------------------
// Results

/** Skip a type [option] (recursively for collections, UDTs and tuples). */
export function skipOption(r: BodyReader): number {
  const id = r.short();
  switch (id) {
    case 0x0000:
      r.string();
      break;
    case 0x0020:
    case 0x0022:
      skipOption(r);
      break;
    case 0x0021:
      skipOption(r);
      skipOption(r);
      break;
    case 0x0030: {
      r.string();
      r.string();
      const n = r.short();
      for (let i = 0; i < n; i++) {
        r.string();
        skipOption(r);
      }
      break;
    }
    case 0x0031: {
      const n = r.short();
      for (let i = 0; i < n; i++) skipOption(r);
      break;
    }
    default:
      break;
  }
  return id;
}

export interface ColumnSpec {
  keyspace: string;
  table: string;
  name: string;
  type: number;
  /** Offsets of the whole spec, for rewriting prepared metadata. */
  start: number;
  end: number;
}

export interface RowsMetadata {
  flags: number;
  columns: ColumnSpec[];
  pagingState?: Buffer;
  /** Offset of rows_count. */
  rowsPos: number;
}

const ROWS_GLOBAL_TABLES = 0x01;
const ROWS_HAS_MORE_PAGES = 0x02;
const ROWS_NO_METADATA = 0x04;
/** v5: the result metadata changed since the client's id; [short bytes] new id follows. */
const ROWS_METADATA_CHANGED = 0x08;

export function parseRowsMetadata(body: Buffer, pos: number): RowsMetadata {
  const r = new BodyReader(body);
  r.pos = pos;
  const flags = r.int();
  const count = r.int();
  let pagingState: Buffer | undefined;
  if (flags & ROWS_HAS_MORE_PAGES) pagingState = r.bytes() ?? undefined;
  if (flags & ROWS_METADATA_CHANGED) r.shortBytes();
  const columns: ColumnSpec[] = [];
  if (!(flags & ROWS_NO_METADATA)) {
    let gks = '';
    let gt = '';
    if (flags & ROWS_GLOBAL_TABLES) {
      gks = r.string();
      gt = r.string();
    }
    for (let i = 0; i < count; i++) {
      const start = r.pos;
      const keyspace = flags & ROWS_GLOBAL_TABLES ? gks : r.string();
      const table = flags & ROWS_GLOBAL_TABLES ? gt : r.string();
      const name = r.string();
      const type = skipOption(r);
      columns.push({ keyspace, table, name, type, start, end: r.pos });
    }
  }
  const out: RowsMetadata = { flags, columns, rowsPos: r.pos };
  if (pagingState) out.pagingState = pagingState;
  return out;
}

export interface PreparedResult {
  id: Buffer;
  /** v5: the id of the result metadata, which EXECUTE carries. */
  metadataId?: Buffer;
  /** Offset right after the id(s): where the bind-variable metadata starts. */
  metaPos: number;
}

export function parsePreparedResult(body: Buffer, resultPos: number, version: number): PreparedResult {
  const r = new BodyReader(body);
  r.pos = resultPos + 4; // kind
  const id = Buffer.from(r.shortBytes());
  if (version < 5) return { id, metaPos: r.pos };
  const metadataId = Buffer.from(r.shortBytes());
  return { id, metadataId, metaPos: r.pos };
}

/** Bind-variable metadata of a PREPARED result (v4 adds the partition-key indexes). */
export interface BindMetadata {
  flags: number;
  pk: number[];
  /** Offsets of the global table spec (empty range without one). */
  globalStart: number;
  globalEnd: number;
  specs: Array<{ start: number; end: number; type: number }>;
  end: number;
}

export function parseBindMetadata(body: Buffer, metaPos: number, version: number): BindMetadata {
  const r = new BodyReader(body);
  r.pos = metaPos;
  const flags = r.int();
  const count = r.int();
  const pk: number[] = [];
  if (version >= 4) {
    const pkCount = r.int();
    for (let i = 0; i < pkCount; i++) pk.push(r.short());
  }
  const globalStart = r.pos;
  if (flags & ROWS_GLOBAL_TABLES) {
    r.string();
    r.string();
  }
  const globalEnd = r.pos;
  const specs: BindMetadata['specs'] = [];
  for (let i = 0; i < count; i++) {
    const start = r.pos;
    if (!(flags & ROWS_GLOBAL_TABLES)) {
      r.string();
      r.string();
    }
    r.string();
    const type = skipOption(r);
    specs.push({ start, end: r.pos, type });
  }
  return { flags, pk, globalStart, globalEnd, specs, end: r.pos };
}

/** Type ids of the bind variables that make `c = c + ?` repeat its effect: counter, list. */
const REPEATING_TYPES = new Set([0x0005, 0x0020]);

export function bindsRepeatingType(body: Buffer, metaPos: number, version: number): boolean {
  return parseBindMetadata(body, metaPos, version).specs.some((s) => REPEATING_TYPES.has(s.type));
}

export function resultKind(body: Buffer, pos: number): number {
  return body.length >= pos + 4 ? body.readInt32BE(pos) : -1;
}

/**
 * Compare the rows of two RESULT Rows bodies, ignoring metadata (paging state and
 * tracing differ between clusters even when data agrees).
 */
export function rowsDigest(body: Buffer, resultPos: number): { count: number; rows: Buffer; columns: ColumnSpec[] } | null {
  if (resultKind(body, resultPos) !== ResultKind.ROWS) return null;
  const meta = parseRowsMetadata(body, resultPos + 4);
  const count = body.readInt32BE(meta.rowsPos);
  return { count, rows: body.subarray(meta.rowsPos + 4), columns: meta.columns };
}

/** Build the body of a RESULT Rows with the same metadata but the given rows. */
export function rowsWith(body: Buffer, resultPos: number, rows: Buffer[][]): Buffer {
  const meta = parseRowsMetadata(body, resultPos + 4);
  const w = new BodyWriter().raw(body.subarray(resultPos, meta.rowsPos)).int(rows.length);
  for (const row of rows) for (const cell of row) w.raw(cell);
  return w.build();
}

/** Split the rows of a RESULT Rows into raw cells ([bytes] with their length prefix). */
export function splitRows(body: Buffer, resultPos: number): { meta: RowsMetadata; rows: Buffer[][] } {
  const meta = parseRowsMetadata(body, resultPos + 4);
  const r = new BodyReader(body);
  r.pos = meta.rowsPos;
  const n = r.int();
  const rows: Buffer[][] = [];
  const ncol = meta.columns.length;
  for (let i = 0; i < n; i++) {
    const row: Buffer[] = [];
    for (let c = 0; c < ncol; c++) {
      const s = r.pos;
      r.skipValue();
      row.push(body.subarray(s, r.pos));
    }
    rows.push(row);
  }
  return { meta, rows };
}

export function cell(value: Buffer | null): Buffer {
  return new BodyWriter().bytes(value).build();
}
