import { checkExpressionParameters, compileRequestExpressions, projectItem } from '../dynamo/expressions/index.js';
import { itemSize, normalizeItem } from '../dynamo/attribute-values.js';
import { compileValidator, obj, str } from '../dynamo/validation.js';
import { RawJson, activeTable, type ActionSpec } from './context.js';
import { checkKeyPaths } from './read-page.js';
import { ATTRIBUTES_TO_GET, CONSISTENT_READ, ITEM_REQUEST, KEY, consumedCapacity, keyFromRequest, readUnits } from './item-common.js';

const validate = compileValidator(
  obj(
    {
      ReturnConsumedCapacity: ITEM_REQUEST.ReturnConsumedCapacity,
      AttributesToGet: ATTRIBUTES_TO_GET,
      TableName: ITEM_REQUEST.TableName,
      Key: KEY,
      ConsistentRead: CONSISTENT_READ,
      ProjectionExpression: str(),
      ExpressionAttributeNames: ITEM_REQUEST.ExpressionAttributeNames,
    },
    ['TableName', 'Key'],
  ),
);

export const getItem: ActionSpec = {
  validate,
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    // DynamoDB checks the request's parameters and key values before it looks at the table.
    checkExpressionParameters(req, 'GetItem');
    normalizeItem(req.Key);
    const { projection } = compileRequestExpressions(req, 'GetItem');
    const table = await activeTable(ctx, req.TableName);
    const key = keyFromRequest(table.entry.definition.key, req.Key);
    // A projection may not reach inside a key attribute of the table or of an index, as in Query.
    checkKeyPaths(projection, table.entry.definition);
    const consistent = req.ConsistentRead === true;
    const stored = await ctx.store.read(table, key, consistent);
    // Sizing the item means parsing it: only when capacity was asked for.
    const capacity = consumedCapacity(req.ReturnConsumedCapacity, req.TableName, () =>
      readUnits(stored ? itemSize(stored.item) : 0, consistent),
    );
    if (!stored) return capacity ? { ConsumedCapacity: capacity } : {};
    if (!projection) {
      // The stored JSON goes into the response as it is: no parse, no re-encode.
      return new RawJson(`{"Item":${stored.json}${capacity ? `,"ConsumedCapacity":${JSON.stringify(capacity)}` : ''}}`);
    }
    const out: Record<string, unknown> = { Item: projectItem(stored.item, projection) };
    if (capacity) out.ConsumedCapacity = capacity;
    return out;
  },
};
