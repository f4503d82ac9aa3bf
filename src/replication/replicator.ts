// The replicator: for each table, a full migration (target creation, snapshot, stream tail) that
// converges to the source's state, shared with any other replicator processes on the same
// keyspace through leases in Cassandra.
//
// Why it converges (DESIGN.md §7): the snapshot records its start time T0 before the first Scan
// request, and the stream is then replayed from the oldest record of every shard (skipping only
// records created well before T0, whose effects every Scan page already saw). The tail starts only
// after the whole snapshot is written, each item's records arrive in order (one shard at a time,
// parents before children, a batch in sequence order), and every record carries the whole new
// item or a delete — so each item ends at its last record's state, or at the snapshot's when it
// has no record after T0.
import { randomBytes } from 'node:crypto';
import type { WriteIsolation } from '../config.js';
import type { ActionContext } from '../actions/context.js';
import { RESNAPSHOT_ADVICE, ReplicationError, TargetDeleted } from './errors.js';
import { LeaseLost, LeaseWatcher, sleep, type Lease } from './leases.js';
import type { ReplicationMetrics } from './metrics.js';
import { createProgress } from './progress.js';
import { Stopped, retrying, runSnapshot, type SnapshotPosition } from './snapshot.js';
import { errorName, type SourceApi } from './source.js';
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { ReplicationState, localHost, type SnapshotInfo, type TableState, type UnitRow } from './state.js';
import { runShard } from './tail.js';
import { skippingReplicated, type ReplicaTarget, type ReplicaWriter, type TargetOpener } from './replica-target.js';
import { cassandraTarget, streamOf } from './target.js';

/** Records created this long before the snapshot began are skipped (covers timestamp rounding and clock skew). */
export const SKIP_MARGIN_MS = 5 * 60_000;
/** DynamoDB Streams keeps records 24 hours; a snapshot must finish well within that. */
export const STREAM_RETENTION_MS = 24 * 3600_000;
const SNAPSHOT_UNIT = 'snapshot';
/** Source errors that retrying cannot cure: the user must fix something. */
const FATAL_SOURCE_ERRORS = new Set([
  'AccessDeniedException', 'UnrecognizedClientException', 'InvalidSignatureException', 'CredentialsProviderError',
  'ValidationException', 'MissingAuthenticationTokenException', 'ExpiredTokenException',
]);
const SHARD_PREFIX = 'shard:';

export interface TableMapping {
  source: string;
  target: string;
}

export interface ReplicatorOptions {
  ctx: Omit<ActionContext, 'host'>;
  source: SourceApi;
  tables: TableMapping[];
  metrics: ReplicationMetrics;
  log: (line: string) => void;
  segments?: number;
  concurrency?: number;
  leaseMs?: number;
  /** Write isolation of target tables this replicator creates. */
  writeIsolation?: WriteIsolation;
  /** Where the targets are (default: tables in the Cassandra keyspace of ctx). */
  target?: TargetOpener;
  /** Prefix of the targets' names in the replication state: where they are, when not in Cassandra. */
  targetScope?: string;
  /** Skip source records a replicator wrote: the loop guard when the other direction runs too. */
  ignoreReplicated?: boolean;
  /** Empty the targets and take a new snapshot. */
  resnapshot?: boolean;
  /** Progress bar on stderr (a terminal) during snapshots. */
  progress?: boolean;
  pollMs?: number;
  discoverMs?: number;
  workerId?: string;
}

/** Parses "NAME" or "SOURCE=TARGET". */
export function parseTableMapping(spec: string): TableMapping {
  const i = spec.indexOf('=');
  return i < 0 ? { source: spec, target: spec } : { source: spec.slice(0, i), target: spec.slice(i + 1) };
}

