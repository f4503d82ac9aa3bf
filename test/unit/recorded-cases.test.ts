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
        if (c.action === 'Query' && x.keyCondition) extractKeyCondition(x.keyCondition, schema);
        if (c.action === 'Query' && x.filter) checkQueryFilterKeys(x.filter, schema, c.body!.QueryFilter != null);
        return 'ok';
      });
    case 'item':
      return run(() => canon(normalizeItem({ ...key, v: c.value }).v));
  }
}

test(`${CASES.length} requests recorded from DynamoDB Local`, () => {
  const failures: string[] = [];
  for (const c of CASES) {
    const got = execute(c);
    const want = c.expect;
    const same = want.err !== undefined ? got.err === want.err && got.msg === want.msg : JSON.stringify(got.ok) === JSON.stringify(want.ok);
    if (!same) failures.push(`${c.kind} ${JSON.stringify(c.expr ?? c.body ?? c.value)}\n  want ${JSON.stringify(want)}\n  got  ${JSON.stringify(got)}`);
  }
  assert.deepEqual(failures, []);
});
