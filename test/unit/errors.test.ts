// DynamoDB errors are answers, not faults: they carry no stack trace (src/dynamo/errors.ts), and
// building one leaves the process's stack trace limit as it was.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DynamoError, conditionalCheckFailed, validation } from '../../src/dynamo/errors.js';
import { TransactionRecords } from '../../src/storage/transactions/records.js';

test('a DynamoError has its type, name and message but no stack frames', () => {
  const before = Error.stackTraceLimit;
  const e = validation('One or more parameter values were invalid');
  assert.ok(e instanceof DynamoError && e instanceof Error);
  assert.equal(e.name, 'ValidationException');
  assert.equal(e.message, 'One or more parameter values were invalid');
  assert.doesNotMatch(e.stack ?? '', /\n\s+at /);
  assert.equal(Error.stackTraceLimit, before);
  assert.match(new Error('a fault').stack ?? '', /\n\s+at /);
  assert.equal(conditionalCheckFailed().statusCode, 400);
});

test('transaction ids are distinct time UUIDs that give back their start time', () => {
  const started = Date.now();
  const ids = Array.from({ length: 5000 }, () => TransactionRecords.newId());
  assert.equal(new Set(ids).size, ids.length);
  for (const id of [ids[0], ids[4999]]) {
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const at = TransactionRecords.startOf(id);
    assert.ok(at >= started - 1 && at <= Date.now(), `${at} within the test's time`);
  }
});
