// The stream-tail phase of one table: discover the stream's shards, take a fair share of the
// ready ones (leases balanced with the other replicators), and run a worker per shard held.
import { ReplicationError, TargetDeleted } from './errors.js';
import type { Lease } from './leases.js';
import type { ReplicationProcess } from './process.js';
import type { SnapshotInfo, TableState, UnitRow } from '../storage/state/replication-state.js';
import { runShard } from './tail.js';
import type { TableRun } from './table-run.js';

const SHARD_PREFIX = 'shard:';

/** Waits until our clock has passed `at` (a time taken by another process), within reason. */
async function fence(r: ReplicationProcess, at: number | undefined, what: string): Promise<void> {
  if (!at) return;
  const wait = at + 1 - Date.now();
  if (wait <= 0) return;
  if (wait > 2 * r.leaseMs) {
    r.o.log(`${what}: another replicator's clock is ${Math.round(wait / 1000)} s ahead of ours; check the hosts' time synchronisation`);
    return;
  }
  await r.pause(wait);
}

export class StreamTail {
  private readonly workers = new Map<string, { lease: Lease; done: Promise<void> }>();
  /** Ends the tail: a ReplicationError (the user must act) or TargetDeleted. */
  private fatal?: Error;
  /** Tells this table's shard workers to end (phase change, failure). */
  private halted = false;
  /** Wakes the discovery loop early (a shard ended: its children may be ready). */
  private kick: () => void = () => undefined;

  constructor(private readonly t: TableRun) {}

  get owned(): number {
    return this.workers.size;
  }

  /** Discovers shards, balances leases with other replicators, runs shard workers, until the phase ends. */
  async run(state: TableState, snapshotRow: UnitRow): Promise<void> {
    const t = this.t;
    const r = t.r;
    const info = JSON.parse(snapshotRow.position ?? '{}') as SnapshotInfo;
    if (state.phase === 'snapshot') await r.state.setPhase(t.name, 'snapshot', 'streaming', info).catch(() => undefined);
    // The tail's writes must carry later timestamps than the snapshot's last ones.
    await fence(r, info.doneAt, 'starting the stream tail');
    const skipBefore = info.skipBefore ?? 0;
    const known = new Set<string>();
    this.fatal = undefined;
    const discoverMs = r.o.discoverMs ?? Math.min(5000, r.leaseMs / 2);
    this.halted = false;
    try {
      while (!r.stopped && !this.fatal) {
        try {
          const current = await r.state.getTable(t.name);
          if (!current || current.phase === 'resetting' || current.phase === 'failed') break;
          // Also noticed here when no write fails (an idle stream).
          await t.target.check(false);
          const stream = await r.o.source.streams.describeStream(t.streamArn);
          for (const s of stream.shards) {
            if (known.has(s.id)) continue;
            await r.state.ensureUnit(t.name, SHARD_PREFIX + s.id, s.parent ? SHARD_PREFIX + s.parent : undefined);
            known.add(s.id);
          }
          const listed = new Set(stream.shards.map((s) => SHARD_PREFIX + s.id));
          let units = (await r.state.listUnits(t.name)).filter((u) => u.unit.startsWith(SHARD_PREFIX));
          // Finished shards the stream no longer lists (trimmed after 24 h) are of no further use.
          for (const u of units) if (u.finished && !listed.has(u.unit)) await r.state.deleteFinishedUnit(t.name, u.unit);
          units = units.filter((u) => !u.finished || listed.has(u.unit));
          if (stream.status === 'DISABLED' && units.length > 0 && units.every((u) => u.finished)) {
            throw await t.streamLost(t.streamArn, true);
          }
          const byUnit = new Map(units.map((u) => [u.unit, u]));
          // A parent we have never seen (trimmed before this replication began) counts as done.
          const ready = units.filter((u) => !u.finished && (!u.parent || !byUnit.has(u.parent) || byUnit.get(u.parent)!.finished));
          await this.balance(ready, byUnit, skipBefore);
        } catch (e) {
          if (e instanceof ReplicationError || e instanceof TargetDeleted) throw e;
          t.onError(e);
        }
        r.o.metrics.shardsOwned.set({ table: t.name }, this.workers.size);
        await Promise.race([r.pause(discoverMs), new Promise<void>((res) => (this.kick = res))]);
      }
    } finally {
      // Phase change, failure or stop: our shard workers end (and hand their leases back).
      this.halted = true;
      await Promise.all([...this.workers.values()].map((w) => w.done));
      r.o.metrics.shardsOwned.set({ table: t.name }, 0);
    }
    if (this.fatal) throw this.fatal;
  }

