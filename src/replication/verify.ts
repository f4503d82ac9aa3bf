// `verify`: compares a source table with its replica item by item, in bounded memory.
//
// Both sides are streamed (a parallel Scan of the source, token-range scans of our table) into a
// fixed number of buckets chosen by a hash of the key; each bucket keeps a count and the XOR of
// its items' digests. Buckets that agree hold identical items. Only the items of buckets that
// disagree are read again, keeping key → digest maps for them alone (in several rounds if they
// are many), which names each missing, extra and different item. Differences are then re-read
// by key on both sides, so changes still in flight on a live table are not reported.
import type { ActionContext } from '../actions/context.js';
import { activeTable } from '../actions/context.js';
import type { Item, KeySchema } from '../dynamo/types.js';
import { keySchemaOf } from './api-target.js';
import type { TableHandle } from '../storage/item-store.js';
import { segmentRange } from '../storage/range-reader.js';
import { keyOf } from '../storage/translator.js';
import { forEachLimit } from './apply.js';
import { canonicalText, itemDigest, keyBucket, keyFromText, keyText } from './items.js';
import { retrying } from './snapshot.js';
import { errorName, type SourceApi } from './source.js';
import { ReplicationError } from './errors.js';
import type { ReplicationContext } from './process.js';

export interface VerifyOptions {
  ctx: ReplicationContext;
  source: SourceApi;
  sourceTable: string;
  target: string;
  /** The target behind a DynamoDB-API endpoint, instead of a table in ctx's keyspace. */
  targetApi?: SourceApi;
  segments?: number;
  /** How many differences to show with their items. */
  maxReport?: number;
  buckets?: number;
  /** At most this many keys are held in memory at once while naming differences. */
  maxKeysInMemory?: number;
  /** Re-read differences by key before reporting them (default true). */
  recheck?: boolean;
  log?: (line: string) => void;
}

export type DifferenceKind = 'missing' | 'extra' | 'different';

export interface Difference {
  kind: DifferenceKind;
  key: Item;
  source?: Item;
  target?: Item;
}

export interface VerifyReport {
  sourceItems: number;
  targetItems: number;
  missing: number;
  extra: number;
  different: number;
  /** The first differences, with both sides' items. */
  samples: Difference[];
  identical: boolean;
}

interface Digests {
  count: Uint32Array;
  xor: Buffer;
  items: number;
}

type Visit = (key: string, item: Item) => void;

const RECHECK_LIMIT = 10_000;

export async function verify(o: VerifyOptions): Promise<VerifyReport> {
  const segments = Math.max(1, o.segments ?? 4);
  const buckets = o.buckets ?? 4096;
  const maxKeys = o.maxKeysInMemory ?? 500_000;
  const notFound = (where: string) => (e: unknown) => {
    if (errorName(e) === 'ResourceNotFoundException') throw new ReplicationError(`target table ${o.target} does not exist ${where}`);
    throw e;
  };
  const targetApi = o.targetApi;
  const target: TargetReader = targetApi
    ? apiReader(targetApi, o.target, keySchemaOf(await targetApi.describeTable(o.target).catch(notFound('at the target endpoint'))))
    : cassandraReader(o.ctx, await activeTable(o.ctx as ActionContext, o.target).catch(notFound(`in keyspace ${o.ctx.session.keyspace}`)));
  await o.source.describeTable(o.sourceTable).catch((e: unknown) => {
    if (errorName(e) === 'ResourceNotFoundException') throw new ReplicationError(`source table ${o.sourceTable} does not exist`);
    throw e;
  });
  const schema = target.schema;
  const log = o.log ?? (() => undefined);
  // A comparison gives up after a few failures in a row rather than waiting forever.
  let failures = 0;
  const never = () => failures > 8;

  const scanSource = async (visit: Visit) => {
    let n = 0;
    await Promise.all(
      Array.from({ length: segments }, async (_, segment) => {
        let start: Record<string, unknown> | undefined;
        do {
          const page = await retrying(() => o.source.scan(o.sourceTable, segment, segments, start), never, (e) => {
            failures++;
            log(`source scan: retrying after ${(e as Error).message}`);
          });
          failures = 0;
          for (const item of page.items) visit(keyText(item, schema), item);
          n += page.items.length;
          start = page.lastKey;
        } while (start);
      }),
    );
    return n;
  };
  const scanTarget = async (visit: Visit) => {
    let n = 0;
    await Promise.all(
      Array.from({ length: segments }, async (_, segment) => {
        for await (const item of target.segment(segment, segments)) {
          visit(keyText(item, schema), item);
          n++;
        }
      }),
    );
    return n;
  };

  // Round 1: bucket digests of both sides, at the same time.
  const digests = (): Digests => ({ count: new Uint32Array(buckets), xor: Buffer.alloc(buckets * 16), items: 0 });
  const add = (d: Digests): Visit => (key, item) => {
    const b = keyBucket(key, buckets);
    d.count[b]!++;
    const h = itemDigest(item);
    for (let i = 0; i < 16; i++) d.xor[b * 16 + i]! ^= h[i]!;
  };
  const src = digests();
  const tgt = digests();
  [src.items, tgt.items] = await Promise.all([scanSource(add(src)), scanTarget(add(tgt))]);
  log(`source ${src.items} items, target ${tgt.items} items`);
  const differing: number[] = [];
  for (let b = 0; b < buckets; b++) {
    if (src.count[b] !== tgt.count[b] || src.xor.compare(tgt.xor, b * 16, b * 16 + 16, b * 16, b * 16 + 16) !== 0) differing.push(b);
  }

  // Round 2: name the differences, a group of buckets at a time.
  const candidates: { kind: DifferenceKind; key: string }[] = [];
  let group: number[] = [];
  let groupKeys = 0;
  const groups: number[][] = [];
  for (const b of differing) {
    const size = Math.max(src.count[b]!, tgt.count[b]!);
    if (group.length && groupKeys + size > maxKeys) {
      groups.push(group);
      group = [];
      groupKeys = 0;
    }
    group.push(b);
    groupKeys += size;
  }
  if (group.length) groups.push(group);
  for (const g of groups) {
    const wanted = new Set(g);
    const fromSource = new Map<string, string>();
    await scanSource((key, item) => {
      if (wanted.has(keyBucket(key, buckets))) fromSource.set(key, itemDigest(item).toString('hex'));
    });
    await scanTarget((key, item) => {
      if (!wanted.has(keyBucket(key, buckets))) return;
      const d = fromSource.get(key);
      if (d === undefined) candidates.push({ kind: 'extra', key });
      else {
        if (d !== itemDigest(item).toString('hex')) candidates.push({ kind: 'different', key });
        fromSource.delete(key);
      }
    });
    for (const key of fromSource.keys()) candidates.push({ kind: 'missing', key });
  }

  // Round 3: re-read each difference on both sides; what agrees now was in flight.
  const differences: Difference[] = [];
  let unconfirmed = 0;
  const recheck = o.recheck !== false;
  await forEachLimit(candidates, 16, async (c) => {
    const key = keyFromText(c.key, schema);
    if (!recheck || differences.length + unconfirmed >= RECHECK_LIMIT) {
      unconfirmed++;
      differences.push({ kind: c.kind, key: keyOf(key, schema) });
      return;
    }
    const d = await compareKey(o, target.read, key);
    if (d) differences.push(d);
  });
  const count = (k: DifferenceKind) => differences.filter((d) => d.kind === k).length;
  const report: VerifyReport = {
    sourceItems: src.items,
    targetItems: tgt.items,
    missing: count('missing'),
    extra: count('extra'),
    different: count('different'),
    samples: differences.slice(0, o.maxReport ?? 20),
    identical: differences.length === 0,
  };
  return report;
}

