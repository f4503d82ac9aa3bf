// What TransactWriteItems and TransactGetItems share: request limits, the duplicate-item rule,
// the isolation modes that can run transactions, and DynamoDB's cancellation reasons.
import { DynamoError, transactionCanceled, validation } from '../dynamo/errors.js';
import type { Item } from '../dynamo/types.js';
import type { TableHandle } from '../storage/item-store.js';
import { TransactionCancelled } from '../storage/transactions/index.js';
import { keyOf } from '../storage/translator.js';

export const MAX_TRANSACTION_ITEMS = 100;

/** Fails like DynamoDB when two actions name the same item. */
export function checkDistinctItems(targets: { h: TableHandle; key: Item }[]): void {
  const seen = new Set<string>();
  for (const { h, key } of targets) {
    const id = h.entry.definition.id + JSON.stringify(keyOf(key, h.entry.definition.key));
    if (seen.has(id)) throw validation('Transaction request cannot include multiple operations on one item');
    seen.add(id);
  }
}

/**
 * Transactions need lightweight transactions on every write of their items: `always` gives that;
 * `only_rmw` too, as long as (as for its conditional writes) no plain write meets the same item.
 * The plain-only modes cannot hold an intent against anyone.
 */
export function checkTransactionIsolation(h: TableHandle): void {
  if (h.isolation === 'forbid_rmw' || h.isolation === 'unsafe_rmw') {
    throw validation(
      `Transactions are not supported under '${h.isolation}' write isolation policy (table ${h.entry.definition.name}). Refusing to perform this operation.`,
    );
  }
}

const REASON_CODES: Record<string, string> = {
  ConditionalCheckFailedException: 'ConditionalCheckFailed',
  ValidationException: 'ValidationError',
  TransactionConflictException: 'TransactionConflict',
};

/** TransactionCanceledException from the protocol's per-action reasons (None where undefined). */
export function canceledError(e: TransactionCancelled): DynamoError {
  return transactionCanceled(
    e.reasons.map((r) => {
      if (!r) return { Code: 'None' };
      const reason: { Code: string; Message: string; Item?: Record<string, unknown> } = { Code: REASON_CODES[r.name] ?? r.name, Message: r.message };
      if (r.extra?.Item) reason.Item = r.extra.Item as Record<string, unknown>;
      return reason;
    }),
  );
}

/** Runs the protocol, turning its cancellation into DynamoDB's exception. */
export async function orCanceled<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof TransactionCancelled) throw canceledError(e);
    throw e;
  }
}

type Units = { CapacityUnits: number; [k: string]: unknown };

/** Transactions cost twice the units of the same single-item operations. */
export function doubled(capacity: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(capacity)) {
    if (k === 'CapacityUnits') out[k] = (v as number) * 2;
    else if (k === 'Table') out[k] = { CapacityUnits: (v as Units).CapacityUnits * 2 };
    else if (k === 'GlobalSecondaryIndexes' || k === 'LocalSecondaryIndexes') {
      out[k] = Object.fromEntries(Object.entries(v as Record<string, Units>).map(([n, u]) => [n, { CapacityUnits: u.CapacityUnits * 2 }]));
    } else out[k] = v;
  }
  return out;
}
