import { resourceNotFound, validation } from '../dynamo/errors.js';
import { TABLE_NAME_PARAMETER, bool, compileValidator, obj, oneOf } from '../dynamo/validation.js';
import { limitExceeded, resourceInUse } from '../dynamo/errors.js';
import { GSI_UPDATES_SCHEMA, newIndex } from './index-definitions.js';
import { freshEntry, type ActionContext, type Request } from './context.js';
import { MAX_CAPACITY, checkUpdateTableRequest } from './update-table-checks.js';
import type { TableDefinition } from '../storage/catalog.js';
import type { ActionSpec } from './context.js';
import { ATTRIBUTE_DEFINITIONS, THROUGHPUT } from './create-table.js';
import { describe, tableStats } from './table-description.js';
import { publishStream, streamAtUpdate } from '../streams/specification.js';

export const updateTable: ActionSpec = {
  validate: compileValidator(
    obj(
      {
        TableName: TABLE_NAME_PARAMETER,
        ProvisionedThroughput: THROUGHPUT,
        BillingMode: oneOf(['PROVISIONED', 'PAY_PER_REQUEST']),
        DeletionProtectionEnabled: bool(),
        TableClass: oneOf(['STANDARD', 'STANDARD_INFREQUENT_ACCESS']),
        AttributeDefinitions: ATTRIBUTE_DEFINITIONS,
        GlobalSecondaryIndexUpdates: GSI_UPDATES_SCHEMA,
        StreamSpecification: obj({ StreamEnabled: bool(), StreamViewType: oneOf(['NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES', 'KEYS_ONLY']) }, ['StreamEnabled']),
      },
    ),
  ),
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    checkUpdateTableRequest(req);
    if (req.GlobalSecondaryIndexUpdates) return updateIndexes(ctx, req);
    for (let attempt = 0; ; attempt++) {
      const entry = await freshEntry(ctx, req.TableName);
      const d = entry.definition;
      const next: TableDefinition = { ...d, provisioned: { ...d.provisioned } };
      const mode = (req.BillingMode ?? d.billingMode) as TableDefinition['billingMode'];
      const changes =
        req.BillingMode !== undefined || req.ProvisionedThroughput !== undefined || req.DeletionProtectionEnabled !== undefined ||
        req.TableClass !== undefined || req.StreamSpecification !== undefined;
      if (!changes) {
        throw validation(
          'At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required',
        );
      }
      if (mode === 'PAY_PER_REQUEST' && req.ProvisionedThroughput) {
        throw validation('One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST');
      }
      if (mode === 'PROVISIONED' && d.billingMode === 'PAY_PER_REQUEST' && !req.ProvisionedThroughput) {
        throw validation('One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED');
      }
      if (mode !== d.billingMode) {
        next.billingMode = mode;
        if (mode === 'PAY_PER_REQUEST') {
          next.billingModeChangedAt = Date.now();
          next.provisioned = { read: 0, write: 0, decreasesToday: d.provisioned.decreasesToday };
        }
      }
      const tp = req.ProvisionedThroughput as { ReadCapacityUnits: number; WriteCapacityUnits: number } | undefined;
      if (tp) {
        if (mode === d.billingMode && tp.ReadCapacityUnits === d.provisioned.read && tp.WriteCapacityUnits === d.provisioned.write) {
          throw validation(
            `The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: ${d.provisioned.read}. Requested ReadCapacityUnits: ${tp.ReadCapacityUnits}. Current WriteCapacityUnits provisioned for the table: ${d.provisioned.write}. Requested WriteCapacityUnits: ${tp.WriteCapacityUnits}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.`,
          );
        }
        const now = Date.now();
        if (tp.ReadCapacityUnits > d.provisioned.read || tp.WriteCapacityUnits > d.provisioned.write) next.provisioned.lastIncrease = now;
        if (tp.ReadCapacityUnits < d.provisioned.read || tp.WriteCapacityUnits < d.provisioned.write) {
          next.provisioned.lastDecrease = now;
          next.provisioned.decreasesToday = d.provisioned.decreasesToday + 1;
        }
        next.provisioned.read = tp.ReadCapacityUnits;
        next.provisioned.write = tp.WriteCapacityUnits;
      }
      if (req.DeletionProtectionEnabled !== undefined) next.deletionProtection = req.DeletionProtectionEnabled;
      if (req.TableClass !== undefined) next.tableClass = req.TableClass;
      if (req.StreamSpecification !== undefined) next.stream = streamAtUpdate(d, req.StreamSpecification, Date.now());
      const updated = await ctx.catalog.replace(entry, next);
      if (updated) await publishStream(ctx.store.streams, updated.definition, d.stream);
      if (updated) return { TableDescription: describe(ctx, updated.definition, await tableStats(ctx, updated)) };
      if (attempt > 10) throw new Error('catalog contention');
    }
  },
};

