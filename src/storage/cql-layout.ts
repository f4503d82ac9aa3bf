// CQL pieces every layout shares: the key columns (pk, and sk for a range key) in native CQL types
// so that Cassandra's clustering order is DynamoDB's sort order (decimal numerically, text and blob
// by unsigned bytes), and the sentinel version that makes an always-true LWT condition.
import type { Item } from '../dynamo/types.js';
import { qualifiedTable, type Long, type CqlSession, type Row } from './session.js';
import { cqlKeyType, keyColumnValue, type TableLayout, type WriteGuard } from './translator.js';

/**
 * The column holding a transaction's write intent (see src/storage/transactions). Unconditional
 * lightweight writes apply only to rows without one (`IF tx = null` also holds for absent rows);
 * compare-and-set writes clear it, since the row's version changes when an intent is written.
 */
export const LOCK_COLUMN = 'tx';
const UNLOCKED = `${LOCK_COLUMN} = null`;

export function qualifiedName(layout: TableLayout): string {
  return qualifiedTable(layout.keyspace, layout.cqlTable);
}

export function keyColumnsDdl(layout: TableLayout): { columns: string; primaryKey: string } {
  const columns = [`pk ${cqlKeyType(layout.key.hash.type)}`];
  if (layout.key.range) columns.push(`sk ${cqlKeyType(layout.key.range.type)}`);
  columns.push(`${LOCK_COLUMN} text`);
  return { columns: columns.join(', '), primaryKey: layout.key.range ? 'PRIMARY KEY ((pk), sk)' : 'PRIMARY KEY (pk)' };
}

export function keyNames(layout: TableLayout): string[] {
  return layout.key.range ? ['pk', 'sk'] : ['pk'];
}

export function whereKey(layout: TableLayout): string {
  return layout.key.range ? 'pk = ? AND sk = ?' : 'pk = ?';
}

export function keyParams(layout: TableLayout, key: Item): unknown[] {
  const params = [keyColumnValue(key[layout.key.hash.name])];
  if (layout.key.range) params.push(keyColumnValue(key[layout.key.range.name]));
  return params;
}

/** Memoises the statements of each table, so the hot path builds no CQL strings. */
export function statementCache<S>(build: (layout: TableLayout) => S): (layout: TableLayout) => S {
  const cache = new Map<string, S>();
  return (layout) => {
    const id = layout.keyspace + '.' + layout.cqlTable;
    let s = cache.get(id);
    if (!s) cache.set(id, (s = build(layout)));
    return s;
  };
}

/** Reads the [applied] column of a lightweight transaction's result. */
export function applied(rows: { get(name: string): unknown }[]): boolean {
  return rows.length === 0 || rows[0].get('[applied]') === true;
}

export type Statement = [string, unknown[]];

/** Runs the statement that matches the guard (every layout has the same four kinds). */
export async function write(
  session: CqlSession,
  guard: WriteGuard,
  choices: { plain: Statement; always: Statement; absent?: Statement; version: (v: Long) => Statement },
): Promise<boolean> {
  let statement: Statement;
  if (guard.kind === 'plain') statement = choices.plain;
  else if (guard.kind === 'always') statement = choices.always;
  else if (guard.expected === null) {
    // Deleting an item that is absent changes nothing: there is no statement to run.
    if (!choices.absent) return true;
    statement = choices.absent;
  } else statement = choices.version(guard.expected);
  const rs = await session.execute(statement[0], statement[1], session.consistency.write);
  if (guard.kind === 'plain' || applied(rs.rows)) return true;
  if (guard.kind === 'version' && guard.expected === null) guard.seen?.(rs.rows[0]!);
  return false;
}

/**
 * The statements every layout has on its one value column (`item`, `attrs`) beside `ver`: read by
 * key, replace the whole value (plain, always-true LWT, if absent, if at a version) and delete.
 */
