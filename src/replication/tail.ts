// Reading one stream shard under its lease: from the checkpoint (or the shard's oldest record),
// a batch at a time, each batch applied and then checkpointed, until the shard is closed and read
// to its end. Expired iterators are re-acquired from the checkpoint; throttling backs off;
// trimmed records end the table's replication with what to do, never a silent skip.
import type { BatchResult } from './apply.js';
import type { ReplicaWriter } from './replica-target.js';
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
  applier: ReplicaWriter;
  skipBefore: number;
  pollMs: number;
  stopped: () => boolean;
  onBatch?: (result: BatchResult, lagSeconds: number) => void;
  onError?: (e: unknown) => void;
}

export type ShardOutcome = 'finished' | 'stopped' | 'lost';

const CHECKPOINT_MS = 1000;

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

  // Checkpoints (lightweight transactions) go out at most once a second, off the apply path: a
  // restart re-applies at most that much, which changes nothing (replay-safe).
  let started = o.position;
  let lastAt = 0;
  let inflight: Promise<void> = Promise.resolve();
  let checkpointError: unknown;
  const progress = (lagMs: number, recordAt?: number) => ({ position, applied, lagMs, recordAt });
  const startCheckpoint = (cp: ReturnType<typeof progress>) => {
    started = cp.position;
    lastAt = Date.now();
    inflight = inflight
      .then(() => retrying(() => o.lease.checkpoint(cp), o.stopped, o.onError))
      .catch((e: unknown) => {
        checkpointError ??= e;
      });
  };

  try {
    let iterator = await iteratorFrom();
    type Fetch = { records: StreamRecord[]; next?: string } | { error: unknown };
    const fetch = (it: string): Promise<Fetch> => o.streams.getRecords(it).then((r) => r, (error: unknown) => ({ error }));
    let pending = fetch(iterator);
    for (;;) {
      if (checkpointError) throw checkpointError;
      check();
      const got = await pending;
      if ('error' in got) {
        const name = errorName(got.error);
        if (name === 'ExpiredIteratorException') {
          iterator = await iteratorFrom();
        } else if (name === 'ResourceNotFoundException') {
          // The shard expired (DynamoDB Local says so this way): GetShardIterator from the checkpoint
          // then reports it as trimmed; if the shard is still there, this was a passing error.
          await backoff(got.error);
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
        if (Date.now() - lastAt >= CHECKPOINT_MS) startCheckpoint(progress(Math.round(lag * 1000), result.lastRecordAt));
      } else {
        o.onBatch?.({ applied: new Map(), skipped: 0, writes: 0 }, 0);
        // Caught up: record the position now rather than at the next busy moment.
        if (position !== started) startCheckpoint(progress(0));
      }
      if (!next) {
        // A closed shard read to its end: its children may start now.
        await inflight;
        if (checkpointError) throw checkpointError;
        await retrying(() => o.lease.finish(progress(0)), o.stopped, o.onError);
        return 'finished';
      }
      iterator = next;
      if (!records.length) {
        await sleep(o.pollMs);
        pending = fetch(iterator);
      }
    }
  } catch (e) {
    if (e instanceof Stopped) {
      // Keep what was applied, so whoever continues starts right after it.
      await inflight;
      if (!checkpointError && position !== started && o.lease.valid()) await o.lease.checkpoint(progress(0)).catch(() => undefined);
      return 'stopped';
    }
    if (e instanceof LeaseLost) return 'lost';
    throw e;
  }
}
