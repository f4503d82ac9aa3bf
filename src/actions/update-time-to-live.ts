// UpdateTimeToLive: enables or disables expiry on one attribute of a table. The setting lives in
// the table's catalog entry (compare-and-set, so concurrent changes cannot both win); the sweepers
// of every server (src/ttl/) read it from there.
import { resourceInUse, resourceNotFound, validation } from '../dynamo/errors.js';
import { TABLE_NAME, bool, compileValidator, obj, str } from '../dynamo/validation.js';
import type { TableDefinition, TimeToLiveSetting } from '../storage/catalog.js';
import { freshEntry, type ActionContext, type ActionSpec } from './context.js';

const validate = compileValidator(
  obj(
    {
      TableName: TABLE_NAME,
      TimeToLiveSpecification: obj({ Enabled: bool(), AttributeName: str({ min: 1, max: 255 }) }, ['AttributeName', 'Enabled']),
    },
    ['TableName', 'TimeToLiveSpecification'],
  ),
);

/** DynamoDB's refusals, in its order: the state first, then the cooldown between changes. */
function checkChange(ctx: ActionContext, current: TimeToLiveSetting | undefined, enabled: boolean, attributeName: string, now: number): void {
  const active = current?.enabled === true;
  if (enabled && active && current.attributeName === attributeName) throw validation('TimeToLive is already enabled');
  if (!enabled && !active) throw validation('TimeToLive is already disabled');
  if (active && current.attributeName !== attributeName) {
    throw validation(`TimeToLive is active on a different AttributeName: current AttributeName is ${current.attributeName}`);
  }
  if (current && now - current.changedAt < ctx.config.ttlChangeCooldownSeconds * 1000) {
    throw validation('Time to live has been modified multiple times within a fixed interval');
  }
}

export const updateTimeToLive: ActionSpec = {
  validate,
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    const { Enabled: enabled, AttributeName: attributeName } = req.TimeToLiveSpecification as { Enabled: boolean; AttributeName: string };
    for (let attempt = 0; attempt < 10; attempt++) {
      const entry = await freshEntry(ctx, req.TableName);
      const d = entry.definition;
      if (d.status === 'DELETING') throw resourceNotFound(`Requested resource not found: Table: ${d.name} not found`);
      if (d.status === 'CREATING') throw resourceInUse(`Attempt to change a resource which is still in use: Table is being created: ${d.name}`);
      const now = Date.now();
      checkChange(ctx, d.timeToLive, enabled, attributeName, now);
      const segments = enabled ? Math.max(1, ctx.config.ttlSegments) : d.timeToLive!.segments;
      const next: TableDefinition = { ...d, timeToLive: { attributeName, enabled, changedAt: now, segments } };
      if (await ctx.catalog.replace(entry, next)) return { TimeToLiveSpecification: { Enabled: enabled, AttributeName: attributeName } };
    }
    throw new Error('catalog contention');
  },
};
