// BatchExecuteStatement: up to 25 statements, all reads (each one item by its full key, as
// BatchGetItem) or all writes (as BatchWriteItem, but with conditions); each statement answers
// or fails on its own, with DynamoDB's per-statement error codes.
import { DynamoError, validation } from '../dynamo/errors.js';
import type { ParsedStatement } from '../dynamo/partiql/ast.js';
import { startsWithOperation } from '../dynamo/partiql/parser.js';
import { translateBatchRead, translateStatement, type PqPlan } from '../dynamo/partiql/translate.js';
import type { Item } from '../dynamo/types.js';
import { bool, compileValidator, list, obj } from '../dynamo/validation.js';
import type { ActionContext, ActionSpec, Request } from './context.js';
import { PARAMETERS, RETURN_VALUES_ON_CONDITION_CHECK_FAILURE, STATEMENT, parseOutsideTransaction } from './execute-statement.js';
import { ITEM_REQUEST } from './item-common.js';
import { planItems, runPlan, statementTable, writtenItems } from './partiql-statement.js';

const validate = compileValidator(
  obj(
    {
      Statements: list(
        obj(
          {
            Statement: STATEMENT,
            Parameters: PARAMETERS,
            ConsistentRead: bool(),
            ReturnValuesOnConditionCheckFailure: RETURN_VALUES_ON_CONDITION_CHECK_FAILURE,
          },
          ['Statement'],
        ),
        { min: 1, max: 25 },
      ),
      ReturnConsumedCapacity: ITEM_REQUEST.ReturnConsumedCapacity,
    },
    ['Statements'],
  ),
);

// DynamoDB's BatchStatementError codes, by the error's type.
const ERROR_CODES: Record<string, string> = {
  ValidationException: 'ValidationError',
  ConditionalCheckFailedException: 'ConditionalCheckFailed',
  DuplicateItemException: 'DuplicateItem',
  ResourceNotFoundException: 'ResourceNotFound',
  TransactionConflictException: 'TransactionConflict',
  ProvisionedThroughputExceededException: 'ProvisionedThroughputExceeded',
  RequestLimitExceeded: 'RequestLimitExceeded',
  ItemCollectionSizeLimitExceededException: 'ItemCollectionSizeLimitExceeded',
  ThrottlingException: 'ThrottlingError',
  AccessDeniedException: 'AccessDenied',
};

/** One statement's answer: a plan to run, or the error it already has. */
type Slot = { plan: PqPlan; table: string } | { error: DynamoError; table?: string };

function errorEntry(e: DynamoError, table: string | undefined): Record<string, unknown> {
  const error: Record<string, unknown> = { Code: ERROR_CODES[e.name] ?? 'InternalServerError', Message: e.message };
  if (e.extra?.Item) error.Item = e.extra.Item;
  return table ? { Error: error, TableName: table } : { Error: error };
}

function parseEach(req: Request): (ParsedStatement | DynamoError)[] {
  return req.Statements.map((s: Request) => {
    if (!startsWithOperation(s.Statement)) return validation('Invalid operation. Only select, insert, update and delete operations are valid');
    try {
      return parseOutsideTransaction(s.Statement, s.Parameters);
    } catch (e) {
      if (e instanceof DynamoError) return e;
      throw e;
    }
  });
}

/** The item a plan names, for DynamoDB's rule that a batch names each item once. */
function itemIdentity(plan: PqPlan, table: { key: { hash: { name: string }; range?: { name: string } } }): string {
  const r = plan.request as { Key?: Item; Item?: Item };
  const source = r.Key ?? r.Item!;
  const names = [table.key.hash.name, ...(table.key.range ? [table.key.range.name] : [])];
  return JSON.stringify([plan.request.TableName, ...names.map((n) => source[n])]);
}

async function run(ctx: ActionContext, req: Request): Promise<object> {
  const parsed = parseEach(req);
  const kinds = new Set(parsed.flatMap((p) => (p instanceof DynamoError ? [] : [p.statement.kind === 'select' ? 'read' : 'write'])));
  if (kinds.size > 1) throw validation('Read and write requests together in the same batch is not supported.');
  const seen = new Set<string>();
  const slots: Slot[] = await Promise.all(
    parsed.map(async (p, i): Promise<Slot> => {
      if (p instanceof DynamoError) return { error: p };
      const s = req.Statements[i] as Request;
      try {
        const table = await statementTable(ctx, p.statement);
        const options = {
          params: s.Parameters ?? [],
          consistentRead: s.ConsistentRead,
          returnValuesOnConditionCheckFailure: s.ReturnValuesOnConditionCheckFailure,
        };
        const plan = p.statement.kind === 'select' ? translateBatchRead(p.statement, table, options) : translateStatement(p.statement, table, options);
        const id = itemIdentity(plan, table);
        if (seen.has(id)) throw new DuplicateKeys();
        seen.add(id);
        return { plan, table: table.name };
      } catch (e) {
        if (e instanceof DynamoError) return { error: e };
        throw e;
      }
    }),
  ).catch((e) => {
    if (e instanceof DuplicateKeys) throw validation('Provided list of item keys contains duplicates');
    throw e;
  });
  const responses = await Promise.all(
    slots.map(async (slot) => {
      if ('error' in slot) return errorEntry(slot.error, slot.table);
      try {
        const out = await runPlan(ctx, slot.plan);
        const items = slot.plan.action === 'GetItem' ? planItems(slot.plan, out) : writtenItems(out);
        return items.length > 0 ? { TableName: slot.table, Item: items[0] } : { TableName: slot.table };
      } catch (e) {
        if (e instanceof DynamoError && e.statusCode < 500) return errorEntry(e, slot.table);
        throw e;
      }
    }),
  );
  return { Responses: responses };
}

/** Raised while planning when two statements name one item: the whole batch is refused. */
class DuplicateKeys extends Error {}

export const batchExecuteStatement: ActionSpec = {
  validate,
  run,
};
