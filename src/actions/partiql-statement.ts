// Running one PartiQL statement: parse, bind, translate into a GetItem/Query/Scan/PutItem/
// UpdateItem/DeleteItem request, run that action, and shape its answer as PartiQL's.
// Shared by ExecuteStatement, BatchExecuteStatement and ExecuteTransaction.
import { DynamoError, resourceNotFound, validation } from '../dynamo/errors.js';
import { compareAttributeValues } from '../dynamo/attribute-values.js';
import { getPath } from '../dynamo/expressions/index.js';
import type { Path, PqStatement } from '../dynamo/partiql/ast.js';
import { flattenedName, type PqEachHash, type PqOptions, type PqPlan, type PqTable } from '../dynamo/partiql/translate.js';
import type { AttributeValue, Item } from '../dynamo/types.js';
import type { TableDefinition } from '../storage/catalog.js';
import { indexHashKeys, indexRangeKeys } from '../storage/index-keys.js';
import { RawJson, type ActionContext, type ActionSpec } from './context.js';
import { deleteItem } from './delete-item.js';
import { getItem } from './get-item.js';
import { putItem } from './put-item.js';
import { query } from './query.js';
import { scan } from './scan.js';
import { updateItem } from './update-item.js';

const ACTIONS: Record<PqPlan['action'], ActionSpec> = {
  GetItem: getItem,
  Query: query,
  Scan: scan,
  PutItem: putItem,
  UpdateItem: updateItem,
  DeleteItem: deleteItem,
};

const COMMON = 'com.amazonaws.dynamodb.v20120810#';
export const MSG_NO_TABLE = 'Cannot do operations on a non-existent table';

export const duplicateItem = () => new DynamoError(COMMON + 'DuplicateItemException', 'Duplicate primary key exists in table');

/** The table a statement names, as translation needs it; DynamoDB's PartiQL message when missing. */
export async function statementTable(ctx: ActionContext, s: PqStatement): Promise<PqTable> {
  const usable = (d?: TableDefinition): d is TableDefinition => d !== undefined && d.status !== 'CREATING' && d.status !== 'DELETING';
  let def = (await ctx.catalog.get(s.table))?.definition;
  if (!usable(def)) {
    // A table another process just created is read afresh before the statement is refused.
    ctx.catalog.invalidate(s.table);
    def = (await ctx.catalog.get(s.table))?.definition;
    if (!usable(def)) throw resourceNotFound(MSG_NO_TABLE);
  }
  return {
    name: def.name,
    key: def.key,
    indexes: (def.indexes ?? []).filter((i) => i.status !== 'DELETING').map((i) => ({ name: i.name, key: i.key, composite: indexHashKeys(i).length > 1 || indexRangeKeys(i).length > 1 })),
  };
}

// Messages of the generated expressions lose their "Invalid FilterExpression: " prefix: the user
// wrote a statement, not an expression.
const EXPRESSION_PREFIX = /^Invalid (ConditionExpression|FilterExpression|KeyConditionExpression|UpdateExpression|ProjectionExpression): /;

/** Runs a translated request through its action; errors as DynamoDB's PartiQL reports them. */
export async function runPlan(ctx: ActionContext, plan: PqPlan): Promise<Record<string, any>> {
  if (plan.action === 'Query' && plan.each) return runEachHash(ctx, plan.request, plan.each);
  const spec = ACTIONS[plan.action];
  try {
    spec.validate(plan.request);
    const out = await spec.run(ctx, plan.request);
    return out instanceof RawJson ? JSON.parse(out.json) : (out as Record<string, any>);
  } catch (e) {
    if (!(e instanceof DynamoError)) throw e;
    if (e.name === 'ValidationException' && EXPRESSION_PREFIX.test(e.message)) throw validation(e.message.replace(EXPRESSION_PREFIX, ''));
    if (e.name === 'ResourceNotFoundException') throw resourceNotFound(MSG_NO_TABLE);
    if (e.name === 'ConditionalCheckFailedException' && plan.action === 'PutItem') throw duplicateItem();
    throw e;
  }
}