export class Replicator {
  readonly id: string;
  readonly state: ReplicationState;
  readonly watcher: LeaseWatcher;
  readonly leaseMs: number;
  /** Tables whose replication stopped with an error the user must act on. */
  readonly failures = new Map<string, Error>();
  private readonly held = new Set<Lease>();
  private readonly tables: TableReplication[] = [];
  private stopping = false;
  private wake!: () => void;
  private readonly stopSignal = new Promise<void>((r) => (this.wake = r));
  private loops: Promise<void>[] = [];
  private background: Promise<void>[] = [];
  private started = Date.now();

  constructor(readonly o: ReplicatorOptions) {
    this.id = o.workerId ?? `${localHost()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.state = new ReplicationState(o.ctx.session);
    this.leaseMs = o.leaseMs ?? 10_000;
    this.watcher = new LeaseWatcher(this.id, this.leaseMs);
  }

  get stopped(): boolean {
    return this.stopping;
  }

  /** Sleeps, but wakes at once when the replicator stops. */
  pause(ms: number): Promise<void> {
    return Promise.race([sleep(ms), this.stopSignal]);
  }

  hold(lease: Lease): void {
    this.held.add(lease);
  }

  drop(lease: Lease): void {
    this.held.delete(lease);
  }

  /** Sets up the state tables and starts every table's replication in the background. */
  async start(): Promise<void> {
    await this.state.init();
    this.started = Date.now();
    await this.heartbeat();
    for (const t of this.o.tables) this.tables.push(new TableReplication(this, t));
    this.loops = this.tables.map((t) =>
      t.run().catch((e) => {
        this.failures.set(t.mapping.target, e as Error);
        this.o.metrics.errors.inc({ table: t.mapping.target, type: 'fatal' });
        this.o.log(`replication of ${t.mapping.target} stopped: ${(e as Error).message}`);
      }),
    );
    this.background = [this.renewLoop(), this.heartbeatLoop()];
  }

  /** Resolves when every table's replication has ended (stopped or failed). */
  async done(): Promise<void> {
    await Promise.all(this.loops);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wake();
    await Promise.all(this.loops);
    await Promise.all(this.background);
    // Hand the remaining leases back so other replicators take over at once.
    await Promise.all([...this.held].map((l) => l.release().catch(() => undefined)));
    await this.state.removeWorker(this.id).catch(() => undefined);
  }

  private async heartbeat(): Promise<void> {
    await this.state.heartbeat(
      {
        id: this.id,
        host: localHost(),
        pid: process.pid,
        started: this.started,
        heartbeat: Date.now(),
        tables: this.o.tables.map((t) => (this.o.targetScope ?? '') + t.target),
      },
      Math.ceil((3 * this.leaseMs) / 1000),
    );
  }

  private async heartbeatLoop(): Promise<void> {
    while (!this.stopping) {
      await this.pause(this.leaseMs / 2);
      if (this.stopping) break;
      await this.heartbeat().catch((e) => this.o.log(`heartbeat failed: ${(e as Error).message}`));
    }
  }

  /** Renews every held lease a third of a period after its last renewal or checkpoint. */
  private async renewLoop(): Promise<void> {
    while (!this.stopping) {
      await this.pause(Math.max(100, this.leaseMs / 10));
      for (const lease of [...this.held]) {
        if (lease.lost) {
          this.held.delete(lease);
          continue;
        }
        if (Date.now() - lease.lastRenewal < this.leaseMs / 3) continue;
        lease.renew().catch((e) => {
          if (!(e instanceof LeaseLost)) this.o.log(`renewing the lease on ${lease.unit} failed: ${(e as Error).message}`);
        });
      }
    }
  }

  /** What each table saw at its last discovery: ready shards and the live owners' lease counts. */
  private readonly seen = new Map<string, { ready: number; owners: Map<string, number> }>();

  report(target: string, ready: number, owners: Map<string, number>): void {
    this.seen.set(target, { ready, owners });
  }

  /** Shard leases this process holds, over all its tables. */
  owned(): number {
    return this.tables.reduce((n, t) => n + t.owned, 0);
  }

  /** Our fair share of the ready shards of our tables, among the live replicators serving them. */
  async share(): Promise<{ fair: number; floor: number }> {
    const now = Date.now();
    const mine = new Set(this.o.tables.map((t) => (this.o.targetScope ?? '') + t.target));
    const rows = await this.state.listWorkers();
    // Heartbeats come every half period: a worker silent for longer than a period is gone (its
    // shards must not wait for its row's TTL before someone takes them).
    const live = rows.filter((w) => w.id !== this.id && now - w.heartbeat < 1.2 * this.leaseMs && w.tables.some((t) => mine.has(t))).length + 1;
    const ready = [...this.seen.values()].reduce((n, s) => n + s.ready, 0);
    return { fair: Math.ceil(ready / live), floor: Math.floor(ready / live) };
  }

  /** The other owner holding the most leases over our tables, if it holds more than `fair`. */
  busiest(fair: number): string | undefined {
    const totals = new Map<string, number>();
    for (const s of this.seen.values()) for (const [o, n] of s.owners) if (o !== this.id) totals.set(o, (totals.get(o) ?? 0) + n);
    const [owner, n] = [...totals].sort((a, b) => b[1] - a[1])[0] ?? [];
    return owner && n! > fair ? owner : undefined;
  }
}

/** Waits until our clock has passed `at` (a time taken by another process), within reason. */
async function fence(r: Replicator, at: number | undefined, what: string): Promise<void> {
  if (!at) return;
  const wait = at + 1 - Date.now();
  if (wait <= 0) return;
  if (wait > 2 * r.leaseMs) {
    r.o.log(`${what}: another replicator's clock is ${Math.round(wait / 1000)} s ahead of ours; check the hosts' time synchronisation`);
    return;
  }
  await r.pause(wait);
}

class TableReplication {
  private target!: ReplicaTarget;
  private streamArn = '';
  private sourceArn = '';
  private readonly workers = new Map<string, { lease: Lease; done: Promise<void> }>();
  /** Ends the tail: a ReplicationError (the user must act) or TargetDeleted. */
  private fatal?: Error;
  /** Tells this table's shard workers to end (phase change, failure). */
  private halted = false;
  /** Wakes the discovery loop early (a shard ended: its children may be ready). */
  private kick: () => void = () => undefined;

  constructor(
    private readonly r: Replicator,
    readonly mapping: TableMapping,
  ) {}

  /** The target's name in the replication state (scoped by where the target is). */
  private get name() {
    return (this.r.o.targetScope ?? '') + this.mapping.target;
  }

  private log(line: string) {
    this.r.o.log(`[${this.name}] ${line}`);
  }

  private onError = (e: unknown) => {
    this.r.o.metrics.errors.inc({ table: this.name, type: (e as Error)?.name || 'Error' });
    this.log(`retrying after error: ${(e as Error)?.message ?? e}`);
  };

  async run(): Promise<void> {
    // Series exist from the start (prom-client omits labelled series never touched).
    const m = this.r.o.metrics;
    m.snapshotItems.inc({ table: this.name }, 0);
    for (const event of ['INSERT', 'MODIFY', 'REMOVE']) m.applied.inc({ table: this.name, event }, 0);
    m.shardsOwned.set({ table: this.name }, 0);
    for (;;) {
      try {
        return await this.replicate();
      } catch (e) {
        if (!(e instanceof TargetDeleted)) throw e;
        // Like a restart that finds the target gone: a new target and a new snapshot.
        m.errors.inc({ table: this.name, type: e.name });
        this.log(e.message);
      }
    }
  }

  private async replicate(): Promise<void> {
    const r = this.r;
    const desc = await this.describeSource();
    const previous = await r.state.getTable(this.name);
    if (!enabledStream(desc) && previous && !r.o.resnapshot && previous.phase !== 'resetting') {
      const e = await this.streamLost(previous.streamArn, false, desc);
      await this.fail(previous, e);
      throw e;
    }
    this.streamArn = streamOf(desc);
    this.sourceArn = desc.TableArn ?? this.mapping.source;
    const open = r.o.target ?? cassandraTarget(r.o.ctx as ActionContext, r.o.writeIsolation ?? 'only_rmw');
    // A remote target may time out now and then: only what the user must fix ends the table here.
    this.target = await retrying(() => open(desc, this.mapping.target, (l) => this.log(l)), () => r.stopped, this.onError);
    if (this.target.created) this.log(`created target table from the source's description`);
    let state = await r.state.getTable(this.name);
    if (r.o.resnapshot) {
      state = await this.reset(state);
    } else if (state && state.targetId !== this.target.id) {
      // The target was deleted (and created again): its copy is gone, so copy again.
      this.log('the target table was deleted since the last run; taking a new snapshot');
      state = await this.reset(state, (s) => s.targetId !== this.target.id);
    } else if (!state) {
      if (!this.target.created && !(await retrying(() => this.target.isEmpty(), () => r.stopped, this.onError))) {
        throw new ReplicationError(
          `target table ${this.name} already holds items but is not a replica of ${this.mapping.source}; delete it, or pass --resnapshot to empty it and copy the source into it`,
        );
      }
      await r.state.createTable(this.fresh());
      state = await r.state.getTable(this.name);
    }
    while (!r.stopped) {
      state = await retrying(() => r.state.getTable(this.name), () => r.stopped, this.onError);
      if (!state) throw new ReplicationError(`the replication state of ${this.name} was removed; restart the replicator`);
      if (state.sourceTable !== this.mapping.source) {
        throw new ReplicationError(`target ${this.name} is a replica of ${state.sourceTable}, not of ${this.mapping.source}`);
      }
      if (state.streamArn !== this.streamArn && state.phase !== 'resetting') {
        // Another replicator may have re-snapshotted onto the source's new stream meanwhile.
        const now = await this.describeSource();
        if (now.LatestStreamArn === state.streamArn) {
          this.streamArn = state.streamArn;
          continue;
        }
        const e = await this.streamLost(state.streamArn, false, now);
        await this.fail(state, e);
        throw e;
      }
      if (state.phase === 'failed') throw new ReplicationError(state.error ?? `replication of ${this.name} failed`);
      if (state.phase === 'resetting') {
        await r.pause(1000);
        continue;
      }
      try {
        const snapshotRow = await this.snapshotRow();
        if (!snapshotRow.finished) await this.snapshotStep(snapshotRow);
        else await this.streaming(state, snapshotRow);
      } catch (e) {
        if (e instanceof ReplicationError) {
          await this.fail(state, e);
          throw e;
        }
        if (e instanceof TargetDeleted) throw e;
        if (e instanceof Stopped || r.stopped) break;
        this.onError(e);
        await r.pause(1000);
      }
    }
  }

