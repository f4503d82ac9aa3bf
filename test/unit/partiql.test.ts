// PartiQL parser and translator: the AST of each statement form, DynamoDB's messages for syntax
// errors and unsupported statements, and the action requests statements translate into.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoError } from '../../src/dynamo/errors.js';
import { lexPartiql, positionOf } from '../../src/dynamo/partiql/lexer.js';
import { parseStatement, startsWithOperation } from '../../src/dynamo/partiql/parser.js';
import { flattenedName, translateBatchRead, translateExists, translateStatement, type PqTable } from '../../src/dynamo/partiql/translate.js';
import { bindValue } from '../../src/dynamo/partiql/bind.js';
import type { PqExists, PqInsert, PqSelect } from '../../src/dynamo/partiql/ast.js';

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DynamoError, `not a DynamoError: ${String(e)}`);
    assert.equal(e.name, 'ValidationException');
    return e.message;
  }
  throw new Error('expected a ValidationException');
}

const TABLE: PqTable = {
  name: 'orders',
  key: { hash: { name: 'pk', type: 'S' }, range: { name: 'sk', type: 'N' } },
  indexes: [{ name: 'byStatus', key: { hash: { name: 'status', type: 'S' } } }],
};

test('lexer: quoted strings and identifiers with doubled quotes, numbers, bags, positions', () => {
  const toks = lexPartiql(`SELECT "a""b" FROM t WHERE x = 'it''s' AND y IN <<1.5e3, -2>>`);
  assert.deepEqual(
    toks.map((t) => `${t.type}:${t.text}`),
    ['kw:SELECT', 'qid:"a""b"', 'kw:FROM', 'id:t', 'kw:WHERE', 'id:x', 'op:=', "str:'it''s'", 'kw:AND', 'id:y', 'kw:IN', 'op:<<', 'num:1.5e3', 'op:,', 'op:-', 'num:2', 'op:>>', 'eof:<EOF>'],
  );
  const src = 'SELECT *\nFROM  t';
  assert.equal(positionOf(src, lexPartiql(src)[3]!), '2:7:1');
});

test('parser: SELECT with projection, index, WHERE and ORDER BY', () => {
  const { statement, parameterCount } = parseStatement(
    `select a.b[2], "c" from "orders"."byStatus" where status = ? and (n between 1 and 5 or not x is missing) order by sk desc;`,
  );
  assert.equal(parameterCount, 1);
  const s = statement as PqSelect;
  assert.equal(s.kind, 'select');
  assert.equal(s.table, 'orders');
  assert.equal(s.index, 'byStatus');
  assert.deepEqual(s.projection, [['a', 'b', 2], ['c']]);
  assert.deepEqual(s.orderBy, [{ path: ['sk'], descending: true }]);
  assert.deepEqual(s.where, {
    kind: 'and',
    left: { kind: 'compare', op: '=', left: { kind: 'path', path: ['status'] }, right: { kind: 'value', value: { kind: 'param', index: 0 } } },
    right: {
      kind: 'or',
      left: {
        kind: 'between',
        value: { kind: 'path', path: ['n'] },
        low: { kind: 'value', value: { kind: 'scalar', value: { N: '1' } } },
        high: { kind: 'value', value: { kind: 'scalar', value: { N: '5' } } },
      },
      right: { kind: 'not', expr: { kind: 'is', expr: { kind: 'path', path: ['x'] }, what: 'MISSING', negated: false } },
    },
  });
});

test('parser: INSERT literal values bind to AttributeValues', () => {
  const { statement } = parseStatement(`INSERT INTO t VALUE {'id': 'x', 'n': -1.50, 'l': [TRUE, NULL, 'it''s'], 'm': {'s': <<'a', 'b'>>}, 'p': ?}`);
  assert.equal(statement.kind, 'insert');
  const item = bindValue((statement as PqInsert).item, [{ NS: ['1'] }]);
  assert.deepEqual(item, {
    M: {
      id: { S: 'x' },
      n: { N: '-1.50' },
      l: { L: [{ BOOL: true }, { NULL: true }, { S: "it's" }] },
      m: { M: { s: { SS: ['a', 'b'] } } },
      p: { NS: ['1'] },
    },
  });
  assert.equal(messageOf(() => bindValue((parseStatement(`INSERT INTO t VALUE {'s': <<1, 1.0>>}`).statement as PqInsert).item, [])), 'Input collection contains duplicates');
  assert.equal(
    messageOf(() => bindValue((parseStatement(`INSERT INTO t VALUE {'s': <<1, 'a'>>}`).statement as PqInsert).item, [])),
    'Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags',
  );
});

