// One table's replication from start to end: target creation, then the snapshot and stream-tail
// phases as the shared state says, a reset (new snapshot) when asked for or when the target was
// replaced, and a stop with the reason when the user must act.
import type { ActionContext } from '../actions/context.js';
import { ReplicationError, TargetDeleted } from './errors.js';
import type { ReplicationProcess, TableMapping } from './process.js';
import { Stopped, retrying } from './snapshot.js';
import { snapshotRow, snapshotStep } from './snapshot-phase.js';
import type { TableState } from '../storage/state/replication-state.js';
import { StreamTail } from './tail-phase.js';
import { TableRun, enabledStream } from './table-run.js';
import { cassandraTarget, streamOf } from './target.js';

export class TableReplication {
  private readonly t: TableRun;
  private readonly tail: StreamTail;

  constructor(
    private readonly r: ReplicationProcess,
    readonly mapping: TableMapping,
  ) {
    this.t = new TableRun(r, mapping);
    this.tail = new StreamTail(this.t);
  }

  /** Shard leases this table's tail holds. */
  get owned(): number {
    return this.tail.owned;
  }

  async run(): Promise<void> {
    const t = this.t;
    // Series exist from the start (prom-client omits labelled series never touched).
    const m = this.r.o.metrics;
    m.snapshotItems.inc({ table: t.name }, 0);
    for (const event of ['INSERT', 'MODIFY', 'REMOVE']) m.applied.inc({ table: t.name, event }, 0);
    m.shardsOwned.set({ table: t.name }, 0);
    for (;;) {
      try {
        return await this.replicate();
      } catch (e) {
        if (!(e instanceof TargetDeleted)) throw e;
        // Like a restart that finds the target gone: a new target and a new snapshot.
        m.errors.inc({ table: t.name, type: e.name });
        t.log(e.message);
      }
    }
  }

  private async replicate(): Promise<void> {
    const r = this.r;
    const t = this.t;
    const desc = await t.describeSource();
    const previous = await r.state.getTable(t.name);
    if (!enabledStream(desc) && previous && !r.o.resnapshot && previous.phase !== 'resetting') {
      const e = await t.streamLost(previous.streamArn, false, desc);
      await t.fail(previous, e);
      throw e;
    }
    t.streamArn = streamOf(desc);
    t.sourceArn = desc.TableArn ?? this.mapping.source;
    const open = r.o.target ?? cassandraTarget(r.o.ctx as ActionContext, r.o.writeIsolation ?? 'only_rmw');
    // A remote target may time out now and then: only what the user must fix ends the table here.
    t.target = await retrying(() => open(desc, this.mapping.target, (l) => t.log(l)), () => r.stopped, t.onError);
    if (t.target.created) t.log(`created target table from the source's description`);
    let state = await r.state.getTable(t.name);
    if (r.o.resnapshot) {
      state = await this.reset(state);
    } else if (state && state.targetId !== t.target.id) {
      // The target was deleted (and created again): its copy is gone, so copy again.
      t.log('the target table was deleted since the last run; taking a new snapshot');
      state = await this.reset(state, (s) => s.targetId !== t.target.id);
    } else if (!state) {
      if (!t.target.created && !(await retrying(() => t.target.isEmpty(), () => r.stopped, t.onError))) {
        throw new ReplicationError(
          `target table ${t.name} already holds items but is not a replica of ${this.mapping.source}; delete it, or pass --resnapshot to empty it and copy the source into it`,
        );
      }
      await r.state.createTable(t.fresh());
      state = await r.state.getTable(t.name);
    }
    while (!r.stopped) {
      state = await retrying(() => r.state.getTable(t.name), () => r.stopped, t.onError);
      if (!state) throw new ReplicationError(`the replication state of ${t.name} was removed; restart the replicator`);
      if (state.sourceTable !== this.mapping.source) {
        throw new ReplicationError(`target ${t.name} is a replica of ${state.sourceTable}, not of ${this.mapping.source}`);
      }
      if (state.streamArn !== t.streamArn && state.phase !== 'resetting') {
        // Another replicator may have re-snapshotted onto the source's new stream meanwhile.
        const now = await t.describeSource();
        if (now.LatestStreamArn === state.streamArn) {
          t.streamArn = state.streamArn;
          continue;
        }
        const e = await t.streamLost(state.streamArn, false, now);
        await t.fail(state, e);
        throw e;
      }
      if (state.phase === 'failed') throw new ReplicationError(state.error ?? `replication of ${t.name} failed`);
      if (state.phase === 'resetting') {
        await r.pause(1000);
        continue;
      }
      try {
        const row = await snapshotRow(t);
        if (!row.finished) await snapshotStep(t, row);
        else await this.tail.run(state, row);
      } catch (e) {
        if (e instanceof ReplicationError) {
          await t.fail(state, e);
          throw e;
        }
        if (e instanceof TargetDeleted) throw e;
        if (e instanceof Stopped || r.stopped) break;
        t.onError(e);
        await r.pause(1000);
      }
    }
  }

  /**
   * A new snapshot: stop everyone (phase resetting), drop the checkpoints and leases, wait out
   * any writes still in flight under them, empty the target, and start over.
   */
  private async reset(state: TableState | undefined, needed = (_s: TableState) => true): Promise<TableState | undefined> {
    const r = this.r;
    const t = this.t;
    if (state) {
      // Compare-and-set on the phase: of several replicators that find the same reason, one resets;
      // the others find the phase 'resetting', or the reason gone, and carry on.
      for (let s = state; !(await r.state.setPhase(t.name, s.phase, 'resetting', {})); ) {
        const now = await r.state.getTable(t.name);
        if (!now || now.phase === 'resetting' || !needed(now)) return now;
        s = now;
      }
      t.log('resetting for a new snapshot');
      await r.state.deleteUnits(t.name);
      await r.pause(r.leaseMs + 1000);
    }
    await retrying(() => t.target.truncate(), () => r.stopped, t.onError);
    if (state) await r.state.restart(t.fresh());
    else await r.state.createTable(t.fresh());
    return r.state.getTable(t.name);
  }
}
