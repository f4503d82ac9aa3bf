// ExecuteTransaction: up to 100 PartiQL statements, all reads (run as one TransactGetItems) or all
// writes (as one TransactWriteItems), so they share the transaction protocol and its isolation.
import { DynamoError, resourceNotFound, transactionCanceled, validation } from '../dynamo/errors.js';
import type { PqStatement } from '../dynamo/partiql/ast.js';
import {
  MSG_EXISTS_SHAPE, MSG_INDEX_IN_TRANSACTION, translateBatchRead, translateExists, translateStatement, type PqCheckPlan, type PqPlan,
} from '../dynamo/partiql/translate.js';
import { compileValidator, list, obj, str } from '../dynamo/validation.js';
import type { ActionContext, ActionSpec, Request } from './context.js';
import { PARAMETERS, RETURN_VALUES_ON_CONDITION_CHECK_FAILURE, STATEMENT, parseWithParameters } from './execute-statement.js';
import { ITEM_REQUEST } from './item-common.js';
import { planItems, statementTable } from './partiql-statement.js';
import { MAX_TRANSACTION_ITEMS } from './transact-common.js';
import { transactGetItems } from './transact-get-items.js';
import { transactWriteItems } from './transact-write-items.js';

const validate = compileValidator(
  obj(
    {
      TransactStatements: list(
        obj({ Statement: STATEMENT, Parameters: PARAMETERS, ReturnValuesOnConditionCheckFailure: RETURN_VALUES_ON_CONDITION_CHECK_FAILURE }, ['Statement']),
        { min: 1, max: MAX_TRANSACTION_ITEMS },
      ),
      ClientRequestToken: str({ min: 1, max: 36 }),
      ReturnConsumedCapacity: ITEM_REQUEST.ReturnConsumedCapacity,
    },
    ['TransactStatements'],
  ),
);

const inStatement = (i: number, message: string) => validation(`Validation failed in TransactStatements[${i}]: ${message}`);

const TRANSACT_KIND: Record<string, string> = { PutItem: 'Put', UpdateItem: 'Update', DeleteItem: 'Delete', ConditionCheck: 'ConditionCheck' };

type Plan = PqPlan | PqCheckPlan;

// Errors DynamoDB reports with the statement's position.
const POSITIONED = new Set([MSG_EXISTS_SHAPE, MSG_INDEX_IN_TRANSACTION]);
// A key value of the wrong type is found when the statements run: it cancels the transaction.
const KEY_TYPE_MISMATCH = "Key attribute's data type should match its data type in table's schema";

async function plan(ctx: ActionContext, statement: PqStatement, s: Request, i: number): Promise<Plan> {
  if (statement.kind !== 'select' && statement.kind !== 'insert' && statement.kind !== 'exists' && statement.returning) {
    throw inStatement(i, 'RETURNING clause is not supported in ExecuteTransaction.');
  }
  // Checked before the table is looked up, as DynamoDB Local 3.3.1 does (even for a missing table).
  if (statement.kind === 'select' && statement.index !== undefined) throw inStatement(i, 'Reads on indices are not supported within transactions.');
  let table;
  try {
    table = await statementTable(ctx, statement);
  } catch (e) {
    // Unlike ExecuteStatement, ExecuteTransaction gives DynamoDB's general message.
    if (e instanceof DynamoError && e.name === 'ResourceNotFoundException') throw resourceNotFound();
    throw e;
  }
  const options = { params: s.Parameters ?? [], returnValuesOnConditionCheckFailure: s.ReturnValuesOnConditionCheckFailure };
  try {
    if (statement.kind === 'exists') return translateExists(statement, table, options);
    if (statement.kind !== 'select') return translateStatement(statement, table, options);
    return translateBatchRead(statement, table, options);
  } catch (e) {
    if (!(e instanceof DynamoError)) throw e;
    if (e.message === 'Only single item select is supported') {
      throw inStatement(i, 'Select statements within ExecuteTransaction must specify the primary key in the where clause.');
    }
    if (POSITIONED.has(e.message)) throw inStatement(i, e.message);
    throw e;
  }
}

async function plans(ctx: ActionContext, req: Request): Promise<Plan[]> {
  const statements = req.TransactStatements as Request[];
  const parsed = statements.map((s) => parseWithParameters(s.Statement, s.Parameters).statement);
  if (new Set(parsed.map((s) => s.kind === 'select')).size > 1) {
    throw validation('ExecuteTransaction API does not support both read and write operations in the same request.');
  }
  const settled = await Promise.allSettled(parsed.map((statement, i) => plan(ctx, statement, statements[i]!, i)));
  const mismatch = settled.findIndex((r) => r.status === 'rejected' && r.reason instanceof DynamoError && r.reason.message.startsWith(KEY_TYPE_MISMATCH));
  if (mismatch >= 0) {
    const reason = (settled[mismatch] as PromiseRejectedResult).reason as DynamoError;
    throw transactionCanceled(settled.map((_, i) => (i === mismatch ? { Code: 'ValidationError', Message: reason.message } : { Code: 'None' })));
  }
  return settled.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
}

/** An INSERT whose item exists cancels the transaction with DynamoDB's duplicate reason. */
function withDuplicateReasons(e: DynamoError, planned: Plan[]): DynamoError {
  const reasons = e.extra?.CancellationReasons as { Code: string; Message?: string }[] | undefined;
  if (!reasons) return e;
  return transactionCanceled(
    reasons.map((r, i) =>
      planned[i]?.action === 'PutItem' && r.Code === 'ConditionalCheckFailed' ? { Code: 'ValidationError', Message: 'Duplicate primary key exists in table' } : r,
    ),
  );
}

async function run(ctx: ActionContext, req: Request): Promise<object> {
  const planned = await plans(ctx, req);
  const common: Record<string, unknown> = {};
  if (req.ReturnConsumedCapacity !== undefined) common.ReturnConsumedCapacity = req.ReturnConsumedCapacity;
  if (planned[0]!.action === 'GetItem') {
    const getReq = {
      ...common,
      TransactItems: planned.map((p) => {
        const { ConsistentRead: _c, ReturnConsumedCapacity: _r, ...get } = p.request;
        return { Get: get };
      }),
    };
    transactGetItems.validate(getReq);
    const out = (await transactGetItems.run(ctx, getReq)) as Record<string, any>;
    const responses = (out.Responses as Record<string, unknown>[]).map((r, i) => {
      const items = planItems(planned[i] as PqPlan, r.Item ? { Item: r.Item } : {});
      return items.length > 0 ? { Item: items[0] } : {};
    });
    return out.ConsumedCapacity ? { Responses: responses, ConsumedCapacity: out.ConsumedCapacity } : { Responses: responses };
  }
  const writeReq: Record<string, unknown> = {
    ...common,
    TransactItems: planned.map((p) => {
      const { ReturnValues: _v, ReturnConsumedCapacity: _r, ...item } = p.request;
      return { [TRANSACT_KIND[p.action]!]: item };
    }),
  };
  if (req.ClientRequestToken !== undefined) writeReq.ClientRequestToken = req.ClientRequestToken;
  transactWriteItems.validate(writeReq);
  try {
    const out = (await transactWriteItems.run(ctx, writeReq)) as Record<string, any>;
    return out.ConsumedCapacity ? { Responses: [], ConsumedCapacity: out.ConsumedCapacity } : { Responses: [] };
  } catch (e) {
    if (e instanceof DynamoError && e.name === 'TransactionCanceledException') throw withDuplicateReasons(e, planned);
    throw e;
  }
}

export const executeTransaction: ActionSpec = {
  validate,
  run,
};
