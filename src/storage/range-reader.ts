// Ordered reads for Query and Scan, streamed page by page from Cassandra so memory stays bounded
// whatever the size of a partition or table. Continuation is by key, never by driver paging
// state, so a DynamoDB LastEvaluatedKey can resume anywhere, in any process.
import type { AttributeValue, Item } from '../dynamo/types.js';
import { qualifiedName } from './cql-layout.js';
import type { TableHandle } from './item-store.js';
import { decodeIndexRow, indexClustering, type IndexDefinition } from './indexes.js';
import { indexPartitionColumns, indexSortColumns } from './index-keys.js';
import type { KeySchema } from '../dynamo/types.js';
import { Long, qualifiedTable, type CqlSession, type Row } from './session.js';
import { committedView } from './transactions/index.js';
import { keyColumnValue, type StoredItem } from './translator.js';

export interface SortBound {
  value: AttributeValue;
  inclusive: boolean;
}

/**
 * A range of sort keys; a missing side is unbounded. For an index with several sort attributes,
 * `prefix` holds the values the leading ones must equal, and the bounds apply to the next one.
 */
export interface SortRange {
  prefix?: AttributeValue[];
  lower?: SortBound;
  upper?: SortBound;
}

/** Murmur3Partitioner's token space: [-2^63, 2^63 - 1]. */
export const MIN_TOKEN = -(2n ** 63n);
export const MAX_TOKEN = 2n ** 63n - 1n;

/** The token range of scan segment `segment` of `total`: equal slices that together cover the ring. */
export function segmentRange(segment: number, total: number): { lo: bigint; hi: bigint } {
  const width = (MAX_TOKEN - MIN_TOKEN + 1n) / BigInt(total);
  const lo = MIN_TOKEN + width * BigInt(segment);
  const hi = segment === total - 1 ? MAX_TOKEN : lo + width - 1n;
  return { lo, hi };
}

const toLong = (t: bigint) => Long.fromString(t.toString());

type Decode = (row: Row) => StoredItem;

/**
 * Rows each Cassandra page asks for: a fixed number, or pages that start at `first` and grow
 * fourfold up to `max`, never past `total` (the most rows the reader will take) nor past what
 * `bytes` (the reader's byte budget, in stored bytes) needs at the average row size read so far. A short read then
 * costs one small page and a long one few round trips, while the driver's buffer stays bounded.
 */
export type PageRows = number | { first: number; max: number; total?: number; bytes?: number };

export function nextPageSize(rows: PageRows, previous: number | undefined, fetched: number, fetchedBytes: number): number {
  if (typeof rows === 'number') return rows;
  if (previous === undefined) return rows.first;
  let size = Math.min(rows.max, previous * 4);
  if (rows.total !== undefined) size = Math.min(size, rows.total - fetched);
  if (rows.bytes !== undefined && fetched > 0) {
    // The budget counts stored bytes, which overstate the reader's own measure (DynamoDB's item
    // size: a third less for binary, far less for numbers): a reader still pulling past it gets
    // pages of the last size up to `first`, not a round trip per row.
    const left = rows.bytes - fetchedBytes;
    size = Math.min(size, left > 0 ? Math.ceil(left / (fetchedBytes / fetched)) + 1 : Math.min(previous, rows.first));
  }
  return Math.max(1, size);
}

async function* pages(
  session: CqlSession,
  decode: Decode,
  query: string,
  params: unknown[],
  consistency: number,
  rows: PageRows,
): AsyncGenerator<StoredItem> {
  let pageState: string | undefined;
  let fetchSize: number | undefined;
  let fetched = 0;
  let fetchedBytes = 0;
  do {
    fetchSize = nextPageSize(rows, fetchSize, fetched, fetchedBytes);
    const rs = await session.client.execute(query, params, { prepare: true, fetchSize, pageState, consistency });
    fetched += rs.rows.length;
    for (const row of rs.rows) {
      const stored = decode(row);
      fetchedBytes += stored.json.length;
      if (!stored.lock && stored.present) yield stored;
      else {
        // A transaction's intent: the committed item, if any (index rows never carry one).
        const visible = await committedView(session, stored);
        if (visible) yield visible;
      }
    }
    pageState = rs.pageState ?? undefined;
  } while (pageState);
}

