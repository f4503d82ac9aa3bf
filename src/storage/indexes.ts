// Secondary indexes (LSI and GSI) as CQL tables that we maintain on every base write.
//
//   CREATE TABLE <ix> (ipk <type>, [isk <type>,] bpk <type>, [bsk <type>,] item text,
//                      PRIMARY KEY ((ipk), [isk,] bpk[, bsk]))
//
// A GSI with several key attributes (index-keys.ts) has one column for each, in key schema order:
// PRIMARY KEY ((ipk, ipk1, ...), isk, isk1, ..., bpk[, bsk]).
//
// An index row exists for each base item that has the index key attributes (sparse indexes),
// ordered by the index sort key and then the base key, and holds the item's projection as JSON.
//
// Why not materialized views or SAI: views are experimental and off by default in Cassandra 5,
// and SAI cannot return rows ordered by an index sort key, which Query needs.
//
// Ordering and crashes. Every base write carries a per-item version that only grows (see
// nextVersion), and every index write uses that version as its Cassandra write timestamp. Index
// rows therefore end up reflecting the newest base state whatever order index writes arrive in,
// and a late or repeated write can never bring back a stale entry. Before the base write, an
// intent row records the index keys the write may touch; it is deleted once the index writes are
// done. If the process dies in between, a sweeper (every server runs one) finds the intent after
// a grace period, reads the base item and rewrites its index entries.
import cassandra from 'cassandra-driver';
import { validation } from '../dynamo/errors.js';
import { HASH_KEY_LIMIT, RANGE_KEY_LIMIT, emptyKeyValue, keyBytes } from '../dynamo/key-values.js';
import type { AttributeValue, Item, KeySchema, KeyType } from '../dynamo/types.js';
import { random16 } from './random-pool.js';
import { Long, qualifiedTable, retryingRead, type CqlSession } from './session.js';
import { cqlKeyType, keyColumnValue, StoredItem } from './translator.js';
import { indexHashKeys, indexHashValues, indexKeyAttributes, indexPartitionColumns, indexRangeKeys, indexSortColumns, indexSortValues, type IndexKeyed } from './index-keys.js';

/** How old an unfinished index write's intent is before a sweeper finishes it. */
export const INTENT_GRACE_MS = 15_000;

export type ProjectionType = 'ALL' | 'KEYS_ONLY' | 'INCLUDE';

export interface IndexDefinition extends IndexKeyed {
  name: string;
  kind: 'GLOBAL' | 'LOCAL';
  /** The first HASH and first RANGE attribute; hashKeys/rangeKeys list them all when there are more. */
  key: KeySchema;
  projection: { type: ProjectionType; nonKey?: string[] };
  cqlTable: string;
  status: 'CREATING' | 'ACTIVE' | 'DELETING';
  /** GSIs added by UpdateTable are backfilled from the base table before they are ACTIVE. */
  backfilling?: boolean;
  /** Last sign of life of the process backfilling this index (ms), so another can take over. */
  backfillHeartbeat?: number;
  provisioned?: { read: number; write: number };
}

/** An index's row for one base item: its partition and sort key values and the projected item. */
export interface IndexEntry {
  pk: AttributeValue[];
  sk: AttributeValue[];
  json: string;
}

const typeOf = (v: AttributeValue) => Object.keys(v)[0];

/** The versions of base rows: above the previous one and above the clock (µs · 1024 + random). */
export function nextVersion(previous?: Long | null): Long {
  // Date.now() · 1000 stays below 2^53, so the multiplication is exact.
  const v = Long.fromNumber(Date.now() * 1000).shiftLeft(10).or(Long.fromInt(random16() & 0x3ff));
  if (previous) {
    const floor = previous.add(Long.ONE);
    if (v.lessThan(floor)) return floor;
  }
  return v;
}

/**
 * Checks an item's index key attributes the way DynamoDB does at write time: an attribute used as
 * an index key must have the declared type, may not be an empty string or binary, and is held to the
 * table's key size limits.
 */
