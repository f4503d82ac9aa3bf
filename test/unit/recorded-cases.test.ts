// Replays requests whose results were recorded from DynamoDB Local (recorded-cases.json, written by
// test/record-cases.ts) against our expression engine and value model: same result, or the same
// error type and exact message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoError } from '../../src/dynamo/errors.js';
import type { Item, KeySchema } from '../../src/dynamo/types.js';
import { normalizeItem } from '../../src/dynamo/attribute-values.js';
import {
  applyUpdate,
  checkQueryFilterKeys,
  compileRequestExpressions,
  evaluateCondition,
  extractKeyCondition,
  projectItem,
  updatedAttributes,
  type ExpressionAction,
} from '../../src/dynamo/expressions/index.js';
import { CASES, ITEMS, canon, type RecordedCase } from '../recorded-cases-data.js';

function run(f: () => unknown): { ok?: unknown; err?: string; msg?: string } {
  try {
    return { ok: f() };
  } catch (e) {
    if (e instanceof DynamoError) return { err: e.name, msg: e.message };
    throw e;
  }
}

function execute(c: RecordedCase): { ok?: unknown; err?: string; msg?: string } {
  const key: Item = c.table === 'xp_hr' ? { pk: { S: 'dk' }, sk: { N: '1' } } : { pk: { S: 'dk' } };
  const item: Item | undefined = c.item >= 0 ? { ...key, ...(ITEMS[c.item] as Item) } : undefined;
  const req: Record<string, unknown> = {};
  if (c.names) req.ExpressionAttributeNames = c.names;
  if (c.values) req.ExpressionAttributeValues = c.values;
  switch (c.kind) {
    case 'cond':
      return run(() => {
        const x = compileRequestExpressions({ ConditionExpression: c.expr, ...req }, 'DeleteItem');
        return x.condition ? evaluateCondition(x.condition, item) : true;
      });
    case 'lcond':
      return run(() => {
        const x = compileRequestExpressions(c.body!, 'PutItem');
        return x.condition ? evaluateCondition(x.condition, item) : true;
      });
    case 'update':
      return run(() => {
        const x = compileRequestExpressions({ UpdateExpression: c.expr, ...req }, 'UpdateItem');
        const res = applyUpdate(x.update!, item);
        const next = { ...key, ...res.item };
        const rv = c.rv ?? 'ALL_NEW';
        if (rv === 'ALL_NEW') return canon(next);
        return canon(updatedAttributes(rv === 'UPDATED_NEW' ? next : item, res.updatedPaths));
      });
    case 'lupdate':
      return run(() => {
        const x = compileRequestExpressions(c.body!, 'UpdateItem');
        const res = x.update ? applyUpdate(x.update, item) : { item: item ?? {}, updatedPaths: [] };
        const next = { ...key, ...res.item };
        const rv = c.rv ?? 'ALL_NEW';
        if (rv === 'ALL_NEW') return canon(next);
        return canon(updatedAttributes(rv === 'UPDATED_NEW' ? next : item, res.updatedPaths));
      });
    case 'proj':
      return run(() => {
        const x = compileRequestExpressions({ ProjectionExpression: c.expr, ...req }, 'GetItem');
        return canon(item ? projectItem(item, x.projection!) : {});
      });
    case 'raw':
      return run(() => {
        const x = compileRequestExpressions(c.body!, c.action as ExpressionAction);
        const schema: KeySchema = { hash: { name: 'pk', type: 'S' }, range: { name: 'sk', type: 'N' } };
        if (c.action === 'Query' && x.keyConditions) extractKeyCondition(x.keyConditions, schema);
        if (c.action === 'Query' && x.filter) checkQueryFilterKeys(x.filter, schema, c.body!.QueryFilter != null);
        return 'ok';
      });
    case 'item':
      return run(() => canon(normalizeItem({ ...key, v: c.value }).v));
  }
}