/** Items of one partition in sort-key order (descending when !forward). */
export function partitionItems(
  session: CqlSession,
  h: TableHandle,
  hash: AttributeValue,
  range: SortRange,
  forward: boolean,
  consistency: number,
  pageSize: PageRows,
): AsyncGenerator<StoredItem> {
  const layout = h.entry.layout;
  let where = 'pk = ?';
  const params: unknown[] = [keyColumnValue(hash)];
  if (range.lower) {
    where += range.lower.inclusive ? ' AND sk >= ?' : ' AND sk > ?';
    params.push(keyColumnValue(range.lower.value));
  }
  if (range.upper) {
    where += range.upper.inclusive ? ' AND sk <= ?' : ' AND sk < ?';
    params.push(keyColumnValue(range.upper.value));
  }
  const order = layout.key.range ? ` ORDER BY sk ${forward ? 'ASC' : 'DESC'}` : '';
  const query = `SELECT ${h.translator.readColumns} FROM ${qualifiedName(layout)} WHERE ${where}${order}`;
  return pages(session, h.translator.decode, query, params, consistency, pageSize);
}

/**
 * Items whose partition token lies in [lo, hi], in token order then sort-key order, starting
 * after `after` (a key within the range) when given.
 */
export async function* tokenRangeItems(
  session: CqlSession,
  h: TableHandle,
  lo: bigint,
  hi: bigint,
  after: Item | undefined,
  consistency: number,
  pageSize: PageRows,
): AsyncGenerator<StoredItem> {
  const layout = h.entry.layout;
  const table = qualifiedName(layout);
  const cols = h.translator.readColumns;
  if (!after) {
    yield* pages(session, h.translator.decode, `SELECT ${cols} FROM ${table} WHERE token(pk) >= ? AND token(pk) <= ?`, [toLong(lo), toLong(hi)], consistency, pageSize);
    return;
  }
  const pk = keyColumnValue(after[layout.key.hash.name]);
  if (layout.key.range) {
    // First the rest of the partition the previous page stopped in.
    const sk = keyColumnValue(after[layout.key.range.name]);
    yield* pages(session, h.translator.decode, `SELECT ${cols} FROM ${table} WHERE pk = ? AND sk > ?`, [pk, sk], consistency, pageSize);
  }
  yield* pages(session, h.translator.decode, `SELECT ${cols} FROM ${table} WHERE token(pk) > token(?) AND token(pk) <= ?`, [pk, toLong(hi)], consistency, pageSize);
}

/**
 * The smallest value greater than every value starting with `prefix`, in DynamoDB's order
 * (code points for S, unsigned bytes for B); undefined when there is none.
 */
export function prefixSuccessor(prefix: AttributeValue): AttributeValue | undefined {
  if ('S' in prefix) {
    const cps = [...prefix.S].map((c) => c.codePointAt(0)!);
    while (cps.length) {
      let last = cps.pop()! + 1;
      if (last === 0xd800) last = 0xe000; // skip the surrogate range, not characters of their own
      if (last <= 0x10ffff) return { S: String.fromCodePoint(...cps, last) };
    }
    return undefined;
  }
  if ('B' in prefix) {
    const bytes = [...Buffer.from(prefix.B, 'base64')];
    while (bytes.length) {
      const last = bytes.pop()! + 1;
      if (last <= 0xff) return { B: Buffer.from([...bytes, last]).toString('base64') };
    }
    return undefined;
  }
  return undefined;
}

