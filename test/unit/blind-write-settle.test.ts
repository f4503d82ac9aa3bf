// A blind write under `always` whose coordinator is lost (src/storage/item-store.ts, settledBlind):
// the serial read that follows decides success or a retryable InternalServerError; under other
// isolation modes the driver's error is not reinterpreted. A fake translator stands in for Cassandra.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import cassandra from 'cassandra-driver';
import { DynamoError } from '../../src/dynamo/errors.js';
import type { Item } from '../../src/dynamo/types.js';
import { ItemStore, type TableHandle } from '../../src/storage/item-store.js';
import type { CqlSession, Long } from '../../src/storage/session.js';
import { StoredItem, type Translator } from '../../src/storage/translator.js';
import type { WriteIsolation } from '../../src/config.js';

const SERIAL = 9;
const session = { keyspace: 'ks', consistency: { eventual: 1, strong: 6, write: 6, serial: SERIAL } } as unknown as CqlSession;

/** The driver's error when the coordinator's connection closes after the request was sent. */
function lostCoordinator(): Error {
  return Object.assign(new Error('Socket was closed'), { isSocketError: true, requestNotWritten: false });
}

/**
 * A translator whose writes fail as `fail` says, recording what they wrote; the serial read
 * returns what `landed` says the row holds afterwards (given the version the write carried).
 */
function fakeTable(
  isolation: WriteIsolation,
  fail: () => Error | undefined,
  landed: (version: Long | undefined) => StoredItem | undefined,
  readFails: () => Error | undefined = () => undefined,
) {
  let written: Long | undefined;
  const reads: number[] = [];
  const translator = {
    put: async (_s: unknown, _l: unknown, _item: Item, _g: unknown, version: Long) => {
      written = version;
      const e = fail();
      if (e) throw e;
      return true;
    },
    delete: async () => {
      const e = fail();
      if (e) throw e;
      return true;
    },
    read: async (_s: unknown, _l: unknown, _k: Item, consistency: number) => {
      reads.push(consistency);
      const e = readFails();
      if (e) throw e;
      return landed(written);
    },
  } as unknown as Translator;
  const h = {
    entry: { definition: { id: 't1', name: 't', key: { hash: { name: 'pk', type: 'S' } }, indexes: [] }, layout: {} },
    translator,
    isolation,
  } as unknown as TableHandle;
  return { h, reads };
}

const item = { pk: { S: 'a' }, v: { S: '1' } };
const store = new ItemStore(session);
const isRetryable500 = (e: unknown) => e instanceof DynamoError && e.name === 'InternalServerError' && e.statusCode === 500 && /unknown/.test(e.message);

test('a lost coordinator: the serial read finds our version, so the put succeeded', async () => {
  const { h, reads } = fakeTable('always', lostCoordinator, (v) => new StoredItem('{}', v!));
  assert.equal(await store.putBlind(h, item), undefined);
  assert.deepEqual(reads, [SERIAL]);
});

test('a lost coordinator: another version (or no row) after the serial read gives a retryable InternalServerError, no second proposal', async () => {
  let writes = 0;
  const other = cassandra.types.Long.fromNumber(42);
  for (const now of [new StoredItem('{}', other), undefined]) {
    const { h, reads } = fakeTable('always', () => (writes++, lostCoordinator()), () => now);
    writes = 0;
    await assert.rejects(store.putBlind(h, item), isRetryable500);
    assert.equal(writes, 1, 'the put is not proposed again');
    assert.deepEqual(reads, [SERIAL]);
  }
});

test('a CAS write timeout is settled the same way; a delete is done when the row is gone', async () => {
  const casTimeout = () => writeTimeout('CAS');
  const landed = fakeTable('always', casTimeout, (v) => new StoredItem('{}', v!));
  assert.equal(await store.putBlind(landed.h, item), undefined);
  const gone = fakeTable('always', lostCoordinator, () => undefined);
  assert.equal(await store.deleteBlind(gone.h, { pk: { S: 'a' } }), undefined);
  const still = fakeTable('always', lostCoordinator, () => new StoredItem('{}', cassandra.types.Long.fromNumber(7)));
  await assert.rejects(store.deleteBlind(still.h, { pk: { S: 'a' } }), isRetryable500);
});

test('errors that leave no doubt, and plain writes (only_rmw), are not reinterpreted', async () => {
  const unavailable = () => new cassandra.errors.ResponseError(cassandra.types.responseErrorCodes.unavailableException, 'Cannot achieve consistency level');
  const a = fakeTable('always', unavailable, () => undefined);
  await assert.rejects(store.putBlind(a.h, item), (e) => e instanceof cassandra.errors.ResponseError);
  assert.deepEqual(a.reads, []);
  const plain = fakeTable('only_rmw', lostCoordinator, () => undefined);
  await assert.rejects(store.putBlind(plain.h, item), /Socket was closed/);
  assert.deepEqual(plain.reads, []);
});

const writeTimeout = (writeType: string) =>
  Object.assign(new cassandra.errors.ResponseError(cassandra.types.responseErrorCodes.writeTimeout, `${writeType} timeout`), { writeType });
const readTimeout = () => new cassandra.errors.ResponseError(cassandra.types.responseErrorCodes.readTimeout, 'Operation timed out - received only 1 responses.');

test('a write timeout in the commit (SIMPLE) is settled too; a serial read that times out is tried again', async () => {
  let readFailures = 2;
  const { h, reads } = fakeTable('always', () => writeTimeout('SIMPLE'), (v) => new StoredItem('{}', v!), () => (readFailures-- > 0 ? readTimeout() : undefined));
  assert.equal(await store.putBlind(h, item), undefined);
  assert.deepEqual(reads, [SERIAL, SERIAL, SERIAL]);
});

test('a serial read failing three times leaves the outcome unknown: the retryable InternalServerError, not the driver error', async () => {
  const { h, reads } = fakeTable('always', lostCoordinator, (v) => new StoredItem('{}', v!), readTimeout);
  await assert.rejects(store.putBlind(h, item), isRetryable500);
  assert.equal(reads.length, 3);
});