/** GlobalSecondaryIndexUpdates: create (then backfill in the background), update, or delete a GSI. */
async function updateIndexes(ctx: ActionContext, req: Request) {
  const updates = req.GlobalSecondaryIndexUpdates as Record<string, any>[];
  for (const u of updates) {
    if (Object.keys(u).filter((k) => u[k] !== undefined).length !== 1) {
      throw validation('One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate.Create, Update or Delete must be specified');
    }
  }
  if (updates.filter((u) => u.Create || u.Delete).length > 1) {
    throw limitExceeded('Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table');
  }
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await freshEntry(ctx, req.TableName);
    // Capacity beyond the bounds of an index is refused once the table is found, even for an index
    // that does not exist (as DynamoDB words it).
    for (const u of updates) {
      const tp = u.Update?.ProvisionedThroughput;
      if (tp && (tp.ReadCapacityUnits > MAX_CAPACITY || tp.WriteCapacityUnits > MAX_CAPACITY)) {
        throw validation('This operation cannot be performed with given input values. Please contact DynamoDB service team for more info: Action Blocked: IndexUpdate');
      }
    }
    const d = entry.definition;
    let indexes = [...(d.indexes ?? [])];
    let defs = d.attributeDefinitions;
    const created: string[] = [];
    const deleted: string[] = [];
    for (const u of updates) {
      if (u.Create) {
        if (indexes.some((i) => i.name === u.Create.IndexName)) throw validation(`One or more parameter values were invalid: Index ${u.Create.IndexName} already exists`);
        if (indexes.some((i) => i.status !== 'ACTIVE')) throw resourceInUse(`Attempt to change a resource which is still in use: Table is being updated: ${d.name}`);
        if (indexes.filter((i) => i.kind === 'GLOBAL').length >= 20) throw limitExceeded('Subscriber limit exceeded: The number of global secondary indexes exceeds the limit of 20');
        const given = (req.AttributeDefinitions ?? []) as { AttributeName: string; AttributeType: string }[];
        for (const g of given) {
          const existing = defs.find((x) => x.AttributeName === g.AttributeName);
          if (existing && existing.AttributeType !== g.AttributeType) {
            throw validation(`One or more parameter values were invalid: Attribute ${g.AttributeName} is already defined with type ${existing.AttributeType}`);
          }
          if (!existing) defs = [...defs, g];
        }
        const ix = newIndex(u.Create, 'GLOBAL', defs, d.billingMode, 'CREATING');
        indexes.push({ ...ix, backfilling: true, backfillHeartbeat: Date.now() });
        created.push(ix.name);
      } else if (u.Delete) {
        const ix = indexes.find((i) => i.name === u.Delete.IndexName && i.kind === 'GLOBAL');
        if (!ix) throw resourceNotFound(`Requested resource not found: Index: ${u.Delete.IndexName} not found`);
        indexes = indexes.map((i) => (i === ix ? { ...i, status: 'DELETING' as const } : i));
        deleted.push(ix.name);
      } else if (u.Update) {
        const ix = indexes.find((i) => i.name === u.Update.IndexName && i.kind === 'GLOBAL');
        if (!ix) throw resourceNotFound(`Requested resource not found: Index: ${u.Update.IndexName} not found`);
        const tp = u.Update.ProvisionedThroughput;
        indexes = indexes.map((i) => (i === ix && tp ? { ...i, provisioned: { read: tp.ReadCapacityUnits, write: tp.WriteCapacityUnits } } : i));
      }
    }
    // The index table exists before any process learns of the index and starts writing to it.
    const fresh = indexes.filter((i) => created.includes(i.name));
    await ctx.tables.createIndexTables(fresh, d.key);
    const next: TableDefinition = { ...d, attributeDefinitions: defs, indexes: indexes.length ? indexes : undefined };
    const updated = await ctx.catalog.replace(entry, next);
    if (!updated) {
      await ctx.tables.dropTables(fresh.map((ix) => ix.cqlTable));
      continue;
    }
    for (const name of created) ctx.maintenance?.backfill(d.name, name);
    for (const name of deleted) ctx.maintenance?.drop(d.name, name);
    return { TableDescription: describe(ctx, updated.definition, await tableStats(ctx, updated)) };
  }
  throw new Error('catalog contention');
}
