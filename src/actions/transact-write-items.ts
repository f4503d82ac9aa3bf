// TransactWriteItems: up to 100 Put, Update, Delete and ConditionCheck actions on items of any
// tables, all or none (the protocol: src/storage/transactions). Everything DynamoDB checks before
// it runs is checked here first; what depends on the stored items (conditions, update results,
// index key types) cancels the transaction with one reason per action.
import { createHash } from 'node:crypto';
import { itemSize, normalizeItem } from '../dynamo/attribute-values.js';
import { validation } from '../dynamo/errors.js';
import { applyUpdate, compileRequestExpressions, updateTouchesAttribute, type Condition } from '../dynamo/expressions/index.js';
import type { Item } from '../dynamo/types.js';
import {
  EXPRESSION_NAMES, EXPRESSION_VALUES, RETURN_CONSUMED_CAPACITY, RETURN_ITEM_COLLECTION_METRICS, TABLE_NAME, anyObject, compileValidator, list, obj,
  oneOf, str, type Schema,
} from '../dynamo/validation.js';
import { checkIndexKeys } from '../storage/indexes.js';
import type { TxAction } from '../storage/transactions/index.js';
import { activeTable, type ActionSpec, type Request } from './context.js';
import {
  KEY, checkCondition, checkItemKey, checkItemSize, keyFromRequest, readUnits, sumCapacity, writeCapacity,
} from './item-common.js';
import { MAX_TRANSACTION_ITEMS, checkDistinctItems, checkTransactionIsolation, doubled, orCanceled } from './transact-common.js';
import { itemCollectionMetricsByTable, wantsItemCollectionMetrics } from './item-collection-metrics.js';

const CONDITION_MEMBERS: Record<string, Schema> = {
  TableName: TABLE_NAME,
  ConditionExpression: str(),
  ExpressionAttributeNames: EXPRESSION_NAMES,
  ExpressionAttributeValues: EXPRESSION_VALUES,
  ReturnValuesOnConditionCheckFailure: oneOf(['ALL_OLD', 'NONE']),
};

const KINDS = ['ConditionCheck', 'Put', 'Delete', 'Update'] as const;
type Kind = (typeof KINDS)[number];

const validate = compileValidator(
  obj(
    {
      TransactItems: list(
        obj({
          ConditionCheck: obj({ ...CONDITION_MEMBERS, Key: KEY }, ['Key', 'TableName', 'ConditionExpression']),
          Put: obj({ ...CONDITION_MEMBERS, Item: anyObject() }, ['Item', 'TableName']),
          Delete: obj({ ...CONDITION_MEMBERS, Key: KEY }, ['Key', 'TableName']),
          Update: obj({ ...CONDITION_MEMBERS, Key: KEY, UpdateExpression: str() }, ['Key', 'UpdateExpression', 'TableName']),
        }),
        { min: 1, max: MAX_TRANSACTION_ITEMS },
      ),
      ReturnConsumedCapacity: RETURN_CONSUMED_CAPACITY,
      ReturnItemCollectionMetrics: RETURN_ITEM_COLLECTION_METRICS,
      ClientRequestToken: str({ min: 1, max: 36 }),
    },
    ['TransactItems'],
  ),
);

/** DynamoDB's limit on the items of one transaction together. */
const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;

const kindOf = (element: Record<string, unknown>): Kind => {
  const kinds = KINDS.filter((k) => element[k] !== undefined && element[k] !== null);
  if (kinds.length === 0) throw validation('Invalid Request: TransactWriteRequest should contain Delete or Put or Update request');
  if (kinds.length > 1) throw validation('TransactItems can only contain one of Check, Put, Update or Delete');
  return kinds[0]!;
};

// DynamoDB ends a ConditionCheck's failure with a full stop, unlike a conditional write's.
const CHECK_FAILED = 'The conditional request failed.';

const EXPRESSION_ACTION = { ConditionCheck: 'DeleteItem', Put: 'PutItem', Delete: 'DeleteItem', Update: 'UpdateItem' } as const;

/** Same request, same fingerprint: what a reused ClientRequestToken is compared by. */
function fingerprint(req: Request): string {
  return createHash('sha256').update(JSON.stringify(req.TransactItems)).digest('base64');
}

