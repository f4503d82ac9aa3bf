// The snapshot phase of one table: one replicator at a time (under the snapshot unit's lease)
// scans the source into the target, checkpointing the Scan position, and records T0 and the end
// time the stream tail starts from.
import { ReplicationError } from './errors.js';
import { LeaseLost, type Lease } from './leases.js';
import { createProgress } from './progress.js';
import { Stopped, runSnapshot, type SnapshotPosition } from './snapshot.js';
import type { SnapshotInfo, UnitRow } from '../storage/state/replication-state.js';
import type { TableRun } from './table-run.js';

/** Records created this long before the snapshot began are skipped (covers timestamp rounding and clock skew). */
export const SKIP_MARGIN_MS = 5 * 60_000;
/** DynamoDB Streams keeps records 24 hours; a snapshot must finish well within that. */
export const STREAM_RETENTION_MS = 24 * 3600_000;
const SNAPSHOT_UNIT = 'snapshot';

/** The snapshot's unit row (its lease and checkpoint), created on first use. */
export async function snapshotRow(t: TableRun): Promise<UnitRow> {
  const find = async () => (await t.r.state.listUnits(t.name)).find((u) => u.unit === SNAPSHOT_UNIT);
  let row = await find();
  if (!row) {
    await t.r.state.ensureUnit(t.name, SNAPSHOT_UNIT);
    row = await find();
  }
  if (!row) throw new Error('snapshot unit missing');
  return row;
}

/** Takes the snapshot if nobody else is (or their lease expired); else waits a moment. */
export async function snapshotStep(t: TableRun, row: UnitRow): Promise<void> {
  const r = t.r;
  const lease = r.watcher.available(row) ? await r.watcher.acquire(r.state, row, (l) => t.log(l)) : undefined;
  if (!lease) {
    await r.pause(Math.min(1000, r.leaseMs / 2));
    return;
  }
  r.hold(lease);
  try {
    await snapshot(t, lease, row);
  } catch (e) {
    if (e instanceof LeaseLost) t.log('lost the snapshot lease; another replicator continues the snapshot');
    else if (e instanceof Stopped) {
      // The position was just checkpointed: whoever comes next resumes from there at once.
      await lease.release().catch(() => undefined);
      throw e;
    } else throw e;
  } finally {
    r.drop(lease);
  }
}

async function snapshot(t: TableRun, lease: Lease, row: UnitRow): Promise<void> {
  const r = t.r;
  const segments = Math.max(1, r.o.segments ?? 4);
  let position: SnapshotPosition;
  if (row.position) {
    position = JSON.parse(row.position) as SnapshotPosition;
    const done = position.segments.reduce((n, s) => n + s.items, 0);
    t.log(`resuming the snapshot begun at ${new Date(position.startedAt).toISOString()} (${done} items written)`);
  } else {
    // T0, recorded before the first Scan request: the stream is replayed from before it.
    position = { startedAt: Date.now(), segments: Array.from({ length: segments }, () => ({ done: false, items: 0 })) };
    await lease.checkpoint({ position: JSON.stringify(position), applied: 0 });
    t.log(`snapshot started (${segments} parallel Scan segments)`);
  }
  const desc = await t.describeSource();
  const initial = position.segments.reduce((n, s) => n + s.items, 0);
  const progress = createProgress(`snapshot ${t.name}`, desc.ItemCount, r.o.progress ? process.stderr : undefined, (l) => t.log(l), initial);
  const applier = t.applier();
  const items = await runSnapshot({
    source: r.o.source,
    sourceTable: t.mapping.source,
    applier,
    writtenAt: position.startedAt - SKIP_MARGIN_MS,
    lease,
    position,
    progress,
    onItems: (n) => r.o.metrics.snapshotItems.inc({ table: t.name }, n),
    onError: t.onError,
    stopped: () => r.stopped,
  });
  const doneAt = Date.now();
  if (doneAt - position.startedAt > STREAM_RETENTION_MS - 2 * SKIP_MARGIN_MS) {
    throw new ReplicationError(
      `the snapshot of ${t.name} took ${((doneAt - position.startedAt) / 3600_000).toFixed(1)} h, longer than the stream keeps records (24 h): changes made during it may be lost. Run again with more --replicate-segments (parallel Scan) and --resnapshot.`,
    );
  }
  const info: SnapshotInfo = { startedAt: position.startedAt, doneAt, items, skipBefore: position.startedAt - SKIP_MARGIN_MS };
  // Finishing the unit (fenced by the lease) is what ends the snapshot for every replicator.
  await lease.finish({ position: JSON.stringify(info), applied: items });
  await r.state.setPhase(t.name, 'snapshot', 'streaming', info).catch(() => undefined);
  t.log(`snapshot done: ${items} items in ${((doneAt - position.startedAt) / 1000).toFixed(1)} s; tailing the stream`);
}
