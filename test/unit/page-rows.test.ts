// How many rows each Cassandra page of a Query or Scan asks for (src/storage/range-reader.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextPageSize } from '../../src/storage/range-reader.js';

test('a fixed page size stays fixed', () => {
  assert.equal(nextPageSize(200, undefined, 0, 0), 200);
  assert.equal(nextPageSize(200, 200, 200, 1e6), 200);
});

test('pages grow fourfold up to the maximum', () => {
  const rows = { first: 129, max: 1000 };
  assert.equal(nextPageSize(rows, undefined, 0, 0), 129);
  assert.equal(nextPageSize(rows, 129, 129, 1000), 516);
  assert.equal(nextPageSize(rows, 516, 645, 5000), 1000);
});

test('a page never asks for more rows than the reader will take', () => {
  const rows = { first: 129, max: 1000, total: 300 };
  assert.equal(nextPageSize(rows, 129, 129, 1000), 171);
  assert.equal(nextPageSize({ first: 5, max: 1000, total: 5 }, undefined, 0, 0), 5);
});

test('a page asks for about what the byte budget still needs, plus one', () => {
  // 129 rows of 4 KB read: 1 MB - 516 KB left, 129 more rows of 4 KB, plus one to see the end.
  const rows = { first: 129, max: 1000, bytes: 1024 * 1024 };
  assert.equal(nextPageSize(rows, 129, 129, 129 * 4096), Math.ceil((1024 * 1024 - 129 * 4096) / 4096) + 1);
  // Past the budget in stored bytes, a reader that still pulls (its DynamoDB sizes are smaller)
  // gets pages of the last size up to `first`: a Scan of 250-byte items read one row per round
  // trip for its last third.
  assert.equal(nextPageSize(rows, 129, 129, 2 * 1024 * 1024), 129);
  assert.equal(nextPageSize(rows, 411, 4056, 1100 * 1024), 129);
  assert.equal(nextPageSize(rows, 40, 4056, 1100 * 1024), 40);
  // 400 KB items: three are a whole page.
  assert.equal(nextPageSize({ first: 2, max: 1000, bytes: 1024 * 1024 }, 2, 2, 800 * 1024), 2);
});