test('parser: UPDATE with SET, REMOVE, WHERE and RETURNING; DELETE', () => {
  const u = parseStatement(`UPDATE t SET a = a + 1, b = list_append(b, [1]) REMOVE c SET d = 'x' WHERE id = 'k' RETURNING MODIFIED NEW *`).statement;
  assert.equal(u.kind, 'update');
  if (u.kind !== 'update') return;
  assert.deepEqual(u.actions.map((a) => `${a.kind}:${a.path.join('.')}`), ['set:a', 'set:b', 'remove:c', 'set:d']);
  assert.equal(u.returning, 'UPDATED_NEW');
  const d = parseStatement(`DELETE FROM t WHERE id = 'k' RETURNING ALL OLD *`).statement;
  assert.deepEqual(d, {
    kind: 'delete',
    table: 't',
    where: { kind: 'compare', op: '=', left: { kind: 'path', path: ['id'] }, right: { kind: 'value', value: { kind: 'scalar', value: { S: 'k' } } } },
    returning: 'ALL_OLD',
  });
});

test("parser: DynamoDB's messages for malformed and unsupported statements", () => {
  const cases: [string, string][] = [
    ['SELEC * FROM t', "Statement wasn't well formed, can't be processed: SELEC * FROM t"],
    ['SELECT * FROM', "Statement wasn't well formed, can't be processed: SELECT * FROM"],
    ["SELECT * FROM t WHERE a = 'x", `Statement wasn't well formed, can't be processed: SELECT * FROM t WHERE a = 'x`],
    ['', "Statement wasn't well formed, can't be processed: "],
    ['CREATE TABLE x', 'Unsupported operation: CreateTable'],
    ['DROP TABLE x', 'Unsupported operation: DropTable'],
    ['SELECT * FROM t x', 'Aliasing is not supported'],
    ['SELECT DISTINCT a FROM t', 'Unsupported token in expression: DISTINCT'],
    ['SELECT VALUE a FROM t', "Select projection doesn't support value or pivot keywords"],
    ['SELECT COUNT(*) FROM t', 'Unexpected path component at 1:8:5'],
    ["SELECT * FROM t WHERE a = 'x' LIMIT 1", 'Unsupported clause: LIMIT at 1:37:1'],
    ["INSERT INTO t VALUE {'a': 1, 'a': 2}", 'Duplicate keys in tuple. Key: a under root at 1:30:3'],
    ["INSERT INTO t VALUE {'a': <<>>}", 'Empty bags are not supported at 1:27:2'],
    ["INSERT INTO t VALUE {'a': missing}", 'Unsupported data type: MISSING under key root at 1:27:7'],
    ['INSERT INTO t VALUE {"a": 1}', 'Tuple keys must be of type String. Actual type: VariableReference under root at 1:22:3'],
    ["INSERT INTO t VALUE {'a': 1} RETURNING ALL OLD *", 'RETURNING is not supported in INSERT'],
    ["UPDATE t SET a = 1 WHERE id = 'x' RETURNING ALL NEW a", "Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING clause"],
    ["DELETE FROM t WHERE id = 'x' RETURNING ALL NEW *", 'Invalid returning clause: RETURNING ALL NEW *. Only RETURNING ALL OLD * is allowed in DELETE statements.'],
  ];
  for (const [src, message] of cases) assert.equal(messageOf(() => parseStatement(src)), message, src);
  assert.equal(startsWithOperation('  delete from t'), true);
  assert.equal(startsWithOperation('UPSERT INTO t'), false);
});

