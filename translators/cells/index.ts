// The "cells" layout: one map cell per top-level attribute.
//
//   CREATE TABLE <t> (pk <text|decimal|blob>, [sk <text|decimal|blob>,] attrs map<text, text>,
//                     ver bigint, PRIMARY KEY ((pk)[, sk]))
//
// attrs maps each attribute name (keys included) to the JSON of its AttributeValue. Because each
// attribute is its own cell, an unconditional UpdateItem that only sets or removes top-level
// attributes is one write with no read (attrs = attrs + ?, attrs = attrs - ?), and a
// read-modify-write rewrites only the attributes that changed.
import type { Item } from '../../src/dynamo/types.js';
import {
  LOCK_COLUMN, deleteRow, insertStatement, keyColumnsDdl, keyParams, qualifiedName, readRow, replaceAtStatement, replaceRow, rowStatements, statementCache, write,
} from '../../src/storage/cql-layout.js';
import type { CqlSession, Long } from '../../src/storage/session.js';
import { StoredItem, type TableLayout, type Translator, type WriteGuard } from '../../src/storage/translator.js';

/** A stored item that also remembers its cells, so a later write can send only the difference. */
class CellsItem extends StoredItem {
  constructor(
    readonly cells: Record<string, string>,
    version: Long,
    lock?: string,
    present = true,
  ) {
    let json = '{';
    for (const name in cells) json += (json.length > 1 ? ',' : '') + JSON.stringify(name) + ':' + cells[name];
    super(json + '}', version, lock, present);
  }
}

function toCells(item: Item): Record<string, string> {
  const cells: Record<string, string> = {};
  for (const name in item) cells[name] = JSON.stringify(item[name]);
  return cells;
}

const statements = statementCache((layout: TableLayout) => {
  const s = rowStatements(layout, 'attrs');
  // Cell-level changes: the layout's reason to exist.
  const set = 'attrs = attrs + ?, attrs = attrs - ?, ver = ?';
  const merge = `UPDATE ${s.t} SET ${set} WHERE ${s.where}`;
  return {
    ...s,
    merge,
    mergeAlways: `${merge} IF ${LOCK_COLUMN} = null`,
    // A compare-and-set also clears a transaction's intent (the version changed when it was written).
    mergeIfVersion: `UPDATE ${s.t} SET ${set}, ${LOCK_COLUMN} = null WHERE ${s.where} IF ver = ?`,
  };
});

type CellsStatements = ReturnType<typeof statements>;

/** Sets and removes cells of one row under the guard (the row is created if absent). */
function mergeRow(
  session: CqlSession,
  s: CellsStatements,
  key: unknown[],
  set: Record<string, string>,
  remove: string[],
  guard: WriteGuard,
  version: Long,
): Promise<boolean> {
  return write(session, guard, {
    plain: [s.merge, [set, remove, version, ...key]],
    always: [s.mergeAlways, [set, remove, version, ...key]],
    version: (v) => [s.mergeIfVersion, [set, remove, version, ...key, v]],
  });
}

const decode = (row: { get(name: string): unknown }) => {
  const attrs = row.get('attrs') as Record<string, string> | null;
  // A row without attributes is a transaction's intent on an absent item.
  return new CellsItem(attrs ?? {}, row.get('ver') as Long, (row.get(LOCK_COLUMN) as string | null) ?? undefined, attrs !== null);
};

export const cellsTranslator: Translator = {
  name: 'cells',
  supportsBlindUpdate: true,

  createTableCql(layout) {
    const { columns, primaryKey } = keyColumnsDdl(layout);
    return [
      `CREATE TABLE IF NOT EXISTS ${qualifiedName(layout)} (${columns}, attrs map<text, text>, ver bigint, ${primaryKey})`,
    ];
  },

  readColumns: `attrs, ver, ${LOCK_COLUMN}`,

  decode,

  read: (session, layout, key, consistency) => readRow(session, statements(layout), layout, key, consistency, decode),

  async put(session, layout, item, guard, version, old) {
    const s = statements(layout);
    const cells = toCells(item);
    if (guard.kind === 'version' && guard.expected !== null && old instanceof CellsItem) {
      // Compare-and-set over a known old item: send only the cells that differ.
      const set: Record<string, string> = {};
      const remove: string[] = [];
      for (const name in cells) if (old.cells[name] !== cells[name]) set[name] = cells[name];
      for (const name in old.cells) if (!(name in cells)) remove.push(name);
      return mergeRow(session, s, keyParams(layout, item), set, remove, guard, version);
    }
    return replaceRow(session, s, layout, item, cells, guard, version);
  },

  updateBlind: (session, layout, key, update, guard, version) =>
    // Key attributes are cells too, so that an update creating the item stores them.
    mergeRow(session, statements(layout), keyParams(layout, key), toCells({ ...update.set, ...key }), update.remove, guard, version),

  delete: (session, layout, key, guard) => deleteRow(session, statements(layout), layout, key, guard),

  plainPut: (layout, item, version) => insertStatement(statements(layout), keyParams(layout, item), toCells(item), version),

  putAt: (layout, item, version, at) => replaceAtStatement(statements(layout), keyParams(layout, item), toCells(item), version, at),
};
