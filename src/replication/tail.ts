// Reading one stream shard under its lease: from the checkpoint (or the shard's oldest record),
// a batch at a time, each batch applied and then checkpointed, until the shard is closed and read
// to its end. Expired iterators are re-acquired from the checkpoint; throttling backs off;
// trimmed records end the table's replication with what to do, never a silent skip.
import type { Applier, BatchResult } from './apply.js';
import { RESNAPSHOT_ADVICE, ReplicationError } from './errors.js';
import { LeaseLost, sleep, type Lease } from './leases.js';
import { Stopped, retrying } from './snapshot.js';
import { THROTTLING, errorName, type StreamRecord, type StreamsApi } from './source.js';

export interface ShardRunOptions {
  streams: StreamsApi;
  streamArn: string;
  shardId: string;
  lease: Lease;
  /** The last sequence number applied (the checkpoint), if any. */
  position?: string;
  applied: number;
  applier: Applier;
  skipBefore: number;
  pollMs: number;
  stopped: () => boolean;
  onBatch?: (result: BatchResult, lagSeconds: number) => void;
  onError?: (e: unknown) => void;
}

export type ShardOutcome = 'finished' | 'stopped' | 'lost';

function trimmed(shardId: string, position: string | undefined, cause: string): ReplicationError {
  return new ReplicationError(
    `stream records of shard ${shardId} after ${position ? `sequence number ${position}` : 'its start'} are no longer available (${cause}): they were trimmed (the stream keeps 24 hours) before this replicator applied them. ${RESNAPSHOT_ADVICE}`,
  );
}

export async function runShard(o: ShardRunOptions): Promise<ShardOutcome> {
  let position = o.position;
  let applied = o.applied;
  let throttled = 0;
  const check = () => {
    if (o.stopped()) throw new Stopped();
    o.lease.check();
  };

  const iteratorFrom = async (): Promise<string> => {
    for (;;) {
      check();
      try {
        return await o.streams.getShardIterator(o.streamArn, o.shardId, position);
      } catch (e) {
        const name = errorName(e);
        if (name === 'TrimmedDataAccessException') throw trimmed(o.shardId, position, name);
        if (name === 'ResourceNotFoundException') throw trimmed(o.shardId, position, 'the shard no longer exists');
        await backoff(e);
      }
    }
  };
  const backoff = async (e: unknown) => {
    if (THROTTLING.has(errorName(e))) throttled++;
    else o.onError?.(e);
    await sleep(Math.min(10_000, 200 * 2 ** Math.min(throttled, 6)) * (0.5 + Math.random() / 2));
  };

  try {
    let iterator = await iteratorFrom();
    type Fetch = { records: StreamRecord[]; next?: string } | { error: unknown };
    const fetch = (it: string): Promise<Fetch> => o.streams.getRecords(it).then((r) => r, (error: unknown) => ({ error }));
    let pending = fetch(iterator);
    for (;;) {
      check();
      const got = await pending;
      if ('error' in got) {
        const name = errorName(got.error);
        if (name === 'ExpiredIteratorException') {
          iterator = await iteratorFrom();
        } else if (name === 'TrimmedDataAccessException') {
          throw trimmed(o.shardId, position, name);
        } else {
          await backoff(got.error);
        }
        pending = fetch(iterator);
        continue;
      }
      throttled = 0;
      const { records, next } = got;
      // Read ahead while this batch is applied; an iterator stays valid for 15 minutes.
      if (next && records.length) pending = fetch(next);
      if (records.length) {
        const result = await retrying(() => o.applier.applyRecords(records, o.skipBefore, check), o.stopped, o.onError);
        applied += records.length - result.skipped;
        position = records[records.length - 1]!.sequenceNumber;
        const lag = result.lastRecordAt ? Math.max(0, (Date.now() - result.lastRecordAt) / 1000) : 0;
        o.onBatch?.(result, lag);
        await retrying(
          () => o.lease.checkpoint({ position, applied, lagMs: Math.round(lag * 1000), recordAt: result.lastRecordAt }),
          o.stopped,
          o.onError,
        );
      } else {
        o.onBatch?.({ applied: new Map(), skipped: 0, writes: 0 }, 0);
      }
      if (!next) {
        // A closed shard read to its end: its children may start now.
        await retrying(() => o.lease.finish({ position, applied, lagMs: 0 }), o.stopped, o.onError);
        return 'finished';
      }
      iterator = next;
      if (!records.length) {
        await sleep(o.pollMs);
        pending = fetch(iterator);
      }
    }
  } catch (e) {
    if (e instanceof Stopped) return 'stopped';
    if (e instanceof LeaseLost) return 'lost';
    throw e;
  }
}
