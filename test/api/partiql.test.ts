// PartiQL through the AWS SDK v3 (ExecuteStatement, BatchExecuteStatement; client and
// DocumentClient) against the real server over real Cassandra, for each translator.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BatchExecuteStatementCommand, CreateTableCommand, ExecuteStatementCommand, ExecuteTransactionCommand } from '@aws-sdk/client-dynamodb';
import { ExecuteStatementCommand as DocExecuteStatementCommand } from '@aws-sdk/lib-dynamodb';
import { TEST_TRANSLATORS, errorOf, rawRequest, startTestServer, type TestServer } from '../helpers/server.js';

for (const translator of TEST_TRANSLATORS) {
  describe(`PartiQL (${translator})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(`t_partiql_${translator}`, { translator });
      await t.client.send(
        new CreateTableCommand({
          TableName: 'orders',
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'N' },
            { AttributeName: 'status', AttributeType: 'S' },
          ],
          GlobalSecondaryIndexes: [
            { IndexName: 'byStatus', KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } },
          ],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    });
    after(() => t?.close());

    const run = (Statement: string, Parameters?: any[], extra: Record<string, unknown> = {}) =>
      t.client.send(new ExecuteStatementCommand({ Statement, Parameters, ...extra }));

    test('INSERT, SELECT by key, nested projection, duplicate INSERT', async () => {
      await run(`INSERT INTO orders VALUE {'pk': 'c1', 'sk': 1, 'status': 'open', 'lines': [{'sku': 'a', 'n': 2}], 'tags': <<'x', 'y'>>}`);
      const got = await run(`SELECT * FROM orders WHERE pk = ? AND sk = ?`, [{ S: 'c1' }, { N: '1' }], { ConsistentRead: true });
      assert.deepEqual(got.Items, [
        { pk: { S: 'c1' }, sk: { N: '1' }, status: { S: 'open' }, lines: { L: [{ M: { sku: { S: 'a' }, n: { N: '2' } } }] }, tags: { SS: ['x', 'y'] } },
      ]);
      const projected = await run(`SELECT lines[0].sku, status FROM orders WHERE pk = 'c1'`);
      assert.deepEqual(projected.Items, [{ sku: { S: 'a' }, status: { S: 'open' } }]);
      const dup = await errorOf(() => run(`INSERT INTO orders VALUE {'pk': 'c1', 'sk': 1}`));
      assert.equal(dup.name, 'DuplicateItemException');
      assert.equal(dup.message, 'Duplicate primary key exists in table');
    });

    test('SELECT pages with Limit and NextToken, in sort key order either way', async () => {
      for (let i = 1; i <= 5; i++) await run(`INSERT INTO orders VALUE {'pk': 'p', 'sk': ?, 'status': 'paged'}`, [{ N: String(i) }]);
      const seen: string[] = [];
      let NextToken: string | undefined;
      do {
        const page = await run(`SELECT sk FROM orders WHERE pk = 'p' ORDER BY sk DESC`, undefined, { Limit: 2, NextToken });
        assert.ok(page.Items!.length <= 2);
        seen.push(...page.Items!.map((i) => i.sk!.N!));
        NextToken = page.NextToken;
      } while (NextToken);
      assert.deepEqual(seen, ['5', '4', '3', '2', '1']);
      const range = await run(`SELECT sk FROM orders WHERE pk = 'p' AND sk BETWEEN 2 AND 3`);
      assert.deepEqual(range.Items, [{ sk: { N: '2' } }, { sk: { N: '3' } }]);
      const bad = await errorOf(() => run(`SELECT * FROM orders`, undefined, { NextToken: 'not-a-token' }));
      assert.equal(bad.message, 'Invalid NextToken');
    });

    test('SELECT with the hash key IN a list or in ORs: per-key Queries in key order, paged by Limit across keys', async () => {
      for (const pk of ['in-a', 'in-b', 'in-c']) {
        for (let sk = 1; sk <= 3; sk++) await run(`INSERT INTO orders VALUE {'pk': ?, 'sk': ?, 'status': 'in', 'q': ?}`, [{ S: pk }, { N: String(sk) }, { N: String(sk % 2) }]);
      }
      const keys = (items: Record<string, any>[] | undefined) => items!.map((i) => `${i.pk.S}/${i.sk.N}`);
      const all = await run(`SELECT pk, sk FROM orders WHERE pk IN ['in-c', 'in-a', 'nowhere', 'in-c', 7]`, undefined, { ConsistentRead: true });
      assert.deepEqual(keys(all.Items), ['in-a/1', 'in-a/2', 'in-a/3', 'in-c/1', 'in-c/2', 'in-c/3']);
      const ors = await run(`SELECT pk, sk FROM orders WHERE (pk = 'in-c' OR pk = ?) AND sk >= 2 AND q = 0 ORDER BY sk DESC`, [{ S: 'in-b' }]);
      assert.deepEqual(keys(ors.Items), ['in-b/2', 'in-c/2']);

      // Limit counts the items read, whichever key they belong to; NextToken resumes in the key it stopped in.
      for (const limit of [1, 2, 4]) {
        const pages: string[][] = [];
        let NextToken: string | undefined;
        do {
          const page = await run(`SELECT pk, sk FROM orders WHERE pk IN ['in-b', 'in-a', 'in-c'] AND q = 1`, undefined, { Limit: limit, NextToken });
          pages.push(keys(page.Items));
          NextToken = page.NextToken;
        } while (NextToken && pages.length < 20);
        assert.deepEqual(pages.flat(), ['in-a/1', 'in-a/3', 'in-b/1', 'in-b/3', 'in-c/1', 'in-c/3'], `Limit ${limit}`);
        if (limit === 4) assert.deepEqual(pages[0], ['in-a/1', 'in-a/3', 'in-b/1'], 'a page reads 4 items: three match');
      }
      const empty = await run(`SELECT * FROM orders WHERE pk IN [1, 2]`);
      assert.deepEqual(empty.Items, []);
      const emptyKey = await errorOf(() => run(`SELECT * FROM orders WHERE pk IN ['', 'in-a']`));
      assert.equal(emptyKey.message, 'One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk');
    });

    test('SELECT with both keys IN lists: one read per key, in key order, paged by Limit across keys', async () => {
      // Written by the test above: in-a, in-b, in-c with sk 1..3, q = sk % 2.
      const keys = (items: Record<string, any>[] | undefined) => items!.map((i) => `${i.pk.S}/${i.sk.N}`);
      const statement = `SELECT pk, sk FROM orders WHERE pk IN ['in-c', 'in-a', 'nowhere'] AND sk IN [3, 1, 9, 'x']`;
      const all = await run(statement, undefined, { ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' });
      assert.deepEqual(keys(all.Items), ['in-a/1', 'in-a/3', 'in-c/1', 'in-c/3']);
      const eq = await run(`SELECT pk, sk FROM orders WHERE pk = ? AND (sk = 3 OR sk = 2) AND q = 1 ORDER BY sk DESC`, [{ S: 'in-b' }]);
      assert.deepEqual(keys(eq.Items), ['in-b/3']);
      const desc = await run(`SELECT pk, sk FROM orders WHERE pk IN ['in-c', 'in-a'] AND sk IN [1, 2] ORDER BY sk DESC`);
      assert.deepEqual(keys(desc.Items), ['in-a/2', 'in-a/1', 'in-c/2', 'in-c/1']);
      for (const limit of [1, 3]) {
        const pages: string[][] = [];
        let NextToken: string | undefined;
        do {
          const page = await run(statement, undefined, { Limit: limit, NextToken });
          pages.push(keys(page.Items));
          NextToken = page.NextToken;
        } while (NextToken && pages.length < 20);
        assert.deepEqual(pages.flat(), ['in-a/1', 'in-a/3', 'in-c/1', 'in-c/3'], `Limit ${limit}`);
        if (limit === 3) assert.deepEqual(pages[0], ['in-a/1', 'in-a/3', 'in-c/1']);
      }
    });

    test('SELECT on an index, and a Scan with a filter', async () => {
      const ix = await run(`SELECT pk, sk FROM "orders"."byStatus" WHERE status = 'paged'`);
      assert.equal(ix.Items!.length, 5);
      const scanned = await run(`SELECT pk FROM orders WHERE contains(tags, 'y') OR sk > 4`);
      assert.deepEqual(scanned.Items!.map((i) => i.pk!.S).sort(), ['c1', 'p']);
      const missing = await errorOf(() => run(`SELECT * FROM "orders"."nope" WHERE status = 'x'`));
      assert.equal(missing.message, 'The table does not have the specified index: nope');
    });

    test('UPDATE with SET/REMOVE, conditions and RETURNING; DELETE with a condition', async () => {
      await run(`INSERT INTO orders VALUE {'pk': 'u', 'sk': 1, 'n': 1, 'old': 'x', 'tags': <<'a'>>}`);
      const updated = await run(
        `UPDATE orders SET n = n + 5, tags = set_add(tags, <<'b'>>) REMOVE old WHERE pk = 'u' AND sk = 1 AND n = 1 RETURNING ALL NEW *`,
      );
      assert.deepEqual(updated.Items, [{ pk: { S: 'u' }, sk: { N: '1' }, n: { N: '6' }, tags: { SS: ['a', 'b'] } }]);
      const failed = await errorOf(() =>
        run(`UPDATE orders SET n = 0 WHERE pk = 'u' AND sk = 1 AND n = 1`, undefined, { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
      );
      assert.equal(failed.name, 'ConditionalCheckFailedException');
      assert.deepEqual((failed as any).Item, { pk: { S: 'u' }, sk: { N: '1' }, n: { N: '6' }, tags: { SS: ['a', 'b'] } });
      const absent = await errorOf(() => run(`UPDATE orders SET n = 0 WHERE pk = 'nobody' AND sk = 1`));
      assert.equal(absent.name, 'ConditionalCheckFailedException');
      const notAll = await errorOf(() => run(`DELETE FROM orders WHERE pk = 'u'`));
      assert.equal(notAll.message, 'Where clause does not contain a mandatory equality on all key attributes');
      assert.equal((await errorOf(() => run(`DELETE FROM orders WHERE pk = 'u' AND sk = 1 AND n = 1`))).name, 'ConditionalCheckFailedException');
      const deleted = await run(`DELETE FROM orders WHERE pk = 'u' AND sk = 1 AND n = 6 RETURNING ALL OLD *`);
      assert.equal(deleted.Items![0]!.n!.N, '6');
      assert.deepEqual((await run(`SELECT * FROM orders WHERE pk = 'u'`, undefined, { ConsistentRead: true })).Items, []);
    });

    test('DocumentClient: native values as parameters and results', async () => {
      await t.doc.send(new DocExecuteStatementCommand({ Statement: `INSERT INTO orders VALUE {'pk': ?, 'sk': ?, 'doc': ?}`, Parameters: ['d', 7, { a: [1, 'two'], b: true }] }));
      const out = await t.doc.send(new DocExecuteStatementCommand({ Statement: `SELECT * FROM orders WHERE pk = ? AND sk = ?`, Parameters: ['d', 7] }));
      assert.deepEqual(out.Items, [{ pk: 'd', sk: 7, doc: { a: [1, 'two'], b: true } }]);
    });

    test("errors: syntax, unsupported statements, missing tables, parameters: DynamoDB's 400s", async () => {
      const cases: [string, string, string][] = [
        ['SELEC * FROM orders', 'ValidationException', "Statement wasn't well formed, can't be processed: SELEC * FROM orders"],
        ['CREATE TABLE x', 'ValidationException', 'Unsupported operation: CreateTable'],
        ['SELECT * FROM nosuch', 'ResourceNotFoundException', 'Cannot do operations on a non-existent table'],
        ["SELECT * FROM orders WHERE pk = 1", 'ValidationException', "Key attribute's data type should match its data type in table's schema: Key pk"],
        ['SELECT * FROM orders WHERE pk = ?', 'ValidationException', "Number of parameters in request and statement don't match."],
        ['SELECT * FROM orders ORDER BY sk', 'ValidationException', 'Must have WHERE clause in the statement when using ORDER BY clause.'],
      ];
      for (const [statement, name, message] of cases) {
        const e = await errorOf(() => run(statement));
        assert.equal(e.name, name, statement);
        assert.equal(e.message, message, statement);
        assert.equal(e.$metadata?.httpStatusCode, 400);
      }
      const shape = await rawRequest(t.endpoint, 'ExecuteStatement', { Statement: 'SELECT * FROM orders', Limit: 0 });
      assert.equal(shape.status, 400);
      assert.match(shape.body.__type, /ValidationException$/);
    });

    test('BatchExecuteStatement: per-statement results and errors, and whole-batch rules', async () => {
      await run(`INSERT INTO orders VALUE {'pk': 'b', 'sk': 1, 'v': 1}`);
      const reads = await t.client.send(
        new BatchExecuteStatementCommand({
          Statements: [
            { Statement: `SELECT v FROM orders WHERE pk = ? AND sk = 1`, Parameters: [{ S: 'b' }] },
            { Statement: `SELECT * FROM orders WHERE pk = 'none' AND sk = 1` },
            { Statement: `SELECT * FROM nosuch WHERE pk = 'b'` },
            { Statement: `SELECT * FROM orders WHERE pk = 'b'` },
            { Statement: `DROP TABLE orders` },
          ],
        }),
      );
      assert.deepEqual(reads.Responses, [
        { TableName: 'orders', Item: { v: { N: '1' } } },
        { TableName: 'orders' },
        { Error: { Code: 'ResourceNotFound', Message: 'Cannot do operations on a non-existent table' } },
        { Error: { Code: 'ValidationError', Message: 'Only single item select is supported' } },
        { Error: { Code: 'ValidationError', Message: 'Invalid operation. Only select, insert, update and delete operations are valid' } },
      ]);
      const writes = await t.client.send(
        new BatchExecuteStatementCommand({
          Statements: [
            { Statement: `INSERT INTO orders VALUE {'pk': 'b', 'sk': 1}` },
            { Statement: `UPDATE orders SET v = 2 WHERE pk = 'b2' AND sk = 1` },
            { Statement: `INSERT INTO orders VALUE {'pk': 'b3', 'sk': 1}` },
            { Statement: `UPDATE orders SET v = 9 WHERE pk = 'b4' AND sk = 1 AND v = 3`, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' },
          ],
        }),
      );
      assert.deepEqual(writes.Responses, [
        { TableName: 'orders', Error: { Code: 'DuplicateItem', Message: 'Duplicate primary key exists in table' } },
        { TableName: 'orders', Error: { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' } },
        { TableName: 'orders' },
        { TableName: 'orders', Error: { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' } },
      ]);
      const mixed = await errorOf(() =>
        t.client.send(new BatchExecuteStatementCommand({ Statements: [{ Statement: `SELECT * FROM orders WHERE pk = 'b' AND sk = 1` }, { Statement: `DELETE FROM orders WHERE pk = 'x' AND sk = 1` }] })),
      );
      assert.equal(mixed.message, 'Read and write requests together in the same batch is not supported.');
      const dup = await errorOf(() =>
        t.client.send(
          new BatchExecuteStatementCommand({
            Statements: [{ Statement: `INSERT INTO orders VALUE {'pk': 'd9', 'sk': 1}` }, { Statement: `DELETE FROM orders WHERE pk = 'd9' AND sk = 1` }],
          }),
        ),
      );
      assert.equal(dup.message, 'Provided list of item keys contains duplicates');
      // Refused before anything ran.
      assert.deepEqual((await run(`SELECT * FROM orders WHERE pk = 'd9'`, undefined, { ConsistentRead: true })).Items, []);
    });

    test('ExecuteTransaction: all-or-nothing writes with cancellation reasons, transactional reads, tokens', async () => {
      const tx = (TransactStatements: { Statement: string; Parameters?: any[]; ReturnValuesOnConditionCheckFailure?: 'ALL_OLD' }[], ClientRequestToken?: string) =>
        t.client.send(new ExecuteTransactionCommand({ TransactStatements, ClientRequestToken }));
      await run(`INSERT INTO orders VALUE {'pk': 'acct', 'sk': 1, 'bal': 100}`);
      await run(`INSERT INTO orders VALUE {'pk': 'acct', 'sk': 2, 'bal': 0}`);
      const move = [
        { Statement: `UPDATE orders SET bal = bal - 30 WHERE pk = 'acct' AND sk = 1 AND bal >= 30` },
        { Statement: `UPDATE orders SET bal = bal + 30 WHERE pk = 'acct' AND sk = 2` },
        { Statement: `INSERT INTO orders VALUE {'pk': 'log', 'sk': ?, 'amount': 30}`, Parameters: [{ N: '1' }] },
      ];
      await tx(move, 'move-1');
      await tx(move, 'move-1'); // same token, same request: not applied again
      const read = await tx([
        { Statement: `SELECT bal FROM orders WHERE pk = 'acct' AND sk = 1` },
        { Statement: `SELECT bal FROM orders WHERE pk = 'acct' AND sk = 2` },
        { Statement: `SELECT * FROM orders WHERE pk = 'acct' AND sk = 3` },
      ]);
      assert.deepEqual(read.Responses, [{ Item: { bal: { N: '70' } } }, { Item: { bal: { N: '30' } } }, {}]);
      const canceled = await errorOf(() =>
        tx([
          { Statement: `INSERT INTO orders VALUE {'pk': 'log', 'sk': 1}` },
          { Statement: `UPDATE orders SET bal = 0 WHERE pk = 'acct' AND sk = 1 AND bal = 1`, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' },
          { Statement: `UPDATE orders SET bal = 0 WHERE pk = 'acct' AND sk = 2` },
        ]),
      );
      assert.equal(canceled.name, 'TransactionCanceledException');
      assert.equal(canceled.message, 'Transaction cancelled, please refer cancellation reasons for specific reasons [ValidationError, ConditionalCheckFailed, None]');
      assert.deepEqual((canceled as any).CancellationReasons, [
        { Code: 'ValidationError', Message: 'Duplicate primary key exists in table' },
        { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: { pk: { S: 'acct' }, sk: { N: '1' }, bal: { N: '70' } } },
        { Code: 'None' },
      ]);
      const after = await run(`SELECT bal FROM orders WHERE pk = 'acct'`, undefined, { ConsistentRead: true });
      assert.deepEqual(after.Items, [{ bal: { N: '70' } }, { bal: { N: '30' } }]);
      const mixed = await errorOf(() => tx([{ Statement: `SELECT * FROM orders WHERE pk = 'acct' AND sk = 1` }, { Statement: `DELETE FROM orders WHERE pk = 'log' AND sk = 1` }]));
      assert.equal(mixed.message, 'ExecuteTransaction API does not support both read and write operations in the same request.');
      const notKey = await errorOf(() => tx([{ Statement: `SELECT * FROM orders WHERE pk = 'acct'` }]));
      assert.equal(notKey.message, 'Validation failed in TransactStatements[0]: Select statements within ExecuteTransaction must specify the primary key in the where clause.');
      // A read of an index, even with the table's full key or of a missing table, as DynamoDB Local 3.3.1 answers.
      for (const statement of [`SELECT * FROM "orders"."byStatus" WHERE pk = 'acct' AND sk = 1`, `SELECT * FROM "nothing"."byStatus" WHERE status = 'open'`]) {
        const onIndex = await errorOf(() => tx([{ Statement: `SELECT * FROM orders WHERE pk = 'acct' AND sk = 1` }, { Statement: statement }]));
        assert.equal(onIndex.name, 'ValidationException', statement);
        assert.equal(onIndex.message, 'Validation failed in TransactStatements[1]: Reads on indices are not supported within transactions.', statement);
      }
      const returning = await errorOf(() => tx([{ Statement: `UPDATE orders SET bal = 1 WHERE pk = 'acct' AND sk = 1 RETURNING ALL NEW *` }]));
      assert.equal(returning.message, 'Validation failed in TransactStatements[0]: RETURNING clause is not supported in ExecuteTransaction.');
    });

    test('ExecuteTransaction: EXISTS checks an item as a ConditionCheck; outside a write transaction it is refused', async () => {
      type St = { Statement: string; Parameters?: any[] };
      const tx = (TransactStatements: St[]) => t.client.send(new ExecuteTransactionCommand({ TransactStatements }));
      await run(`INSERT INTO orders VALUE {'pk': 'guard', 'sk': 1, 'open': true}`);
      await run(`INSERT INTO orders VALUE {'pk': 'counter', 'sk': 1, 'n': 0}`);
      const bump: St = { Statement: `UPDATE orders SET n = n + 1 WHERE pk = 'counter' AND sk = 1` };
      const n = async () => (await run(`SELECT n FROM orders WHERE pk = 'counter' AND sk = 1`, undefined, { ConsistentRead: true })).Items?.[0]?.n?.N;

      await tx([{ Statement: `EXISTS(SELECT * FROM orders WHERE pk = ? AND sk = 1 AND "open" = ?)`, Parameters: [{ S: 'guard' }, { BOOL: true }] }, bump]);
      assert.equal(await n(), '1');
      for (const check of [`pk = 'guard' AND sk = 1 AND "open" = false`, `pk = 'absent' AND sk = 1 AND attribute_not_exists(v)`]) {
        const e = await errorOf(() => tx([{ Statement: `EXISTS(SELECT * FROM orders WHERE ${check})` }, bump]));
        assert.equal(e.name, 'TransactionCanceledException');
        assert.deepEqual((e as any).CancellationReasons, [{ Code: 'ConditionalCheckFailed', Message: 'The conditional request failed.' }, { Code: 'None' }]);
        assert.equal(await n(), '1', 'a failed EXISTS cancels the whole transaction');
      }

      const messageOf = async (f: () => Promise<unknown>) => {
        const e = await errorOf(f);
        assert.equal(e.$metadata?.httpStatusCode, 400);
        return `${e.name}: ${e.message}`;
      };
      assert.equal(
        await messageOf(() => tx([{ Statement: `NOT EXISTS(SELECT * FROM orders WHERE pk = 'guard' AND sk = 1 AND "open" = true)` }, bump])),
        'ValidationException: Unsupported operation in transaction.',
      );
      assert.equal(
        await messageOf(() => tx([bump, { Statement: `EXISTS(SELECT * FROM orders WHERE pk = 'guard' AND sk = 1)` }])),
        'ValidationException: Validation failed in TransactStatements[1]: EXISTS() must contain a single item read with additional condition',
      );
      assert.equal(
        await messageOf(() => tx([{ Statement: `EXISTS(SELECT * FROM orders WHERE pk = 'guard' AND sk = 1 AND "open" = true)` }, { Statement: `SELECT * FROM orders WHERE pk = 'counter' AND sk = 1` }])),
        'ValidationException: ExecuteTransaction API does not support both read and write operations in the same request.',
      );
      assert.equal(
        await messageOf(() => tx([{ Statement: `EXISTS(SELECT * FROM nowhere WHERE pk = 'guard' AND v = 1)` }])),
        'ResourceNotFoundException: Requested resource not found',
      );
      assert.equal(
        await messageOf(() => run(`EXISTS(SELECT * FROM orders WHERE pk = 'guard' AND sk = 1 AND "open" = true)`)),
        'ValidationException: EXISTS can only be used in ExecuteTransaction write requests.',
      );
      const batch = await t.client.send(
        new BatchExecuteStatementCommand({ Statements: [{ Statement: `EXISTS(SELECT * FROM orders WHERE pk = 'guard' AND sk = 1 AND "open" = true)` }] }),
      );
      assert.deepEqual(batch.Responses, [{ Error: { Code: 'ValidationError', Message: 'EXISTS can only be used in ExecuteTransaction write requests.' } }]);
      // A key of the wrong type cancels the transaction with that statement's ValidationError.
      const typed = await errorOf(() => tx([bump, { Statement: `EXISTS(SELECT * FROM orders WHERE pk = 1 AND sk = 1 AND "open" = true)` }]));
      assert.deepEqual((typed as any).CancellationReasons, [
        { Code: 'None' },
        { Code: 'ValidationError', Message: "Key attribute's data type should match its data type in table's schema: Key pk" },
      ]);
      assert.equal(await n(), '1');
    });

    test('concurrency: parallel UPDATE increments are all applied; parallel INSERTs of one key have one winner', async () => {
      await run(`INSERT INTO orders VALUE {'pk': 'ctr', 'sk': 0, 'n': 0}`);
      await Promise.all(Array.from({ length: 25 }, () => run(`UPDATE orders SET n = n + 1 WHERE pk = 'ctr' AND sk = 0`)));
      const [item] = (await run(`SELECT n FROM orders WHERE pk = 'ctr' AND sk = 0`, undefined, { ConsistentRead: true })).Items!;
      assert.equal(item!.n!.N, '25');
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => run(`INSERT INTO orders VALUE {'pk': 'once', 'sk': 0, 'who': ?}`, [{ N: String(i) }])));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as Error).name, 'DuplicateItemException');
    });

    test('an index with a multi-attribute key: every SELECT on it is refused, as DynamoDB Local 3.3.1 answers', async () => {
      await t.client.send(
        new CreateTableCommand({
          TableName: 'matches',
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [
            { AttributeName: 'id', AttributeType: 'S' },
            { AttributeName: 'tournament', AttributeType: 'S' },
            { AttributeName: 'region', AttributeType: 'S' },
            { AttributeName: 'round', AttributeType: 'N' },
            { AttributeName: 'bracket', AttributeType: 'S' },
          ],
          GlobalSecondaryIndexes: [
            {
              IndexName: 'byTournament',
              KeySchema: [
                { AttributeName: 'tournament', KeyType: 'HASH' },
                { AttributeName: 'region', KeyType: 'HASH' },
                { AttributeName: 'round', KeyType: 'RANGE' },
                { AttributeName: 'bracket', KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            },
          ],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      const item = `{'id': 'm1', 'tournament': 'w24', 'region': 'eu', 'round': 1, 'bracket': 'upper'}`;
      await run(`INSERT INTO matches VALUE ${item}`);
      const composite = 'PartiQL statements cannot be executed on tables with composite HASH keys or composite RANGE keys.';
      for (const statement of [
        `SELECT * FROM "matches"."byTournament" WHERE tournament = 'w24' AND region = 'eu'`,
        `SELECT * FROM "matches"."byTournament" WHERE tournament = 'w24' AND region = 'eu' AND round = 1 AND bracket > 'a'`,
        `SELECT * FROM "matches"."byTournament" WHERE tournament = 'w24'`,
        `SELECT id FROM "matches"."byTournament"`,
      ]) {
        const err = await errorOf(() => run(statement));
        assert.equal(err.name, 'ValidationException', statement);
        assert.equal(err.message, composite, statement);
      }
      const order = await errorOf(() => run(`SELECT * FROM "matches"."byTournament" ORDER BY round`));
      assert.equal(order.message, 'Must have WHERE clause in the statement when using ORDER BY clause.');
      // The table itself is read as before.
      const got = await run(`SELECT * FROM matches WHERE id = 'm1'`, undefined, { ConsistentRead: true });
      assert.deepEqual(got.Items, [{ id: { S: 'm1' }, tournament: { S: 'w24' }, region: { S: 'eu' }, round: { N: '1' }, bracket: { S: 'upper' } }]);
    });
  });
}