  /** DescribeTable of the source; errors no retry can cure end the table's replication. */
  private describeSource() {
    const r = this.r;
    return retrying(
      () =>
        r.o.source.describeTable(this.mapping.source).catch((e: unknown) => {
          const name = errorName(e);
          if (name === 'ResourceNotFoundException') throw new ReplicationError(`source table ${this.mapping.source} does not exist (check --source-endpoint and --region)`);
          if (FATAL_SOURCE_ERRORS.has(name) || /credential|region is missing/i.test((e as Error)?.message ?? '')) {
            throw new ReplicationError(`cannot read source table ${this.mapping.source}: ${name}: ${(e as Error).message}`);
          }
          throw e;
        }),
      () => r.stopped,
      this.onError,
    );
  }

  /**
   * Why the stream this target follows cannot bring it up to date any more (disabled, or replaced by
   * a new stream), with what to do. `drained`: every record of the old stream has been applied.
   */
  private async streamLost(old: string, drained: boolean, desc?: TableDescription): Promise<ReplicationError> {
    const source = this.mapping.source;
    const latest = enabledStream(desc ?? (await this.describeSource()));
    const applied = drained ? ' Every change the old stream recorded is applied.' : '';
    if (latest && latest !== old) {
      return new ReplicationError(
        `the stream of ${source} was replaced (it was disabled and enabled again, or the table was re-created): ${old} → ${latest}; changes made in between are in neither stream.${applied} ${RESNAPSHOT_ADVICE}`,
      );
    }
    return new ReplicationError(
      `the stream of ${source} was disabled (${old}): later changes are recorded nowhere.${applied} Enable the stream again with new images (aws dynamodb update-table --table-name ${source} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES), then take a new snapshot: run \`dynamo-cassandra replicate --resnapshot\` with the same --table.`,
    );
  }