export function checkIndexKeys(indexes: IndexDefinition[] | undefined, item: Item): void {
  if (!indexes) return;
  for (const ix of indexes) {
    const hashes = indexHashKeys(ix);
    for (const k of indexKeyAttributes(ix)) {
      const v = item[k.name];
      if (!v) continue;
      if (typeOf(v) !== k.type) {
        throw validation(
          `One or more parameter values were invalid: Type mismatch for Index Key ${k.name} Expected: ${k.type} Actual: ${typeOf(v)} IndexName: ${ix.name}`,
        );
      }
      const empty = emptyKeyValue(k.name, v, ix.name);
      if (empty) throw validation(empty);
      const size = keyBytes(v);
      const limit = hashes.includes(k) ? HASH_KEY_LIMIT : RANGE_KEY_LIMIT;
      if (size > limit) {
        // Amazon DynamoDB's words, as its users report them (DynamoDB Local says only "Size limit exceeded").
        throw validation(
          `One or more parameter values were invalid: Size limit exceeded for Index Key ${k.name} Actual Size: ${size} bytes Max Size: ${limit} bytes IndexName: ${ix.name}`,
        );
      }
    }
  }
}

/** The attributes an index projects: its keys, the table's keys, and INCLUDE's list (or all). */
export function projectedNames(ix: IndexDefinition, table: KeySchema): Set<string> | undefined {
  if (ix.projection.type === 'ALL') return undefined;
  const names = new Set<string>([table.hash.name, ...indexKeyAttributes(ix).map((k) => k.name)]);
  if (table.range) names.add(table.range.name);
  if (ix.projection.type === 'INCLUDE') for (const n of ix.projection.nonKey ?? []) names.add(n);
  return names;
}

const fitsKey = (name: string, v: AttributeValue, limit: number) => !emptyKeyValue(name, v) && keyBytes(v) <= limit;

/**
 * The entry of `item` in `ix`, or undefined when the item lacks one of the index key attributes or
 * has one of another type (sparse index).
 */
export function indexEntry(ix: IndexDefinition, table: KeySchema, item: Item | undefined): IndexEntry | undefined {
  if (!item) return undefined;
  const hashes = indexHashKeys(ix);
  for (const k of indexKeyAttributes(ix)) {
    const v = item[k.name];
    if (!v || typeOf(v) !== k.type) return undefined;
    // Values a write would have been refused for (items older than the index, being backfilled):
    // DynamoDB leaves them out of the index as violations; Cassandra could not store them anyway.
    if (!fitsKey(k.name, v, hashes.includes(k) ? HASH_KEY_LIMIT : RANGE_KEY_LIMIT)) return undefined;
  }
  const names = projectedNames(ix, table);
  let projected: Item = item;
  if (names) {
    projected = {};
    for (const n of names) if (item[n]) projected[n] = item[n];
  }
  return { pk: indexHashValues(ix, item), sk: indexSortValues(ix, item), json: JSON.stringify(projected) };
}

/** Whether two entries of an index have the same index key (the same row, for one base item). */
export const sameIndexKey = (a: IndexEntry, b: IndexEntry) => JSON.stringify([a.pk, a.sk]) === JSON.stringify([b.pk, b.sk]);

export function indexTableCql(keyspace: string, ix: IndexDefinition, table: KeySchema): string {
  const partition = indexPartitionColumns(ix);
  const sort = indexSortColumns(ix);
  const cols = [
    ...indexHashKeys(ix).map((k, i) => `${partition[i]} ${cqlKeyType(k.type)}`),
    ...indexRangeKeys(ix).map((k, i) => `${sort[i]} ${cqlKeyType(k.type)}`),
    `bpk ${cqlKeyType(table.hash.type)}`,
    ...(table.range ? [`bsk ${cqlKeyType(table.range.type)}`] : []),
  ];
  const clustering = indexClustering(ix, table);
  return `CREATE TABLE IF NOT EXISTS ${qualifiedTable(keyspace, ix.cqlTable)} (${cols.join(', ')}, item text, PRIMARY KEY ((${partition.join(', ')}), ${clustering.join(', ')}))`;
}

