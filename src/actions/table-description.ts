// DescribeTable's TableDescription, built from a catalog definition.
import type { TableDefinition } from '../storage/catalog.js';
import { tableArn, type ActionContext } from './context.js';
import { describeIndexes } from './index-definitions.js';

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
  if (d.streamSpecification?.StreamEnabled) out.StreamSpecification = d.streamSpecification;
  return out;
}

/**
 * Item count and size, estimated by Cassandra (system.size_estimates is refreshed every few
 * minutes, much as DynamoDB refreshes these figures every few hours). Counts partitions, so on a
 * table with a range key it undercounts items.
 */
export async function tableStats(ctx: ActionContext, d: TableDefinition): Promise<TableStats> {
  const one = async (cqlTable: string) => {
    try {
      const rs = await ctx.session.client.execute(
        `SELECT partitions_count, mean_partition_size FROM system.size_estimates WHERE keyspace_name = ? AND table_name = ?`,
        [ctx.session.keyspace, cqlTable],
        { prepare: true },
      );
      let items = 0;
      let bytes = 0;
      for (const row of rs.rows) {
        const count = Number(row.get('partitions_count'));
        items += count;
        bytes += count * Number(row.get('mean_partition_size'));
      }
      return { items, bytes };
    } catch {
      return { items: 0, bytes: 0 };
    }
  };
  const indexes = new Map<string, { items: number; bytes: number }>();
  for (const ix of d.indexes ?? []) indexes.set(ix.cqlTable, await one(ix.cqlTable));
  return { ...(await one(d.cqlTable)), indexes };
}

export interface TableStats {
  items: number;
  bytes: number;
  indexes?: Map<string, { items: number; bytes: number }>;
}
