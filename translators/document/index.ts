// The "document" layout: the whole item as one JSON text cell beside the key columns.
//
//   CREATE TABLE <t> (pk <text|decimal|blob>, [sk <text|decimal|blob>,] item text, ver bigint,
//                     PRIMARY KEY ((pk)[, sk]))
//
// One cell per item makes every write a single-cell overwrite and every read a single-cell fetch
// whose text goes into the response as is. Partial updates must read the item first.
import {
  NO_VERSION, keyColumnsDdl, keyParams, keyedStatementParts, qualifiedName, statementCache, write,
} from '../../src/storage/cql-layout.js';
import type { Long } from '../../src/storage/session.js';
import { StoredItem, type TableLayout, type Translator } from '../../src/storage/translator.js';

const statements = statementCache((layout: TableLayout) => {
  const { t, where, cols, marks } = keyedStatementParts(layout);
  return {
    read: `SELECT item, ver FROM ${t} WHERE ${where}`,
    insert: `INSERT INTO ${t} (${cols.join(', ')}, item, ver) VALUES (${marks}, ?, ?)`,
    insertIfAbsent: `INSERT INTO ${t} (${cols.join(', ')}, item, ver) VALUES (${marks}, ?, ?) IF NOT EXISTS`,
    updateAlways: `UPDATE ${t} SET item = ?, ver = ? WHERE ${where} IF ver != ?`,
    updateIfVersion: `UPDATE ${t} SET item = ?, ver = ? WHERE ${where} IF ver = ?`,
    delete: `DELETE FROM ${t} WHERE ${where}`,
    deleteAlways: `DELETE FROM ${t} WHERE ${where} IF ver != ?`,
    deleteIfVersion: `DELETE FROM ${t} WHERE ${where} IF ver = ?`,
  };
});

export const documentTranslator: Translator = {
  name: 'document',
  supportsBlindUpdate: false,

  createTableCql(layout) {
    const { columns, primaryKey } = keyColumnsDdl(layout);
    return [`CREATE TABLE IF NOT EXISTS ${qualifiedName(layout)} (${columns}, item text, ver bigint, ${primaryKey})`];
  },

  readColumns: 'item, ver',

  decode: (row) => new StoredItem(row.get('item') as string, row.get('ver') as Long),

  async read(session, layout, key, consistency) {
    const rs = await session.execute(statements(layout).read, keyParams(layout, key), consistency);
    const row = rs.first();
    return row ? documentTranslator.decode(row) : undefined;
  },

  async put(session, layout, item, guard, version) {
    const s = statements(layout);
    const key = keyParams(layout, item);
    const json = JSON.stringify(item);
    return write(session, guard, {
      plain: [s.insert, [...key, json, version]],
      always: [s.updateAlways, [json, version, ...key, NO_VERSION]],
      absent: [s.insertIfAbsent, [...key, json, version]],
      version: (v) => [s.updateIfVersion, [json, version, ...key, v]],
    });
  },

  async delete(session, layout, key, guard) {
    const s = statements(layout);
    const params = keyParams(layout, key);
    return write(session, guard, {
      plain: [s.delete, params],
      always: [s.deleteAlways, [...params, NO_VERSION]],
      absent: undefined,
      version: (v) => [s.deleteIfVersion, [...params, v]],
    });
  },
};
