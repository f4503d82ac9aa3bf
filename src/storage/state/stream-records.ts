// The tables of the stream record log, in the server's keyspace:
//
//   dc_streams         (scope int, stream text, table_name text, view_type text, shards int,
//                       key_schema text, created_ms bigint, disabled_ms bigint,
//                       PRIMARY KEY (scope, stream))                      -- scope is always 0
//   dc_stream_records  (stream text, shard int, bucket bigint, seq bigint, kh bigint, state text,
//                       event text, item_key text, new_image text, old_image text, prev_ver bigint,
//                       new_ver bigint, expiry boolean, created_ms bigint, origin text,
//                       PRIMARY KEY ((stream, shard, bucket), seq, kh))   -- rows live 24 h (TTL)
//
// Only the statements are here: the protocol that makes a record exist if and only if its change
// is visible (pending, committed, aborted; who decides a stale one) is src/streams/record-log.ts.
import type { KeySchema } from '../../dynamo/types.js';
import { Long, pagedRows, qualifiedTable, type CqlSession, type Row } from '../session.js';

/** A stream's row: what ListStreams and DescribeStream need, whatever became of its table. */
export interface StreamRow {
  stream: string;
  table: string;
  viewType: string;
  shards: number;
  keySchema: KeySchema;
  createdAt: number;
  disabledAt?: number;
}

/** Where a record is: its partition (stream, shard, minute bucket) and its place in it. */
export interface RecordAddress {
  stream: string;
  shard: number;
  bucket: number;
  seq: bigint;
  kh: number;
}

export interface RecordRow {
  seq: bigint;
  kh: number;
  state: string;
  event: string | null;
  itemKey: string;
  newImage: string | null;
  oldImage: string | null;
  prev?: bigint;
  next?: bigint;
  expiry: boolean;
  origin: string | null;
  createdMs: number;
}

/** A record as its writer inserts it; seq and new_ver are the item version it writes. */
export interface NewRecord {
  stream: string;
  shard: number;
  bucket: number;
  version: Long;
  kh: number;
  event: string;
  itemKey: string;
  newImage: string | null;
  oldImage: string | null;
  prev: Long | null;
  expiry: boolean;
  createdMs: number;
  origin: string | undefined;
}

const COLUMNS = 'seq, kh, state, event, item_key, new_image, old_image, prev_ver, new_ver, expiry, created_ms, origin';
const PAGE_ROWS = 200;
const long = (v: bigint) => Long.fromString(v.toString());
const big = (v: unknown) => BigInt((v as Long).toString());

export class StreamRecordTables {
  private readonly streamsTable: string;
  private readonly recordsTable: string;

  constructor(private readonly session: CqlSession) {
    this.streamsTable = qualifiedTable(session.keyspace, 'dc_streams');
    this.recordsTable = qualifiedTable(session.keyspace, 'dc_stream_records');
  }

  /** Creates the tables; records live `ttlSeconds`. */
  async init(ttlSeconds: number): Promise<void> {
    await this.session.client.execute(
      `CREATE TABLE IF NOT EXISTS ${this.streamsTable} (scope int, stream text, table_name text, view_type text, shards int, key_schema text, created_ms bigint, disabled_ms bigint, PRIMARY KEY (scope, stream))`,
    );
    await this.session.client.execute(
      `CREATE TABLE IF NOT EXISTS ${this.recordsTable} (stream text, shard int, bucket bigint, seq bigint, kh bigint, state text, event text, item_key text, new_image text, old_image text, prev_ver bigint, new_ver bigint, expiry boolean, created_ms bigint, origin text, PRIMARY KEY ((stream, shard, bucket), seq, kh)) WITH default_time_to_live = ${ttlSeconds} AND gc_grace_seconds = 3600`,
    );
    // Keyspaces made before records named their origin. Another server may add it at the same moment.
    const meta = await this.session.client.metadata.getTable(this.session.keyspace, 'dc_stream_records').catch(() => undefined);
    if (meta && !meta.columnsByName.origin) {
      await this.session.client.execute(`ALTER TABLE ${this.recordsTable} ADD origin text`).catch((e: Error) => {
        if (!/conflicts with an existing column|already exist/i.test(e.message)) throw e;
      });
    }
  }

  private run(query: string, params: unknown[], consistency = this.session.consistency.write) {
    return this.session.execute(query, params, consistency);
  }

  // ---- streams

