// DescribeEndpoints and DescribeLimits: account-level answers with no storage behind them.
import { compileValidator, obj } from '../dynamo/validation.js';
import type { ActionSpec } from './context.js';

export const describeEndpoints: ActionSpec = {
  validate: compileValidator(obj({})),
  async run(ctx) {
    return { Endpoints: [{ Address: ctx.host ?? `${ctx.config.host}:${ctx.config.port}`, CachePeriodInMinutes: 1440 }] };
  },
};

export const describeLimits: ActionSpec = {
  validate: compileValidator(obj({})),
  async run() {
    return {
      AccountMaxReadCapacityUnits: 80000,
      AccountMaxWriteCapacityUnits: 80000,
      TableMaxReadCapacityUnits: 40000,
      TableMaxWriteCapacityUnits: 40000,
    };
  },
};
