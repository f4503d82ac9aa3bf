// Applying a committed transaction's intent with plain writes instead of a lightweight transaction.
//
// The intent was placed by a lightweight transaction, so its cells carry the Paxos ballot's
// timestamp T, and every later lightweight transaction on the partition gets a ballot, hence a
// write timestamp, above T (Cassandra proposes each ballot above the last one a quorum accepted).
// A plain write at exactly T therefore replaces the intent and nothing later:
//   - `tx = null` at T is a tombstone, which wins a tie with the intent's cell;
//   - `ver` at T wins its tie because the new version is greater (equal timestamps keep the
//     greater value, compared as unsigned bytes: positive versions compare as numbers);
//   - the item's cells at T replace the committed item's, written earlier;
//   - whatever a later writer (one rolling the intent forward, or a write after that) put there
//     has a later timestamp and stays, so a late or repeated apply cannot undo it.
// Readers between the two states see the same item: the intent of a committed transaction shows
// its new image. A read (the intent's write time and version, at quorum) replaces the Paxos round
// of a compare-and-set apply, which costs Cassandra several times more.
//
// Applies of new images and deletes only on tables without indexes or a stream: those must run
// exactly once (one stream record, one set of index entries), which the compare-and-set decides.
// Removing an intent (a cancelled or aborted transaction's, or a ConditionCheck's once decided)
// changes no item, so it is a plain write at the intent's timestamp on every table.
import cassandra from 'cassandra-driver';
import type { Item } from '../../dynamo/types.js';
import { LOCK_COLUMN, keyParams, qualifiedName, statementCache, whereKey } from '../cql-layout.js';
import { retryingRead, type CqlSession, type Long } from '../session.js';
import type { TableLayout } from '../translator.js';

const statements = statementCache((layout: TableLayout) => {
  const t = qualifiedName(layout);
  const where = whereKey(layout);
  return {
    lockTime: `SELECT WRITETIME(${LOCK_COLUMN}) AS at, ver FROM ${t} WHERE ${where}`,
    // Several rows at once: of a table without a sort key, or of one partition.
    lockTimes: `SELECT ${layout.key.range ? 'sk' : 'pk'} AS k, WRITETIME(${LOCK_COLUMN}) AS at, ver FROM ${t} WHERE ${layout.key.range ? 'pk = ? AND sk IN ?' : 'pk IN ?'}`,
    deleteAt: `DELETE FROM ${t} USING TIMESTAMP ? WHERE ${where}`,
    clearAt: `UPDATE ${t} USING TIMESTAMP ? SET ${LOCK_COLUMN} = null, ver = ? WHERE ${where}`,
  };
});

/**
 * The write timestamp of the intent on the row if the row is still at version `locked` (the
 * intent's), else undefined: someone finished the intent already.
 */
export async function intentTime(session: CqlSession, layout: TableLayout, key: Item, locked: Long): Promise<Long | undefined> {
  const rs = await retryingRead(() => session.execute(statements(layout).lockTime, keyParams(layout, key), session.consistency.strong));
  const row = rs.first();
  if (!row) return undefined;
  const at = row.get('at') as Long | null;
  const version = row.get('ver') as Long | null;
  return at && version && version.equals(locked) ? at : undefined;
}

/**
 * intentTime() of several rows in one read: `keys` are of one table without a sort key, or of one
 * partition (sameRead tells). Rows are told apart by their key; versions may repeat across rows.
 */
export async function intentTimes(session: CqlSession, layout: TableLayout, keys: Item[], locked: Long[]): Promise<(Long | undefined)[]> {
  const column = layout.key.range ? 1 : 0;
  const params = keys.map((k) => keyParams(layout, k));
  const bound = layout.key.range ? [params[0]![0], params.map((p) => p[1])] : [params.map((p) => p[0])];
  const rs = await retryingRead(() => session.execute(statements(layout).lockTimes, bound, session.consistency.strong));
  return params.map((p, i) => {
    const row = rs.rows.find((r) => sameKeyValue(p[column], r.get('k')));
    const at = row?.get('at') as Long | null | undefined;
    const version = row?.get('ver') as Long | null | undefined;
    return at && version && version.equals(locked[i]!) ? at : undefined;
  });
}

/** A key column's value as bound (keyColumnValue: text, a decimal's digits, blob bytes) against the value read back. */
function sameKeyValue(bound: unknown, read: unknown): boolean {
  if (Buffer.isBuffer(bound)) return Buffer.isBuffer(read) && bound.equals(read);
  if (read instanceof cassandra.types.BigDecimal) return read.compare(cassandra.types.BigDecimal.fromString(bound as string)) === 0;
  return bound === read;
}

/** Which reads intentTimes() may share: the table's, and the partition's when the table has a sort key. */
export function sameRead(layout: TableLayout, key: Item): string {
  const table = `${layout.keyspace}.${layout.cqlTable}`;
  if (!layout.key.range) return table;
  const pk = keyParams(layout, key)[0];
  return `${table}/${Buffer.isBuffer(pk) ? `b${pk.toString('hex')}` : `s${String(pk)}`}`;
}

/** Deletes the row at write timestamp `at` (a committed delete's apply). */
export async function deleteAt(session: CqlSession, layout: TableLayout, key: Item, at: Long): Promise<void> {
  await session.execute(statements(layout).deleteAt, [at, ...keyParams(layout, key)], session.consistency.write, undefined, true);
}

/**
 * Removes the intent written at `at`, leaving the committed item as it was at the new version
 * `version`; a row that held only the intent goes.
 */
export async function clearIntentAt(session: CqlSession, layout: TableLayout, key: Item, present: boolean, version: Long, at: Long): Promise<void> {
  if (!present) return deleteAt(session, layout, key, at);
  await session.execute(statements(layout).clearAt, [at, version, ...keyParams(layout, key)], session.consistency.write, undefined, true);
}