  private applier(): ReplicaWriter {
    const writer = this.target.writer(this.r.o.concurrency ?? 64);
    return this.r.o.ignoreReplicated ? skippingReplicated(writer) : writer;
  }

  private fresh(): TableState {
    return {
      target: this.name,
      targetId: this.target.id,
      sourceTable: this.mapping.source,
      sourceArn: this.sourceArn,
      streamArn: this.streamArn,
      phase: 'snapshot',
      snapshot: {},
      updatedAt: Date.now(),
    };
  }

  /**
   * A new snapshot: stop everyone (phase resetting), drop the checkpoints and leases, wait out
   * any writes still in flight under them, empty the target, and start over.
   */
  private async reset(state: TableState | undefined, needed = (_s: TableState) => true): Promise<TableState | undefined> {
    const r = this.r;
    if (state) {
      // Compare-and-set on the phase: of several replicators that find the same reason, one resets;
      // the others find the phase 'resetting', or the reason gone, and carry on.
      for (let s = state; !(await r.state.setPhase(this.name, s.phase, 'resetting', {})); ) {
        const now = await r.state.getTable(this.name);
        if (!now || now.phase === 'resetting' || !needed(now)) return now;
        s = now;
      }
      this.log('resetting for a new snapshot');
      await r.state.deleteUnits(this.name);
      await r.pause(r.leaseMs + 1000);
    }
    await retrying(() => this.target.truncate(), () => r.stopped, this.onError);
    if (state) await r.state.restart(this.fresh());
    else await r.state.createTable(this.fresh());
    return r.state.getTable(this.name);
  }