export const transactWriteItems: ActionSpec = {
  validate,
  async run(ctx, req) {
    const elements = req.TransactItems as Record<string, Record<string, unknown>>[];
    let bytes = 0;
    const actions = await Promise.all(
      elements.map(async (element) => {
        const kind = kindOf(element);
        const a = element[kind];
        const { condition, update } = compileRequestExpressions(a, EXPRESSION_ACTION[kind]);
        const h = await activeTable(ctx, a.TableName as string);
        checkTransactionIsolation(h);
        const schema = h.entry.definition.key;
        let item: Item | undefined;
        let key: Item;
        if (kind === 'Put') {
          item = normalizeItem(a.Item);
          checkItemKey(schema, item);
          const size = itemSize(item);
          checkItemSize(size);
          bytes += size;
          key = { [schema.hash.name]: item[schema.hash.name]! };
          if (schema.range) key[schema.range.name] = item[schema.range.name]!;
        } else {
          key = keyFromRequest(schema, a.Key);
          bytes += itemSize(key);
        }
        return { kind, a, h, key, item, condition, update };
      }),
    );
    if (bytes > MAX_TRANSACTION_BYTES) throw validation(`Transaction payload size cannot exceed 4MB. Payload Size: ${bytes}`);
    checkDistinctItems(actions);

    const txActions: TxAction[] = actions.map(({ kind, a, h, key, item, condition, update }) => ({
      h,
      key,
      decide(old) {
        checkCondition(condition as Condition | undefined, old, a, kind === 'ConditionCheck' ? CHECK_FAILED : undefined);
        if (kind === 'Put') {
          checkIndexKeys(h.entry.definition.indexes, item!);
          return { op: 'put', item: item! };
        }
        if (kind === 'Delete') return { op: 'delete' };
        if (kind === 'ConditionCheck') return { op: 'check' };
        const schema = h.entry.definition.key;
        for (const k of [schema.hash, schema.range]) {
          if (k && updateTouchesAttribute(update!, k.name)) {
            throw validation(`One or more parameter values were invalid: Cannot update attribute ${k.name}. This attribute is part of the key`);
          }
        }
        const next = applyUpdate(update!, old ?? { ...key }).item;
        if (itemSize(next) > 400 * 1024) throw validation('Item size to update has exceeded the maximum allowed size');
        checkIndexKeys(h.entry.definition.indexes, next);
        return { op: 'put', item: next };
      },
    }));
    const token = req.ClientRequestToken as string | undefined;
    const outcome = await orCanceled(() => ctx.store.transactions.run(txActions, token ? { token, fingerprint: fingerprint(req) } : undefined));

    const out: Record<string, unknown> = {};
    if (wantsItemCollectionMetrics(req)) {
      // The collections written to, not those only checked.
      const metrics = await itemCollectionMetricsByTable(ctx, actions.filter((a) => a.kind !== 'ConditionCheck'));
      if (metrics) out.ItemCollectionMetrics = metrics;
    }
    const mode = req.ReturnConsumedCapacity as string | undefined;
    if (mode !== 'TOTAL' && mode !== 'INDEXES') return out;
    // Per table, in the order tables first appear; each action costs twice its single-item units.
    const byTable = new Map<string, Record<string, unknown>[]>();
    actions.forEach(({ kind, h, item }, i) => {
      const def = h.entry.definition;
      const old = outcome.olds[i];
      const next = outcome.replayed ? item : outcome.nexts[i];
      const part =
        kind === 'ConditionCheck'
          ? { TableName: def.name, CapacityUnits: readUnits(old ? itemSize(old) : 0, true), Table: { CapacityUnits: readUnits(old ? itemSize(old) : 0, true) } }
          : writeCapacity('INDEXES', def, old, kind === 'Delete' ? undefined : next)!;
      const parts = byTable.get(def.name) ?? [];
      parts.push(doubled(part));
      byTable.set(def.name, parts);
    });
    const capacity = [...byTable].map(([name, parts]) => {
      const sum = sumCapacity(name, true, parts);
      if (mode === 'TOTAL') return { TableName: name, CapacityUnits: sum.CapacityUnits };
      return sum;
    });
    out.ConsumedCapacity = capacity;
    return out;
  },
};