/** The clustering columns of an index table, in order. */
export function indexClustering(ix: IndexDefinition, table: KeySchema): string[] {
  return [...indexSortColumns(ix), 'bpk', ...(table.range ? ['bsk'] : [])];
}

/** The clustering values of an index row for a base key plus index sort key. */
export function indexClusteringValues(ix: IndexDefinition, table: KeySchema, item: Item): AttributeValue[] {
  return [...indexSortValues(ix, item), item[table.hash.name], ...(table.range ? [item[table.range.name]] : [])];
}

export const decodeIndexRow = (row: { get(n: string): unknown }) => new StoredItem(row.get('item') as string, Long.ZERO);

interface TableRef {
  id: string;
  name: string;
  key: KeySchema;
  indexes: IndexDefinition[];
}

/** Writes index changes and keeps the intent log that makes them crash-safe. */
export class IndexWriter {
  private readonly intents: string;

  constructor(private readonly session: CqlSession) {
    this.intents = qualifiedTable(session.keyspace, 'dc_index_intents');
  }

  async init(): Promise<void> {
    await this.session.client.execute(
      `CREATE TABLE IF NOT EXISTS ${this.intents} (bucket bigint, id timeuuid, table_name text, base_key text, touched text, version bigint, PRIMARY KEY (bucket, id))`,
    );
  }

  /** Records, before a base write, which index keys it may change. Returns the intent's id. */
  async begin(t: TableRef, key: Item, old: Item | undefined, next: Item | undefined, version: Long): Promise<{ bucket: Long; id: unknown }> {
    const touched: Record<string, (AttributeValue | undefined)[][]> = {};
    for (const ix of t.indexes) {
      const a = indexEntry(ix, t.key, old);
      const b = indexEntry(ix, t.key, next);
      // [ipk, isk] for a one-attribute key, as before; several attributes list all, hash ones first.
      touched[ix.name] = [a ? [...a.pk, ...a.sk] : [], b ? [...b.pk, ...b.sk] : []];
    }
    const insert = async () => {
      const id = cassandra.types.TimeUuid.now();
      // The bucket is the minute of the id's own time: sweeps read slices of ids by time.
      const bucket = Long.fromNumber(Math.floor(id.getDate().getTime() / 60_000));
      await this.session.execute(
        `INSERT INTO ${this.intents} (bucket, id, table_name, base_key, touched, version) VALUES (?, ?, ?, ?, ?, ?)`,
        [bucket, id, t.name, JSON.stringify(key), JSON.stringify(touched), version],
        this.session.consistency.write,
        undefined,
        true, // a new row under a unique id: sending it again after a lost coordinator changes nothing
      );
      return { bucket, id };
    };
    const intent = await insert();
    // A sweep reads each slice of ids once, a grace period after their time: an insert that took
    // half of it may land after its slice was read, so the intent is written again under a new id.
    // (The first stays for a later sweep to finish, or forever if its slice was read: harmless.)
    if (Date.now() - intent.id.getDate().getTime() > INTENT_GRACE_MS / 2) return insert();
    return intent;
  }

  async end(intent: { bucket: Long; id: unknown }): Promise<void> {
    await this.session.execute(`DELETE FROM ${this.intents} WHERE bucket = ? AND id = ?`, [intent.bucket, intent.id], this.session.consistency.write, undefined, true);
  }

