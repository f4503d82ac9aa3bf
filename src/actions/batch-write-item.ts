import { itemSize, normalizeItem } from '../dynamo/attribute-values.js';
import { DynamoError, validation } from '../dynamo/errors.js';
import type { Item } from '../dynamo/types.js';
import { TABLE_NAME, attrMap, compileValidator, list, map, obj } from '../dynamo/validation.js';
import { checkIndexKeys } from '../storage/indexes.js';
import { keyOf } from '../storage/translator.js';
import { activeTable, type ActionSpec } from './context.js';
import { ITEM_REQUEST, capacityNeedsOld, checkItemKey, checkItemSize, keyFromRequest, sumCapacity, writeCapacity } from './item-common.js';
import { itemCollectionMetricsByTable, wantsItemCollectionMetrics } from './item-collection-metrics.js';

const WRITE_REQUEST = obj(
  {
    DeleteRequest: obj({ Key: attrMap() }, ['Key'], 'DeleteRequest'),
    PutRequest: obj({ Item: attrMap() }, ['Item'], 'PutRequest'),
  },
  [],
  'WriteRequest',
);
const TABLE_NAME_KEYS = { minLength: 3, maxLength: 255, pattern: TABLE_NAME.rules!.pattern };

const validate = compileValidator(
  obj(
    {
      ReturnConsumedCapacity: ITEM_REQUEST.ReturnConsumedCapacity,
      ReturnItemCollectionMetrics: ITEM_REQUEST.ReturnItemCollectionMetrics,
      RequestItems: map(list(WRITE_REQUEST), { min: 1, keys: TABLE_NAME_KEYS, values: { minLength: 1, maxLength: 25 } }),
    },
    ['RequestItems'],
  ),
);

const MAX_WRITES = 25;
const ONE_KIND = 'Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes';

type Write = { kind: 'put'; item: Item; request: unknown } | { kind: 'delete'; key: Item; request: unknown };

export const batchWriteItem: ActionSpec = {
  validate,
  async run(ctx, req) {
    const requests = req.RequestItems as Record<string, { PutRequest?: { Item: unknown }; DeleteRequest?: { Key: unknown } }[]>;
    const tables = Object.keys(requests);
    if (tables.length === 0) throw validation('BatchWriteItem must have some requests set');
    if (tables.reduce((n, t) => n + requests[t].length, 0) > MAX_WRITES) {
      throw validation('Too many items requested for the BatchWriteItem call');
    }
    // Values and sizes first, as DynamoDB does, before any table is looked up.
    for (const name of tables) {
      for (const w of requests[name]) {
        if (!w.PutRequest && !w.DeleteRequest) throw validation(ONE_KIND);
        if (w.PutRequest) checkItemSize(itemSize(normalizeItem(w.PutRequest.Item)));
        else normalizeItem(w.DeleteRequest!.Key);
      }
    }
    // Every request is checked before anything is written: a bad one fails the whole call.
    const plans = await Promise.all(
      tables.map(async (name) => {
        const table = await activeTable(ctx, name);
        const schema = table.entry.definition.key;
        const seen = new Set<string>();
        const writes: Write[] = requests[name].map((w) => {
          if (!w.PutRequest === !w.DeleteRequest) throw validation(ONE_KIND);
          let write: Write;
          if (w.PutRequest) {
            const item = normalizeItem(w.PutRequest.Item);
            // A written item without its key, or with a key of another type, is worded as a key lookup.
            const k = [schema.hash, schema.range];
            if (k.some((a) => a && (!item[a.name] || !(a.type in item[a.name]!)))) throw validation('The provided key element does not match the schema');
            checkItemKey(schema, item);
            // Index keys too (checked again at write time): one bad item must stop all of them.
            checkIndexKeys(table.entry.definition.indexes, item);
            write = { kind: 'put', item, request: w };
          } else {
            write = { kind: 'delete', key: keyFromRequest(schema, w.DeleteRequest!.Key), request: w };
          }
          const id = JSON.stringify(keyOf(write.kind === 'put' ? write.item : write.key, schema));
          if (seen.has(id)) throw validation('Provided list of item keys contains duplicates');
          seen.add(id);
          return write;
        });
        return { name, table, writes };
      }),
    );
    // Capacity is sized by the old item as well (DynamoDB's rule for puts and deletes), so asking
    // for it makes each write read the item it replaces.
    const withOld = capacityNeedsOld(req);
    type Outcome = { ok: true; capacity?: Record<string, unknown> } | { ok: false };
    const results = await Promise.all(
      plans.map((p) =>
        Promise.all(
          p.writes.map((w) =>
            (w.kind === 'put' ? ctx.store.putBlind(p.table, w.item, withOld) : ctx.store.deleteBlind(p.table, w.key, withOld)).then(
              (old): Outcome => ({
                ok: true,
                capacity: writeCapacity(req.ReturnConsumedCapacity, p.table.entry.definition, old, w.kind === 'put' ? w.item : undefined),
              }),
              (e): Outcome => {
                // A write Cassandra could not take, or whose outcome is unknown (a 5xx), is handed
                // back, as DynamoDB does under throttling: sending it again is a new write.
                if (e instanceof DynamoError && e.statusCode < 500) throw e;
                return { ok: false };
              },
            ),
          ),
        ),
      ),
    );
    const unprocessed: Record<string, unknown[]> = {};
    const capacity: Record<string, unknown>[] = [];
    plans.forEach((p, i) => {
      const left = p.writes.filter((_, j) => !results[i][j].ok).map((w) => w.request);
      if (left.length) unprocessed[p.name] = left;
      if (withOld) {
        const done = results[i].flatMap((r) => (r.ok && r.capacity ? [r.capacity] : []));
        capacity.push(sumCapacity(p.name, req.ReturnConsumedCapacity === 'INDEXES', done));
      }
    });
    const out: Record<string, unknown> = { UnprocessedItems: unprocessed };
    if (withOld) out.ConsumedCapacity = capacity;
    if (wantsItemCollectionMetrics(req)) {
      const written = plans.flatMap((p, i) => p.writes.filter((_, j) => results[i][j].ok).map((w) => ({ h: p.table, key: keyOf(w.kind === 'put' ? w.item : w.key, p.table.entry.definition.key) })));
      const metrics = await itemCollectionMetricsByTable(ctx, written);
      if (metrics) out.ItemCollectionMetrics = metrics;
    }
    return out;
  },
};
