// UpdateTable's checks that need no catalog, in DynamoDB's order (as dynalite's suite recorded it):
// something to change, throughput bounds, then each GlobalSecondaryIndexUpdate naming an action and
// an index of its own. The rest is checked against the table by update-table.ts.
import { validation } from '../dynamo/errors.js';
import type { Request } from './context.js';

const INVALID = 'One or more parameter values were invalid: ';
export const MAX_CAPACITY = 1000000000000;

export function checkUpdateTableRequest(req: Request): void {
  const updates = req.GlobalSecondaryIndexUpdates as Record<string, { IndexName?: string } | undefined>[] | undefined;
  const changes =
    req.BillingMode !== undefined || req.ProvisionedThroughput !== undefined || req.DeletionProtectionEnabled !== undefined ||
    req.TableClass !== undefined || req.StreamSpecification !== undefined || (updates !== undefined && updates.length > 0);
  if (!changes) {
    throw validation('At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required');
  }
  const t = req.ProvisionedThroughput as { ReadCapacityUnits: number; WriteCapacityUnits: number } | undefined;
  if (t && t.ReadCapacityUnits > MAX_CAPACITY) throw validation(`Given value ${t.ReadCapacityUnits} for ReadCapacityUnits is out of bounds`);
  if (t && t.WriteCapacityUnits > MAX_CAPACITY) throw validation(`Given value ${t.WriteCapacityUnits} for WriteCapacityUnits is out of bounds`);
  const names = new Set<string | undefined>();
  for (const u of updates ?? []) {
    const action = u.Update ?? u.Create ?? u.Delete;
    if (!action) {
      throw validation(`${INVALID}One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null`);
    }
    if (names.has(action.IndexName)) throw validation(`${INVALID}Only one global secondary index update per index is allowed simultaneously. Index: ${action.IndexName}`);
    names.add(action.IndexName);
  }
}
