import { compareAttributeValues } from '../dynamo/attribute-values.js';
import { validation } from '../dynamo/errors.js';
import {
  checkExpressionParameters,
  checkQueryFilterKeys,
  compileRequestExpressions,
  conditionPathList,
  extractKeyCondition,
  extractMultiKeyCondition,
  MSG_CONDITION_COUNT,
  type KeyCondition,
  type MultiKeyCondition,
} from '../dynamo/expressions/index.js';
import type { AttributeValue, Item, KeyAttribute } from '../dynamo/types.js';
import { attrMap, bool, compileValidator, int, obj, oneOf, str } from '../dynamo/validation.js';
import { indexClusteringValues } from '../storage/indexes.js';
import { indexHashKeys, indexRangeKeys } from '../storage/index-keys.js';
import { indexPartitionItems, partitionItems, prefixSuccessor, type SortRange } from '../storage/range-reader.js';
import { activeTable, type ActionSpec } from './context.js';
import { INVALID_START, checkStartKeyPiece, startKeyValues, tableStartKey } from './start-key.js';
import { ATTRIBUTES_TO_GET, CONDITIONS, ITEM_REQUEST, capacityWanted, checkKeyValue } from './item-common.js';
import { HASH_KEY_LIMIT, emptyKeyValue, keyBytes } from '../dynamo/key-values.js';
import { baseItems, checkIndexSelect, checkKeyPaths, checkLegacyReadParameters, checkSelect, collectPage, lsiFetchesBase, pageKeyNames, pageResponse, readSettings, resolveIndex } from './read-page.js';

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

/** Where the start key falls outside what the key conditions select, in DynamoDB's words. */
function checkStartKeyBounds(after: Item, hashAttrs: KeyAttribute[], sortAttrs: KeyAttribute[], kc: MultiKeyCondition, range: SortRange, multi: boolean): void {
  const sameHash = hashAttrs.every((k, i) => after[k.name] !== undefined && compareAttributeValues(after[k.name]!, kc.hash[i]!) === 0);
  // On a multi-attribute index key, DynamoDB words every mismatch as the range key predicate's.
  if (multi && !sameHash) throw validation('The provided starting key does not match the range key predicate');
  if (sortAttrs.length === 0 || (!kc.range && kc.prefix.length === 0)) {
    if (!sameHash) throw validation('The provided starting key is outside query boundaries based on provided conditions');
    return;
  }
  const restricted = sortAttrs[kc.prefix.length];
  const startSort = restricted && after[restricted.name];
  const inBounds =
    kc.prefix.every((v, i) => after[sortAttrs[i]!.name] !== undefined && compareAttributeValues(after[sortAttrs[i]!.name]!, v) === 0) &&
    (!kc.range || (startSort !== undefined && inRange(startSort, range)));
  if (!inBounds) throw validation('The provided starting key does not match the range key predicate');
  if (!sameHash) throw validation('The query can return at most one row and cannot be restarted');
}

export const query: ActionSpec = {
  validate,
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    // DynamoDB's order before the table: parameters, filter conditions, AttributesToGet, start key
    // values, then the expressions and the key conditions' structure.
    checkExpressionParameters(req, 'Query');
    checkLegacyReadParameters(req, 'QueryFilter');
    if (req.ExclusiveStartKey) startKeyValues(req.ExclusiveStartKey);
    if (req.KeyConditions === undefined && req.KeyConditionExpression === undefined) {
      throw validation('Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
    }
    const compiled = compileRequestExpressions(req, 'Query');
    const table = await activeTable(ctx, req.TableName);
    const def = table.entry.definition;
    const ix = resolveIndex(def, req);
    const schema = ix ? ix.key : def.key;
    const start = req.ExclusiveStartKey as Item | undefined;
    if (start && Object.keys(start).length !== pageKeyNames(def.key, ix).length) throw validation(INVALID_START);
    // An index whose key has several HASH or RANGE attributes (index-keys.ts) has its own rules.
    const multi = ix !== undefined && (ix.hashKeys !== undefined || ix.rangeKeys !== undefined);
    const hashAttrs = multi ? indexHashKeys(ix) : [schema.hash];
    const sortAttrs = multi ? indexRangeKeys(ix) : schema.range ? [schema.range] : [];
    // The start key's pieces are checked key attribute by key attribute, among the key conditions' checks.
    const checkStartPiece = (k: KeyAttribute, isHash: boolean) => {
      if (!start) return;
      if (!start[k.name]) throw validation(INVALID_START);
      const ofIndex = ix && k.name !== def.key.hash.name && k.name !== def.key.range?.name;
      checkStartKeyPiece(start, k, isHash, ofIndex ? ix.name : undefined);
    };
    const conds = compiled.keyConditions!;
    if (!multi && conds.size > 2) throw validation(MSG_CONDITION_COUNT);
    const kc: MultiKeyCondition = multi
      ? extractMultiKeyCondition(conds, hashAttrs, sortAttrs, checkStartPiece)
      : single(extractKeyCondition(conds, schema, checkStartPiece));
    const range = sortRange(kc);
    let after: Item | undefined;
    if (start) {
      after = tableStartKey(start, def.key);
      checkStartKeyBounds(after, hashAttrs, sortAttrs, kc, range, multi);
    }
    checkKeyPaths(compiled.projection, def);
    if (compiled.filter) checkQueryFilterKeys(compiled.filter, [...hashAttrs, ...sortAttrs], req.QueryFilter !== undefined);
    checkIndexSelect(ix, req);
    if (compiled.filter) checkKeyPaths(conditionPathList(compiled.filter), def);
    // The partition key is only checked for emptiness: one over the size limit matches nothing (below).
    hashAttrs.forEach((k, i) => {
      const emptyHash = emptyKeyValue(k.name, kc.hash[i]!, ix?.name);
      if (emptyHash) throw validation(emptyHash);
    });
    kc.prefix.forEach((v, i) => checkKeyValue(sortAttrs[i]!.name, v, false, { index: ix?.name }));
    for (const v of kc.range?.values ?? []) checkKeyValue(sortAttrs[kc.prefix.length]!.name, v, false, { index: ix?.name });
    const countOnly = checkSelect(req, compiled.projection, ix !== undefined);
    const forward = req.ScanIndexForward !== false;
    const { consistent, level, limit, rows } = readSettings(ctx, req);
    if (after && !ix) {
      const startSort = schema.range && after[schema.range.name];
      if (!startSort) {
        // A hash-only table has one item per partition: nothing follows it.
        return pageResponse(req, { items: [], count: 0, scanned: 0, bytes: 0 }, countOnly, consistent);
      }
      if (forward) range.lower = { value: startSort, inclusive: false };
      else range.upper = { value: startSort, inclusive: false };
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
    const page = await collectPage(source, { limit, filter: compiled.filter, projection: compiled.projection, countOnly, keyNames: pageKeyNames(def.key, ix), exactBytes: capacityWanted(req) });
    return pageResponse(req, page, countOnly, consistent, ix);
  },
};
