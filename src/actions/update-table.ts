import { resourceNotFound, validation } from '../dynamo/errors.js';
import { TABLE_NAME, bool, compileValidator, list, obj, oneOf, str, anyObject } from '../dynamo/validation.js';
import type { TableDefinition } from '../storage/catalog.js';
import type { ActionSpec } from './context.js';
import { THROUGHPUT } from './create-table.js';
import { describe, tableStats } from './table-description.js';

export const updateTable: ActionSpec = {
  validate: compileValidator(
    obj(
      {
        TableName: TABLE_NAME,
        BillingMode: oneOf(['PROVISIONED', 'PAY_PER_REQUEST']),
        ProvisionedThroughput: THROUGHPUT,
        DeletionProtectionEnabled: bool(),
        TableClass: oneOf(['STANDARD', 'STANDARD_INFREQUENT_ACCESS']),
        AttributeDefinitions: list(obj({ AttributeName: str({ min: 1, max: 255 }), AttributeType: oneOf(['S', 'N', 'B']) })),
        GlobalSecondaryIndexUpdates: list(anyObject()),
        StreamSpecification: obj({ StreamEnabled: bool(), StreamViewType: oneOf(['NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES', 'KEYS_ONLY']) }, ['StreamEnabled']),
      },
      ['TableName'],
    ),
  ),
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    if (req.GlobalSecondaryIndexUpdates) throw validation('Secondary indexes are not supported by this server yet');
    for (let attempt = 0; ; attempt++) {
      ctx.catalog.invalidate(req.TableName);
      const entry = await ctx.catalog.get(req.TableName);
      if (!entry) throw resourceNotFound(`Requested resource not found: Table: ${req.TableName} not found`);
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
            `The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: ${d.provisioned.read}. Requested ReadCapacityUnits: ${tp.ReadCapacityUnits}. Current WriteCapacityUnits provisioned for the table: ${d.provisioned.write}. Requested WriteCapacityUnits: ${tp.WriteCapacityUnits}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to increase them.`,
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
      if (req.StreamSpecification !== undefined) next.streamSpecification = req.StreamSpecification;
      const updated = await ctx.catalog.replace(entry, next);
      if (updated) return { TableDescription: describe(ctx, updated.definition, await tableStats(ctx, next)) };
      if (attempt > 10) throw new Error('catalog contention');
    }
  },
};
