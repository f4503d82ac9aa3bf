import { resourceNotFound } from '../dynamo/errors.js';
import { TABLE_NAME, compileValidator, obj } from '../dynamo/validation.js';
import type { ActionSpec } from './context.js';
import { describe, tableStats } from './table-description.js';

export const describeTable: ActionSpec = {
  validate: compileValidator(obj({ TableName: TABLE_NAME }, ['TableName'])),
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    ctx.catalog.invalidate(req.TableName);
    const entry = await ctx.catalog.get(req.TableName);
    if (!entry) throw resourceNotFound(`Requested resource not found: Table: ${req.TableName} not found`);
    return { Table: describe(ctx, entry.definition, await tableStats(ctx, entry.definition)) };
  },
};