/** Where an index query reads: the index table, its clustering columns, and consistency. */
export interface IndexTarget {
  keyspace: string;
  index: IndexDefinition;
  table: KeySchema;
}

const indexTable = (t: IndexTarget) => qualifiedTable(t.keyspace, t.index.cqlTable);

/**
 * Entries of one index partition in (index sort key, base key) order, restricted to a range of
 * the index sort key, after the entry whose clustering values are `after` when given.
 */
export function indexPartitionItems(
  session: CqlSession,
  t: IndexTarget,
  hash: AttributeValue[],
  range: SortRange,
  forward: boolean,
  after: AttributeValue[] | undefined,
  consistency: number,
  pageSize: PageRows,
): AsyncGenerator<StoredItem> {
  const clustering = indexClustering(t.index, t.table);
  const sortColumns = indexSortColumns(t.index);
  let where = indexPartitionColumns(t.index).map((c) => `${c} = ?`).join(' AND ');
  const params: unknown[] = hash.map(keyColumnValue);
  const prefix = range.prefix ?? [];
  // A bound on the sort columns: the equal prefix, then the range's value on the next column,
  // as one (multi-column) slice, since Cassandra takes one bound per side.
  const bound = (b: SortBound | undefined, op: '>' | '<') => {
    const values = [...prefix, ...(b ? [b.value] : [])];
    if (!values.length) return;
    const cols = sortColumns.slice(0, values.length);
    const cmp = `${op}${!b || b.inclusive ? '=' : ''}`;
    where += cols.length === 1 ? ` AND ${cols[0]} ${cmp} ?` : ` AND (${cols.join(', ')}) ${cmp} (${cols.map(() => '?').join(', ')})`;
    params.push(...values.map(keyColumnValue));
  };
  // A start key (already checked to lie within the range) is the tighter bound on the side the
  // read moves away from.
  if (!(after && forward)) bound(range.lower, '>');
  if (!(after && !forward)) bound(range.upper, '<');
  if (after) {
    where += ` AND (${clustering.join(', ')}) ${forward ? '>' : '<'} (${clustering.map(() => '?').join(', ')})`;
    params.push(...after.map(keyColumnValue));
  }
  const order = clustering.map((c) => `${c} ${forward ? 'ASC' : 'DESC'}`).join(', ');
  return pages(session, decodeIndexRow, `SELECT item FROM ${indexTable(t)} WHERE ${where} ORDER BY ${order}`, params, consistency, pageSize);
}

/** Index entries whose partition token lies in [lo, hi], after (partition, clustering values) if given. */
export async function* indexTokenRangeItems(
  session: CqlSession,
  t: IndexTarget,
  lo: bigint,
  hi: bigint,
  after: { partition: AttributeValue[]; clustering: AttributeValue[] } | undefined,
  consistency: number,
  pageSize: PageRows,
): AsyncGenerator<StoredItem> {
  const table = indexTable(t);
  const partition = indexPartitionColumns(t.index);
  const token = `token(${partition.join(', ')})`;
  if (!after) {
    yield* pages(session, decodeIndexRow, `SELECT item FROM ${table} WHERE ${token} >= ? AND ${token} <= ?`, [toLong(lo), toLong(hi)], consistency, pageSize);
    return;
  }
  const clustering = indexClustering(t.index, t.table);
  const pk = after.partition.map(keyColumnValue);
  yield* pages(
    session,
    decodeIndexRow,
    `SELECT item FROM ${table} WHERE ${partition.map((c) => `${c} = ?`).join(' AND ')} AND (${clustering.join(', ')}) > (${clustering.map(() => '?').join(', ')})`,
    [...pk, ...after.clustering.map(keyColumnValue)],
    consistency,
    pageSize,
  );
  yield* pages(session, decodeIndexRow, `SELECT item FROM ${table} WHERE ${token} > token(${pk.map(() => '?').join(', ')}) AND ${token} <= ?`, [...pk, toLong(hi)], consistency, pageSize);
}