  private async fail(state: TableState, e: Error): Promise<void> {
    this.log(`FAILED: ${e.message}`);
    await this.r.state.setPhase(this.name, state.phase, 'failed', state.snapshot, e.message).catch(() => undefined);
  }

  private async snapshotRow(): Promise<UnitRow> {
    const find = async () => (await this.r.state.listUnits(this.name)).find((u) => u.unit === SNAPSHOT_UNIT);
    let row = await find();
    if (!row) {
      await this.r.state.ensureUnit(this.name, SNAPSHOT_UNIT);
      row = await find();
    }
    if (!row) throw new Error('snapshot unit missing');
    return row;
  }

  /** Takes the snapshot if nobody else is (or their lease expired); else waits a moment. */
  private async snapshotStep(row: UnitRow): Promise<void> {
    const r = this.r;
    const lease = r.watcher.available(row) ? await r.watcher.acquire(r.state, row, (l) => this.log(l)) : undefined;
    if (!lease) {
      await r.pause(Math.min(1000, r.leaseMs / 2));
      return;
    }
    r.hold(lease);
    try {
      await this.snapshot(lease, row);
    } catch (e) {
      if (e instanceof LeaseLost) this.log('lost the snapshot lease; another replicator continues the snapshot');
      else if (e instanceof Stopped) {
        // The position was just checkpointed: whoever comes next resumes from there at once.
        await lease.release().catch(() => undefined);
        throw e;
      } else throw e;
    } finally {
      r.drop(lease);
    }
  }