  async insertStream(m: StreamRow): Promise<void> {
    await this.run(
      `INSERT INTO ${this.streamsTable} (scope, stream, table_name, view_type, shards, key_schema, created_ms) VALUES (0, ?, ?, ?, ?, ?, ?)`,
      [m.stream, m.table, m.viewType, m.shards, JSON.stringify(m.keySchema), Long.fromNumber(m.createdAt)],
    );
  }

  async disableStream(stream: string, at: number): Promise<void> {
    await this.run(`UPDATE ${this.streamsTable} SET disabled_ms = ? WHERE scope = 0 AND stream = ?`, [Long.fromNumber(at), stream]);
  }

  async stream(stream: string): Promise<StreamRow | undefined> {
    const rs = await this.run(`SELECT * FROM ${this.streamsTable} WHERE scope = 0 AND stream = ?`, [stream], this.session.consistency.strong);
    const row = rs.first();
    return row ? streamOf(row) : undefined;
  }

  /** Every stream after `after` in key order, read a page at a time (stop iterating to stop reading). */
  async *streamsAfter(after: string): AsyncGenerator<StreamRow> {
    const rows = pagedRows(this.session, `SELECT * FROM ${this.streamsTable} WHERE scope = 0 AND stream > ?`, [after], {
      fetchSize: PAGE_ROWS,
      consistency: this.session.consistency.strong,
      isIdempotent: true, // a read: resent to the next node when its coordinator is lost
    });
    for await (const row of rows) yield streamOf(row);
  }

  // ---- records

  /** Inserts a record in state P (pending). */
  async insertPending(r: NewRecord): Promise<void> {
    await this.run(
      `INSERT INTO ${this.recordsTable} (stream, shard, bucket, seq, kh, state, event, item_key, new_image, old_image, prev_ver, new_ver, expiry, created_ms, origin) VALUES (?, ?, ?, ?, ?, 'P', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [r.stream, r.shard, Long.fromNumber(r.bucket), r.version, Long.fromNumber(r.kh), r.event, r.itemKey, r.newImage, r.oldImage, r.prev, r.version, r.expiry, Long.fromNumber(r.createdMs), r.origin],
    );
  }

  /** Sets a record's state; the cell lives `ttlSeconds`. */
  async setState(r: RecordAddress, state: string, ttlSeconds: number): Promise<void> {
    await this.run(
      `UPDATE ${this.recordsTable} USING TTL ? SET state = ? WHERE stream = ? AND shard = ? AND bucket = ? AND seq = ? AND kh = ?`,
      [ttlSeconds, state, r.stream, r.shard, Long.fromNumber(r.bucket), long(r.seq), Long.fromNumber(r.kh)],
    );
  }

  /** The records of one bucket of a shard in (after, upTo], in order, read a page at a time. */
  async *records(
    stream: string,
    shard: number,
    bucket: number,
    after: { seq: bigint; kh: number },
    upTo: { seq: bigint; kh: number },
  ): AsyncGenerator<RecordRow> {
    const rows = pagedRows(
      this.session,
      `SELECT ${COLUMNS} FROM ${this.recordsTable} WHERE stream = ? AND shard = ? AND bucket = ? AND (seq, kh) > (?, ?) AND (seq, kh) <= (?, ?)`,
      [stream, shard, Long.fromNumber(bucket), long(after.seq), Long.fromNumber(after.kh), long(upTo.seq), Long.fromNumber(upTo.kh)],
      { fetchSize: PAGE_ROWS, consistency: this.session.consistency.strong, isIdempotent: true },
    );
    for await (const row of rows) yield recordOf(row);
  }
}

function streamOf(row: Row): StreamRow {
  const disabled = row.get('disabled_ms');
  return {
    stream: row.get('stream') as string,
    table: row.get('table_name') as string,
    viewType: row.get('view_type') as string,
    shards: row.get('shards') as number,
    keySchema: JSON.parse(row.get('key_schema') as string) as KeySchema,
    createdAt: Number(row.get('created_ms')),
    disabledAt: disabled ? Number(disabled) : undefined,
  };
}

function recordOf(row: Row): RecordRow {
  const prev = row.get('prev_ver');
  const next = row.get('new_ver');
  return {
    seq: big(row.get('seq')),
    kh: Number(row.get('kh')),
    state: row.get('state') as string,
    event: row.get('event') as string | null,
    itemKey: row.get('item_key') as string,
    newImage: row.get('new_image') as string | null,
    oldImage: row.get('old_image') as string | null,
    prev: prev ? big(prev) : undefined,
    next: next ? big(next) : undefined,
    expiry: row.get('expiry') === true,
    origin: row.get('origin') as string | null,
    createdMs: Number(row.get('created_ms')),
  };
}
