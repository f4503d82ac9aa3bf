// What the item actions share: key checks against the table's schema, DynamoDB's capacity
// arithmetic, ReturnValues handling and the common request members.
import { conditionalCheckFailed, validation } from '../dynamo/errors.js';
import { HASH_KEY_LIMIT, RANGE_KEY_LIMIT, emptyKeyValue, keyBytes } from '../dynamo/key-values.js';
import { evaluateCondition, type Condition } from '../dynamo/expressions/index.js';
import { itemSize, normalizeItem } from '../dynamo/attribute-values.js';
import type { AttributeValue, Item, KeySchema } from '../dynamo/types.js';
import type { TableDefinition } from '../storage/catalog.js';
import { indexEntry, sameIndexKey } from '../storage/indexes.js';
import {
  EXPRESSION_NAMES, EXPRESSION_VALUES, RETURN_CONSUMED_CAPACITY, RETURN_ITEM_COLLECTION_METRICS, TABLE_NAME,
  attrMap, attrValue, bool, list, map, obj, oneOf, str, type Schema,
} from '../dynamo/validation.js';

export const MAX_ITEM_BYTES = 400 * 1024;

/** The comparison operators of the legacy conditions, in the order DynamoDB lists them. */
export const COMPARISON_OPERATOR = oneOf(['IN', 'NULL', 'BETWEEN', 'LT', 'NOT_CONTAINS', 'EQ', 'GT', 'NOT_NULL', 'NE', 'LE', 'BEGINS_WITH', 'GE', 'CONTAINS']);
/** Expected (legacy condition of a write). */
export const EXPECTED = map(
  obj({ AttributeValueList: list(attrValue()), ComparisonOperator: COMPARISON_OPERATOR, Exists: bool(), Value: attrValue() }, [], 'ExpectedAttributeValue'),
);
/** KeyConditions, QueryFilter and ScanFilter (legacy conditions of a read). */
export const CONDITIONS = map(obj({ AttributeValueList: list(attrValue()), ComparisonOperator: COMPARISON_OPERATOR }, ['ComparisonOperator'], 'Condition'));

/** Request members shared by the single-item actions, in DynamoDB's order. */
export const ITEM_REQUEST: Record<string, Schema> = {
  ReturnConsumedCapacity: RETURN_CONSUMED_CAPACITY,
  TableName: TABLE_NAME,
  ReturnItemCollectionMetrics: RETURN_ITEM_COLLECTION_METRICS,
  ConditionalOperator: oneOf(['OR', 'AND']),
  Expected: EXPECTED,
  ConditionExpression: str(),
  ExpressionAttributeValues: EXPRESSION_VALUES,
  ExpressionAttributeNames: EXPRESSION_NAMES,
  ReturnValuesOnConditionCheckFailure: oneOf(['ALL_OLD', 'NONE']),
};
export const RETURN_VALUES = oneOf(['ALL_NEW', 'UPDATED_OLD', 'ALL_OLD', 'NONE', 'UPDATED_NEW']);
export const KEY = attrMap();
export const CONSISTENT_READ = bool();
export const ATTRIBUTES_TO_GET = list(str(), { min: 1, max: 255 });

const typeOf = (v: AttributeValue) => Object.keys(v)[0];

/**
 * A key value must not be empty and must fit DynamoDB's key size limits. `index` names the index
 * whose key it is (for DynamoDB's message about an empty one), `emptyPrefix` goes before that message.
 */
export function checkKeyValue(name: string, value: AttributeValue, isHash: boolean, where: { index?: string; emptyPrefix?: string; lookup?: boolean } = {}): void {
  const empty = emptyKeyValue(name, value, where.index, where.lookup);
  if (empty) throw validation((where.emptyPrefix ?? '') + empty);
  const bytes = keyBytes(value);
  if (isHash && bytes > HASH_KEY_LIMIT) {
    throw validation('One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes');
  }
  if (!isHash && bytes > RANGE_KEY_LIMIT) {
    throw validation('One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes');
  }
}

/** A request's Key, checked against the table's key schema. */
export function keyFromRequest(schema: KeySchema, raw: unknown): Item {
  const key = normalizeItem(raw);
  const names = Object.keys(key);
  const expected = schema.range ? 2 : 1;
  const hash = key[schema.hash.name];
  const range = schema.range ? key[schema.range.name] : undefined;
  if (names.length !== expected || !hash || (schema.range && !range)) {
    throw validation('The provided key element does not match the schema');
  }
  if (typeOf(hash) !== schema.hash.type || (schema.range && typeOf(range!) !== schema.range.type)) {
    throw validation('The provided key element does not match the schema');
  }
  checkKeyValue(schema.hash.name, hash, true, { lookup: true });
  if (schema.range) checkKeyValue(schema.range.name, range!, false, { lookup: true });
  return key;
}

/** PutItem's item must carry the key attributes with the right types. */
export function checkItemKey(schema: KeySchema, item: Item): void {
  for (const [k, isHash] of [[schema.hash, true], [schema.range, false]] as const) {
    if (!k) continue;
    const value = item[k.name];
    if (!value) throw validation(`One or more parameter values were invalid: Missing the key ${k.name} in the item`);
    if (typeOf(value) !== k.type) {
      throw validation(`One or more parameter values were invalid: Type mismatch for key ${k.name} expected: ${k.type} actual: ${typeOf(value)}`);
    }
    checkKeyValue(k.name, value, isHash);
  }
}

