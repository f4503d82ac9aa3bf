import { compileValidator, int, obj, str } from '../dynamo/validation.js';
import type { ActionSpec } from './context.js';

export const listTables: ActionSpec = {
  validate: compileValidator(
    obj({ Limit: int({ min: 1, max: 100 }), ExclusiveStartTableName: str({ min: 3, max: 255, pattern: '[a-zA-Z0-9_.-]+' }) }),
  ),
  async run(ctx, req) {
    // DynamoDB lists names in ascending order of their bytes, which is JS order for this alphabet.
    const names = (await ctx.catalog.listNames()).sort();
    const start = req.ExclusiveStartTableName as string | undefined;
    const from = start === undefined ? 0 : names.findIndex((n) => n > start);
    const rest = from < 0 ? [] : names.slice(from);
    const limit = (req.Limit as number | undefined) ?? 100;
    const page = rest.slice(0, limit);
    const out: Record<string, unknown> = { TableNames: page };
    if (rest.length > limit) out.LastEvaluatedTableName = page[page.length - 1];
    return out;
  },
};
