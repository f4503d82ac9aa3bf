// Which statements the driver may send again after losing their coordinator (src/storage/session.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRead } from '../../src/storage/session.js';

test('reads are retried on another node, writes and lightweight transactions are not', () => {
  assert.equal(isRead('SELECT item, ver FROM "ks"."t" WHERE pk = ?'), true);
  assert.equal(isRead('  select * from t'), true);
  assert.equal(isRead('UPDATE "ks"."t" SET item = ? WHERE pk = ? IF ver = ?'), false);
  assert.equal(isRead('INSERT INTO t (pk) VALUES (?) IF NOT EXISTS'), false);
  assert.equal(isRead('DELETE FROM t WHERE pk = ?'), false);
  assert.equal(isRead('SELECTED'), false);
});
