// Running one PartiQL statement: parse, bind, translate into a GetItem/Query/Scan/PutItem/
// UpdateItem/DeleteItem request, run that action, and shape its answer as PartiQL's.
// Shared by ExecuteStatement, BatchExecuteStatement and ExecuteTransaction.
import { DynamoError, resourceNotFound, validation } from '../dynamo/errors.js';
import { getPath } from '../dynamo/expressions/index.js';
import type { Path, PqStatement } from '../dynamo/partiql/ast.js';
import { flattenedName, type PqOptions, type PqPlan, type PqTable } from '../dynamo/partiql/translate.js';
import type { AttributeValue, Item } from '../dynamo/types.js';
import type { TableDefinition } from '../storage/catalog.js';
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
    indexes: (def.indexes ?? []).filter((i) => i.status !== 'DELETING').map((i) => ({ name: i.name, key: i.key })),
  };
}

// Messages of the generated expressions lose their "Invalid FilterExpression: " prefix: the user
// wrote a statement, not an expression.
const EXPRESSION_PREFIX = /^Invalid (ConditionExpression|FilterExpression|KeyConditionExpression|UpdateExpression|ProjectionExpression): /;

/** Runs a translated request through its action; errors as DynamoDB's PartiQL reports them. */
export async function runPlan(ctx: ActionContext, plan: PqPlan): Promise<Record<string, any>> {
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