const options = (params: unknown[] = []) => ({ params });

test('translate: SELECT on the keys is a Query, with sort key condition, filter and order', () => {
  const { statement } = parseStatement(`SELECT a, b FROM orders WHERE pk = ? AND sk > 3 AND qty < 10 ORDER BY sk DESC`);
  const plan = translateStatement(statement, TABLE, { params: [{ S: 'p1' }], limit: 5, consistentRead: true });
  assert.equal(plan.action, 'Query');
  assert.deepEqual(plan.request, {
    TableName: 'orders',
    ConsistentRead: true,
    Limit: 5,
    ProjectionExpression: '#n0, #n1',
    KeyConditionExpression: '#n2 = :v0 AND #n3 > :v1',
    FilterExpression: '#n4 < :v2',
    ScanIndexForward: false,
    ExpressionAttributeNames: { '#n0': 'a', '#n1': 'b', '#n2': 'pk', '#n3': 'sk', '#n4': 'qty' },
    ExpressionAttributeValues: { ':v0': { S: 'p1' }, ':v1': { N: '3' }, ':v2': { N: '10' } },
  });
});

test('translate: SELECT without the hash key is a Scan with the whole WHERE as its filter', () => {
  const { statement } = parseStatement(`SELECT * FROM "orders"."byStatus" WHERE qty >= 2 OR (begins_with(note, 'x') AND color IS NULL)`);
  const plan = translateStatement(statement, TABLE, options());
  assert.equal(plan.action, 'Scan');
  assert.equal(plan.request.IndexName, 'byStatus');
  assert.equal(plan.request.FilterExpression, '#n0 >= :v0 OR (begins_with(#n1, :v1) AND attribute_type(#n2, :v2))');
  assert.deepEqual(plan.request.ExpressionAttributeValues, { ':v0': { N: '2' }, ':v1': { S: 'x' }, ':v2': { S: 'NULL' } });
});

test('translate: nested projections are read whole and flattened under their last name', () => {
  const { statement } = parseStatement(`SELECT a.b[1], c FROM orders WHERE pk = 'x'`);
  const plan = translateStatement(statement, TABLE, options());
  assert.equal(plan.request.ProjectionExpression, '#n0, #n1');
  assert.deepEqual('flatten' in plan && plan.flatten, [['a', 'b', 1], ['c']]);
  assert.equal(flattenedName(['a', 'b', 1, 0]), 'b[1][0]');
  assert.equal(
    messageOf(() => translateStatement(parseStatement('SELECT a.b, a FROM orders').statement, TABLE, options())),
    'Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]',
  );
  assert.equal(
    messageOf(() => translateStatement(parseStatement('SELECT pk.x FROM orders').statement, TABLE, options())),
    "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: pk",
  );
});

test('translate: INSERT is a PutItem that fails when the item exists', () => {
  const plan = translateStatement(parseStatement(`INSERT INTO orders VALUE {'pk': 'a', 'sk': 1, 'v': 'x'}`).statement, TABLE, options());
  assert.equal(plan.action, 'PutItem');
  assert.deepEqual(plan.request, {
    TableName: 'orders',
    Item: { pk: { S: 'a' }, sk: { N: '1' }, v: { S: 'x' } },
    ConditionExpression: 'attribute_not_exists(#n0)',
    ExpressionAttributeNames: { '#n0': 'pk' },
  });
  assert.equal(messageOf(() => translateStatement(parseStatement(`INSERT INTO orders VALUE {'pk': 'a'}`).statement, TABLE, options())), 'Key attribute should be present in the item: Key sk');
  assert.equal(
    messageOf(() => translateStatement(parseStatement(`INSERT INTO orders VALUE {'pk': 1, 'sk': 1}`).statement, TABLE, options())),
    "Key attribute's data type should match its data type in table's schema: Key pk",
  );
});

