// Where stream records live, and the protocol that makes a record exist if and only if its change
// is visible, with several server processes writing one stream.
//
//   CREATE TABLE dc_streams (scope int, stream text, table_name text, view_type text, shards int,
//                            key_schema text, created_ms bigint, disabled_ms bigint,
//                            PRIMARY KEY (scope, stream))
//   CREATE TABLE dc_stream_records (stream text, shard int, bucket bigint, seq bigint, kh bigint,
//                            state text, event text, item_key text, new_image text, old_image text,
//                            prev_ver bigint, new_ver bigint, expiry boolean, created_ms bigint,
//                            PRIMARY KEY ((stream, shard, bucket), seq, kh))   -- rows live 24 h (TTL)
//
// A record's seq is the item version its change writes, so an item's records are in change order
// (versions grow per item) and land in one shard (chosen by the partition key). A bucket is a
// minute of seq time, so a shard's partitions stay bounded and readers walk them in order.
//
// The protocol: the writer inserts the record as pending (P) before the item write, and marks it
// committed (C) or aborted (A) after. Readers return committed records in seq order and stop at a
// pending one, so no record is shown before its change is visible, nor skipped while undecided. A
// record still pending after RESOLVE_MS (its writer died between the two writes) is decided by the
// reader from the item itself (see resolve). Readers only read up to HORIZON_MS in the past: a
// pending insert acknowledged later than LATE_MS after its seq's time is aborted and written again
// with a new seq, so no reader can already have passed a record that becomes committed.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Item, KeySchema } from '../dynamo/types.js';
import { nextVersion } from '../storage/indexes.js';
import { Long, qualifiedTable, type CqlSession, type Row } from '../storage/session.js';
import type { StoredItem } from '../storage/translator.js';
import {
  RETENTION_MS, comparePositions, imagesFor, keyHash, seqOfTime, shardOfItem, timeOfSeq,
  type ChangeRecord, type EventName, type Position, type StreamInfo, type StreamViewType,
} from './model.js';

/** The `origin` of a record a replicator wrote (absent for all others). */
const REPLICATOR_ORIGIN = 'replicator';

/** A pending insert acknowledged later than this after its seq's time is written again. */
export const LATE_MS = 450;
/** Clock differences between server processes that readers allow for. */
export const SKEW_MS = 250;
/** Readers read records up to this far in the past (the write-to-readable latency floor). */
export const HORIZON_MS = LATE_MS + SKEW_MS;
/** A writer does not start its item write later than this after its seq's time. */
export const WRITE_DEADLINE_MS = 3000;
/** Pending records older than this are decided by readers. */
export const RESOLVE_MS = 10_000;
/** After a stream is disabled, processes that have not yet noticed may still add records this long. */
export const CLOSE_MS = 2000 + WRITE_DEADLINE_MS + HORIZON_MS;
const BUCKET_MS = 60_000;
const MAX_KH = 0xffffffff;
const TTL_S = RETENTION_MS / 1000;

export const bucketOf = (seq: bigint) => Math.floor(timeOfSeq(seq) / BUCKET_MS);
const long = (v: bigint) => Long.fromString(v.toString());
const big = (v: unknown) => BigInt((v as Long).toString());

/** A stream's row in dc_streams: what ListStreams and DescribeStream need, whatever became of its table. */
export interface StreamMeta {
  stream: string;
  table: string;
  viewType: StreamViewType;
  shards: number;
  keySchema: KeySchema;
  createdAt: number;
  disabledAt?: number;
}

/** A pending record as its writer holds it until the item write is decided. */
export interface PendingRecord {
  stream: string;
  shard: number;
  position: Position;
  version: Long;
  createdMs: number;
}

/** What the item store tells the log about a change it is about to apply. */
export interface Change {
  stream: string;
  info: StreamInfo;
  schema: KeySchema;
  key: Item;
  old?: StoredItem;
  next?: Item;
  expiry: boolean;
  /** Written by a replicator (recorded in the `origin` column as 'replicator'). */
  replicated?: boolean;
}

type State = 'P' | 'C' | 'A';

interface LogRow extends ChangeRecord {
  state: State;
  itemKey: string;
  prev?: bigint;
  next?: bigint;
}

const COLUMNS = 'seq, kh, state, event, item_key, new_image, old_image, prev_ver, new_ver, expiry, created_ms, origin';

