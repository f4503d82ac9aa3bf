// The protocol that makes a stream record exist if and only if its change is visible, with
// several server processes writing one stream. The records live in dc_stream_records, the streams
// in dc_streams (storage's StreamRecordTables holds their statements), one row per record:
// stream, shard, minute bucket, seq, key hash, state, event, item key, images, the item versions
// it replaced and wrote, expiry flag, creation time, origin.
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
import { Long, type CqlSession } from '../storage/session.js';
import { StreamRecordTables, type RecordRow, type StreamRow } from '../storage/state/stream-records.js';
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
const big = (v: unknown) => BigInt((v as Long).toString());

/** A stream's row in dc_streams: what ListStreams and DescribeStream need, whatever became of its table. */
export interface StreamMeta extends StreamRow {
  viewType: StreamViewType;
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

function logRow(row: RecordRow): LogRow {
  return {
    position: { seq: row.seq, kh: row.kh },
    state: row.state as State,
    eventName: row.event as EventName,
    itemKey: row.itemKey,
    keys: JSON.parse(row.itemKey) as Item,
    newImage: row.newImage ? (JSON.parse(row.newImage) as Item) : undefined,
    oldImage: row.oldImage ? (JSON.parse(row.oldImage) as Item) : undefined,
    prev: row.prev,
    next: row.next,
    expiry: row.expiry,
    ...(row.origin === REPLICATOR_ORIGIN ? { replicated: true } : {}),
    createdMs: row.createdMs,
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
  private readonly tables: StreamRecordTables;

  constructor(session: CqlSession) {
    this.tables = new StreamRecordTables(session);
  }

  init(): Promise<void> {
    return this.tables.init(TTL_S);
  }

  // ---- the streams of all tables

  register(m: StreamMeta): Promise<void> {
    return this.tables.insertStream(m);
  }

  disable(stream: string, at: number): Promise<void> {
    return this.tables.disableStream(stream, at);
  }

  async get(stream: string): Promise<StreamMeta | undefined> {
    return (await this.tables.stream(stream)) as StreamMeta | undefined;
  }

  /** Streams in key order after `after`, skipping those disabled longer ago than the retention. */
  async list(after: string | undefined, limit: number, table?: string): Promise<{ streams: StreamMeta[]; more: boolean }> {
    const out: StreamMeta[] = [];
    const oldest = Date.now() - RETENTION_MS;
    for await (const row of this.tables.streamsAfter(after ?? '')) {
      const m = row as StreamMeta;
      if ((m.disabledAt ?? Infinity) < oldest || (table && m.table !== table)) continue;
      if (out.length === limit) return { streams: out, more: true };
      out.push(m);
    }
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
      await this.tables.insertPending({
        stream: c.stream, shard, bucket: bucketOf(seq), version, kh, event, itemKey, newImage, oldImage,
        prev: c.old?.version ?? null, expiry: c.expiry, createdMs, origin: c.replicated ? REPLICATOR_ORIGIN : undefined,
      });
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
    await this.tables.setState({ stream: r.stream, shard: r.shard, bucket: bucketOf(r.position.seq), ...r.position }, state, ttl);
  }

  // ---- reading records

  private async *rows(stream: string, shard: number, bucket: number, after: Position, upTo: Position): AsyncGenerator<LogRow> {
    for await (const row of this.tables.records(stream, shard, bucket, after, upTo)) yield logRow(row);
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
