// Background index work and shutdown: a server closed while a GSI backfill is under way stops
// cleanly. Before, the backfill woke after the driver had shut down and its failure was an
// unhandled promise rejection, which ends a Node process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CreateTableCommand, PutItemCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { startTestServer } from '../helpers/server.js';

test('closing the server during a GSI backfill leaves no unhandled failure behind', async () => {
  const t = await startTestServer('t_ix_maintenance');
  const unhandled: unknown[] = [];
  const record = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', record);
  try {
    await t.client.send(
      new CreateTableCommand({
        TableName: 'backfilled',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      }),
    );
    for (let i = 0; i < 20; i++) await t.client.send(new PutItemCommand({ TableName: 'backfilled', Item: { pk: { S: `k${i}` }, g: { S: `g${i % 3}` } } }));
    await t.client.send(
      new UpdateTableCommand({
        TableName: 'backfilled',
        AttributeDefinitions: [{ AttributeName: 'g', AttributeType: 'S' }],
        GlobalSecondaryIndexUpdates: [{ Create: { IndexName: 'by-g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } } }],
      }),
    );
  } finally {
    // The backfill is now waiting out its settle period; closing must end it, not strand it.
    const started = Date.now();
    await t.close();
    assert.ok(Date.now() - started < 5000, 'close waits for the backfill to stop, briefly');
    // The old backfill woke 3 s after it began and failed on the closed driver.
    await new Promise((r) => setTimeout(r, 4000));
    process.off('unhandledRejection', record);
  }
  assert.deepEqual(unhandled, []);
});