/** Adds one read's ConsumedCapacity into a running total (same table, same shape). */
function addCapacity(total: Record<string, any> | undefined, part: Record<string, any>): Record<string, any> {
  if (!total) return structuredClone(part);
  for (const [k, v] of Object.entries(part)) {
    if (k === 'CapacityUnits') total[k] = (total[k] ?? 0) + v;
    else if (v && typeof v === 'object') total[k] = addCapacity(total[k], v);
  }
  return total;
}

/**
 * One Query per hash value (per key, with `sort`), in order, as one page: Limit counts the items
 * read by all of them, and the page ends where one stops early (a Query that reaches its Limit
 * always does), its LastEvaluatedKey naming the value to resume with.
 */
async function runEachHash(ctx: ActionContext, request: Record<string, unknown>, each: PqEachHash): Promise<Record<string, any>> {
  // Sort values follow the Query's direction (ORDER BY ... DESC), as one Query's items would.
  const sorts = each.sort && (request.ScanIndexForward === false ? [...each.sort.values].reverse() : each.sort.values);
  const keys: Record<string, AttributeValue>[] = each.values.flatMap((h) =>
    sorts ? sorts.map((v) => ({ [each.ref]: h, [each.sort!.ref]: v })) : [{ [each.ref]: h }],
  );
  const start = request.ExclusiveStartKey as Item | undefined;
  const same = (v: AttributeValue, name: string) => start![name] !== undefined && compareAttributeValues(v, start![name]!) === 0;
  const first = start ? keys.findIndex((k) => same(k[each.ref]!, each.name) && (!each.sort || same(k[each.sort.ref]!, each.sort.name))) : 0;
  if (first < 0) throw validation('Invalid NextToken');
  const limit = request.Limit as number | undefined;
  const out: Record<string, any> = { Items: [] as Item[], Count: 0, ScannedCount: 0 };
  for (let i = first; i < keys.length; i++) {
    const values = { ...(request.ExpressionAttributeValues as Record<string, AttributeValue>), ...keys[i] };
    const one: Record<string, unknown> = { ...request, ExpressionAttributeValues: values };
    if (i !== first) delete one.ExclusiveStartKey;
    if (limit !== undefined) one.Limit = limit - out.ScannedCount;
    const page = await runPlan(ctx, { action: 'Query', request: one });
    out.Items.push(...page.Items);
    out.Count += page.Count;
    out.ScannedCount += page.ScannedCount;
    if (page.ConsumedCapacity) out.ConsumedCapacity = addCapacity(out.ConsumedCapacity, page.ConsumedCapacity);
    if (page.LastEvaluatedKey) {
      out.LastEvaluatedKey = page.LastEvaluatedKey;
      break;
    }
  }
  return out;
}

function flatten(item: Item, paths: Path[]): Item {
  const out: Item = {};
  for (const p of paths) {
    const v: AttributeValue | undefined = getPath(item, p);
    if (v !== undefined) out[flattenedName(p)] = v;
  }
  return out;
}

/** The items a read plan's answer holds, projected PartiQL's way. */
export function planItems(plan: PqPlan, out: Record<string, any>): Item[] {
  const items: Item[] = plan.action === 'GetItem' ? (out.Item ? [out.Item] : []) : (out.Items ?? []);
  const paths = 'flatten' in plan ? plan.flatten : undefined;
  return paths ? items.map((i) => flatten(i, paths)) : items;
}

/** What a write plan's answer returns as PartiQL items: the RETURNING values, if any. */
export function writtenItems(out: Record<string, any>): Item[] {
  return out.Attributes ? [out.Attributes] : [];
}

// NextToken: the read's LastEvaluatedKey, wrapped so that a client treats it as opaque.
export function encodeNextToken(key: Item): string {
  return Buffer.from(JSON.stringify({ v: 1, k: key })).toString('base64');
}

export function decodeNextToken(token: string): Item {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (parsed && parsed.v === 1 && parsed.k && typeof parsed.k === 'object' && !Array.isArray(parsed.k)) return parsed.k as Item;
  } catch {
    // fall through
  }
  throw validation('Invalid NextToken');
}

export type { PqOptions };
