import { normalizeItem } from '../dynamo/attribute-values.js';
import { checkExpressionParameters, compileRequestExpressions } from '../dynamo/expressions/index.js';
import type { Item } from '../dynamo/types.js';
import { compileValidator, obj } from '../dynamo/validation.js';
import { activeTable, type ActionSpec } from './context.js';
import { ITEM_REQUEST, KEY, RETURN_VALUES, capacityNeedsOld, checkCondition, checkOldOnlyReturnValues, keyFromRequest, writeCapacity } from './item-common.js';
import { addItemCollectionMetrics } from './item-collection-metrics.js';

const validate = compileValidator(obj({ ...ITEM_REQUEST, Key: KEY, ReturnValues: RETURN_VALUES }, ['TableName', 'Key']));

export const deleteItem: ActionSpec = {
  validate,
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    checkOldOnlyReturnValues(req.ReturnValues);
    // DynamoDB checks the request's parameters and key values before it looks at the table.
    checkExpressionParameters(req, 'DeleteItem');
    normalizeItem(req.Key);
    const { condition } = compileRequestExpressions(req, 'DeleteItem');
    const table = await activeTable(ctx, req.TableName);
    const key = keyFromRequest(table.entry.definition.key, req.Key);
    const wantOld = req.ReturnValues === 'ALL_OLD';
    let old: Item | undefined;
    if (!condition && !wantOld && !capacityNeedsOld(req)) {
      await ctx.store.deleteBlind(table, key);
    } else {
      old = await ctx.store.mutate(table, key, (stored) => {
        checkCondition(condition, stored?.item, req);
        return { mutation: stored ? { kind: 'delete' } : { kind: 'none' }, result: stored?.item };
      });
    }
    const out: Record<string, unknown> = {};
    if (wantOld && old) out.Attributes = old;
    const capacity = writeCapacity(req.ReturnConsumedCapacity, table.entry.definition, old, undefined);
    if (capacity) out.ConsumedCapacity = capacity;
    await addItemCollectionMetrics(out, ctx, req, table, key);
    return out;
  },
};
