import { resourceInUse, validation } from '../dynamo/errors.js';
import { TABLE_NAME_PARAMETER, compileValidator, obj } from '../dynamo/validation.js';
import { freshEntry, type ActionSpec } from './context.js';
import { describe } from './table-description.js';
import { publishStream } from '../streams/specification.js';

export const deleteTable: ActionSpec = {
  validate: compileValidator(obj({ TableName: TABLE_NAME_PARAMETER })),
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    const entry = await freshEntry(ctx, req.TableName);
    const d = entry.definition;
    if (d.deletionProtection) {
      throw validation('Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.');
    }
    if (d.status === 'DELETING') throw resourceInUse(`Attempt to change a resource which is still in use: Table is being deleted: ${d.name}`);
    // Mark first (compare-and-set), so that exactly one concurrent DeleteTable does the work.
    const marked = await ctx.catalog.replace(entry, { ...d, status: 'DELETING' });
    if (!marked) throw resourceInUse(`Attempt to change a resource which is still in use: Table is being deleted: ${d.name}`);
    await ctx.tables.drop(d);
    await ctx.catalog.remove(marked);
    // The table's stream stays readable for its retention, as a disabled stream.
    if (d.stream && d.stream.disabledAt === undefined) await publishStream(ctx.store.streams, { ...d, stream: { ...d.stream, disabledAt: Date.now() } });
    return { TableDescription: describe(ctx, d, undefined, 'DELETING') };
  },
};
