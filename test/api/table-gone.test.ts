// A table dropped by another server under this one's cached catalog entry: storage says so with
// a TableGoneError (not a driver error), and the API answers as DynamoDB would, never with a 500.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DeleteTableCommand, GetItemCommand, PutItemCommand, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { translators } from '../../translators/index.js';
import { TableGoneError, storageError, unpreparedTable } from '../../src/storage/errors.js';
import { Catalog } from '../../src/storage/catalog.js';
import { tokenRangeItems, MIN_TOKEN, MAX_TOKEN } from '../../src/storage/range-reader.js';
import { tableHandle } from '../../src/storage/table-handle.js';
import { createPkTable, errorOf, startTestServer, type TestServer } from '../helpers/server.js';

const KEYSPACE = 'test_table_gone';

describe('a table dropped by another server', () => {
  let t: TestServer;
  let other: TestServer;
  before(async () => {
    t = await startTestServer(KEYSPACE);
    other = await startTestServer(KEYSPACE);
  });
  after(async () => {
    other?.client.destroy();
    await other?.server.close(); // not other.close(): the keyspace is t's
    await t?.close();
  });

  test('storage fails a stale handle with TableGoneError, on point reads, writes and range reads', async () => {
    await createPkTable(t.client, 'stale');
    const entry = (await new Catalog(t.server.session).get('stale'))!;
    const handle = tableHandle(translators, entry);
    await other.client.send(new DeleteTableCommand({ TableName: 'stale' }));
    const read = await t.server.store.read(handle, { pk: { S: 'a' } }, true).then(() => undefined, (e: unknown) => e);
    assert.ok(read instanceof TableGoneError, `read: ${String(read)}`);
    const write = await t.server.store.putBlind(handle, { pk: { S: 'a' } }).then(() => undefined, (e: unknown) => e);
    assert.ok(write instanceof TableGoneError, `write: ${String(write)}`);
    const range = tokenRangeItems(t.server.session, handle, MIN_TOKEN, MAX_TOKEN, undefined, t.server.session.consistency.strong, 10);
    const scanned = await range.next().then(() => undefined, (e: unknown) => e);
    assert.ok(scanned instanceof TableGoneError, `range read: ${String(scanned)}`);
  });

  // Statements prepared on the dropped table too (GetItem and PutItem ran here before the drop).
  test('requests on a table deleted elsewhere get ResourceNotFoundException', async () => {
    await createPkTable(t.client, 'dropped');
    await t.client.send(new PutItemCommand({ TableName: 'dropped', Item: { pk: { S: 'old' } } }));
    assert.ok((await t.client.send(new GetItemCommand({ TableName: 'dropped', Key: { pk: { S: 'old' } } }))).Item); // cached here
    await other.client.send(new DeleteTableCommand({ TableName: 'dropped' }));
    for (const request of [
      () => t.client.send(new GetItemCommand({ TableName: 'dropped', Key: { pk: { S: 'old' } } })),
      () => t.client.send(new PutItemCommand({ TableName: 'dropped', Item: { pk: { S: 'x' } } })),
      () => t.client.send(new QueryCommand({ TableName: 'dropped', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'old' } } })),
      () => t.client.send(new ScanCommand({ TableName: 'dropped' })),
    ]) {
      const e = await errorOf(request);
      assert.equal(e.name, 'ResourceNotFoundException', e.message);
      assert.equal(e.$metadata?.httpStatusCode, 400);
    }
  });

  test('a table deleted and made again elsewhere is served', async () => {
    await createPkTable(t.client, 'remade');
    await t.client.send(new PutItemCommand({ TableName: 'remade', Item: { pk: { S: 'old' } } }));
    assert.ok((await t.client.send(new GetItemCommand({ TableName: 'remade', Key: { pk: { S: 'old' } } }))).Item); // cached here
    await other.client.send(new DeleteTableCommand({ TableName: 'remade' }));
    await createPkTable(other.client, 'remade');
    await other.client.send(new PutItemCommand({ TableName: 'remade', Item: { pk: { S: 'new' } } }));
    const got = await t.client.send(new GetItemCommand({ TableName: 'remade', Key: { pk: { S: 'new' } }, ConsistentRead: true }));
    assert.deepEqual(got.Item, { pk: { S: 'new' } });
    await t.client.send(new PutItemCommand({ TableName: 'remade', Item: { pk: { S: 'again' } } }));
    const scan = await t.client.send(new ScanCommand({ TableName: 'remade', ConsistentRead: true }));
    assert.deepEqual(scan.Items?.map((i) => i.pk?.S).sort(), ['again', 'new']);
  });
});

describe('storage errors', () => {
  test("Cassandra's missing-table answers become TableGoneError; other errors pass unchanged", () => {
    const unconfigured = Object.assign(new Error('unconfigured table t_x_0123'), { code: 0x2200 });
    const gone = storageError(unconfigured);
    assert.ok(gone instanceof TableGoneError);
    assert.equal((gone as TableGoneError).cause, unconfigured);
    const missing = Object.assign(new Error('Table ks.t_y does not exist'), { code: 0x2200 });
    assert.ok(storageError(missing) instanceof TableGoneError);
    const invalid = Object.assign(new Error('Invalid STRING constant'), { code: 0x2200 });
    assert.equal(storageError(invalid), invalid);
    const timeout = Object.assign(new Error('unconfigured table? no: a timeout'), { code: 0x1100 });
    assert.equal(storageError(timeout), timeout);
    // A statement prepared before the drop: UNPREPARED from every host names the table to look up.
    const unprepared = Object.assign(new Error('Prepared query with ID 01 not found'), { code: 0x2500 });
    const reprepare = Object.assign(new Error('All host(s) tried for query failed'), { innerErrors: { 'h1:9042': unprepared, 'h2:9042': unprepared } });
    assert.deepEqual(unpreparedTable(reprepare, 'SELECT item FROM "ks"."t_a""b" WHERE pk = ?'), { keyspace: 'ks', table: 't_a"b' });
    assert.deepEqual(unpreparedTable(reprepare, 'INSERT INTO "ks"."t" (pk) VALUES (?)'), { keyspace: 'ks', table: 't' });
    const mixed = Object.assign(new Error('All host(s) tried for query failed'), { innerErrors: { 'h1:9042': unprepared, 'h2:9042': timeout } });
    assert.equal(unpreparedTable(mixed, 'SELECT item FROM "ks"."t"'), undefined, 'one host timing out is not a dropped table');
    assert.equal(unpreparedTable(Object.assign(new Error('none'), { innerErrors: {} }), 'SELECT item FROM "ks"."t"'), undefined);
  });
});
