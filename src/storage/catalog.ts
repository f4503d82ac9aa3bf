// The table catalog: DynamoDB table definitions kept in Cassandra (so any number of server
// processes share them), mapped to CQL table names. DynamoDB names allow 255 characters of
// [a-zA-Z0-9_.-]; CQL table names allow 48 of [a-zA-Z0-9_], so each table gets a generated name.
import { randomBytes, randomUUID } from 'node:crypto';
import type { KeySchema } from '../dynamo/types.js';
import type { IndexDefinition } from './indexes.js';
import type { StreamInfo } from '../streams/model.js';
import { pagedRows, qualifiedTable, type CqlSession } from './session.js';
import type { TableLayout } from './translator.js';

export type TableStatus = 'CREATING' | 'ACTIVE' | 'DELETING' | 'UPDATING';

export interface ProvisionedThroughput {
  read: number;
  write: number;
  lastIncrease?: number;
  lastDecrease?: number;
  decreasesToday: number;
}

/**
 * A table's Time to Live setting (UpdateTimeToLive). Kept when disabled, for DynamoDB's cooldown
 * between changes. `segments`: how many token ranges the expiry sweep splits the table into,
 * fixed when TTL is enabled so that every server cuts the same ranges.
 */
export interface TimeToLiveSetting {
  attributeName: string;
  enabled: boolean;
  changedAt: number;
  segments: number;
}

/** Everything DescribeTable reports, plus where and how the table is stored. */
export interface TableDefinition {
  name: string;
  id: string;
  cqlTable: string;
  translator: string;
  writeIsolation: string;
  key: KeySchema;
  attributeDefinitions: { AttributeName: string; AttributeType: string }[];
  billingMode: 'PROVISIONED' | 'PAY_PER_REQUEST';
  billingModeChangedAt?: number;
  provisioned: ProvisionedThroughput;
  createdAt: number;
  status: TableStatus;
  tags: Record<string, string>;
  deletionProtection: boolean;
  tableClass?: string;
  streamSpecification?: { StreamEnabled: boolean; StreamViewType?: string };
  /** The latest stream (kept when disabled, for LatestStreamArn); see src/streams. */
  stream?: StreamInfo;
  indexes?: IndexDefinition[];
  timeToLive?: TimeToLiveSetting;
}

export interface CatalogEntry {
  definition: TableDefinition;
  layout: TableLayout;
  /** The definition as stored, for compare-and-set updates. */
  stored: string;
}

/** How long a process trusts its cached definition before reading the catalog again. */
export const CACHE_MS = 2000;

export class Catalog {
  private readonly cache = new Map<string, { entry: CatalogEntry | undefined; at: number }>();
  private readonly table: string;

  constructor(private readonly session: CqlSession) {
    this.table = qualifiedTable(session.keyspace, 'dc_catalog');
  }

  async init(): Promise<void> {
    await this.session.client.execute(
      `CREATE TABLE IF NOT EXISTS ${this.table} (name text PRIMARY KEY, definition text)`,
    );
  }

  private entryOf(stored: string): CatalogEntry {
    const definition = JSON.parse(stored) as TableDefinition;
    return {
      definition,
      stored,
      layout: { keyspace: this.session.keyspace, cqlTable: definition.cqlTable, key: definition.key },
    };
  }

  /** The table's entry, from the cache when fresh; undefined when no such table exists. */
  async get(name: string): Promise<CatalogEntry | undefined> {
    const hit = this.cache.get(name);
    const now = Date.now();
    if (hit && now - hit.at < CACHE_MS) return hit.entry;
    const rs = await this.session.execute(
      `SELECT definition FROM ${this.table} WHERE name = ?`,
      [name],
      this.session.consistency.strong,
    );
    const row = rs.first();
    const entry = row ? this.entryOf(row.get('definition') as string) : undefined;
    this.cache.set(name, { entry, at: now });
    return entry;
  }

  invalidate(name: string): void {
    this.cache.delete(name);
  }

  async listNames(): Promise<string[]> {
    const names: string[] = [];
    // The catalog is small (DynamoDB allows a few thousand tables), but page through it anyway.
    const rows = pagedRows(this.session, `SELECT name FROM ${this.table}`, [], { fetchSize: 1000, consistency: this.session.consistency.strong, isIdempotent: true });
    for await (const row of rows) names.push(row.get('name') as string);
    return names;
  }

  /** Registers a new table; false if the name is taken. Uses a lightweight transaction. */
  async insert(definition: TableDefinition): Promise<CatalogEntry | undefined> {
    const stored = JSON.stringify(definition);
    const rs = await this.session.execute(
      `INSERT INTO ${this.table} (name, definition) VALUES (?, ?) IF NOT EXISTS`,
      [definition.name, stored],
      this.session.consistency.write,
    );
    this.invalidate(definition.name);
    return rs.first().get('[applied]') ? this.entryOf(stored) : undefined;
  }

  /** Compare-and-set of a definition; undefined when another process changed it first. */
  async replace(entry: CatalogEntry, definition: TableDefinition): Promise<CatalogEntry | undefined> {
    const stored = JSON.stringify(definition);
    const rs = await this.session.execute(
      `UPDATE ${this.table} SET definition = ? WHERE name = ? IF definition = ?`,
      [stored, definition.name, entry.stored],
      this.session.consistency.write,
    );
    this.invalidate(definition.name);
    return rs.first().get('[applied]') ? this.entryOf(stored) : undefined;
  }

  async remove(entry: CatalogEntry): Promise<boolean> {
    const rs = await this.session.execute(
      `DELETE FROM ${this.table} WHERE name = ? IF definition = ?`,
      [entry.definition.name, entry.stored],
      this.session.consistency.write,
    );
    this.invalidate(entry.definition.name);
    return rs.first().get('[applied]') === true;
  }

  /** A fresh table id and CQL name: readable prefix of the DynamoDB name plus a random suffix. */
  static newIdentity(name: string): { id: string; cqlTable: string } {
    const prefix = name.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 30);
    return { id: randomUUID(), cqlTable: `t_${prefix}_${randomBytes(6).toString('hex')}` };
  }
}
