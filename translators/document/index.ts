// The "document" layout: the whole item as one JSON text cell beside the key columns.
//
//   CREATE TABLE <t> (pk <text|decimal|blob>, [sk <text|decimal|blob>,] item text, ver bigint,
//                     PRIMARY KEY ((pk)[, sk]))
//
// One cell per item makes every write a single-cell overwrite and every read a single-cell fetch
// whose text goes into the response as is. Partial updates must read the item first.
import {
  LOCK_COLUMN, deleteRow, insertStatement, keyColumnsDdl, keyParams, qualifiedName, readRow, replaceAtStatement, replaceRow, rowStatements, statementCache,
} from '../../src/storage/cql-layout.js';
import type { Long } from '../../src/storage/session.js';
import { StoredItem, type TableLayout, type Translator } from '../../src/storage/translator.js';

const statements = statementCache((layout: TableLayout) => rowStatements(layout, 'item'));

const decode = (row: { get(name: string): unknown }) => {
  const json = row.get('item') as string | null;
  // A row without an item is a transaction's intent on an absent item.
  return new StoredItem(json ?? 'null', row.get('ver') as Long, (row.get(LOCK_COLUMN) as string | null) ?? undefined, json !== null);
};

export const documentTranslator: Translator = {
  name: 'document',
  supportsBlindUpdate: false,

  createTableCql(layout) {
    const { columns, primaryKey } = keyColumnsDdl(layout);
    return [`CREATE TABLE IF NOT EXISTS ${qualifiedName(layout)} (${columns}, item text, ver bigint, ${primaryKey})`];
  },

  readColumns: `item, ver, ${LOCK_COLUMN}`,
  decode,

  read: (session, layout, key, consistency) => readRow(session, statements(layout), layout, key, consistency, decode),

  put: (session, layout, item, guard, version) =>
    replaceRow(session, statements(layout), layout, item, JSON.stringify(item), guard, version),

  delete: (session, layout, key, guard) => deleteRow(session, statements(layout), layout, key, guard),

  plainPut: (layout, item, version) => insertStatement(statements(layout), keyParams(layout, item), JSON.stringify(item), version),

  putAt: (layout, item, version, at) => replaceAtStatement(statements(layout), keyParams(layout, item), JSON.stringify(item), version, at),
};