function logRow(row: Row): LogRow {
  const itemKey = row.get('item_key') as string;
  const newImage = row.get('new_image') as string | null;
  const oldImage = row.get('old_image') as string | null;
  const prev = row.get('prev_ver');
  const next = row.get('new_ver');
  return {
    position: { seq: big(row.get('seq')), kh: Number(row.get('kh')) },
    state: row.get('state') as State,
    eventName: row.get('event') as EventName,
    itemKey,
    keys: JSON.parse(itemKey) as Item,
    newImage: newImage ? (JSON.parse(newImage) as Item) : undefined,
    oldImage: oldImage ? (JSON.parse(oldImage) as Item) : undefined,
    prev: prev ? big(prev) : undefined,
    next: next ? big(next) : undefined,
    expiry: row.get('expiry') === true,
    ...(row.get('origin') === REPLICATOR_ORIGIN ? { replicated: true } : {}),
    createdMs: Number(row.get('created_ms')),
  };
}

/** Reads an item through Paxos for the decision on a stale pending record (undefined: no item or no table). */
export type ItemReader = (meta: StreamMeta, key: Item) => Promise<StoredItem | undefined>;

export interface ShardPage {
  records: ChangeRecord[];
  /** Where the next read starts; undefined once a closed shard has been read to its end. */
  next?: Position;
}

export class StreamLog {
  private readonly streams: string;
  private readonly records: string;

  constructor(private readonly session: CqlSession) {
    this.streams = qualifiedTable(session.keyspace, 'dc_streams');
    this.records = qualifiedTable(session.keyspace, 'dc_stream_records');
  }

  async init(): Promise<void> {
    await this.session.client.execute(
      `CREATE TABLE IF NOT EXISTS ${this.streams} (scope int, stream text, table_name text, view_type text, shards int, key_schema text, created_ms bigint, disabled_ms bigint, PRIMARY KEY (scope, stream))`,
    );
    await this.session.client.execute(
      `CREATE TABLE IF NOT EXISTS ${this.records} (stream text, shard int, bucket bigint, seq bigint, kh bigint, state text, event text, item_key text, new_image text, old_image text, prev_ver bigint, new_ver bigint, expiry boolean, created_ms bigint, origin text, PRIMARY KEY ((stream, shard, bucket), seq, kh)) WITH default_time_to_live = ${TTL_S} AND gc_grace_seconds = 3600`,
    );
    // Keyspaces made before records named their origin. Another server may add it at the same moment.
    const meta = await this.session.client.metadata.getTable(this.session.keyspace, 'dc_stream_records').catch(() => undefined);
    if (meta && !meta.columnsByName.origin) {
      await this.session.client.execute(`ALTER TABLE ${this.records} ADD origin text`).catch((e: Error) => {
        if (!/conflicts with an existing column|already exist/i.test(e.message)) throw e;
      });
    }
  }

  private run(query: string, params: unknown[], consistency = this.session.consistency.write) {
    return this.session.execute(query, params, consistency);
  }

  // ---- the streams of all tables

  async register(m: StreamMeta): Promise<void> {
    await this.run(
      `INSERT INTO ${this.streams} (scope, stream, table_name, view_type, shards, key_schema, created_ms) VALUES (0, ?, ?, ?, ?, ?, ?)`,
      [m.stream, m.table, m.viewType, m.shards, JSON.stringify(m.keySchema), Long.fromNumber(m.createdAt)],
    );
  }

  async disable(stream: string, at: number): Promise<void> {
    await this.run(`UPDATE ${this.streams} SET disabled_ms = ? WHERE scope = 0 AND stream = ?`, [Long.fromNumber(at), stream]);
  }

  private meta(row: Row): StreamMeta {
    const disabled = row.get('disabled_ms');
    return {
      stream: row.get('stream') as string,
      table: row.get('table_name') as string,
      viewType: row.get('view_type') as StreamViewType,
      shards: row.get('shards') as number,
      keySchema: JSON.parse(row.get('key_schema') as string) as KeySchema,
      createdAt: Number(row.get('created_ms')),
      disabledAt: disabled ? Number(disabled) : undefined,
    };
  }

  async get(stream: string): Promise<StreamMeta | undefined> {
    const rs = await this.run(`SELECT * FROM ${this.streams} WHERE scope = 0 AND stream = ?`, [stream], this.session.consistency.strong);
    const row = rs.first();
    return row ? this.meta(row) : undefined;
  }

