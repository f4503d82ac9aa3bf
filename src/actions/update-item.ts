import { itemSize, normalizeItem } from '../dynamo/attribute-values.js';
import { validation } from '../dynamo/errors.js';
import {
  applyUpdate, blindUpdate, checkExpressionParameters, compileRequestExpressions, projectItem, updateTouchesAttribute,
} from '../dynamo/expressions/index.js';
import type { Update } from '../dynamo/expressions/ast.js';
import type { Item } from '../dynamo/types.js';
import { attrValue, compileValidator, map, obj, str } from '../dynamo/validation.js';
import { activeTable, type ActionSpec } from './context.js';
import { ITEM_REQUEST, KEY, RETURN_VALUES, capacityNeedsOld, checkCondition, checkItemSize, keyFromRequest, writeCapacity } from './item-common.js';
import { addItemCollectionMetrics } from './item-collection-metrics.js';
import { checkSetIndexKeyTypes, checkUpdateIndexKeys } from './update-index-keys.js';

const validate = compileValidator(
  obj(
    {
      ...ITEM_REQUEST, ReturnValues: RETURN_VALUES, Key: KEY, UpdateExpression: str(),
      AttributeUpdates: map(obj({ Action: str(), Value: attrValue() }, [], 'AttributeValueUpdate')),
    },
    ['TableName', 'Key'],
  ),
);

interface Outcome {
  old?: Item;
  item?: Item;
  attributes?: Item;
}

/**
 * An update that only takes attributes away (REMOVE, DELETE from a set, legacy DELETE). On a
 * missing item DynamoDB writes nothing for it, where every other update (even an empty one)
 * creates the item from its key.
 */
function onlyRemoves(update: Update | undefined): boolean {
  return !!update && update.set.length === 0 && update.add.length === 0 && update.remove.length + update.delete.length > 0;
}

export const updateItem: ActionSpec = {
  validate,
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    // DynamoDB checks the request's parameters and key values before it looks at the table.
    checkExpressionParameters(req, 'UpdateItem');
    normalizeItem(req.Key);
    const { condition, update } = compileRequestExpressions(req, 'UpdateItem');
    const table = await activeTable(ctx, req.TableName);
    const schema = table.entry.definition.key;
    const key = keyFromRequest(schema, req.Key);
    for (const k of [schema.hash, schema.range]) {
      if (k && update && updateTouchesAttribute(update, k.name)) {
        throw validation(`One or more parameter values were invalid: Cannot update attribute ${k.name}. This attribute is part of the key`);
      }
    }
    if (update) checkUpdateIndexKeys(update, table.entry.definition);
    const returnValues = (req.ReturnValues ?? 'NONE') as string;
    const removesOnly = onlyRemoves(update);
    const unconditional = !condition && returnValues === 'NONE' && !capacityNeedsOld(req);
    // A blind write would create a missing item, so an update that only removes reads first.
    const blind = update && unconditional && !removesOnly && table.translator.supportsBlindUpdate ? blindUpdate(update) : undefined;
    let outcome: Outcome;
    if (blind) {
      // No read: the cells layout writes just these attributes. Only the written part can be sized.
      const written = { ...blind.set, ...key };
      checkItemSize(itemSize(written), 'Item size to update');
      await ctx.store.updateBlind(table, key, blind);
      outcome = { item: written };
    } else {
      outcome = await ctx.store.mutate<Outcome>(table, key, (stored) => {
        const old = stored?.item;
        checkCondition(condition, old, req);
        if (!old && removesOnly) return { mutation: { kind: 'none' }, result: {} };
        // An update of an absent item creates it from its key.
        const { item, updatedPaths } = update ? applyUpdate(update, old ?? { ...key }) : { item: old ?? { ...key }, updatedPaths: [] };
        if (update) checkSetIndexKeyTypes(update, table.entry.definition, item);
        checkItemSize(itemSize(item), 'Item size to update');
        let attributes: Item | undefined;
        if (returnValues === 'ALL_OLD') attributes = old;
        else if (returnValues === 'ALL_NEW') attributes = item;
        else if (returnValues === 'UPDATED_OLD') attributes = old && projectItem(old, updatedPaths);
        else if (returnValues === 'UPDATED_NEW') attributes = projectItem(item, updatedPaths);
        return { mutation: { kind: 'put', item }, result: { old, item, attributes } };
        // Not a read-modify-write the application asked for: allowed under forbid_rmw too.
      }, removesOnly && unconditional);
    }
    const out: Record<string, unknown> = {};
    if (outcome.attributes && Object.keys(outcome.attributes).length > 0) out.Attributes = outcome.attributes;
    const capacity = writeCapacity(req.ReturnConsumedCapacity, table.entry.definition, outcome.old, outcome.item);
    if (capacity) out.ConsumedCapacity = capacity;
    await addItemCollectionMetrics(out, ctx, req, table, key);
    return out;
  },
};