test('translate: UPDATE needs the full key, requires the item, and maps set_add/set_delete to ADD/DELETE', () => {
  const src = `UPDATE orders SET n = n + 1, tags = set_add(tags, <<'x'>>) REMOVE old SET gone = set_delete(gone, <<1>>) WHERE pk = 'a' AND sk = 2 AND n < 5 RETURNING ALL NEW *`;
  const plan = translateStatement(parseStatement(src).statement, TABLE, options());
  assert.equal(plan.action, 'UpdateItem');
  assert.deepEqual(plan.request.Key, { pk: { S: 'a' }, sk: { N: '2' } });
  assert.equal(plan.request.UpdateExpression, 'SET #n0 = #n0 + :v0 REMOVE #n2 ADD #n1 :v1 DELETE #n3 :v2');
  assert.equal(plan.request.ConditionExpression, '(attribute_exists(#n4)) AND (#n0 < :v3)');
  assert.equal(plan.request.ReturnValues, 'ALL_NEW');
  const mandatory = 'Where clause does not contain a mandatory equality on all key attributes';
  assert.equal(messageOf(() => translateStatement(parseStatement(`UPDATE orders SET a = 1 WHERE pk = 'a'`).statement, TABLE, options())), mandatory);
  assert.equal(messageOf(() => translateStatement(parseStatement(`DELETE FROM orders WHERE pk = 'a' OR sk = 1`).statement, TABLE, options())), mandatory);
  assert.equal(
    messageOf(() => translateStatement(parseStatement(`DELETE FROM orders WHERE pk = 'a' AND sk = 1 AND sk = 2`).statement, TABLE, options())),
    'Multiple conditions on same key sk. Only single item Update/Insert/Delete are supported',
  );
});

test('translate: a batch read names one item by its full key', () => {
  const plan = translateBatchRead(parseStatement(`SELECT * FROM orders WHERE sk = 1 AND pk = ?`).statement as PqSelect, TABLE, options([{ S: 'k' }]));
  assert.deepEqual(plan, { action: 'GetItem', request: { TableName: 'orders', Key: { pk: { S: 'k' }, sk: { N: '1' } } } });
  assert.equal(
    messageOf(() => translateBatchRead(parseStatement(`SELECT * FROM orders WHERE pk = 'a' AND sk = 1 AND x = 2`).statement as PqSelect, TABLE, options())),
    'Only single item select is supported',
  );
});