  /** Streams in key order after `after`, skipping those disabled longer ago than the retention. */
  async list(after: string | undefined, limit: number, table?: string): Promise<{ streams: StreamMeta[]; more: boolean }> {
    const out: StreamMeta[] = [];
    let pageState: string | undefined;
    const oldest = Date.now() - RETENTION_MS;
    do {
      const rs = await this.session.client.execute(
        `SELECT * FROM ${this.streams} WHERE scope = 0 AND stream > ?`,
        [after ?? ''],
        { prepare: true, fetchSize: 200, pageState, consistency: this.session.consistency.strong, isIdempotent: true },
      );
      for (const row of rs.rows) {
        const m = this.meta(row);
        if ((m.disabledAt ?? Infinity) < oldest || (table && m.table !== table)) continue;
        if (out.length === limit) return { streams: out, more: true };
        out.push(m);
      }
      pageState = rs.pageState ?? undefined;
    } while (pageState);
    return { streams: out, more: false };
  }

  // ---- writing records

  /**
   * Inserts the pending record of a change at `version`, or at a newer version when the insert was
   * acknowledged too late for readers (see LATE_MS). Returns the record, whose version the item write must use.
   */
  async begin(c: Change, event: EventName, version: Long): Promise<PendingRecord> {
    const itemKey = JSON.stringify(c.key);
    const shard = shardOfItem(c.key, c.schema, c.info.shards);
    const kh = keyHash(itemKey);
    const images = imagesFor(c.info.viewType, c.old?.item, c.next);
    const newImage = images.newImage ? JSON.stringify(images.newImage) : null;
    const oldImage = images.oldImage ? c.old!.json : null;
    for (;;) {
      const seq = big(version);
      const createdMs = Date.now();
      const record: PendingRecord = { stream: c.stream, shard, position: { seq, kh }, version, createdMs };
      await this.run(
        `INSERT INTO ${this.records} (stream, shard, bucket, seq, kh, state, event, item_key, new_image, old_image, prev_ver, new_ver, expiry, created_ms, origin) VALUES (?, ?, ?, ?, ?, 'P', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [c.stream, shard, Long.fromNumber(bucketOf(seq)), version, Long.fromNumber(kh), event, itemKey, newImage, oldImage, c.old?.version ?? null, version, c.expiry, Long.fromNumber(createdMs), c.replicated ? REPLICATOR_ORIGIN : undefined],
      );
      if (Date.now() - timeOfSeq(seq) <= LATE_MS) return record;
      await this.settle(record, 'A');
      version = nextVersion(version);
    }
  }

  /** True when the item write may no longer start (a reader could decide the record meanwhile). */
  expired(r: PendingRecord): boolean {
    return Date.now() - timeOfSeq(r.position.seq) > WRITE_DEADLINE_MS;
  }

  async settle(r: { stream: string; shard: number; position: Position }, state: 'C' | 'A'): Promise<void> {
    // The state cell must not outlive the row it belongs to.
    const ttl = Math.max(1, Math.floor(TTL_S - (Date.now() - timeOfSeq(r.position.seq)) / 1000));
    await this.run(
      `UPDATE ${this.records} USING TTL ? SET state = ? WHERE stream = ? AND shard = ? AND bucket = ? AND seq = ? AND kh = ?`,
      [ttl, state, r.stream, r.shard, Long.fromNumber(bucketOf(r.position.seq)), long(r.position.seq), Long.fromNumber(r.position.kh)],
    );
  }

  // ---- reading records

  private async *rows(stream: string, shard: number, bucket: number, after: Position, upTo: Position): AsyncGenerator<LogRow> {
    let pageState: string | undefined;
    do {
      const rs = await this.session.client.execute(
        `SELECT ${COLUMNS} FROM ${this.records} WHERE stream = ? AND shard = ? AND bucket = ? AND (seq, kh) > (?, ?) AND (seq, kh) <= (?, ?)`,
        [stream, shard, Long.fromNumber(bucket), long(after.seq), Long.fromNumber(after.kh), long(upTo.seq), Long.fromNumber(upTo.kh)],
        { prepare: true, fetchSize: 200, pageState, consistency: this.session.consistency.strong, isIdempotent: true },
      );
      for (const row of rs.rows) yield logRow(row);
      pageState = rs.pageState ?? undefined;
    } while (pageState);
  }

  /** The position below every record of a stream that is readable at `now` (or up to its close). */
  readableEnd(m: StreamMeta, now = Date.now()): { end: Position; closed: boolean } {
    const horizon = now - HORIZON_MS;
    const close = m.disabledAt !== undefined ? m.disabledAt + CLOSE_MS : Infinity;
    const closed = horizon >= close;
    return { end: { seq: seqOfTime(Math.min(horizon, close)), kh: MAX_KH }, closed };
  }

  /**
   * Up to `limit` committed records after `after`, in order, stopping at an undecided pending one;
   * looks through at most `maxBuckets` minutes of the shard per call.
   */
  async read(m: StreamMeta, shard: number, after: Position, limit: number, readItem: ItemReader, maxBuckets = 60, maxBytes = 1 << 20): Promise<ShardPage> {
    const { end, closed } = this.readableEnd(m);
    const records: ChangeRecord[] = [];
    let pos = after;
    let bytes = 0;
    if (comparePositions(pos, end) >= 0) return { records, next: closed ? undefined : pos };
    const last = Math.min(bucketOf(end.seq), bucketOf(pos.seq) + maxBuckets - 1);
    for (let b = bucketOf(pos.seq); b <= last; b++) {
      for await (const row of this.rows(m.stream, shard, b, pos, end)) {
        let state = row.state;
        if (state === 'P' && Date.now() - row.createdMs > RESOLVE_MS) state = await this.resolve(m, shard, row, readItem);
        if (state === 'P') return { records, next: pos };
        pos = row.position;
        if (state !== 'C' || !row.eventName) continue;
        records.push(row);
        bytes += row.itemKey.length + JSON.stringify(row.newImage ?? '').length + JSON.stringify(row.oldImage ?? '').length;
        if (records.length >= limit || bytes >= maxBytes) return { records, next: pos };
      }
      // The whole bucket (up to the end) is read: continue from its end.
      const bucketEnd = { seq: seqOfTime((b + 1) * BUCKET_MS) - 1n, kh: MAX_KH };
      pos = comparePositions(bucketEnd, end) < 0 ? bucketEnd : end;
    }
    return { records, next: closed && comparePositions(pos, end) >= 0 ? undefined : pos };
  }

  /**
   * Decides a record whose writer did not: committed iff its item write landed. Writes of an item
   * are compare-and-set on its version, and each one's record names the version it replaced
   * (prev) and the one it wrote (next), so:
   * - the item still has the version the record wrote → landed;
   * - the item still has the version the record replaced → did not land (and cannot any more: its
   *   writer gives up after WRITE_DEADLINE_MS);
   * - otherwise a later record that replaced this one's version proves it landed, a committed
   *   rival that replaced the same version proves it did not, and an insert whose item is absent
   *   with no such proof did not land.
   */
  private async resolve(m: StreamMeta, shard: number, r: LogRow, readItem: ItemReader, depth = 0): Promise<State> {
    const current = await readItem(m, r.keys);
    const version = current ? big(current.version) : undefined;
    let state: State;
    if (r.eventName !== 'REMOVE' && version !== undefined && version === r.next) state = 'C';
    else if (version !== undefined && version === r.prev) state = 'A';
    else state = await this.resolveFromLog(m, shard, r, version, readItem, depth);
    if (state !== 'P') await this.settle({ stream: m.stream, shard, position: r.position }, state);
    return state;
  }

  private async resolveFromLog(m: StreamMeta, shard: number, r: LogRow, version: bigint | undefined, readItem: ItemReader, depth: number): Promise<State> {
    const rivals: LogRow[] = [];
    const start = { seq: seqOfTime((bucketOf(r.position.seq) - 1) * BUCKET_MS), kh: 0 };
    const end = { seq: seqOfTime(Date.now() + BUCKET_MS), kh: MAX_KH };
    for (let b = bucketOf(start.seq); b <= bucketOf(end.seq); b++) {
      for await (const other of this.rows(m.stream, shard, b, start, end)) {
        if (other.itemKey !== r.itemKey || comparePositions(other.position, r.position) === 0) continue;
        if (r.eventName !== 'REMOVE' && other.prev === r.next) return 'C';
        if (other.prev === r.prev && other.state === 'C') return 'A';
        if (other.prev === r.prev && other.state === 'P') rivals.push(other);
      }
    }
    for (const rival of rivals) {
      // A rival whose writer is alive settles it soon; a stale one is decided first (once deep).
      if (depth > 0 || Date.now() - rival.createdMs <= RESOLVE_MS) return 'P';
      const fate = await this.resolve(m, shard, rival, readItem, depth + 1);
      if (fate !== 'A') return fate === 'C' ? 'A' : 'P';
    }
    return r.prev === undefined && version === undefined ? 'A' : 'C';
  }
}

/**
 * Test-only pause points around the item write of a change with a record, so that a test can kill
 * the process there: DC_TEST_STREAM_PAUSE=before-item|after-item (and DC_TEST_STREAM_PAUSE_MS).
 */
const PAUSE_POINT = process.env.DC_TEST_STREAM_PAUSE;

export async function testPause(point: 'before-item' | 'after-item'): Promise<void> {
  if (PAUSE_POINT !== point) return;
  process.stderr.write(`stream-pause: ${point}\n`);
  await sleep(Number(process.env.DC_TEST_STREAM_PAUSE_MS ?? 60_000));
}
