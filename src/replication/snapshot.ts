// The snapshot: a parallel Scan of the source (TotalSegments), each page written to the target
// before the next is asked for, under the snapshot lease. Segment positions are checkpointed, so
// a snapshot interrupted by a crash resumes (by this or another process) where it stopped.
import type { ReplicaWriter } from './replica-target.js';
import { ReplicationError, TargetDeleted } from './errors.js';
import { fromSdkItem, toSdkItem } from './items.js';
import { LeaseLost, sleep, type Lease } from './leases.js';
import type { ProgressSink } from './progress.js';
import type { ScanPage, SourceApi } from './source.js';

export interface SegmentState {
  /** LastEvaluatedKey of the last page written, in wire form. */
  key?: Record<string, unknown>;
  done: boolean;
  items: number;
}

export interface SnapshotPosition {
  startedAt: number;
  segments: SegmentState[];
}

export interface SnapshotOptions {
  source: SourceApi;
  sourceTable: string;
  applier: ReplicaWriter;
  /** The Cassandra timestamp (ms) of the snapshot's writes: before the stream tail's (see ReplicaWriter.putItems). */
  writtenAt: number;
  lease: Lease;
  position: SnapshotPosition;
  progress?: ProgressSink;
  onItems?: (n: number) => void;
  onError?: (e: unknown) => void;
  stopped: () => boolean;
  checkpointMs?: number;
  pageItems?: number;
}

/** Items per Scan page: small enough for frequent checkpoints, large enough to stay cheap. */
export const PAGE_ITEMS = 500;

/** Retries fn with exponential backoff until it succeeds; lease loss, user errors and a deleted target end it. */
export async function retrying<T>(fn: () => Promise<T>, stopped: () => boolean, onError?: (e: unknown) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof LeaseLost || e instanceof ReplicationError || e instanceof TargetDeleted || stopped()) throw e;
      onError?.(e);
      await sleep(Math.min(10_000, 100 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random() / 2));
    }
  }
}

export class Stopped extends Error {
  constructor() {
    super('stopped');
    this.name = 'Stopped';
  }
}

/** Copies the source into the target; resolves with the number of items written in total. */
export async function runSnapshot(o: SnapshotOptions): Promise<number> {
  const segments = o.position.segments;
  let total = segments.reduce((n, s) => n + s.items, 0);
  const check = () => {
    if (o.stopped()) throw new Stopped();
    o.lease.check();
  };
  let finished = false;
  let checkpointing = Promise.resolve();
  const checkpoint = () =>
    (checkpointing = checkpointing.then(() => o.lease.checkpoint({ position: JSON.stringify(o.position), applied: total })));
  // Periodic checkpoints (which also renew the lease) while the segments run.
  let wake: () => void = () => undefined;
  const ended = new Promise<void>((r) => (wake = r));
  const ticker = (async () => {
    while (!finished) {
      await Promise.race([sleep(o.checkpointMs ?? 2000), ended]);
      if (finished) break;
      try {
        await checkpoint();
      } catch (e) {
        if (e instanceof LeaseLost) return;
        o.onError?.(e);
      }
    }
  })();

  const runSegment = async (index: number) => {
    const seg = segments[index]!;
    if (seg.done) return;
    const scan = (key?: Record<string, unknown>) =>
      retrying(
        () => o.source.scan(o.sourceTable, index, segments.length, key ? toSdkItem(key as never) : undefined, o.pageItems ?? PAGE_ITEMS),
        o.stopped,
        o.onError,
      );
    let pending: Promise<ScanPage> = scan(seg.key);
    for (;;) {
      check();
      const page = await pending;
      // Ask for the next page while this one is written.
      const lastKey = page.lastKey ? fromSdkItem(page.lastKey) : undefined;
      if (lastKey) {
        pending = scan(lastKey);
        pending.catch(() => undefined);
      }
      await retrying(() => o.applier.putItems(page.items, o.writtenAt, check), o.stopped, o.onError);
      seg.items += page.items.length;
      seg.key = lastKey;
      total += page.items.length;
      o.onItems?.(page.items.length);
      o.progress?.update(total);
      if (!lastKey) {
        seg.done = true;
        return;
      }
    }
  };

  try {
    await Promise.all(segments.map((_, i) => runSegment(i)));
  } finally {
    finished = true;
    wake();
    await ticker;
    // Keep what was written, whatever ended the run (the lease may still be ours).
    if (o.lease.valid()) await checkpoint().catch(() => undefined);
    await checkpointing.catch(() => undefined);
  }
  o.progress?.finish(total);
  return total;
}