// Where DynamoDB Local words an error differently from Amazon DynamoDB (as dynalite's suite recorded
// it), the server follows DynamoDB: the message DynamoDB Local gave is replaced by DynamoDB's.
const DYNAMODB_WORDING: [RegExp, (m: string, c: RecordedCase) => string][] = [
  // Set duplicates: DynamoDB ends the sentence with a period and names a binary set's values.
  [/^(One or more parameter values were invalid: Input collection \[.*\] contains duplicates)$/, (m) => `${m}.`],
  [/^One or more parameter values were invalid: Input collection of type BS contains duplicates\.$/, (_m, c) => `One or more parameter values were invalid: Input collection [${((c.value as { BS: string[] }).BS).join(', ')}]of type BS contains duplicates.`],
  // DynamoDB names the key element a Query's conditions miss (pk when they do not name it, else sk).
  [/^Query condition missed key schema element$/, (m, c) => `${m}: ${/\bpk\b/.test(JSON.stringify(c.body)) ? 'sk' : 'pk'}`],
  // A filter reading inside a key attribute: DynamoDB refuses the key attribute as such (hash key first).
  [/^Key attributes must be scalars; .* Key: \w+$/, (m, c) => (c.body?.FilterExpression === undefined ? m : `Filter Expression can only contain non-primary key attributes: Primary key attribute: ${/\bpk\b/.test(String(c.body.FilterExpression)) ? 'pk' : 'sk'}`)],
  // Empty KeyConditions, and NULL/NOT_NULL on the sort key: DynamoDB's words for these cases.
  [/^Conditions must be at least length 1$/, () => 'Conditions can be of length 1 or 2 only'],
  [/^Only scalar types can be used as Range Key values$/, () => 'Attempted conditional constraint is not an indexable operation'],
  // Numbers given in a request: DynamoDB echoes the value that is not a number, and words the
  // precision limit of a given number apart from that of an update's arithmetic.
  [/A value provided cannot be converted into a number/, (_m, c) => `The parameter cannot be converted to a numeric value${badNumber(c) ? `: ${badNumber(c)}` : ''}`],
  [/^DynamoDB only supports precision up to 38 digits$/, (m, c) => (c.kind === 'item' ? 'Attempting to store more than 38 significant digits in a Number' : m)],
  // AttributeUpdates naming a type an action cannot take: DynamoDB gives its short name (M, not MAP).
  [/^(One or more parameter values were invalid: (?:ADD|DELETE) action .*not supported for the type )MAP$/, (m) => m.replace(/MAP$/, 'M')],
];

/** The first N or NS member of a case's values that is not a number. */
function badNumber(c: RecordedCase): string | undefined {
  const numbers: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'N' && typeof x === 'string') numbers.push(x);
        else if (k === 'NS' && Array.isArray(x)) numbers.push(...x.filter((n): n is string => typeof n === 'string'));
        else walk(x);
      }
    }
  };
  walk(c.value ?? c.body);
  return numbers.find((n) => !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(n));
}
// Queries whose two expressions are both invalid: DynamoDB reports the KeyConditionExpression's
// error first, DynamoDB Local the FilterExpression's.
const keyConditionFirst = (c: RecordedCase) => c.kind === 'raw' && c.action === 'Query' && c.body?.KeyConditionExpression !== undefined && c.body?.FilterExpression !== undefined;

function dynamoDbExpectation(c: RecordedCase): RecordedCase['expect'] {
  const want = c.expect;
  if (want.msg === undefined) return want;
  for (const [re, fix] of DYNAMODB_WORDING) if (re.test(want.msg)) return { ...want, msg: want.msg.replace(re, (m) => fix(m, c)) };
  return want;
}

test(`${CASES.length} requests recorded from DynamoDB Local`, () => {
  const failures: string[] = [];
  for (const c of CASES) {
    const got = execute(c);
    const want = dynamoDbExpectation(c);
    if (keyConditionFirst(c) && want.err !== undefined && got.msg?.startsWith('Invalid KeyConditionExpression:')) continue;
    const same = want.err !== undefined ? got.err === want.err && got.msg === want.msg : JSON.stringify(got.ok) === JSON.stringify(want.ok);
    if (!same) failures.push(`${c.kind} ${JSON.stringify(c.expr ?? c.body ?? c.value)}\n  want ${JSON.stringify(want)}\n  got  ${JSON.stringify(got)}`);
  }
  assert.deepEqual(failures, []);
});