/** One key on both sides: undefined when they agree, else the difference. */
export async function compareKey(o: Pick<VerifyOptions, 'source' | 'sourceTable'>, read: (key: Item) => Promise<Item | undefined>, key: Item): Promise<Difference | undefined> {
  const [s, target] = await Promise.all([retrying(() => o.source.getItem(o.sourceTable, key), () => true), read(key)]);
  if (!s && !target) return undefined;
  if (s && target && canonicalText(s) === canonicalText(target)) return undefined;
  return { kind: !target ? 'missing' : !s ? 'extra' : 'different', key, source: s, target };
}

/** The target side of a comparison: its key schema, a segment of its items, and one item by key. */
interface TargetReader {
  schema: KeySchema;
  segment(segment: number, segments: number): AsyncIterable<Item>;
  read(key: Item): Promise<Item | undefined>;
}

function cassandraReader(ctx: ReplicationContext, handle: TableHandle): TargetReader {
  return {
    schema: handle.entry.definition.key,
    async *segment(segment, segments) {
      const { lo, hi } = segmentRange(segment, segments);
      for await (const stored of ctx.ranges.tokenRange(handle, lo, hi, undefined, true, 1000)) yield stored.item;
    },
    read: async (key) => (await ctx.store.read(handle, key, true))?.item,
  };
}

function apiReader(api: SourceApi, table: string, schema: KeySchema): TargetReader {
  return {
    schema,
    async *segment(segment, segments) {
      let start: Record<string, unknown> | undefined;
      let failures = 0;
      do {
        const page = await retrying(() => api.scan(table, segment, segments, start), () => failures > 8, () => failures++);
        failures = 0;
        yield* page.items;
        start = page.lastKey;
      } while (start);
    },
    read: (key) => retrying(() => api.getItem(table, key), () => true),
  };
}

/** The report as text lines for the terminal. */
export function formatReport(r: VerifyReport, source: string, target: string): string {
  const lines = [
    `source ${source}: ${r.sourceItems} items; target ${target}: ${r.targetItems} items`,
    r.identical
      ? 'identical'
      : `DIFFERENT: ${r.missing} missing from the target, ${r.extra} extra in the target, ${r.different} with different attributes`,
  ];
  for (const d of r.samples) {
    lines.push(`  ${d.kind.padEnd(9)} key ${JSON.stringify(d.key)}`);
    if (d.source) lines.push(`    source: ${JSON.stringify(d.source)}`);
    if (d.target) lines.push(`    target: ${JSON.stringify(d.target)}`);
  }
  const shown = r.samples.length;
  const total = r.missing + r.extra + r.different;
  if (total > shown) lines.push(`  (${total - shown} more not shown; raise --max-report)`);
  return lines.join('\n');
}