  /**
   * Takes a fair share of the ready shards of all tables this replicator serves: free or expired
   * leases first; when none is free but we hold less than our share, one from the busiest owner.
   */
  private async balance(ready: UnitRow[], byUnit: Map<string, UnitRow>, skipBefore: number): Promise<void> {
    const r = this.t.r;
    const now = Date.now();
    const owners = new Map<string, UnitRow[]>();
    for (const row of ready) {
      if (row.owner && r.watcher.alive(row, now)) owners.set(row.owner, [...(owners.get(row.owner) ?? []), row]);
    }
    r.report(this.t.name, ready.length, new Map([...owners].map(([o, rows]) => [o, rows.length])));
    if (ready.length === 0) return;
    const { fair, floor } = await r.share();
    for (const row of ready) {
      if (r.owned() >= fair) break;
      if (this.workers.has(row.unit) || !r.watcher.available(row, now)) continue;
      await this.take(row, byUnit, skipBefore);
    }
    if (r.owned() < floor) {
      const victim = r.busiest(fair);
      const rows = victim ? owners.get(victim) : undefined;
      if (rows?.length) {
        this.t.log(`taking shard ${rows[0]!.unit.slice(SHARD_PREFIX.length)} over from ${victim} to balance the load`);
        await this.take(rows[0]!, byUnit, skipBefore);
      }
    }
  }

  private async take(row: UnitRow, byUnit: Map<string, UnitRow>, skipBefore: number): Promise<void> {
    const t = this.t;
    const r = t.r;
    const lease = await r.watcher.acquire(r.state, row, (l) => t.log(l));
    if (!lease) return;
    r.hold(lease);
    const shardId = row.unit.slice(SHARD_PREFIX.length);
    const parent = row.parent ? byUnit.get(row.parent) : undefined;
    const labels = { table: t.name, shard: shardId };
    const metrics = r.o.metrics;
    const done = (async () => {
      try {
        // The parent's last writes must carry earlier timestamps than this shard's first ones.
        await fence(r, parent?.renewedAt, `shard ${shardId}`);
        const outcome = await runShard({
          streams: r.o.source.streams,
          streamArn: t.streamArn,
          shardId,
          lease,
          position: row.position,
          applied: row.applied,
          applier: t.applier(),
          skipBefore,
          pollMs: r.o.pollMs ?? 250,
          stopped: () => r.stopped || this.halted || this.fatal !== undefined,
          onBatch: (result, lag) => {
            for (const [event, n] of result.applied) metrics.applied.inc({ table: t.name, event }, n);
            if (result.echoes) metrics.skippedReplicated.inc({ table: t.name }, result.echoes);
            metrics.lag.set(labels, lag);
          },
          onError: t.onError,
        });
        if (outcome === 'finished') t.log(`shard ${shardId} closed and fully applied`);
        if (outcome === 'lost') t.log(`lease on shard ${shardId} taken over by another replicator`);
        // Stopped: hand the lease back so another replicator continues at once.
        if (outcome === 'stopped') await lease.release().catch(() => undefined);
      } catch (e) {
        if (e instanceof ReplicationError || e instanceof TargetDeleted) {
          this.fatal = e;
          this.halted = true;
        } else t.onError(e);
        lease.abandon();
      } finally {
        r.drop(lease);
        metrics.lag.remove(labels);
        this.workers.delete(row.unit);
        this.kick();
      }
    })();
    this.workers.set(row.unit, { lease, done });
  }
}
