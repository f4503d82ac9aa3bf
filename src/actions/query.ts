import { compareAttributeValues } from '../dynamo/attribute-values.js';
import { validation } from '../dynamo/errors.js';
import {
  checkExpressionParameters,
  checkQueryFilterKeys,
  compileRequestExpressions,
  extractKeyCondition,
  extractMultiKeyCondition,
  type KeyCondition,
  type MultiKeyCondition,
} from '../dynamo/expressions/index.js';
import type { AttributeValue, Item } from '../dynamo/types.js';
import { attrMap, bool, compileValidator, int, obj, oneOf, str } from '../dynamo/validation.js';
import { indexClusteringValues } from '../storage/indexes.js';
import { indexHashKeys, indexRangeKeys } from '../storage/index-keys.js';
import { indexPartitionItems, partitionItems, prefixSuccessor, type SortRange } from '../storage/range-reader.js';
import { activeTable, type ActionSpec } from './context.js';
import { startKeyValues } from './start-key.js';
import { ATTRIBUTES_TO_GET, CONDITIONS, ITEM_REQUEST, checkKeyValue } from './item-common.js';
import { HASH_KEY_LIMIT, emptyKeyValue, keyBytes } from '../dynamo/key-values.js';
import { baseItems, checkSelect, checkStartKey, collectPage, lsiFetchesBase, pageKeyNames, pageResponse, readSettings, resolveIndex } from './read-page.js';

export const SELECT = oneOf(['SPECIFIC_ATTRIBUTES', 'COUNT', 'ALL_ATTRIBUTES', 'ALL_PROJECTED_ATTRIBUTES']);
const INDEX_NAME = str({ min: 3, max: 255, pattern: '[a-zA-Z0-9_.-]+' });

const validate = compileValidator(
  obj(
    {
      Select: SELECT,
      IndexName: INDEX_NAME,
      ReturnConsumedCapacity: ITEM_REQUEST.ReturnConsumedCapacity,
      QueryFilter: CONDITIONS,
      TableName: ITEM_REQUEST.TableName,
      ConditionalOperator: ITEM_REQUEST.ConditionalOperator,
      AttributesToGet: ATTRIBUTES_TO_GET,
      Limit: int({ min: 1 }),
      KeyConditions: CONDITIONS,
      ExclusiveStartKey: attrMap(),
      ConsistentRead: bool(),
      ScanIndexForward: bool(),
      KeyConditionExpression: str(),
      FilterExpression: str(),
      ProjectionExpression: str(),
      ExpressionAttributeValues: ITEM_REQUEST.ExpressionAttributeValues,
      ExpressionAttributeNames: ITEM_REQUEST.ExpressionAttributeNames,
    },
    ['TableName'],
  ),
);

/** Scan's members, in DynamoDB's order. */
export const SCAN_REQUEST = {
  Select: SELECT,
  IndexName: INDEX_NAME,
  TotalSegments: int({ min: 1, max: 1000000 }),
  ReturnConsumedCapacity: ITEM_REQUEST.ReturnConsumedCapacity,
  TableName: ITEM_REQUEST.TableName,
  ConditionalOperator: ITEM_REQUEST.ConditionalOperator,
  ScanFilter: CONDITIONS,
  Segment: int({ min: 0, max: 999999 }),
  Limit: int({ min: 1 }),
  AttributesToGet: ATTRIBUTES_TO_GET,
  ExclusiveStartKey: attrMap(),
  ConsistentRead: bool(),
  FilterExpression: str(),
  ProjectionExpression: str(),
  ExpressionAttributeValues: ITEM_REQUEST.ExpressionAttributeValues,
  ExpressionAttributeNames: ITEM_REQUEST.ExpressionAttributeNames,
};