  private async snapshot(lease: Lease, row: UnitRow): Promise<void> {
    const r = this.r;
    const segments = Math.max(1, r.o.segments ?? 4);
    let position: SnapshotPosition;
    if (row.position) {
      position = JSON.parse(row.position) as SnapshotPosition;
      const done = position.segments.reduce((n, s) => n + s.items, 0);
      this.log(`resuming the snapshot begun at ${new Date(position.startedAt).toISOString()} (${done} items written)`);
    } else {
      // T0, recorded before the first Scan request: the stream is replayed from before it.
      position = { startedAt: Date.now(), segments: Array.from({ length: segments }, () => ({ done: false, items: 0 })) };
      await lease.checkpoint({ position: JSON.stringify(position), applied: 0 });
      this.log(`snapshot started (${segments} parallel Scan segments)`);
    }
    const desc = await this.describeSource();
    const initial = position.segments.reduce((n, s) => n + s.items, 0);
    const progress = createProgress(`snapshot ${this.name}`, desc.ItemCount, r.o.progress ? process.stderr : undefined, (l) => this.log(l), initial);
    const applier = this.applier();
    const items = await runSnapshot({
      source: r.o.source,
      sourceTable: this.mapping.source,
      applier,
      writtenAt: position.startedAt - SKIP_MARGIN_MS,
      lease,
      position,
      progress,
      onItems: (n) => r.o.metrics.snapshotItems.inc({ table: this.name }, n),
      onError: this.onError,
      stopped: () => r.stopped,
    });
    const doneAt = Date.now();
    if (doneAt - position.startedAt > STREAM_RETENTION_MS - 2 * SKIP_MARGIN_MS) {
      throw new ReplicationError(
        `the snapshot of ${this.name} took ${((doneAt - position.startedAt) / 3600_000).toFixed(1)} h, longer than the stream keeps records (24 h): changes made during it may be lost. Run again with more --replicate-segments (parallel Scan) and --resnapshot.`,
      );
    }
    const info: SnapshotInfo = { startedAt: position.startedAt, doneAt, items, skipBefore: position.startedAt - SKIP_MARGIN_MS };
    // Finishing the unit (fenced by the lease) is what ends the snapshot for every replicator.
    await lease.finish({ position: JSON.stringify(info), applied: items });
    await r.state.setPhase(this.name, 'snapshot', 'streaming', info).catch(() => undefined);
    this.log(`snapshot done: ${items} items in ${((doneAt - position.startedAt) / 1000).toFixed(1)} s; tailing the stream`);
  }