  /**
   * Makes every index of the table agree with `next` (undefined: the item is gone), written at
   * `version`. Entries the old item had under other index keys are deleted.
   */
  async apply(keyspace: string, t: TableRef, old: Item | undefined, next: Item | undefined, version: Long, extraOld: IndexEntry[][] = []): Promise<void> {
    const ts = version;
    const writes: Promise<unknown>[] = [];
    const base = next ?? old;
    if (!base) return;
    const bkey = [keyColumnValue(base[t.key.hash.name]), ...(t.key.range ? [keyColumnValue(base[t.key.range.name])] : [])];
    t.indexes.forEach((ix, i) => {
      if (ix.status === 'DELETING') return;
      const table = qualifiedTable(keyspace, ix.cqlTable);
      const now = indexEntry(ix, t.key, next);
      const before = [indexEntry(ix, t.key, old), ...(extraOld[i] ?? [])];
      const keyCols = [...indexPartitionColumns(ix), ...indexClustering(ix, t.key)];
      for (const e of before) {
        if (!e || (now && sameIndexKey(e, now))) continue;
        const where = keyCols.map((c) => `${c} = ?`).join(' AND ');
        const params = [...e.pk, ...e.sk].map(keyColumnValue).concat(bkey);
        writes.push(this.session.query(`DELETE FROM ${table} USING TIMESTAMP ? WHERE ${where}`, [ts, ...params], { consistency: this.session.consistency.write, isIdempotent: true }));
      }
      if (now) {
        const cols = [...keyCols, 'item'];
        const params = [...[...now.pk, ...now.sk].map(keyColumnValue), ...bkey, now.json];
        writes.push(
          this.session.query(
            `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')}) USING TIMESTAMP ?`,
            [...params, ts],
            // At the item's version as timestamp: sending it again (lost coordinator) changes nothing.
            { consistency: this.session.consistency.write, isIdempotent: true },
          ),
        );
      }
    });
    await Promise.all(writes);
  }

  /**
   * Finishes the intents whose ids' times fall in [from, to) (ms; `to` at least the grace period
   * ago): reads each base item through Paxos and rewrites its index entries. Returns how many were
   * repaired. Each call reads only that slice of each minute's partition, so the tombstones of the
   * intents finished before it are not read again (the caller moves `from` on after a success).
   */
  async sweep(
    keyspace: string,
    lookup: (tableName: string) => Promise<{ ref: TableRef; read: (key: Item) => Promise<StoredItem | undefined> } | undefined>,
    from: number,
    to: number,
  ): Promise<number> {
    let repaired = 0;
    for (let b = Math.floor(from / 60_000); b * 60_000 < to; b++) {
      const rs = await retryingRead(() =>
        this.session.execute(
          `SELECT id, table_name, base_key, touched, version FROM ${this.intents} WHERE bucket = ? AND id >= minTimeuuid(?) AND id < minTimeuuid(?)`,
          [Long.fromNumber(b), new Date(Math.max(from, b * 60_000)), new Date(Math.min(to, (b + 1) * 60_000))],
          this.session.consistency.strong,
        ),
      );
      for (const row of rs.rows) {
        const id = row.get('id') as { getDate(): Date };
        const found = await lookup(row.get('table_name') as string);
        if (found) {
          const key = JSON.parse(row.get('base_key') as string) as Item;
          const touched = JSON.parse(row.get('touched') as string) as Record<string, AttributeValue[][]>;
          const current = await found.read(key);
          const extraOld = found.ref.indexes.map((ix) => {
            const hashes = indexHashKeys(ix).length;
            return (touched[ix.name] ?? []).filter((k) => k.length > 0).map((k) => ({ pk: k.slice(0, hashes), sk: k.slice(hashes).filter((v) => v != null), json: '' }));
          });
          // The newest of the intent's version and the item's own: the repair must not lose to the
          // write it finishes, nor overwrite a later one.
          const intentVersion = row.get('version') as Long;
          const version = current && current.version.greaterThan(intentVersion) ? current.version : intentVersion;
          // A key-only item has no index entries: for a deleted item this removes every listed one.
          await this.apply(keyspace, found.ref, undefined, current?.item ?? { ...key }, version, extraOld);
        }
        await this.end({ bucket: Long.fromNumber(b), id });
        repaired++;
      }
    }
    return repaired;
  }
}

export type { KeyType };
