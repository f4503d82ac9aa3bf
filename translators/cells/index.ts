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
  NO_VERSION, keyColumnsDdl, keyParams, keyedStatementParts, qualifiedName, statementCache, write,
} from '../../src/storage/cql-layout.js';
import type { Long } from '../../src/storage/session.js';
import { StoredItem, type TableLayout, type Translator } from '../../src/storage/translator.js';

/** A stored item that also remembers its cells, so a later write can send only the difference. */
class CellsItem extends StoredItem {
  constructor(
    readonly cells: Record<string, string>,
    version: Long,
  ) {
    let json = '{';
    for (const name in cells) json += (json.length > 1 ? ',' : '') + JSON.stringify(name) + ':' + cells[name];
    super(json + '}', version);
  }
}

function toCells(item: Item): Record<string, string> {
  const cells: Record<string, string> = {};
  for (const name in item) cells[name] = JSON.stringify(item[name]);
  return cells;
}

const statements = statementCache((layout: TableLayout) => {
  const { t, where, cols, marks } = keyedStatementParts(layout);
  const merge = `UPDATE ${t} SET attrs = attrs + ?, attrs = attrs - ?, ver = ? WHERE ${where}`;
  return {
    read: `SELECT attrs, ver FROM ${t} WHERE ${where}`,
    insert: `INSERT INTO ${t} (${cols.join(', ')}, attrs, ver) VALUES (${marks}, ?, ?)`,
    insertIfAbsent: `INSERT INTO ${t} (${cols.join(', ')}, attrs, ver) VALUES (${marks}, ?, ?) IF NOT EXISTS`,
    replaceAlways: `UPDATE ${t} SET attrs = ?, ver = ? WHERE ${where} IF ver != ?`,
    replaceIfVersion: `UPDATE ${t} SET attrs = ?, ver = ? WHERE ${where} IF ver = ?`,
    merge,
    mergeAlways: `${merge} IF ver != ?`,
    mergeIfVersion: `${merge} IF ver = ?`,
    delete: `DELETE FROM ${t} WHERE ${where}`,
    deleteAlways: `DELETE FROM ${t} WHERE ${where} IF ver != ?`,
    deleteIfVersion: `DELETE FROM ${t} WHERE ${where} IF ver = ?`,
  };
});

export const cellsTranslator: Translator = {
  name: 'cells',
  supportsBlindUpdate: true,

  createTableCql(layout) {
    const { columns, primaryKey } = keyColumnsDdl(layout);
    return [
      `CREATE TABLE IF NOT EXISTS ${qualifiedName(layout)} (${columns}, attrs map<text, text>, ver bigint, ${primaryKey})`,
    ];
  },

  readColumns: 'attrs, ver',

  decode: (row) => new CellsItem((row.get('attrs') as Record<string, string> | null) ?? {}, row.get('ver') as Long),

  async read(session, layout, key, consistency) {
    const rs = await session.execute(statements(layout).read, keyParams(layout, key), consistency);
    const row = rs.first();
    return row ? cellsTranslator.decode(row) : undefined;
  },

  async put(session, layout, item, guard, version, old) {
    const s = statements(layout);
    const key = keyParams(layout, item);
    const cells = toCells(item);
    if (guard.kind === 'version' && guard.expected !== null && old instanceof CellsItem) {
      // Compare-and-set over a known old item: send only the cells that differ.
      const set: Record<string, string> = {};
      const remove: string[] = [];
      for (const name in cells) if (old.cells[name] !== cells[name]) set[name] = cells[name];
      for (const name in old.cells) if (!(name in cells)) remove.push(name);
      return write(session, guard, {
        plain: [s.merge, [set, remove, version, ...key]],
        always: [s.mergeAlways, [set, remove, version, ...key, NO_VERSION]],
        version: (v) => [s.mergeIfVersion, [set, remove, version, ...key, v]],
      });
    }
    return write(session, guard, {
      plain: [s.insert, [...key, cells, version]],
      always: [s.replaceAlways, [cells, version, ...key, NO_VERSION]],
      absent: [s.insertIfAbsent, [...key, cells, version]],
      version: (v) => [s.replaceIfVersion, [cells, version, ...key, v]],
    });
  },

  async updateBlind(session, layout, key, update, guard, version) {
    const s = statements(layout);
    const params = keyParams(layout, key);
    // Key attributes are cells too, so that an update creating the item stores them.
    const set = toCells({ ...update.set, ...key });
    return write(session, guard, {
      plain: [s.merge, [set, update.remove, version, ...params]],
      always: [s.mergeAlways, [set, update.remove, version, ...params, NO_VERSION]],
      version: (v) => [s.mergeIfVersion, [set, update.remove, version, ...params, v]],
    });
  },

  async delete(session, layout, key, guard) {
    const s = statements(layout);
    const params = keyParams(layout, key);
    return write(session, guard, {
      plain: [s.delete, params],
      always: [s.deleteAlways, [...params, NO_VERSION]],
      version: (v) => [s.deleteIfVersion, [...params, v]],
    });
  },
};
