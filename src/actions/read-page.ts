// One page of a Query or Scan, by DynamoDB's rules: Limit counts items evaluated (before the
// filter), a page also ends once 1 MB of items has been read, and LastEvaluatedKey is the key of
// the last item evaluated. Items flow in from a Cassandra stream; only the page is held.
import { itemSize, normalizeItem } from '../dynamo/attribute-values.js';
import { validation } from '../dynamo/errors.js';
import { convertAttributesToGet, convertFilter, evaluateCondition, projectItem, type Condition, type Path } from '../dynamo/expressions/index.js';
import type { Item, KeySchema } from '../dynamo/types.js';
import type { TableDefinition } from '../storage/catalog.js';
import { projectedNames, type IndexDefinition } from '../storage/indexes.js';
import { indexHashKeys, indexKeyAttributes } from '../storage/index-keys.js';
import type { PageRows } from '../storage/range-reader.js';
import type { StoredItem } from '../storage/translator.js';
import { RawJson, type ActionContext, type Request } from './context.js';
import { checkKeyValue, consumedCapacity, readUnits } from './item-common.js';

export const PAGE_BYTES = 1024 * 1024;

export interface PageOptions {
  limit?: number;
  filter?: Condition;
  projection?: Path[];
  countOnly: boolean;
  /** Key attributes reported in LastEvaluatedKey (the table's, plus an index's). */
  keyNames: string[];
  /** The page's exact size is reported (ConsumedCapacity), not only compared with 1 MB. */
  exactBytes?: boolean;
}

export interface Page {
  items: string[];
  count: number;
  scanned: number;
  /** DynamoDB's size of the items read; exact when asked for or when the page neared 1 MB. */
  bytes: number;
  lastKey?: Item;
}

function keyOf(item: Item, names: string[]): Item {
  const key: Item = {};
  for (const n of names) if (item[n]) key[n] = item[n];
  return key;
}

const jsonSize = (json: string): number => itemSize(JSON.parse(json) as Item);

/**
 * Sizing an item the DynamoDB way means parsing its JSON. Items whose JSON goes into the page as
 * stored need no parse otherwise, so until the page nears 1 MB their sizes are bounded from above
 * by the JSON's UTF-8 length (never smaller than DynamoDB's size: every name, value and nesting
 * costs at least as many JSON bytes) and computed exactly only from then on.
 */
export async function collectPage(source: AsyncGenerator<StoredItem>, o: PageOptions): Promise<Page> {
  const page: Page = { items: [], count: 0, scanned: 0, bytes: 0 };
  // Parsed anyway (filter, projection), or not kept for a later exact sum (a count): size exactly.
  let exact = o.exactBytes === true || o.filter !== undefined || o.projection !== undefined || o.countOnly;
  try {
    for await (const stored of source) {
      page.scanned++;
      if (exact) page.bytes += itemSize(stored.item);
      else {
        page.bytes += Buffer.byteLength(stored.json);
        if (page.bytes >= PAGE_BYTES) {
          // Near the limit the bound is not enough: the exact sizes of the page so far.
          exact = true;
          page.bytes = 0;
          for (const json of page.items) page.bytes += jsonSize(json);
          page.bytes += itemSize(stored.item);
        }
      }
      if (!o.filter || evaluateCondition(o.filter, stored.item)) {
        page.count++;
        if (!o.countOnly) page.items.push(o.projection ? JSON.stringify(projectItem(stored.item, o.projection)) : stored.json);
      }
      if ((o.limit !== undefined && page.scanned >= o.limit) || (exact && page.bytes >= PAGE_BYTES)) {
        page.lastKey = keyOf(stored.item, o.keyNames);
        break;
      }
    }
  } finally {
    // Stops the Cassandra paging when the page ended early.
    await source.return(undefined);
  }
  return page;
}

/** The response body of a Query or Scan page, embedding stored item JSON as is. */
export function pageResponse(req: Request, page: Page, countOnly: boolean, consistent: boolean, ix?: IndexDefinition): RawJson {
  let json = '{';
  if (!countOnly) json += `"Items":[${page.items.join(',')}],`;
  json += `"Count":${page.count},"ScannedCount":${page.scanned}`;
  if (page.lastKey) json += `,"LastEvaluatedKey":${JSON.stringify(page.lastKey)}`;
  const units = () => readUnits(page.bytes, consistent);
  let capacity: Record<string, unknown> | undefined = consumedCapacity(req.ReturnConsumedCapacity, req.TableName, units);
  if (capacity && ix && req.ReturnConsumedCapacity === 'INDEXES') {
    // An index read is charged to the index, not the table.
    const member = ix.kind === 'GLOBAL' ? 'GlobalSecondaryIndexes' : 'LocalSecondaryIndexes';
    capacity = { TableName: req.TableName, CapacityUnits: capacity.CapacityUnits, Table: { CapacityUnits: 0 }, [member]: { [ix.name]: { CapacityUnits: capacity.CapacityUnits } } };
  }
  if (capacity) json += `,"ConsumedCapacity":${JSON.stringify(capacity)}`;
  return new RawJson(json + '}');
}

