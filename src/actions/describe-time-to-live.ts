// DescribeTimeToLive: the table's TTL status and attribute. DynamoDB reports the settled status
// (ENABLED or DISABLED) from the first call after a change, and forgets the attribute once
// disabled; so do we (see README, Time to Live).
import { TABLE_NAME_PARAMETER, compileValidator, obj } from '../dynamo/validation.js';
import { freshEntry, type ActionSpec } from './context.js';

export const describeTimeToLive: ActionSpec = {
  validate: compileValidator(obj({ TableName: TABLE_NAME_PARAMETER })),
  tableOf: (r) => r.TableName,
  async run(ctx, req) {
    const ttl = (await freshEntry(ctx, req.TableName)).definition.timeToLive;
    return {
      TimeToLiveDescription: ttl?.enabled ? { TimeToLiveStatus: 'ENABLED', AttributeName: ttl.attributeName } : { TimeToLiveStatus: 'DISABLED' },
    };
  },
};
