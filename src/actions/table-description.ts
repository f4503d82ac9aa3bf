// DescribeTable's TableDescription, built from a catalog definition.
import type { CatalogEntry, TableDefinition } from '../storage/catalog.js';
import { MAX_TOKEN, MIN_TOKEN } from '../storage/range-reader.js';
import type { StoredItem } from '../storage/translator.js';
import { handleOf, tableArn, type ActionContext } from './context.js';
import { describeIndexes } from './index-definitions.js';
import { collectPage } from './read-page.js';
import { describeStreamFields } from '../streams/specification.js';

const seconds = (ms: number) => ms / 1000;

export function keySchemaOf(d: TableDefinition) {
  const out = [{ AttributeName: d.key.hash.name, KeyType: 'HASH' }];
  if (d.key.range) out.push({ AttributeName: d.key.range.name, KeyType: 'RANGE' });
  return out;
}

export function describe(
  ctx: ActionContext,
  d: TableDefinition,
  stats: TableStats = { items: 0, bytes: 0 },
  status = d.status,
): Record<string, unknown> {
  const throughput: Record<string, unknown> = {
    NumberOfDecreasesToday: d.provisioned.decreasesToday,
    ReadCapacityUnits: d.provisioned.read,
    WriteCapacityUnits: d.provisioned.write,
  };
  if (d.provisioned.lastIncrease) throughput.LastIncreaseDateTime = seconds(d.provisioned.lastIncrease);
  if (d.provisioned.lastDecrease) throughput.LastDecreaseDateTime = seconds(d.provisioned.lastDecrease);
  const out: Record<string, unknown> = {
    AttributeDefinitions: d.attributeDefinitions,
    TableName: d.name,
    KeySchema: keySchemaOf(d),
    TableStatus: status,
    CreationDateTime: seconds(d.createdAt),
    ProvisionedThroughput: throughput,
    TableSizeBytes: stats.bytes,
    ItemCount: stats.items,
    TableArn: tableArn(ctx, d.name),
    TableId: d.id,
    DeletionProtectionEnabled: d.deletionProtection,
  };
  if (d.billingMode === 'PAY_PER_REQUEST') {
    out.BillingModeSummary = {
      BillingMode: 'PAY_PER_REQUEST',
      LastUpdateToPayPerRequestDateTime: seconds(d.billingModeChangedAt ?? d.createdAt),
    };
  }
  Object.assign(out, describeIndexes(ctx, d, stats.indexes));
  if (d.tableClass) out.TableClassSummary = { TableClass: d.tableClass };
  Object.assign(out, describeStreamFields(ctx.config.region, ctx.config.accountId, d));
  return out;
}

/**
 * Tables (and indexes) of at most this many items, and under 1 MB, are counted and sized exactly,
 * as DynamoDB Local does, with one bounded read; larger ones get Cassandra's estimates, much as
 * DynamoDB itself refreshes these figures only every few hours.
 */
export const EXACT_STATS_ITEMS = 1000;

type Stats = { items: number; bytes: number };

/** Counts and sizes the items `source` yields, or gives up (undefined) past the bounds above. */
async function exactStats(source: AsyncGenerator<StoredItem>): Promise<Stats | undefined> {
  // One Scan-like page: it ends early, with a last key, past the item bound or at 1 MB.
  const page = await collectPage(source, { limit: EXACT_STATS_ITEMS + 1, countOnly: true, keyNames: [] });
  return page.lastKey ? undefined : { items: page.scanned, bytes: page.bytes };
}

/** Cassandra's size estimates count partitions, so on a table with a range key they undercount items. */
async function estimatedStats(ctx: ActionContext, cqlTable: string): Promise<Stats> {
  const e = await ctx.tables.sizeEstimate(cqlTable);
  return { items: e.partitions, bytes: e.bytes };
}

/** ItemCount and TableSizeBytes of a table and of each of its indexes. */
export async function tableStats(ctx: ActionContext, entry: CatalogEntry): Promise<TableStats> {
  const d = entry.definition;
  const rows = EXACT_STATS_ITEMS + 1;
  const one = async (cqlTable: string, source: () => AsyncGenerator<StoredItem>): Promise<Stats> => {
    try {
      return (await exactStats(source())) ?? (await estimatedStats(ctx, cqlTable));
    } catch {
      return { items: 0, bytes: 0 }; // e.g. a CQL table not created yet
    }
  };
  const indexes = new Map<string, Stats>();
  for (const ix of d.indexes ?? []) {
    indexes.set(ix.cqlTable, await one(ix.cqlTable, () => ctx.ranges.indexTokenRange(ix, d.key, MIN_TOKEN, MAX_TOKEN, undefined, false, rows)));
  }
  const base = await one(d.cqlTable, () => ctx.ranges.tokenRange(handleOf(ctx, entry), MIN_TOKEN, MAX_TOKEN, undefined, false, rows));
  return { ...base, indexes };
}

export interface TableStats {
  items: number;
  bytes: number;
  indexes?: Map<string, { items: number; bytes: number }>;
}
