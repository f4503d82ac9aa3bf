import { itemSize, normalizeItem } from '../dynamo/attribute-values.js';
import { checkExpressionParameters, compileRequestExpressions } from '../dynamo/expressions/index.js';
import type { Item } from '../dynamo/types.js';
import { attrMap, compileValidator, obj } from '../dynamo/validation.js';
import { keyOf } from '../storage/translator.js';
import { activeTable, type ActionSpec } from './context.js';
import {
  ITEM_REQUEST, RETURN_VALUES, capacityNeedsOld, checkItemKey, checkItemSize, checkOldOnlyReturnValues, writeCapacity,
  checkCondition,
} from './item-common.js';
import { addItemCollectionMetrics } from './item-collection-metrics.js';

const validate = compileValidator(
  obj({ ...ITEM_REQUEST, Item: attrMap(), ReturnValues: RETURN_VALUES }, ['TableName', 'Item']),
);

export const putItem: ActionSpec = {
  validate,
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    // DynamoDB's order: parameters, item values, ReturnValues, size, conditions; then the table.
    checkExpressionParameters(req, 'PutItem');
    const item = normalizeItem(req.Item);
    checkOldOnlyReturnValues(req.ReturnValues);
    checkItemSize(itemSize(item));
    const { condition } = compileRequestExpressions(req, 'PutItem');
    const table = await activeTable(ctx, req.TableName);
    checkItemKey(table.entry.definition.key, item);
    const wantOld = req.ReturnValues === 'ALL_OLD';
    let old: Item | undefined;
    if (!condition && !wantOld && !capacityNeedsOld(req)) {
      await ctx.store.putBlind(table, item);
    } else {
      old = await ctx.store.mutate(table, keyOf(item, table.entry.definition.key), (stored) => {
        checkCondition(condition, stored?.item, req);
        return { mutation: { kind: 'put', item }, result: stored?.item };
      });
    }
    const out: Record<string, unknown> = {};
    if (wantOld && old) out.Attributes = old;
    const capacity = writeCapacity(req.ReturnConsumedCapacity, table.entry.definition, old, item);
    if (capacity) out.ConsumedCapacity = capacity;
    await addItemCollectionMetrics(out, ctx, req, table, keyOf(item, table.entry.definition.key));
    return out;
  },
};