/** The key condition on the sort key (or keys) as a range of sort keys. */
function sortRange(kc: MultiKeyCondition): SortRange {
  const r = kc.range;
  if (!r) return kc.prefix.length ? { prefix: kc.prefix } : {};
  if (kc.prefix.length) return { prefix: kc.prefix, ...sortRange({ ...kc, prefix: [] }) };
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

/** A classic key condition (one HASH, at most one RANGE attribute) in the general form. */
const single = (kc: KeyCondition): MultiKeyCondition => ({ hash: [kc.hash], prefix: [], ...(kc.range ? { range: kc.range } : {}) });

export const query: ActionSpec = {
  validate,
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    checkExpressionParameters(req, 'Query');
    if (req.ExclusiveStartKey) startKeyValues(req.ExclusiveStartKey);
    const compiled = compileRequestExpressions(req, 'Query');
    if (!compiled.keyCondition) {
      throw validation('Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
    }
    const table = await activeTable(ctx, req.TableName);
    const def = table.entry.definition;
    const ix = resolveIndex(def, req);
    const schema = ix ? ix.key : def.key;
    // An index whose key has several HASH or RANGE attributes (index-keys.ts) has its own rules.
    const multi = ix !== undefined && (ix.hashKeys !== undefined || ix.rangeKeys !== undefined);
    const hashAttrs = multi ? indexHashKeys(ix) : [schema.hash];
    const sortAttrs = multi ? indexRangeKeys(ix) : schema.range ? [schema.range] : [];
    const kc: MultiKeyCondition = multi ? extractMultiKeyCondition(compiled.keyCondition, hashAttrs, sortAttrs) : single(extractKeyCondition(compiled.keyCondition, schema));
    // The partition key is only checked for emptiness: one over the size limit matches nothing (below).
    hashAttrs.forEach((k, i) => {
      const emptyHash = emptyKeyValue(k.name, kc.hash[i]!, ix?.name);
      if (emptyHash) throw validation(emptyHash);
    });
    kc.prefix.forEach((v, i) => checkKeyValue(sortAttrs[i]!.name, v, false, { index: ix?.name }));
    for (const v of kc.range?.values ?? []) checkKeyValue(sortAttrs[kc.prefix.length]!.name, v, false, { index: ix?.name });
    if (compiled.filter) checkQueryFilterKeys(compiled.filter, [...hashAttrs, ...sortAttrs], req.QueryFilter !== undefined);
    const countOnly = checkSelect(req, compiled.projection, ix !== undefined);
    const forward = req.ScanIndexForward !== false;
    const range = sortRange(kc);
    const { consistent, level, limit, rows } = readSettings(ctx, req);
    let after: Item | undefined;
    if (req.ExclusiveStartKey) {
      after = checkStartKey(req.ExclusiveStartKey, def.key, ix);
      const startSort = schema.range && after[schema.range.name];
      const restricted = sortAttrs[kc.prefix.length];
      const matches =
        hashAttrs.every((k, i) => compareAttributeValues(after![k.name], kc.hash[i]!) === 0) &&
        kc.prefix.every((v, i) => compareAttributeValues(after![sortAttrs[i]!.name], v) === 0) &&
        (!restricted || inRange(after[restricted.name], range));
      if (!matches) throw validation('The provided starting key does not match the range key predicate');
      if (!ix) {
        if (!startSort) {
          // A hash-only table has one item per partition: nothing follows it.
          return pageResponse(req, { items: [], count: 0, scanned: 0, bytes: 0 }, countOnly, consistent);
        }
        if (forward) range.lower = { value: startSort, inclusive: false };
        else range.upper = { value: startSort, inclusive: false };
      }
    }
    // No item can carry a partition key over DynamoDB's 2048-byte limit (and Cassandra refuses keys
    // over 64 KiB): DynamoDB answers such a Query with nothing, so does this.
    if (kc.hash.some((v) => keyBytes(v) > HASH_KEY_LIMIT)) return pageResponse(req, { items: [], count: 0, scanned: 0, bytes: 0 }, countOnly, consistent, ix);
    let source;
    if (ix) {
      const target = { keyspace: ctx.session.keyspace, index: ix, table: def.key };
      const clustering = after && indexClusteringValues(ix, def.key, after);
      source = indexPartitionItems(ctx.session, target, kc.hash, range, forward, clustering, level, rows);
      if (lsiFetchesBase(ix, def.key, req, compiled.projection)) source = baseItems(source, (key) => ctx.store.read(table, key, consistent), def.key);
    } else {
      source = partitionItems(ctx.session, table, kc.hash[0]!, range, forward, level, rows);
    }
    const page = await collectPage(source, { limit, filter: compiled.filter, projection: compiled.projection, countOnly, keyNames: pageKeyNames(def.key, ix) });
    return pageResponse(req, page, countOnly, consistent, ix);
  },
};