/** An item's size limit; UpdateItem words it as an update ('Item size to update has exceeded ...'). */
export function checkItemSize(size: number, what: 'Item size' | 'Item size to update' = 'Item size'): void {
  if (size > MAX_ITEM_BYTES) throw validation(`${what} has exceeded the maximum allowed size`);
}

/** Read units: 4 KB each, at least one, half for eventually consistent reads. */
export const readUnits = (bytes: number, consistent: boolean) => Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);
/** Write units: 1 KB each, at least one. */
export const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

/** The ConsumedCapacity member for ReturnConsumedCapacity TOTAL or INDEXES, else undefined. */
/** Whether the response reports consumed capacity (which needs the exact size of what was read). */
export const capacityWanted = (req: { ReturnConsumedCapacity?: unknown }): boolean => req.ReturnConsumedCapacity === 'TOTAL' || req.ReturnConsumedCapacity === 'INDEXES';

export function consumedCapacity(mode: string | undefined, table: string, units: () => number) {
  if (mode === 'TOTAL') return { TableName: table, CapacityUnits: units() };
  if (mode === 'INDEXES') {
    const n = units();
    return { TableName: table, CapacityUnits: n, Table: { CapacityUnits: n } };
  }
  return undefined;
}

/** ReturnValues for PutItem and DeleteItem may only be NONE or ALL_OLD. */
export function checkOldOnlyReturnValues(value: string | undefined): void {
  if (value !== undefined && value !== 'NONE' && value !== 'ALL_OLD') {
    throw validation('ReturnValues can only be ALL_OLD or NONE');
  }
}

/**
 * Evaluates a write's condition against the stored item; on failure throws
 * ConditionalCheckFailedException, with the old item when ReturnValuesOnConditionCheckFailure
 * asked for it.
 */
export function checkCondition(condition: Condition | undefined, old: Item | undefined, req: Record<string, unknown>, message?: string): void {
  if (condition && !evaluateCondition(condition, old)) {
    throw conditionalCheckFailed(req.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? old : undefined, message);
  }
}

const wantsCapacity = (mode: unknown) => mode === 'TOTAL' || mode === 'INDEXES';

/**
 * ConsumedCapacity of a single-item write: the table's units are sized by the larger of the old
 * and new item; each index whose entry is written or deleted costs its own units (a moved entry
 * costs a delete and a put). TOTAL sums them; INDEXES also lists them.
 */
export function writeCapacity(mode: unknown, def: TableDefinition, old: Item | undefined, next: Item | undefined) {
  if (!wantsCapacity(mode)) return undefined;
  const table = writeUnits(Math.max(old ? itemSize(old) : 0, next ? itemSize(next) : 0));
  const global: Record<string, { CapacityUnits: number }> = {};
  const local: Record<string, { CapacityUnits: number }> = {};
  let total = table;
  for (const ix of def.indexes ?? []) {
    if (ix.status === 'DELETING') continue;
    const before = indexEntry(ix, def.key, old);
    const after = indexEntry(ix, def.key, next);
    let units = 0;
    const moved = before && after && !sameIndexKey(before, after);
    const size = (e: { json: string }) => itemSize(JSON.parse(e.json) as Item);
    if (before && (!after || moved)) units += writeUnits(size(before));
    if (after) units += writeUnits(size(after));
    if (!units) continue;
    total += units;
    (ix.kind === 'GLOBAL' ? global : local)[ix.name] = { CapacityUnits: units };
  }
  const out: Record<string, unknown> = { TableName: def.name, CapacityUnits: total };
  if (mode === 'INDEXES') {
    out.Table = { CapacityUnits: table };
    if (Object.keys(global).length) out.GlobalSecondaryIndexes = global;
    if (Object.keys(local).length) out.LocalSecondaryIndexes = local;
  }
  return out;
}

type Units = { CapacityUnits: number };

/** Several writes' ConsumedCapacity on one table as one entry (BatchWriteItem), by index too. */
export function sumCapacity(table: string, byIndex: boolean, parts: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = { TableName: table, CapacityUnits: 0 };
  const add = (into: Record<string, unknown>, key: string, units: number) => {
    into[key] = { CapacityUnits: ((into[key] as Units | undefined)?.CapacityUnits ?? 0) + units };
  };
  for (const part of parts) {
    out.CapacityUnits = (out.CapacityUnits as number) + (part.CapacityUnits as number);
    if (!byIndex) continue;
    add(out, 'Table', (part.Table as Units).CapacityUnits);
    for (const kind of ['GlobalSecondaryIndexes', 'LocalSecondaryIndexes']) {
      const indexes = part[kind] as Record<string, Units> | undefined;
      if (!indexes) continue;
      const into = (out[kind] ??= {}) as Record<string, unknown>;
      for (const [name, u] of Object.entries(indexes)) add(into, name, u.CapacityUnits);
    }
  }
  if (byIndex && !out.Table) out.Table = { CapacityUnits: 0 };
  return out;
}

/** Whether a write must read the old item to report its capacity (sized by old and new). */
export const capacityNeedsOld = (req: Record<string, unknown>) => wantsCapacity(req.ReturnConsumedCapacity);
