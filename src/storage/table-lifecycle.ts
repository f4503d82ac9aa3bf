// The CQL tables behind a DynamoDB table and its indexes: created, dropped, emptied and measured.
// Actions and replication ask for these by catalog entry; the CQL statements stay here.
import type { CatalogEntry, TableDefinition } from './catalog.js';
import { qualifiedName } from './cql-layout.js';
import { indexTableCql, type IndexDefinition } from './indexes.js';
import { qualifiedTable, type CqlSession } from './session.js';
import type { KeySchema } from '../dynamo/types.js';
import type { Translator } from './translator.js';

export interface SizeEstimate {
  /** Partitions (items of a table without a range key). */
  partitions: number;
  bytes: number;
}

export class TableLifecycle {
  constructor(private readonly session: CqlSession) {}

  /** The base table with the translator's layout, and a table per index. */
  async create(entry: CatalogEntry, translator: Translator, indexes: IndexDefinition[]): Promise<void> {
    for (const cql of translator.createTableCql(entry.layout)) await this.session.client.execute(cql);
    await this.createIndexTables(indexes, entry.definition.key);
  }

  async createIndexTables(indexes: IndexDefinition[], key: KeySchema): Promise<void> {
    for (const ix of indexes) await this.session.client.execute(indexTableCql(this.session.keyspace, ix, key));
  }

  /** Drops CQL tables by name (base or index tables); absent ones are fine. */
  async dropTables(cqlTables: string[]): Promise<void> {
    for (const table of cqlTables) await this.session.client.execute(`DROP TABLE IF EXISTS ${qualifiedTable(this.session.keyspace, table)}`);
  }

  /** The base table and every index table of a definition. */
  drop(d: TableDefinition): Promise<void> {
    return this.dropTables([d.cqlTable, ...(d.indexes ?? []).map((ix) => ix.cqlTable)]);
  }

  /** Removes every item of the base table. */
  async truncate(entry: CatalogEntry): Promise<void> {
    await this.session.client.execute(`TRUNCATE ${qualifiedName(entry.layout)}`);
  }

  /** True when the base table holds no row (read at the strong consistency level). */
  async isEmpty(entry: CatalogEntry): Promise<boolean> {
    const rs = await this.session.execute(`SELECT pk FROM ${qualifiedName(entry.layout)} LIMIT 1`, [], this.session.consistency.strong);
    return rs.rows.length === 0;
  }

  /**
   * Estimates from system.size_estimates, refreshed by Cassandra every few minutes from its
   * SSTables (so not yet flushed writes are missing).
   */
  async sizeEstimate(cqlTable: string): Promise<SizeEstimate> {
    const rs = await this.session.client.execute(
      `SELECT partitions_count, mean_partition_size FROM system.size_estimates WHERE keyspace_name = ? AND table_name = ?`,
      [this.session.keyspace, cqlTable],
      { prepare: true },
    );
    let partitions = 0;
    let bytes = 0;
    for (const row of rs.rows) {
      const count = Number(row.get('partitions_count'));
      partitions += count;
      bytes += count * Number(row.get('mean_partition_size'));
    }
    return { partitions, bytes };
  }
}
