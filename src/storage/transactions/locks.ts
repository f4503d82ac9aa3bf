// A transaction's write intent ("lock") on an item row, and the single-row lightweight
// transactions that place it (apply.ts removes or applies it). The intent lives in the row's `tx` column beside the
// committed item, which it leaves untouched: readers keep seeing the committed item until the
// transaction's record says committed. Placing an intent changes the row's version, so every
// compare-and-set writer that read the row before fails and reads it again.
import type { Item } from '../../dynamo/types.js';
import { LOCK_COLUMN, applied, keyNames, keyParams, qualifiedName, statementCache, whereKey } from '../cql-layout.js';
import type { CqlSession, Long, Row } from '../session.js';
import type { StoredItem, TableLayout } from '../translator.js';
import type { TxRef } from './records.js';

/** What a transaction will do to the item: write this image, delete it, or only hold it still. */
export type LockOp = 'put' | 'delete' | 'check';

export interface Lock {
  /** The transaction's id (the key of its record: records.ts). */
  id: string;
  op: LockOp;
  /** When the transaction began (ms): after LOCK_TIMEOUT_MS others may abort it. */
  at: number;
  /** The new image, for op put. */
  item?: Item;
  /** The request's ClientRequestToken and fingerprint, if it has one: a copy of it meeting this intent gives way. */
  tk?: string;
  fp?: string;
  /**
   * 1: the transaction is decided in its token's partition (dc_token_transactions). Intents of
   * earlier versions name a token without it; theirs were decided in dc_transactions.
   */
  tt?: 1;
}

/** Where the decision of the intent's transaction lives. */
export const refOf = (lock: Lock): TxRef => (lock.tt === 1 && lock.tk !== undefined ? { id: lock.id, token: lock.tk } : { id: lock.id });

/**
 * How long a transaction may hold intents before anyone who meets them may abort it, unless
 * configured (serve's --transaction-lock-timeout-ms). A running transaction takes milliseconds;
 * this bounds how long a crashed one keeps its items locked.
 */
export const LOCK_TIMEOUT_MS = 5000;

export const parseLock = (json: string) => JSON.parse(json) as Lock;
export const lockExpired = (lock: Lock, timeoutMs = LOCK_TIMEOUT_MS, now = Date.now()) => now - lock.at > timeoutMs;

const statements = statementCache((layout: TableLayout) => {
  const t = qualifiedName(layout);
  const where = whereKey(layout);
  const cols = keyNames(layout).join(', ');
  const marks = keyNames(layout).map(() => '?').join(', ');
  return {
    lockPresent: `UPDATE ${t} SET ${LOCK_COLUMN} = ?, ver = ? WHERE ${where} IF ver = ?`,
    lockAbsent: `INSERT INTO ${t} (${cols}, ${LOCK_COLUMN}, ver) VALUES (${marks}, ?, ?) IF NOT EXISTS`,
  };
});

/**
 * Places the intent on the row if it is still at `expected` (null: the row is absent), at the new
 * version `version`. False when another writer got there first.
 */
export async function placeLock(session: CqlSession, layout: TableLayout, key: Item, lock: Lock, expected: Long | null, version: Long): Promise<boolean> {
  const s = statements(layout);
  const k = keyParams(layout, key);
  const json = JSON.stringify(lock);
  const rs =
    expected === null
      ? await session.execute(s.lockAbsent, [...k, json, version], session.consistency.write)
      : await session.execute(s.lockPresent, [json, version, ...k, expected], session.consistency.write);
  return applied(rs.rows);
}

/**
 * Places the intent on a row that is absent; when it is not, returns the row as the lightweight
 * transaction read it (a failed IF NOT EXISTS answers with the whole current row).
 */
export async function placeLockIfAbsent(
  session: CqlSession, layout: TableLayout, key: Item, lock: Lock, version: Long, decode: (row: Row) => StoredItem,
): Promise<StoredItem | undefined> {
  const rs = await session.execute(statements(layout).lockAbsent, [...keyParams(layout, key), JSON.stringify(lock), version], session.consistency.write);
  return applied(rs.rows) ? undefined : decode(rs.rows[0]!);
}
