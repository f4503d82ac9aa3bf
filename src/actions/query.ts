import { compareAttributeValues } from '../dynamo/attribute-values.js';
import { validation } from '../dynamo/errors.js';
import { checkQueryFilterKeys, compileRequestExpressions, extractKeyCondition, type KeyCondition } from '../dynamo/expressions/index.js';
import type { AttributeValue, Item } from '../dynamo/types.js';
import { anyObject, bool, compileValidator, int, map, obj, oneOf, str } from '../dynamo/validation.js';
import { partitionItems, prefixSuccessor, type SortRange } from '../storage/range-reader.js';
import { activeTable, type ActionSpec } from './context.js';
import { ATTRIBUTES_TO_GET, ITEM_REQUEST, keyFromRequest } from './item-common.js';
import { checkSelect, checkStartKey, collectPage, pageResponse } from './read-page.js';

export const SELECT = oneOf(['ALL_ATTRIBUTES', 'ALL_PROJECTED_ATTRIBUTES', 'SPECIFIC_ATTRIBUTES', 'COUNT']);
export const READ_REQUEST = {
  TableName: ITEM_REQUEST.TableName,
  IndexName: str({ min: 3, max: 255, pattern: '^[a-zA-Z0-9_.-]+$' }),
  Select: SELECT,
  AttributesToGet: ATTRIBUTES_TO_GET,
  Limit: int({ min: 1 }),
  ConsistentRead: bool(),
  ConditionalOperator: ITEM_REQUEST.ConditionalOperator,
  ExclusiveStartKey: map(anyObject()),
  ReturnConsumedCapacity: ITEM_REQUEST.ReturnConsumedCapacity,
  ProjectionExpression: str(),
  FilterExpression: str(),
  ExpressionAttributeNames: ITEM_REQUEST.ExpressionAttributeNames,
  ExpressionAttributeValues: ITEM_REQUEST.ExpressionAttributeValues,
};

const validate = compileValidator(
  obj(
    {
      ...READ_REQUEST,
      KeyConditions: map(anyObject()),
      QueryFilter: map(anyObject()),
      ScanIndexForward: bool(),
      KeyConditionExpression: str(),
    },
    ['TableName'],
  ),
);

/** Rows Cassandra returns per round trip: small enough to bound memory with 400 KB items. */
const PAGE_ROWS = 100;

/** The key condition on the sort key as a range of sort keys. */
function sortRange(kc: KeyCondition): SortRange {
  const r = kc.range;
  if (!r) return {};
  const [a, b] = r.values;
  switch (r.op) {
    case 'EQ':
      return { lower: { value: a, inclusive: true }, upper: { value: a, inclusive: true } };
    case 'LT':
      return { upper: { value: a, inclusive: false } };
    case 'LE':
      return { upper: { value: a, inclusive: true } };
    case 'GT':
      return { lower: { value: a, inclusive: false } };
    case 'GE':
      return { lower: { value: a, inclusive: true } };
    case 'BETWEEN':
      return { lower: { value: a, inclusive: true }, upper: { value: b, inclusive: true } };
    case 'BEGINS_WITH': {
      const next = prefixSuccessor(a);
      return { lower: { value: a, inclusive: true }, ...(next ? { upper: { value: next, inclusive: false } } : {}) };
    }
  }
}

function inRange(v: AttributeValue, range: SortRange): boolean {
  const lo = range.lower && compareAttributeValues(v, range.lower.value);
  const hi = range.upper && compareAttributeValues(v, range.upper.value);
  if (range.lower && (lo === undefined || lo < 0 || (lo === 0 && !range.lower.inclusive))) return false;
  if (range.upper && (hi === undefined || hi > 0 || (hi === 0 && !range.upper.inclusive))) return false;
  return true;
}

export const query: ActionSpec = {
  validate,
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    const compiled = compileRequestExpressions(req, 'Query');
    if (!compiled.keyCondition) {
      throw validation('Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
    }
    const table = await activeTable(ctx, req.TableName);
    if (req.IndexName) throw validation(`The table does not have the specified index: ${req.IndexName}`);
    const schema = table.entry.definition.key;
    const kc = extractKeyCondition(compiled.keyCondition, schema);
    if (compiled.filter) checkQueryFilterKeys(compiled.filter, schema, req.QueryFilter !== undefined);
    const countOnly = checkSelect(req, compiled.projection, false);
    const forward = req.ScanIndexForward !== false;
    const range = sortRange(kc);
    if (req.ExclusiveStartKey) {
      checkStartKey(req.ExclusiveStartKey, schema);
      const start = keyFromRequest(schema, req.ExclusiveStartKey) as Item;
      const startHash = compareAttributeValues(start[schema.hash.name], kc.hash);
      const startSort = schema.range && start[schema.range.name];
      if (startHash !== 0 || (startSort && !inRange(startSort, range))) {
        throw validation('The provided starting key does not match the range key predicate');
      }
      if (!startSort) {
        // A hash-only table has one item per partition: nothing follows it.
        return pageResponse(req, { items: [], count: 0, scanned: 0, bytes: 0 }, countOnly, req.ConsistentRead === true);
      }
      if (forward) range.lower = { value: startSort, inclusive: false };
      else range.upper = { value: startSort, inclusive: false };
    }
    const consistent = req.ConsistentRead === true;
    const c = ctx.session.consistency;
    const limit = req.Limit as number | undefined;
    const source = partitionItems(ctx.session, table, kc.hash, range, forward, consistent ? c.strong : c.eventual, Math.min(limit ?? PAGE_ROWS, PAGE_ROWS));
    const keyNames = [schema.hash.name, ...(schema.range ? [schema.range.name] : [])];
    const page = await collectPage(source, { limit, filter: compiled.filter, projection: compiled.projection, countOnly, keyNames });
    return pageResponse(req, page, countOnly, consistent);
  },
};