/** Select and projection rules shared by Query and Scan; returns whether only a count is wanted. */
export function checkSelect(req: Request, projection: Path[] | undefined, onIndex: boolean): boolean {
  const select = req.Select as string | undefined;
  const what = req.AttributesToGet ? 'AttributesToGet' : 'ProjectionExpression';
  if (select === 'SPECIFIC_ATTRIBUTES' && !projection) {
    throw validation('Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES');
  }
  if (select === 'ALL_ATTRIBUTES' && projection) throw validation(`Cannot specify the ${what} when choosing to get ALL_ATTRIBUTES`);
  if (select === 'COUNT' && projection) throw validation(`Cannot specify the ${what} when choosing to get COUNT`);
  if (select === 'ALL_PROJECTED_ATTRIBUTES') {
    if (!onIndex) throw validation('ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName');
    if (projection) throw validation(`Cannot specify the ${what} when choosing to get ALL_PROJECTED_ATTRIBUTES`);
  }
  return select === 'COUNT';
}

/** The index a Query or Scan names, checked as DynamoDB checks it. */
export function resolveIndex(def: TableDefinition, req: Request): IndexDefinition | undefined {
  if (!req.IndexName) return undefined;
  const ix = def.indexes?.find((i) => i.name === req.IndexName);
  if (!ix || ix.status === 'DELETING') throw validation(`The table does not have the specified index: ${req.IndexName}`);
  if (ix.status === 'CREATING') throw validation(`Cannot read from backfilling global secondary index: ${ix.name}`);
  if (ix.kind === 'GLOBAL' && req.ConsistentRead === true) throw validation('Consistent reads are not supported on global secondary indexes');
  return ix;
}

/** A GSI read cannot fetch unprojected attributes (checked after the start key, as DynamoDB does). */
export function checkIndexSelect(ix: IndexDefinition | undefined, req: Request): void {
  if (ix && req.Select === 'ALL_ATTRIBUTES' && ix.kind === 'GLOBAL' && ix.projection.type !== 'ALL') {
    throw validation(
      `One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index ${ix.name} because its projection type is not ALL`,
    );
  }
}

/**
 * A Query's or Scan's document paths may not reach inside a key attribute of the table or of any
 * of its indexes (DynamoDB's "Key attributes must be scalars").
 */
export function checkKeyPaths(paths: Path[] | undefined, def: TableDefinition): void {
  if (!paths) return;
  const nested = new Set(paths.filter((p) => p.length > 1).map((p) => p[0]));
  if (!nested.size) return;
  const fail = (what: string, name: string) => validation(`Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: ${what}: ${name}`);
  for (const k of [def.key.hash, def.key.range]) if (k && nested.has(k.name)) throw fail('Key', k.name);
  for (const ix of def.indexes ?? []) for (const k of [ix.key.hash, ix.key.range]) if (k && nested.has(k.name)) throw fail('IndexKey', k.name);
}

/**
 * The legacy parameters a Query or Scan checks before its start key: AttributesToGet and the
 * filter conditions (Scan checks AttributesToGet first, Query its QueryFilter first).
 */
export function checkLegacyReadParameters(req: Request, filter: 'QueryFilter' | 'ScanFilter'): void {
  if (filter === 'QueryFilter') convertFilter(req.QueryFilter, undefined);
  convertAttributesToGet(req.AttributesToGet);
  if (filter === 'ScanFilter') convertFilter(req.ScanFilter, undefined);
}

/**
 * Whether an LSI read must fetch items from the table: DynamoDB does so when the request wants
 * attributes the index does not project (ALL_ATTRIBUTES, or a projection naming others).
 */
export function lsiFetchesBase(ix: IndexDefinition, table: KeySchema, req: Request, projection: Path[] | undefined): boolean {
  if (ix.kind !== 'LOCAL') return false;
  const names = projectedNames(ix, table);
  if (!names) return false;
  if (req.Select === 'ALL_ATTRIBUTES') return true;
  return (projection ?? []).some((p) => !names.has(p[0] as string));
}

/** Replaces each index entry by its item in the table (for LSI reads of unprojected attributes). */
export async function* baseItems(
  source: AsyncGenerator<StoredItem>,
  read: (key: Item) => Promise<StoredItem | undefined>,
  table: KeySchema,
): AsyncGenerator<StoredItem> {
  try {
    for await (const entry of source) {
      const item = entry.item;
      const key: Item = { [table.hash.name]: item[table.hash.name] };
      if (table.range) key[table.range.name] = item[table.range.name];
      const full = await read(key);
      if (full) yield full;
    }
  } finally {
    await source.return(undefined);
  }
}

/** LastEvaluatedKey members: the index's keys and the table's. */
export function pageKeyNames(table: KeySchema, ix?: IndexDefinition): string[] {
  const names = [table.hash.name, ...(table.range ? [table.range.name] : [])];
  if (ix) for (const k of indexKeyAttributes(ix)) if (!names.includes(k.name)) names.push(k.name);
  return names;
}

/**
 * Rows of the first Cassandra page: one more than a round number, so that a Query of up to 128
 * items ends in one round trip (a page filled exactly needs a second trip to learn it was the last).
 */
const FIRST_PAGE_ROWS = 129;
/** The most rows of one Cassandra page (later pages also stop near the 1 MB a DynamoDB page reads). */
const MAX_PAGE_ROWS = 1000;

/** Consistency level, Limit and Cassandra page sizes of a Query or Scan. */
export function readSettings(ctx: ActionContext, req: Request): { consistent: boolean; level: number; limit?: number; rows: PageRows } {
  const consistent = req.ConsistentRead === true;
  const c = ctx.session.consistency;
  const limit = req.Limit as number | undefined;
  const rows = { first: Math.min(limit ?? FIRST_PAGE_ROWS, FIRST_PAGE_ROWS), max: MAX_PAGE_ROWS, total: limit, bytes: PAGE_BYTES };
  return { consistent, level: consistent ? c.strong : c.eventual, limit, rows };
}
