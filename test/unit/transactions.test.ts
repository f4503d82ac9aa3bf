// Pure parts of transactions: capacity doubling, DynamoDB's cancellation message and reasons,
// intent expiry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canceledError, doubled } from '../../src/actions/transact-common.js';
import { conditionalCheckFailed, transactionConflict, validation } from '../../src/dynamo/errors.js';
import { LOCK_TIMEOUT_MS, lockExpired } from '../../src/storage/transactions/locks.js';
import { TransactionCancelled } from '../../src/storage/transactions/index.js';
import { TransactionRecords } from '../../src/storage/transactions/records.js';

test('transactional capacity is twice the single-item units, table and indexes alike', () => {
  assert.deepEqual(
    doubled({ TableName: 't', CapacityUnits: 3, Table: { CapacityUnits: 1 }, GlobalSecondaryIndexes: { g: { CapacityUnits: 2 } } }),
    { TableName: 't', CapacityUnits: 6, Table: { CapacityUnits: 2 }, GlobalSecondaryIndexes: { g: { CapacityUnits: 4 } } },
  );
});

test('cancellation reasons in order, with DynamoDB codes and message', () => {
  const e = canceledError(new TransactionCancelled([undefined, conditionalCheckFailed({ pk: { S: 'x' } }), validation('bad'), transactionConflict()]));
  assert.equal(e.name, 'TransactionCanceledException');
  assert.equal(e.message, 'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, ValidationError, TransactionConflict]');
  assert.deepEqual(e.extra?.CancellationReasons, [
    { Code: 'None' },
    { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: { pk: { S: 'x' } } },
    { Code: 'ValidationError', Message: 'bad' },
    { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' },
  ]);
});

test('an intent expires after the lock timeout, counted from its transaction id', () => {
  const id = TransactionRecords.newId();
  const at = TransactionRecords.startOf(id);
  assert.ok(Math.abs(at - Date.now()) < 1000);
  assert.equal(lockExpired({ id, op: 'put', at }, LOCK_TIMEOUT_MS, at + LOCK_TIMEOUT_MS), false);
  assert.equal(lockExpired({ id, op: 'put', at }, LOCK_TIMEOUT_MS, at + LOCK_TIMEOUT_MS + 1), true);
  // A configured timeout (serve's --transaction-lock-timeout-ms) replaces the default.
  assert.equal(lockExpired({ id, op: 'put', at }, 200, at + 201), true);
  assert.equal(lockExpired({ id, op: 'put', at }, 60_000, at + LOCK_TIMEOUT_MS + 1), false);
});
