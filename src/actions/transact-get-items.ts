// TransactGetItems: up to 100 Gets read as one snapshot that never shows part of a transaction
// (Transactions.snapshot), each with its own ProjectionExpression.
import { itemSize } from '../dynamo/attribute-values.js';
import { compileRequestExpressions, projectItem } from '../dynamo/expressions/index.js';
import { EXPRESSION_NAMES, RETURN_CONSUMED_CAPACITY, TABLE_NAME, compileValidator, list, obj, str } from '../dynamo/validation.js';
import { activeTable, type ActionSpec } from './context.js';
import { KEY, keyFromRequest, readUnits } from './item-common.js';
import { MAX_TRANSACTION_ITEMS, checkDistinctItems, orCanceled } from './transact-common.js';

const validate = compileValidator(
  obj(
    {
      TransactItems: list(
        obj({ Get: obj({ TableName: TABLE_NAME, Key: KEY, ProjectionExpression: str(), ExpressionAttributeNames: EXPRESSION_NAMES }, ['Key', 'TableName']) }, ['Get']),
        { min: 1, max: MAX_TRANSACTION_ITEMS },
      ),
      ReturnConsumedCapacity: RETURN_CONSUMED_CAPACITY,
    },
    ['TransactItems'],
  ),
);

export const transactGetItems: ActionSpec = {
  validate,
  async run(ctx, req) {
    const gets = await Promise.all(
      (req.TransactItems as { Get: Record<string, unknown> }[]).map(async ({ Get: g }) => {
        const { projection } = compileRequestExpressions(g, 'GetItem');
        const h = await activeTable(ctx, g.TableName as string);
        return { h, key: keyFromRequest(h.entry.definition.key, g.Key), projection };
      }),
    );
    checkDistinctItems(gets);
    const items = await orCanceled(() => ctx.store.transactions.snapshot(gets));
    const responses = items.map((stored, i) => {
      if (!stored) return {};
      const p = gets[i]!.projection;
      return { Item: p ? projectItem(stored.item, p) : stored.item };
    });
    const out: Record<string, unknown> = { Responses: responses };
    const mode = req.ReturnConsumedCapacity;
    if (mode === 'TOTAL' || mode === 'INDEXES') {
      // Twice a consistent read's units per item, per table in the order tables first appear.
      const units = new Map<string, number>();
      items.forEach((stored, i) => {
        const name = gets[i]!.h.entry.definition.name;
        units.set(name, (units.get(name) ?? 0) + 2 * readUnits(stored ? itemSize(stored.item) : 0, true));
      });
      out.ConsumedCapacity = [...units].map(([TableName, CapacityUnits]) =>
        mode === 'TOTAL' ? { TableName, CapacityUnits } : { TableName, CapacityUnits, Table: { CapacityUnits } },
      );
    }
    return out;
  },
};
