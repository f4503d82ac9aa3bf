// CQL pieces every layout shares: the key columns (pk, and sk for a range key) in native CQL types
// so that Cassandra's clustering order is DynamoDB's sort order (decimal numerically, text and blob
// by unsigned bytes), and the sentinel version that makes an always-true LWT condition.
import type { Item } from '../dynamo/types.js';
import { Long, quoteIdent, type CqlSession } from './session.js';
import { cqlKeyType, keyColumnValue, type TableLayout, type WriteGuard } from './translator.js';

/** Versions are random and never zero, so `IF ver != 0` holds for every row, present or not. */
export const NO_VERSION = Long.ZERO;

export function qualifiedName(layout: TableLayout): string {
  return `${quoteIdent(layout.keyspace)}.${quoteIdent(layout.cqlTable)}`;
}

export function keyColumnsDdl(layout: TableLayout): { columns: string; primaryKey: string } {
  const columns = [`pk ${cqlKeyType(layout.key.hash.type)}`];
  if (layout.key.range) columns.push(`sk ${cqlKeyType(layout.key.range.type)}`);
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

/** What every layout's statements are built from: table name, key predicate, key columns. */
export function keyedStatementParts(layout: TableLayout): { t: string; where: string; cols: string[]; marks: string } {
  const cols = keyNames(layout);
  return { t: qualifiedName(layout), where: whereKey(layout), cols, marks: cols.map(() => '?').join(', ') };
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

type Statement = [string, unknown[]];

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
  return guard.kind === 'plain' || applied(rs.rows);
}