test('parser and translate: EXISTS is a ConditionCheck on one item that must exist and meet the rest of the WHERE', () => {
  const parsed = parseStatement(`exists(SELECT v FROM orders WHERE sk = ? AND pk = 'a' AND v > 1 AND sk <> 3 ORDER BY sk)`);
  assert.equal(parsed.parameterCount, 1);
  const exists = parsed.statement as PqExists;
  assert.equal(exists.kind, 'exists');
  assert.equal(exists.table, 'orders');
  assert.equal(exists.supported, true);
  assert.deepEqual(translateExists(exists, TABLE, options([{ N: '2' }])), {
    action: 'ConditionCheck',
    request: {
      TableName: 'orders',
      Key: { pk: { S: 'a' }, sk: { N: '2' } },
      ConditionExpression: '(attribute_exists(#n0)) AND (#n1 > :v0) AND (#n2 <> :v1)',
      ExpressionAttributeNames: { '#n0': 'pk', '#n1': 'v', '#n2': 'sk' },
      ExpressionAttributeValues: { ':v0': { N: '1' }, ':v1': { N: '3' } },
    },
  });
  assert.ok(startsWithOperation(`EXISTS(SELECT * FROM t WHERE pk = 1 AND v = 1)`));
  assert.ok(startsWithOperation(`not exists(SELECT * FROM t WHERE pk = 1 AND v = 1)`));
  // NOT EXISTS and EXISTS inside a larger condition parse, but DynamoDB refuses them in transactions.
  for (const src of [`NOT EXISTS(SELECT * FROM orders WHERE pk = 'a' AND sk = 1 AND v = 1)`, `EXISTS(SELECT * FROM orders WHERE pk = 'a' AND sk = 1 AND v = 1) AND 1 = 1`]) {
    const e = parseStatement(src).statement as PqExists;
    assert.equal(e.supported, false);
    assert.equal(messageOf(() => translateExists(e, TABLE, options())), 'Unsupported operation in transaction.');
  }
  const shape = 'EXISTS() must contain a single item read with additional condition';
  for (const where of [`pk = 'a' AND sk = 1`, `pk = 'a' AND v = 1`, `pk = 'a' OR sk = 1`]) {
    assert.equal(messageOf(() => translateExists(parseStatement(`EXISTS(SELECT * FROM orders WHERE ${where})`).statement as PqExists, TABLE, options())), shape);
  }
  assert.equal(
    messageOf(() => translateExists(parseStatement(`EXISTS(SELECT * FROM orders.byStatus WHERE pk = 'a' AND sk = 1 AND v = 1)`).statement as PqExists, TABLE, options())),
    'Operations on indices are not supported in transactions',
  );
  // Outside a transaction EXISTS is no statement at all.
  assert.equal(
    messageOf(() => translateStatement(parseStatement(`EXISTS(SELECT * FROM orders WHERE pk = 'a' AND sk = 1 AND v = 1)`).statement, TABLE, options())),
    'EXISTS can only be used in ExecuteTransaction write requests.',
  );
  assert.match(messageOf(() => parseStatement(`EXISTS(UPDATE orders SET v = 1 WHERE pk = 'a')`)), /^Statement wasn't well formed/);
  assert.match(messageOf(() => parseStatement(`EXISTS(SELECT * FROM orders WHERE pk = 'a' AND sk = 1 AND v = 1`)), /^Statement wasn't well formed/);
});

test('translate: SELECT with the hash key IN a list, or equal to one value OR another, is one Query per value', () => {
  const plan = translateStatement(
    parseStatement(`SELECT * FROM orders WHERE pk IN ['c', ?, 'a', 'c', 7] AND sk > 1 AND qty < 3`).statement,
    TABLE,
    options([{ S: 'b' }]),
  );
  assert.equal(plan.action, 'Query');
  assert.equal(plan.request.KeyConditionExpression, '#n0 = :v0 AND #n1 > :v1');
  assert.equal(plan.request.FilterExpression, '#n2 < :v2');
  // Distinct values of the key's type, in key order; the request is written for the first.
  assert.deepEqual('each' in plan && plan.each, { name: 'pk', ref: ':v0', values: [{ S: 'a' }, { S: 'b' }, { S: 'c' }] });
  assert.deepEqual((plan.request.ExpressionAttributeValues as Record<string, unknown>)[':v0'], { S: 'a' });

  const or = translateStatement(parseStatement(`SELECT * FROM orders WHERE (pk = 'z' OR pk = 'y') OR 'x' = pk`).statement, TABLE, options());
  assert.equal(or.action, 'Query');
  assert.deepEqual('each' in or && or.each?.values, [{ S: 'x' }, { S: 'y' }, { S: 'z' }]);
  // On an index, its hash key; ORDER BY is allowed as with an equality.
  const ix = translateStatement(parseStatement(`SELECT * FROM orders.byStatus WHERE status IN ['open', 'shut'] ORDER BY status`).statement, TABLE, options());
  assert.equal(ix.action, 'Query');
  assert.deepEqual('each' in ix && ix.each?.values, [{ S: 'open' }, { S: 'shut' }]);

  // Anything else on the hash key, or an OR with another attribute, stays a Scan.
  for (const where of [`pk IN ['a'] OR qty = 1`, `pk = 'a' OR sk = 1`, `pk IN ['a', 'b'] AND pk <> 'b'`, `pk IN [qty, 'a']`]) {
    assert.equal(translateStatement(parseStatement(`SELECT * FROM orders WHERE ${where}`).statement, TABLE, options()).action, 'Scan', where);
  }
  assert.equal(
    messageOf(() => translateStatement(parseStatement(`SELECT * FROM orders WHERE pk IN ['', 'a']`).statement, TABLE, options())),
    'One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk',
  );
  const many = Array.from({ length: 101 }, (_, i) => `'k${i}'`).join(', ');
  assert.equal(
    messageOf(() => translateStatement(parseStatement(`SELECT * FROM orders WHERE pk IN [${many}]`).statement, TABLE, options())),
    'The IN operator is provided with too many operands; number of operands: 101',
  );
});

test('translate: SELECT with the sort key IN a list beside the hash key is one read per key', () => {
  const both = translateStatement(parseStatement(`SELECT * FROM orders WHERE pk IN ['c', 'a'] AND sk IN [3, ?, 1, 3, 'x'] AND qty < 3`).statement, TABLE, options([{ N: '2' }]));
  assert.equal(both.action, 'Query');
  assert.equal(both.request.KeyConditionExpression, '#n0 = :v0 AND #n1 = :v1');
  assert.equal(both.request.FilterExpression, '#n2 < :v2');
  // Distinct values of each key's type, in key order; the request is written for the first pair.
  assert.deepEqual('each' in both && both.each, {
    name: 'pk', ref: ':v0', values: [{ S: 'a' }, { S: 'c' }], sort: { name: 'sk', ref: ':v1', values: [{ N: '1' }, { N: '2' }, { N: '3' }] },
  });
  const eq = translateStatement(parseStatement(`SELECT * FROM orders WHERE pk = 'a' AND (sk = 2 OR sk = 1)`).statement, TABLE, options());
  assert.equal(eq.action, 'Query');
  assert.deepEqual('each' in eq && eq.each, { name: 'pk', ref: ':v0', values: [{ S: 'a' }], sort: { name: 'sk', ref: ':v1', values: [{ N: '1' }, { N: '2' }] } });
  // A second condition on the sort key, or a list that is not of values, stays a Scan.
  for (const where of [`pk IN ['a'] AND sk IN [1, 2] AND sk > 1`, `pk = 'a' AND sk IN [1, qty]`, `pk = 'a' AND sk IN [1] OR qty = 2`]) {
    assert.equal(translateStatement(parseStatement(`SELECT * FROM orders WHERE ${where}`).statement, TABLE, options()).action, 'Scan', where);
  }
  const many = Array.from({ length: 101 }, (_, i) => String(i)).join(', ');
  assert.equal(
    messageOf(() => translateStatement(parseStatement(`SELECT * FROM orders WHERE pk = 'a' AND sk IN [${many}]`).statement, TABLE, options())),
    'The IN operator is provided with too many operands; number of operands: 101',
  );
});

test('translate: a SELECT on an index with a multi-attribute key is refused, as DynamoDB Local 3.3.1 does', () => {
  const table: PqTable = {
    ...TABLE,
    indexes: [...TABLE.indexes, { name: 'byRegion', key: { hash: { name: 'tenant', type: 'S' }, range: { name: 'day', type: 'N' } }, composite: true }],
  };
  const composite = 'PartiQL statements cannot be executed on tables with composite HASH keys or composite RANGE keys.';
  for (const src of [
    `SELECT * FROM "orders"."byRegion" WHERE tenant = 'a' AND region = 'eu'`,
    `SELECT * FROM "orders"."byRegion" WHERE tenant = 'a' AND region = 'eu' AND day = 1 AND hour > 2`,
    `SELECT * FROM "orders"."byRegion" WHERE tenant = 'a'`,
    `SELECT * FROM "orders"."byRegion"`,
    `SELECT * FROM "orders"."byRegion" WHERE tenant = 'a' ORDER BY day`,
  ]) {
    assert.equal(messageOf(() => translateStatement(parseStatement(src).statement, table, options())), composite, src);
  }
  assert.equal(
    messageOf(() => translateStatement(parseStatement(`SELECT * FROM "orders"."byRegion" ORDER BY day`).statement, table, options())),
    'Must have WHERE clause in the statement when using ORDER BY clause.',
  );
  // The table itself and its other indexes are read as before.
  assert.equal(translateStatement(parseStatement(`SELECT * FROM orders WHERE pk = 'a'`).statement, table, options()).action, 'Query');
  assert.equal(translateStatement(parseStatement(`SELECT * FROM "orders"."byStatus" WHERE status = 'a'`).statement, table, options()).action, 'Query');
});