  /** The stream tail: discovers shards, balances leases with other replicators, runs shard workers. */
  private async streaming(state: TableState, snapshotRow: UnitRow): Promise<void> {
    const r = this.r;
    const info = JSON.parse(snapshotRow.position ?? '{}') as SnapshotInfo;
    if (state.phase === 'snapshot') await r.state.setPhase(this.name, 'snapshot', 'streaming', info).catch(() => undefined);
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
          const current = await r.state.getTable(this.name);
          if (!current || current.phase === 'resetting' || current.phase === 'failed') break;
          // Also noticed here when no write fails (an idle stream).
          await this.target.check(false);
          const stream = await r.o.source.streams.describeStream(this.streamArn);
          for (const s of stream.shards) {
            if (known.has(s.id)) continue;
            await r.state.ensureUnit(this.name, SHARD_PREFIX + s.id, s.parent ? SHARD_PREFIX + s.parent : undefined);
            known.add(s.id);
          }
          const listed = new Set(stream.shards.map((s) => SHARD_PREFIX + s.id));
          let units = (await r.state.listUnits(this.name)).filter((u) => u.unit.startsWith(SHARD_PREFIX));
          // Finished shards the stream no longer lists (trimmed after 24 h) are of no further use.
          for (const u of units) if (u.finished && !listed.has(u.unit)) await r.state.deleteFinishedUnit(this.name, u.unit);
          units = units.filter((u) => !u.finished || listed.has(u.unit));
          if (stream.status === 'DISABLED' && units.length > 0 && units.every((u) => u.finished)) {
            throw await this.streamLost(this.streamArn, true);
          }
          const byUnit = new Map(units.map((u) => [u.unit, u]));
          // A parent we have never seen (trimmed before this replication began) counts as done.
          const ready = units.filter((u) => !u.finished && (!u.parent || !byUnit.has(u.parent) || byUnit.get(u.parent)!.finished));
          await this.balance(ready, byUnit, skipBefore);
        } catch (e) {
          if (e instanceof ReplicationError || e instanceof TargetDeleted) throw e;
          this.onError(e);
        }
        r.o.metrics.shardsOwned.set({ table: this.name }, this.workers.size);
        await Promise.race([r.pause(discoverMs), new Promise<void>((res) => (this.kick = res))]);
      }
    } finally {
      // Phase change, failure or stop: our shard workers end (and hand their leases back).
      this.halted = true;
      await Promise.all([...this.workers.values()].map((w) => w.done));
      r.o.metrics.shardsOwned.set({ table: this.name }, 0);
    }
    if (this.fatal) throw this.fatal;
  }

  /**
   * Takes a fair share of the ready shards of all tables this replicator serves: free or expired
   * leases first; when none is free but we hold less than our share, one from the busiest owner.
   */
  private async balance(ready: UnitRow[], byUnit: Map<string, UnitRow>, skipBefore: number): Promise<void> {
    const r = this.r;
    const now = Date.now();
    const owners = new Map<string, UnitRow[]>();
    for (const row of ready) {
      if (row.owner && r.watcher.alive(row, now)) owners.set(row.owner, [...(owners.get(row.owner) ?? []), row]);
    }
    r.report(this.name, ready.length, new Map([...owners].map(([o, rows]) => [o, rows.length])));
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
        this.log(`taking shard ${rows[0]!.unit.slice(SHARD_PREFIX.length)} over from ${victim} to balance the load`);
        await this.take(rows[0]!, byUnit, skipBefore);
      }
    }
  }

  get owned(): number {
    return this.workers.size;
  }

  private async take(row: UnitRow, byUnit: Map<string, UnitRow>, skipBefore: number): Promise<void> {
    const r = this.r;
    const lease = await r.watcher.acquire(r.state, row, (l) => this.log(l));
    if (!lease) return;
    r.hold(lease);
    const shardId = row.unit.slice(SHARD_PREFIX.length);
    const parent = row.parent ? byUnit.get(row.parent) : undefined;
    const labels = { table: this.name, shard: shardId };
    const metrics = r.o.metrics;
    const done = (async () => {
      try {
        // The parent's last writes must carry earlier timestamps than this shard's first ones.
        await fence(r, parent?.renewedAt, `shard ${shardId}`);
        const outcome = await runShard({
          streams: r.o.source.streams,
          streamArn: this.streamArn,
          shardId,
          lease,
          position: row.position,
          applied: row.applied,
          applier: this.applier(),
          skipBefore,
          pollMs: r.o.pollMs ?? 250,
          stopped: () => r.stopped || this.halted || this.fatal !== undefined,
          onBatch: (result, lag) => {
            for (const [event, n] of result.applied) metrics.applied.inc({ table: this.name, event }, n);
            metrics.lag.set(labels, lag);
          },
          onError: this.onError,
        });
        if (outcome === 'finished') this.log(`shard ${shardId} closed and fully applied`);
        if (outcome === 'lost') this.log(`lease on shard ${shardId} taken over by another replicator`);
        // Stopped: hand the lease back so another replicator continues at once.
        if (outcome === 'stopped') await lease.release().catch(() => undefined);
      } catch (e) {
        if (e instanceof ReplicationError || e instanceof TargetDeleted) {
          this.fatal = e;
          this.halted = true;
        } else this.onError(e);
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

/** The source's current stream, if it has one enabled. */
function enabledStream(desc: TableDescription): string | undefined {
  return desc.StreamSpecification?.StreamEnabled ? desc.LatestStreamArn : undefined;
}
