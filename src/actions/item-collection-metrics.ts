// ReturnItemCollectionMetrics=SIZE: for a table with a local secondary index, the size of the
// written item's collection (the items sharing its hash key, plus what the local indexes hold of
// them) as DynamoDB's estimate range in GB. Tables without one get no metrics, as in DynamoDB.
import { itemSize } from '../dynamo/attribute-values.js';
import type { Item } from '../dynamo/types.js';
import type { TableHandle } from '../storage/item-store.js';
import { indexEntry } from '../storage/indexes.js';
import type { ActionContext } from './context.js';

/** Rows per Cassandra round trip while a collection is summed: bounded memory with 400 KB items. */
const PAGE_ROWS = 100;
const GB = 1024 ** 3;

/** DynamoDB's two-element estimate: the whole gigabytes below the size and the next one up. */
export function sizeEstimateRangeGB(bytes: number): [number, number] {
  const lower = Math.floor(bytes / GB);
  return [lower, lower + 1];
}

export const wantsItemCollectionMetrics = (req: Record<string, unknown>) => req.ReturnItemCollectionMetrics === 'SIZE';

/** A single-item write's response gets its collection's metrics when the request asks for them. */
export async function addItemCollectionMetrics(out: Record<string, unknown>, ctx: ActionContext, req: Record<string, unknown>, h: TableHandle, key: Item) {
  if (!wantsItemCollectionMetrics(req)) return;
  const metrics = await itemCollectionMetrics(ctx, h, key);
  if (metrics) out.ItemCollectionMetrics = metrics;
}

/** The metrics of the collection holding `key`, read after the write; undefined without an LSI. */
export async function itemCollectionMetrics(ctx: ActionContext, h: TableHandle, key: Item): Promise<Record<string, unknown> | undefined> {
  const def = h.entry.definition;
  const locals = (def.indexes ?? []).filter((ix) => ix.kind === 'LOCAL');
  if (locals.length === 0) return undefined;
  const hash = key[def.key.hash.name]!;
  let bytes = 0;
  for await (const stored of ctx.ranges.partition(h, hash, {}, true, true, PAGE_ROWS)) {
    bytes += itemSize(stored.item);
    for (const ix of locals) {
      const entry = indexEntry(ix, def.key, stored.item);
      if (entry) bytes += itemSize(JSON.parse(entry.json) as Item);
    }
  }
  return { ItemCollectionKey: { [def.key.hash.name]: hash }, SizeEstimateRangeGB: sizeEstimateRangeGB(bytes) };
}

/**
 * BatchWriteItem's and TransactWriteItems' form: per table, one entry per collection written
 * (several writes in one collection report it once).
 */
export async function itemCollectionMetricsByTable(
  ctx: ActionContext,
  writes: { h: TableHandle; key: Item }[],
): Promise<Record<string, Record<string, unknown>[]> | undefined> {
  const byCollection = new Map<string, { h: TableHandle; key: Item }>();
  for (const w of writes) {
    const def = w.h.entry.definition;
    if (!(def.indexes ?? []).some((ix) => ix.kind === 'LOCAL')) continue;
    byCollection.set(JSON.stringify([def.name, w.key[def.key.hash.name]]), w);
  }
  if (byCollection.size === 0) return undefined;
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const { h, key } of byCollection.values()) {
    const metrics = (await itemCollectionMetrics(ctx, h, key))!;
    (out[h.entry.definition.name] ??= []).push(metrics);
  }
  return out;
}
