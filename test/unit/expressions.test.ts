// Expression compiler, evaluator and update engine (API-level behaviour; the bulk of DynamoDB's
// exact messages is covered by recorded-cases.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoError } from '../../src/dynamo/errors.js';
import type { Item, KeySchema } from '../../src/dynamo/types.js';
import {
  applyUpdate,
  blindUpdate,
  compileRequestExpressions,
  evaluateCondition,
  extractKeyCondition,
  projectItem,
  updatedAttributes,
  updateTouchesAttribute,
  type CompiledExpressions,
} from '../../src/dynamo/expressions/index.js';
import { isReservedWord } from '../../src/dynamo/expressions/reserved.js';
import { normalizeItem } from '../../src/dynamo/attribute-values.js';

function rejects(f: () => unknown, message: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof DynamoError, String(e));
    assert.equal(e.name, 'ValidationException');
    assert.equal(e.message, message);
    return true;
  });
}

const item: Item = {
  pk: { S: 'k' },
  n: { N: '5' },
  s: { S: 'hello' },
  l: { L: [{ N: '1' }, { N: '2' }, { N: '3' }] },
  m: { M: { x: { N: '1' }, y: { M: { z: { S: 'q' } } } } },
  ss: { SS: ['a', 'b'] },
};

function cond(expr: string, values?: Record<string, unknown>, names?: Record<string, string>): boolean {
  const c = compileRequestExpressions(
    { ConditionExpression: expr, ExpressionAttributeValues: values, ExpressionAttributeNames: names },
    'PutItem',
  );
  return evaluateCondition(c.condition!, item);
}

function update(expr: string, values?: Record<string, unknown>, base: Item | undefined = item, names?: Record<string, string>) {
  const c = compileRequestExpressions({ UpdateExpression: expr, ExpressionAttributeValues: values, ExpressionAttributeNames: names }, 'UpdateItem');
  return applyUpdate(c.update!, base);
}

test('conditions: precedence NOT > AND > OR and parentheses', () => {
  const v = { ':t': { N: '5' }, ':f': { N: '6' } };
  assert.equal(cond('n = :t OR n = :f AND n = :f', v), true);
  assert.equal(cond('(n = :t OR n = :f) AND n = :f', v), false);
  assert.equal(cond('NOT n = :f AND n = :t', v), true);
  assert.equal(cond('NOT (n = :f OR n = :t)', v), false);
  assert.equal(cond('n = :t and not n = :f', v), true);
});

test('conditions: functions and missing attributes', () => {
  assert.equal(cond('attribute_exists(m.y.z)'), true);
  assert.equal(cond('attribute_not_exists(m.y.w)'), true);
  assert.equal(cond('attribute_exists(l[2])'), true);
  assert.equal(cond('attribute_exists(l[3])'), false);
  assert.equal(cond('begins_with(s, :p)', { ':p': { S: 'he' } }), true);
  assert.equal(cond('contains(ss, :p)', { ':p': { S: 'b' } }), true);
  assert.equal(cond('contains(l, :p)', { ':p': { N: '2.0' } }), true);
  assert.equal(cond('size(l) = :p', { ':p': { N: '3' } }), true);
  assert.equal(cond('attribute_type(m, :t)', { ':t': { S: 'M' } }), true);
  assert.equal(cond('zz <> :p', { ':p': { N: '1' } }), true);
  assert.equal(cond('zz = :p', { ':p': { N: '1' } }), false);
  assert.equal(cond('n BETWEEN :a AND :b', { ':a': { N: '5' }, ':b': { N: '5' } }), true);
  assert.equal(cond('n IN (:a, :b)', { ':a': { N: '1' }, ':b': { N: '5.0' } }), true);
  assert.equal(cond('#n > :a', { ':a': { N: '4.99' } }, { '#n': 'n' }), true);
  assert.equal(cond('n > :a', { ':a': { S: '1' } }), false);
  // absent item
  const c = compileRequestExpressions({ ConditionExpression: 'attribute_not_exists(pk)' }, 'PutItem');
  assert.equal(evaluateCondition(c.condition!, undefined), true);
});

