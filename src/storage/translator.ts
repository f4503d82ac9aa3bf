// The contract between the item store and a CQL layout. A translator maps DynamoDB items to rows
// of one CQL table per DynamoDB table; it knows CQL but nothing of HTTP or of the expression
// language. Every layout keeps a `ver` column: a random 64-bit version rewritten on every write,
// which the item store uses for compare-and-set with lightweight transactions.
import type { Item, KeySchema, AttributeValue } from '../dynamo/types.js';
import type { CqlSession, Long, Row } from './session.js';

/** Where a DynamoDB table lives in Cassandra. */
export interface TableLayout {
  keyspace: string;
  cqlTable: string;
  key: KeySchema;
}

/** An item as read from Cassandra: its JSON is kept so responses can embed it without re-encoding. */
export class StoredItem {
  private parsed?: Item;
  constructor(
    readonly json: string,
    readonly version: Long,
    /** A transaction's write intent on the row (JSON, see src/storage/transactions/lock.ts). */
    readonly lock?: string,
    /** False for a row that holds only an intent: the item itself does not exist. */
    readonly present = true,
  ) {}

  get item(): Item {
    return (this.parsed ??= JSON.parse(this.json) as Item);
  }
}

/**
 * How a write is guarded:
 * - plain: an ordinary write (no Paxos);
 * - always: a lightweight transaction that applies unless a transaction's intent is on the row
 *   (ordered with other LWTs; false tells the caller to resolve the intent);
 * - version: compare-and-set, applies only if the row's version is `expected` (null: row absent).
 *   With `expected` null, a refused write (IF NOT EXISTS) hands `seen` the row it found, as its
 *   lightweight transaction read it: a serial read's worth, for free.
 */
export type WriteGuard =
  | { kind: 'plain' }
  | { kind: 'always' }
  | { kind: 'version'; expected: Long | null; seen?: (row: Row) => void };

/** A partial update that needs no read: top-level attributes to set and to remove. */
export interface BlindUpdate {
  set: Item;
  remove: string[];
}

export interface Translator {
  readonly name: string;
  /** True when `updateBlind` is implemented (partial updates without a read). */
  readonly supportsBlindUpdate: boolean;
  /** CQL statements creating the table (CREATE TABLE ...). */
  createTableCql(layout: TableLayout): string[];
  /** The value columns a read selects (the key columns are not needed: items carry their keys). */
  readonly readColumns: string;
  /** The stored item of a row that has `readColumns`. */
  decode(row: Row): StoredItem;
  read(session: CqlSession, layout: TableLayout, key: Item, consistency: number): Promise<StoredItem | undefined>;
  /** Writes the whole item (replacing any old one). Returns false when a guarded write did not apply. */
  put(session: CqlSession, layout: TableLayout, item: Item, guard: WriteGuard, version: Long, old?: StoredItem): Promise<boolean>;
  delete(session: CqlSession, layout: TableLayout, key: Item, guard: WriteGuard): Promise<boolean>;
  /** The statement `put` runs with a plain guard (query and parameters), for unlogged batches. */
  plainPut(layout: TableLayout, item: Item, version: Long): [string, unknown[]];
  /** A plain write of the whole item at write timestamp `at` that also clears the row's intent. */
  putAt(layout: TableLayout, item: Item, version: Long, at: Long): [string, unknown[]];
  updateBlind?(
    session: CqlSession,
    layout: TableLayout,
    key: Item,
    update: BlindUpdate,
    guard: WriteGuard,
    version: Long,
  ): Promise<boolean>;
}

/** The key attributes of an item, as a new item. */
export function keyOf(item: Item, schema: KeySchema): Item {
  const key: Item = { [schema.hash.name]: item[schema.hash.name] };
  if (schema.range) key[schema.range.name] = item[schema.range.name];
  return key;
}

/** Converts a key attribute value to the value bound to its CQL column (text, decimal or blob). */
export function keyColumnValue(value: AttributeValue): unknown {
  if ('S' in value) return value.S;
  if ('N' in value) return value.N; // the driver encodes a decimal from its string form
  if ('B' in value) return Buffer.from(value.B, 'base64');
  throw new Error('not a key value');
}

export function cqlKeyType(type: 'S' | 'N' | 'B'): string {
  return type === 'S' ? 'text' : type === 'N' ? 'decimal' : 'blob';
}
