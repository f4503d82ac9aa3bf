// Writes into the target through the item store and the table's translator, exactly like the
// API's unconditional PutItem and DeleteItem, so replicated data is readable through the API at
// once. Every stream record carries the whole new item (or is a delete), so applying one is
// idempotent and a batch needs only each item's last record: replay-safe, per-item ordered.
import type { Item, KeySchema } from '../dynamo/types.js';
import type { ItemStore, TableHandle } from '../storage/item-store.js';
import { Long } from '../storage/session.js';
import { keyOf } from '../storage/translator.js';
import { ReplicationError } from './errors.js';
import { keyText } from './items.js';
import type { StreamRecord } from './source.js';

/** Runs fn over items with at most `limit` running at once; stops at the first failure. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const lane = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failed !== undefined) throw failed;
}

type Statement = { query: string; params: unknown[] };

/**
 * Cassandra logs a warning for every batch of more than 5 KiB (batch_size_warn_threshold's
 * default), so batches stay below that; a larger item goes alone.
 */
const BATCH_BYTES = 4900;

/**
 * About the bytes Cassandra counts for a statement in a batch: its values (strings, blobs, maps of
 * strings), plus about 80 per row and 20 per map entry (timestamps and the like; measured on 5.0).
 */
function statementBytes(params: unknown[]): number {
  let n = 80;
  for (const p of params) {
    if (typeof p === 'string') n += Buffer.byteLength(p);
    else if (Buffer.isBuffer(p)) n += p.length;
    else if (p instanceof Long) n += 8;
    else if (p && typeof p === 'object') for (const [k, v] of Object.entries(p)) n += 20 + Buffer.byteLength(k) + Buffer.byteLength(String(v));
    else n += 8;
  }
  return n;
}

export interface BatchResult {
  /** Records applied (after skipping those older than the snapshot), by event name. */
  applied: Map<string, number>;
  skipped: number;
  /** Records skipped because a replicator wrote them (the loop guard of two-way replication). */
  echoes?: number;
  writes: number;
  /** ApproximateCreationDateTime of the last record, ms. */
  lastRecordAt?: number;
}

export type EventKind = 'put' | 'delete';

/** What a record does to the target. TTL deletions from DynamoDB Local carry an unknown event name. */
export function kindOf(r: StreamRecord): EventKind {
  if (r.eventName === 'INSERT' || r.eventName === 'MODIFY') {
    if (!r.newImage) {
      throw new ReplicationError(`stream record ${r.sequenceNumber} (${r.eventName}) has no new image; the stream's view type must be NEW_IMAGE or NEW_AND_OLD_IMAGES`);
    }
    return 'put';
  }
  if (r.eventName === 'REMOVE') return 'delete';
  return r.newImage ? 'put' : 'delete';
}

/**
 * The writes a batch of one shard's records needs: each item's last record (every record carries
 * the whole new item or a delete, so the last one alone gives the item's state), with the batch's
 * counts. Records created before `skipBefore` are already in the snapshot and are skipped.
 */
export function latestChanges(records: readonly StreamRecord[], skipBefore: number, schema: KeySchema): { result: BatchResult; writes: StreamRecord[] } {
  const result: BatchResult = { applied: new Map(), skipped: 0, writes: 0 };
  const last = new Map<string, StreamRecord>();
  for (const r of records) {
    result.lastRecordAt = r.approximateCreation;
    if (r.approximateCreation && r.approximateCreation < skipBefore) {
      result.skipped++;
      continue;
    }
    kindOf(r); // fail on a malformed record before writing anything of the batch
    result.applied.set(r.eventName, (result.applied.get(r.eventName) ?? 0) + 1);
    // Map insertion order is irrelevant: only each key's last record is written.
    last.set(keyText(r.keys, schema), r);
  }
  const writes = [...last.values()];
  result.writes = writes.length;
  return { result, writes };
}

export class Applier {
  constructor(
    private readonly store: ItemStore,
    readonly handle: TableHandle,
    private readonly concurrency: number,
    /** Called when a write fails: throws TargetDeleted if that is why. */
    private readonly checkTarget: () => Promise<void> = async () => undefined,
  ) {}

  private async writing(writes: Promise<void>): Promise<void> {
    try {
      await writes;
    } catch (e) {
      await this.checkTarget();
      throw e;
    }
  }

  private get schema() {
    return this.handle.entry.definition.key;
  }

  /**
   * Writes snapshot items (whole items, replacing whatever is there). Where the table has no
   * indexes, they are plain writes dated `writtenAt` (ms), which must precede every write the stream
   * tail makes: so any later write wins over them in Cassandra, whether plain or a lightweight
   * transaction (whose timestamp comes from a Cassandra node's clock), and even a late write of a
   * replicator that lost the snapshot lease cannot undo the tail's. They go out as small unlogged
   * batches within one replica set: half of Cassandra's CPU per item and a quarter of ours.
   */
  async putItems(items: readonly Item[], writtenAt: number, check?: () => void): Promise<void> {
    const batches = this.batches(items);
    if (batches) {
      const timestamp = Long.fromNumber(writtenAt * 1000);
      await this.writing(
        forEachLimit(batches, this.concurrency, async (batch) => {
          check?.();
          await this.store.batch(batch, timestamp);
        }),
      );
      return;
    }
    await this.writing(
      forEachLimit(items, this.concurrency, async (item) => {
        check?.();
        await this.store.putBlind(this.handle, item);
      }),
    );
  }

  /** The items' puts in batches of at most BATCH_BYTES per replica set; undefined when they cannot be plain writes. */
  private batches(items: readonly Item[]): Statement[][] | undefined {
    const full: Statement[][] = [];
    const filling = new Map<string, { statements: Statement[]; bytes: number }>();
    for (const item of items) {
      const statement = this.store.plainPut(this.handle, item);
      if (!statement) return undefined;
      const replicas = this.store.replicasOf(this.handle, item);
      const bytes = statementBytes(statement.params);
      let batch = filling.get(replicas);
      if (batch && batch.bytes + bytes > BATCH_BYTES) {
        full.push(batch.statements);
        batch = undefined;
      }
      if (!batch) filling.set(replicas, (batch = { statements: [], bytes: 0 }));
      batch.statements.push(statement);
      batch.bytes += bytes;
    }
    for (const batch of filling.values()) full.push(batch.statements);
    return full;
  }

  /**
   * Applies a batch of one shard's records, in order per item. Records created before
   * `skipBefore` are already in the snapshot and are not written again.
   */
  async applyRecords(records: readonly StreamRecord[], skipBefore: number, check?: () => void): Promise<BatchResult> {
    const { result, writes } = latestChanges(records, skipBefore, this.schema);
    await this.writing(
      forEachLimit(writes, this.concurrency, async (r) => {
        check?.();
        if (kindOf(r) === 'put') await this.store.putBlind(this.handle, r.newImage!);
        else await this.store.deleteBlind(this.handle, keyOf(r.keys, this.schema));
      }),
    );
    return result;
  }
}