test('condition errors', () => {
  rejects(() => cond('a = '), 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "= "');
  rejects(() => cond('a == :v', { ':v': { S: 'x' } }), 'Invalid ConditionExpression: Syntax error; token: "=", near: "== :v"');
  rejects(() => cond('size(a)'), 'Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size');
  rejects(() => cond('foo(a)'), 'Invalid ConditionExpression: Invalid function name; function: foo');
  rejects(() => cond('((a = :v))', { ':v': { S: 'x' } }), 'Invalid ConditionExpression: The expression has redundant parentheses;');
  rejects(() => cond('name = :v', { ':v': { S: 'x' } }), 'Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name');
  rejects(() => cond('#a = :v', { ':v': { S: 'x' } }, { '#b': 'x' }), 'Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #a');
  rejects(() => cond('a = :w', { ':v': { S: 'x' } }), 'Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :w');
  rejects(() => cond('a = :v', { ':v': { S: 'x' }, ':w': { S: 'y' } }), 'Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}');
  rejects(() => cond('a = a'), 'Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]');
  rejects(
    () => cond('a BETWEEN :h AND :l', { ':h': { N: '9' }, ':l': { N: '1' } }),
    'Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:9}, upper bound operand: AttributeValue: {N:1}',
  );
  rejects(() => cond(''), 'Invalid ConditionExpression: The expression can not be empty;');
  rejects(() => cond('a = :v', {}), 'ExpressionAttributeValues must not be empty');
});

test('update: SET, REMOVE, ADD, DELETE and returned paths', () => {
  const base: Item = { ...item, m: { M: { x: { N: '1' }, y: { M: { z: { SS: ['a'] } } } } } };
  const r = update('SET n = n + :one, m.y.w = :one, l[10] = :one REMOVE s, l[0] ADD ss :c DELETE m.y.z :a', {
    ':one': { N: '1' },
    ':c': { SS: ['c'] },
    ':a': { SS: ['a'] },
  }, base);
  assert.deepEqual(r.item.n, { N: '6' });
  assert.deepEqual(r.item.m, { M: { x: { N: '1' }, y: { M: { w: { N: '1' } } } } });
  assert.deepEqual(r.item.l, { L: [{ N: '2' }, { N: '3' }, { N: '1' }] });
  assert.equal(r.item.s, undefined);
  assert.deepEqual(r.item.ss, { SS: ['a', 'b', 'c'] });
  assert.deepEqual(r.updatedPaths, [['n'], ['m', 'y', 'w'], ['l', 10], ['s'], ['l', 0], ['ss'], ['m', 'y', 'z']]);
  // the input item is untouched
  assert.deepEqual(item.l, { L: [{ N: '1' }, { N: '2' }, { N: '3' }] });
  assert.deepEqual(item.m, { M: { x: { N: '1' }, y: { M: { z: { S: 'q' } } } } });
  assert.deepEqual(item.ss, { SS: ['a', 'b'] });
  // ReturnValues UPDATED_*: the whole top-level attribute of every path that resolves
  assert.deepEqual(Object.keys(updatedAttributes(base, r.updatedPaths)).sort(), ['l', 'm', 'n', 's', 'ss']);
  assert.deepEqual(Object.keys(updatedAttributes(r.item, r.updatedPaths)).sort(), ['l', 'm', 'n', 'ss']);
});

test('update: values are computed from the old item', () => {
  const r = update('SET a = b, b = a', undefined, { a: { S: '1' }, b: { S: '2' } });
  assert.deepEqual(r.item, { a: { S: '2' }, b: { S: '1' } });
  const r2 = update('SET c = if_not_exists(c, :z) + :one, l = list_append(:h, if_not_exists(l, :e))', {
    ':z': { N: '0' },
    ':one': { N: '1' },
    ':h': { L: [{ S: 'h' }] },
    ':e': { L: [] },
  }, {});
  assert.deepEqual(r2.item, { c: { N: '1' }, l: { L: [{ S: 'h' }] } });
});

test('update: runtime errors', () => {
  rejects(() => update('SET a = zz'), 'The provided expression refers to an attribute that does not exist in the item');
  rejects(() => update('SET a = s + n'), 'An operand in the update expression has an incorrect data type');
  rejects(() => update('SET zz.a = :v', { ':v': { N: '1' } }), 'The document path provided in the update expression is invalid for update');
  rejects(() => update('ADD s :v', { ':v': { N: '1' } }), 'An operand in the update expression has an incorrect data type');
  rejects(() => update('DELETE ss :v', { ':v': { NS: ['1'] } }), 'An operand in the update expression has an incorrect data type');
  rejects(
    () => update('ADD s :v', { ':v': { S: 'x' } }),
    'Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND',
  );
  rejects(
    () => update('SET a = :v, a.b = :v', { ':v': { N: '1' } }),
    'Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]',
  );
  rejects(() => update('SET a = :v SET b = :v', { ':v': { N: '1' } }), 'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;');
});

test('update: emptied set removes the attribute; DELETE on missing is a no-op', () => {
  const r = update('DELETE ss :v, zz :v', { ':v': { SS: ['a', 'b'] } });
  assert.equal(r.item.ss, undefined);
  assert.equal(r.item.zz, undefined);
});

test('blind updates and key checks', () => {
  const u = compileRequestExpressions({ UpdateExpression: 'SET a = :v, #b = :v REMOVE c', ExpressionAttributeValues: { ':v': { S: 'x' } }, ExpressionAttributeNames: { '#b': 'b' } }, 'UpdateItem').update!;
  assert.deepEqual(blindUpdate(u), { set: { a: { S: 'x' }, b: { S: 'x' } }, remove: ['c'] });
  assert.equal(updateTouchesAttribute(u, 'b'), true);
  assert.equal(updateTouchesAttribute(u, 'pk'), false);
  const notBlind = ['SET a = a', 'SET a.b = :v', 'ADD a :n', 'SET a = if_not_exists(a, :v)', 'REMOVE a[0]'];
  for (const e of notBlind) {
    const vals: Record<string, unknown> = {};
    if (e.includes(':v')) vals[':v'] = { S: 'x' };
    if (e.includes(':n')) vals[':n'] = { N: '1' };
    const x = compileRequestExpressions({ UpdateExpression: e, ...(Object.keys(vals).length ? { ExpressionAttributeValues: vals } : {}) }, 'UpdateItem');
    assert.equal(blindUpdate(x.update!), undefined, e);
  }
  const legacy = compileRequestExpressions({ AttributeUpdates: { a: { Action: 'PUT', Value: { S: 'x' } }, b: { Action: 'DELETE' } } }, 'UpdateItem');
  assert.deepEqual(blindUpdate(legacy.update!), { set: { a: { S: 'x' } }, remove: ['b'] });
});

test('projection shapes', () => {
  const p = (expr: string, names?: Record<string, string>) =>
    projectItem(item, compileRequestExpressions({ ProjectionExpression: expr, ExpressionAttributeNames: names }, 'GetItem').projection!);
  assert.deepEqual(p('n, s'), { n: item.n, s: item.s });
  assert.deepEqual(p('m.y.z'), { m: { M: { y: { M: { z: { S: 'q' } } } } } });
  assert.deepEqual(p('l[2], l[0]'), { l: { L: [{ N: '1' }, { N: '3' }] } });
  assert.deepEqual(p('l[7], m.nope, zz'), {});
  assert.deepEqual(p('#m.x', { '#m': 'm' }), { m: { M: { x: { N: '1' } } } });
  const legacy = compileRequestExpressions({ AttributesToGet: ['n', 'zz'] }, 'GetItem');
  assert.deepEqual(projectItem(item, legacy.projection!), { n: item.n });
  rejects(() => compileRequestExpressions({ AttributesToGet: ['a', 'a'] }, 'GetItem'), 'One or more parameter values were invalid: Duplicate value in attribute name: a');
});

test('key conditions', () => {
  const schema: KeySchema = { hash: { name: 'pk', type: 'S' }, range: { name: 'sk', type: 'N' } };
  const kc = (expr: string, values: Record<string, unknown>): CompiledExpressions =>
    compileRequestExpressions({ KeyConditionExpression: expr, ExpressionAttributeValues: values }, 'Query');
  const v = { ':h': { S: 'a' }, ':l': { N: '1' }, ':u': { N: '2' } };
  assert.deepEqual(extractKeyCondition(kc('pk = :h', { ':h': v[':h'] }).keyConditions!, schema), { hash: { S: 'a' } });
  assert.deepEqual(extractKeyCondition(kc('pk = :h AND sk BETWEEN :l AND :u', v).keyConditions!, schema), {
    hash: { S: 'a' },
    range: { op: 'BETWEEN', values: [{ N: '1' }, { N: '2' }] },
  });
  assert.deepEqual(extractKeyCondition(kc(':l < sk AND :h = pk', { ':h': v[':h'], ':l': v[':l'] }).keyConditions!, schema), {
    hash: { S: 'a' },
    range: { op: 'GT', values: [{ N: '1' }] },
  });
  const legacy = compileRequestExpressions(
    { KeyConditions: { pk: { ComparisonOperator: 'EQ', AttributeValueList: [{ S: 'a' }] }, sk: { ComparisonOperator: 'LE', AttributeValueList: [{ N: '3' }] } } },
    'Query',
  );
  assert.deepEqual(extractKeyCondition(legacy.keyConditions!, schema), { hash: { S: 'a' }, range: { op: 'LE', values: [{ N: '3' }] } });
  rejects(() => extractKeyCondition(kc('sk = :l', { ':l': v[':l'] }).keyConditions!, schema), 'Query condition missed key schema element: pk');
  rejects(() => extractKeyCondition(kc('pk < :h', { ':h': v[':h'] }).keyConditions!, schema), 'Query key condition not supported');
  rejects(
    () => extractKeyCondition(kc('pk = :l', { ':l': v[':l'] }).keyConditions!, schema),
    'One or more parameter values were invalid: Condition parameter type does not match schema type',
  );
  // The structure of a KeyConditionExpression is checked with the request, before any table.
  rejects(() => kc('pk = :h OR pk = :h', { ':h': v[':h'] }), 'Invalid operator used in KeyConditionExpression: OR');
  rejects(() => compileRequestExpressions({ KeyConditionExpression: 'a.b > c' }, 'Query'), 'KeyConditionExpressions cannot have conditions on nested attributes');
  rejects(() => compileRequestExpressions({ KeyConditionExpression: 'b > a.b' }, 'Query'), 'Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
  rejects(() => compileRequestExpressions({ KeyConditionExpression: 'a > size(b)' }, 'Query'), 'KeyConditionExpressions cannot contain nested operations');
  rejects(() => kc(':h = pk and sk = :l and :u = c', v), 'Conditions can be of length 1 or 2 only');
  // A hash-only schema with two conditions, and legacy operators that cannot use a key.
  rejects(() => extractKeyCondition(kc('y = :h and z = :h', { ':h': v[':h'] }).keyConditions!, { hash: schema.hash }), 'Query key condition not supported');
  const nullRange = compileRequestExpressions({ KeyConditions: { pk: { ComparisonOperator: 'EQ', AttributeValueList: [{ S: 'a' }] }, sk: { ComparisonOperator: 'NULL' } } }, 'Query');
  rejects(() => extractKeyCondition(nullRange.keyConditions!, schema), 'Attempted conditional constraint is not an indexable operation');
});

test('legacy parameters', () => {
  const c = compileRequestExpressions({ Expected: { n: { Value: { N: '5' } }, zz: { Exists: false } } }, 'PutItem');
  assert.equal(evaluateCondition(c.condition!, item), true);
  const f = compileRequestExpressions({ ScanFilter: { n: { ComparisonOperator: 'GT', AttributeValueList: [{ N: '9' }] }, s: { ComparisonOperator: 'NOT_NULL' } }, ConditionalOperator: 'OR' }, 'Scan');
  assert.equal(evaluateCondition(f.filter!, item), true);
  const u = compileRequestExpressions({ AttributeUpdates: { n: { Action: 'ADD', Value: { N: '2' } }, l: { Action: 'ADD', Value: { L: [{ N: '4' }] } } } }, 'UpdateItem');
  const r = applyUpdate(u.update!, item);
  assert.deepEqual(r.item.n, { N: '7' });
  assert.equal((r.item.l as { L: unknown[] }).L.length, 4);
  rejects(
    () => applyUpdate(compileRequestExpressions({ AttributeUpdates: { s: { Action: 'ADD', Value: { N: '1' } } } }, 'UpdateItem').update!, item),
    'Type mismatch for attribute to update',
  );
  rejects(
    () => compileRequestExpressions({ UpdateExpression: 'SET a = :v', AttributeUpdates: {}, ExpressionAttributeValues: { ':v': { S: 'x' } } }, 'UpdateItem'),
    'Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributeUpdates} Expression parameters: {UpdateExpression}',
  );
  rejects(
    () => compileRequestExpressions({ Expected: { a: { ComparisonOperator: 'EQ', AttributeValueList: [] } } }, 'DeleteItem'),
    'One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator',
  );
});

test('reserved words', () => {
  assert.equal(isReservedWord('name'), true);
  assert.equal(isReservedWord('Status'), true);
  assert.equal(isReservedWord('size'), false);
  assert.equal(isReservedWord('myattr'), false);
});

test('attribute names that are Object.prototype members are plain names', () => {
  const it = compileRequestExpressions;
  const c = it({ ConditionExpression: 'attribute_exists(#c) OR attribute_exists(m.#c)', ExpressionAttributeNames: { '#c': 'constructor' } }, 'PutItem');
  assert.equal(evaluateCondition(c.condition!, { m: { M: {} } }), false);
  const parsed = JSON.parse('{"__proto__":{"S":"x"},"m":{"M":{"__proto__":{"N":"1"}}}}') as unknown;
  const norm = normalizeItem(parsed);
  assert.deepEqual(Object.keys(norm), ['__proto__', 'm']);
  assert.equal(Object.getPrototypeOf(norm), Object.prototype);
  const u = it({ UpdateExpression: 'SET #p = :v, m.#p = :v', ExpressionAttributeNames: { '#p': '__proto__' }, ExpressionAttributeValues: { ':v': { S: 'y' } } }, 'UpdateItem');
  const r = applyUpdate(u.update!, norm);
  assert.deepEqual(Object.getOwnPropertyDescriptor(r.item, '__proto__')?.value, { S: 'y' });
  assert.equal(Object.getPrototypeOf(r.item), Object.prototype);
  const p = it({ ProjectionExpression: 'm.#p', ExpressionAttributeNames: { '#p': '__proto__' } }, 'GetItem');
  assert.equal(JSON.stringify(projectItem(norm, p.projection!)), '{"m":{"M":{"__proto__":{"N":"1"}}}}');
});

test('nesting limits', () => {
  let deep: Record<string, unknown> = { S: 'x' };
  for (let i = 0; i < 31; i++) deep = { M: { a: deep } };
  normalizeItem({ v: deep });
  assert.throws(() => normalizeItem({ v: { L: [deep] } }), /Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit/);
  const u = compileRequestExpressions({ UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { L: [deep] } } }, 'UpdateItem');
  rejects(() => applyUpdate(u.update!, {}), 'Nesting Levels have exceeded supported limits');
});