export interface RowStatements {
  /** Qualified table name and key predicate, for a layout's own extra statements. */
  t: string;
  where: string;
  read: string;
  insert: string;
  insertIfAbsent: string;
  replaceAlways: string;
  replaceIfVersion: string;
  /** Replaces the value, clears the intent, at a given write timestamp (a transaction's apply). */
  replaceAt: string;
  delete: string;
  deleteAlways: string;
  deleteIfVersion: string;
}

export function rowStatements(layout: TableLayout, column: string): RowStatements {
  const t = qualifiedName(layout);
  const where = whereKey(layout);
  const cols = keyNames(layout).join(', ');
  const marks = keyNames(layout).map(() => '?').join(', ');
  return {
    t,
    where,
    read: `SELECT ${column}, ver, ${LOCK_COLUMN} FROM ${t} WHERE ${where}`,
    insert: `INSERT INTO ${t} (${cols}, ${column}, ver) VALUES (${marks}, ?, ?)`,
    insertIfAbsent: `INSERT INTO ${t} (${cols}, ${column}, ver) VALUES (${marks}, ?, ?) IF NOT EXISTS`,
    replaceAlways: `UPDATE ${t} SET ${column} = ?, ver = ? WHERE ${where} IF ${UNLOCKED}`,
    replaceIfVersion: `UPDATE ${t} SET ${column} = ?, ver = ?, ${UNLOCKED} WHERE ${where} IF ver = ?`,
    replaceAt: `UPDATE ${t} USING TIMESTAMP ? SET ${column} = ?, ver = ?, ${UNLOCKED} WHERE ${where}`,
    delete: `DELETE FROM ${t} WHERE ${where}`,
    deleteAlways: `DELETE FROM ${t} WHERE ${where} IF ${UNLOCKED}`,
    deleteIfVersion: `DELETE FROM ${t} WHERE ${where} IF ver = ?`,
  };
}

/** Reads the row of a key and decodes it; undefined when there is none. */
export async function readRow<T>(
  session: CqlSession,
  s: RowStatements,
  layout: TableLayout,
  key: Item,
  consistency: number,
  decode: (row: Row) => T,
): Promise<T | undefined> {
  const row = (await session.execute(s.read, keyParams(layout, key), consistency)).first();
  return row ? decode(row) : undefined;
}

/** Writes a whole value (replacing the row's) under the guard. */
export function replaceRow(
  session: CqlSession,
  s: RowStatements,
  layout: TableLayout,
  item: Item,
  value: unknown,
  guard: WriteGuard,
  version: Long,
): Promise<boolean> {
  const key = keyParams(layout, item);
  return write(session, guard, {
    plain: insertStatement(s, key, value, version),
    always: [s.replaceAlways, [value, version, ...key]],
    absent: [s.insertIfAbsent, [...key, value, version]],
    version: (v) => [s.replaceIfVersion, [value, version, ...key, v]],
  });
}

/** The plain write of a whole value at write timestamp `at`, clearing the intent (see transactions/apply.ts). */
export function replaceAtStatement(s: RowStatements, key: unknown[], value: unknown, version: Long, at: Long): Statement {
  return [s.replaceAt, [at, value, version, ...key]];
}

/** The plain write of a whole value (no condition): what blind puts of only_rmw tables run, and what bulk writers batch. */
export function insertStatement(s: RowStatements, key: unknown[], value: unknown, version: Long): Statement {
  return [s.insert, [...key, value, version]];
}

/** Deletes the row of a key under the guard (deleting an absent row needs no statement). */
export function deleteRow(session: CqlSession, s: RowStatements, layout: TableLayout, key: Item, guard: WriteGuard): Promise<boolean> {
  const params = keyParams(layout, key);
  return write(session, guard, {
    plain: [s.delete, params],
    always: [s.deleteAlways, params],
    version: (v) => [s.deleteIfVersion, [...params, v]],
  });
}
