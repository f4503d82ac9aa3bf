import { itemSize, normalizeItem } from '../dynamo/attribute-values.js';
import { DynamoError, validation } from '../dynamo/errors.js';
import { compileRequestExpressions, projectItem } from '../dynamo/expressions/index.js';
import type { Item } from '../dynamo/types.js';
import { TABLE_NAME, attrMap, bool, compileValidator, list, map, obj, str } from '../dynamo/validation.js';
import { keyOf } from '../storage/translator.js';
import { activeTable, type ActionSpec } from './context.js';
import { ATTRIBUTES_TO_GET, ITEM_REQUEST, consumedCapacity, keyFromRequest, readUnits } from './item-common.js';

const TABLE_REQUEST = obj(
  {
    Keys: list(attrMap(), { min: 1, max: 100 }),
    AttributesToGet: ATTRIBUTES_TO_GET,
    ConsistentRead: bool(),
    ProjectionExpression: str(),
    ExpressionAttributeNames: ITEM_REQUEST.ExpressionAttributeNames,
  },
  ['Keys'],
  'KeysAndAttributes',
);
const TABLE_NAME_KEYS = { minLength: 3, maxLength: 255, pattern: TABLE_NAME.rules!.pattern };

const validate = compileValidator(
  obj(
    {
      ReturnConsumedCapacity: ITEM_REQUEST.ReturnConsumedCapacity,
      RequestItems: map(TABLE_REQUEST, { min: 1, keys: TABLE_NAME_KEYS }),
    },
    ['RequestItems'],
  ),
);

/** DynamoDB returns at most 16 MB of items per BatchGetItem; the rest come back unprocessed. */
const RESPONSE_BYTES = 16 * 1024 * 1024;
const MAX_KEYS = 100;

export const batchGetItem: ActionSpec = {
  validate,
  async run(ctx, req) {
    const requests = req.RequestItems as Record<string, Record<string, unknown>>;
    const tables = Object.keys(requests);
    if (tables.length === 0) throw validation('BatchGetItem must have some requests set');
    let total = 0;
    for (const t of tables) {
      const keys = requests[t].Keys as unknown[];
      if (keys.length === 0) throw validation(`The list of keys in RequestItems for BatchGetItem is required: ${t} has empty list`);
      total += keys.length;
    }
    // Validate everything before reading anything, and the request itself before any table (DynamoDB's order).
    const projections = tables.map((name) => {
      const r = requests[name];
      const { projection } = compileRequestExpressions(r, 'BatchGetItem');
      const seen = new Set<string>();
      for (const raw of r.Keys as unknown[]) {
        const key = normalizeItem(raw);
        const id = JSON.stringify(Object.keys(key).sort().map((k) => [k, key[k]]));
        if (seen.has(id)) throw validation('Provided list of item keys contains duplicates');
        seen.add(id);
      }
      return projection;
    });
    if (total > MAX_KEYS) throw validation('Too many items requested for the BatchGetItem call');
    const plans = await Promise.all(
      tables.map(async (name, i) => {
        const r = requests[name];
        const table = await activeTable(ctx, name);
        const keys = (r.Keys as unknown[]).map((k) => keyFromRequest(table.entry.definition.key, k));
        return { name, r, table, keys, projection: projections[i], consistent: r.ConsistentRead === true };
      }),
    );
    const reads = await Promise.all(
      plans.map((p) =>
        Promise.all(
          p.keys.map((key) =>
            ctx.store.read(p.table, key, p.consistent).then(
              (stored) => ({ key, stored, failed: false }),
              (e) => {
                if (e instanceof DynamoError) throw e;
                return { key, stored: undefined, failed: true };
              },
            ),
          ),
        ),
      ),
    );
    const responses: Record<string, Item[]> = {};
    const unprocessed: Record<string, Record<string, unknown>> = {};
    const capacity: { TableName: string; CapacityUnits: number }[] = [];
    let bytes = 0;
    plans.forEach((p, i) => {
      const found: Item[] = [];
      const left: Item[] = [];
      let units = 0;
      for (const { key, stored, failed } of reads[i]) {
        if (failed || (stored && bytes >= RESPONSE_BYTES)) {
          left.push(key);
          continue;
        }
        // A key that finds nothing costs a read too, as in GetItem.
        if (!stored) {
          units += readUnits(0, p.consistent);
          continue;
        }
        const size = itemSize(stored.item);
        bytes += size;
        units += readUnits(size, p.consistent);
        found.push(p.projection ? projectItem(stored.item, p.projection) : stored.item);
      }
      responses[p.name] = found;
      if (left.length) unprocessed[p.name] = { ...p.r, Keys: left };
      capacity.push(consumedCapacity(req.ReturnConsumedCapacity, p.name, () => units) ?? { TableName: p.name, CapacityUnits: units });
    });
    const out: Record<string, unknown> = { Responses: responses, UnprocessedKeys: unprocessed };
    if (req.ReturnConsumedCapacity === 'TOTAL' || req.ReturnConsumedCapacity === 'INDEXES') out.ConsumedCapacity = capacity;
    return out;
  },
};
