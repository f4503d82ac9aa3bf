import { TABLE_NAME_PARAMETER, compileValidator, obj } from '../dynamo/validation.js';
import { freshEntry, type ActionSpec } from './context.js';
import { describe, tableStats } from './table-description.js';

export const describeTable: ActionSpec = {
  validate: compileValidator(obj({ TableName: TABLE_NAME_PARAMETER })),
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    const entry = await freshEntry(ctx, req.TableName);
    return { Table: describe(ctx, entry.definition, await tableStats(ctx, entry)) };
  },
};
