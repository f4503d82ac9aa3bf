// ExecuteStatement: one PartiQL statement, run as the single-item or read action it translates to.
import { validation } from '../dynamo/errors.js';
import { parseStatement } from '../dynamo/partiql/parser.js';
import { MSG_EXISTS_OUTSIDE_TRANSACTION, translateStatement } from '../dynamo/partiql/translate.js';
import { anyObject, bool, compileValidator, int, list, obj, oneOf, str } from '../dynamo/validation.js';
import type { ActionContext, ActionSpec, Request } from './context.js';
import { ITEM_REQUEST } from './item-common.js';
import { decodeNextToken, encodeNextToken, planItems, runPlan, statementTable, writtenItems } from './partiql-statement.js';

export const STATEMENT = str({ min: 1, max: 8192 });
export const PARAMETERS = list(anyObject());
export const RETURN_VALUES_ON_CONDITION_CHECK_FAILURE = oneOf(['ALL_OLD', 'NONE']);

const validate = compileValidator(
  obj(
    {
      Statement: STATEMENT,
      Parameters: PARAMETERS,
      ConsistentRead: bool(),
      NextToken: str({ min: 1, max: 32768 }),
      ReturnConsumedCapacity: ITEM_REQUEST.ReturnConsumedCapacity,
      Limit: int({ min: 1 }),
      ReturnValuesOnConditionCheckFailure: RETURN_VALUES_ON_CONDITION_CHECK_FAILURE,
    },
    ['Statement'],
  ),
);

/** Parses a statement outside ExecuteTransaction, where EXISTS has no meaning. */
export function parseOutsideTransaction(statement: string, parameters: unknown[] | undefined) {
  const parsed = parseWithParameters(statement, parameters);
  if (parsed.statement.kind === 'exists') throw validation(MSG_EXISTS_OUTSIDE_TRANSACTION);
  return parsed;
}

/** Parses a statement and checks its placeholders against the request's Parameters. */
export function parseWithParameters(statement: string, parameters: unknown[] | undefined) {
  const parsed = parseStatement(statement);
  if (parsed.parameterCount !== (parameters?.length ?? 0)) throw validation("Number of parameters in request and statement don't match.");
  return parsed;
}

async function run(ctx: ActionContext, req: Request): Promise<object> {
  const { statement } = parseOutsideTransaction(req.Statement, req.Parameters);
  const table = await statementTable(ctx, statement);
  const plan = translateStatement(statement, table, {
    params: req.Parameters ?? [],
    consistentRead: req.ConsistentRead,
    limit: req.Limit,
    exclusiveStartKey: req.NextToken !== undefined ? decodeNextToken(req.NextToken) : undefined,
    returnValuesOnConditionCheckFailure: req.ReturnValuesOnConditionCheckFailure,
    returnConsumedCapacity: req.ReturnConsumedCapacity,
  });
  const out = await runPlan(ctx, plan);
  const reads = plan.action === 'Query' || plan.action === 'Scan' || plan.action === 'GetItem';
  const response: Record<string, unknown> = { Items: reads ? planItems(plan, out) : writtenItems(out) };
  if (out.LastEvaluatedKey) response.NextToken = encodeNextToken(out.LastEvaluatedKey);
  if (out.ConsumedCapacity) response.ConsumedCapacity = out.ConsumedCapacity;
  return response;
}

export const executeStatement: ActionSpec = {
  validate,
  run,
};
