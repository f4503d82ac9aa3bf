// Replication state in Cassandra (the replicator's store; its leases and phases live in
// src/replication/), so that any number of replicator processes share it and a
// restarted one resumes where the last left off:
//
//   dc_replication        one row per target table: source, stream, phase, snapshot facts, error
//   dc_replication_units  one row per unit of work (the snapshot, each stream shard) of a target:
//                         lease (owner, counter, renewed_at) and checkpoint (position, finished)
//   dc_replication_workers live replicator processes (heartbeat rows with a TTL), for balancing
//
// Rows of the first two tables are only ever written with lightweight transactions, so that
// their writes are ordered by Paxos and a checkpoint can be fenced by the lease it belongs to.
import { quoteIdent, type CqlSession, type Row } from '../session.js';

/**
 * snapshot: copying (the snapshot unit's lease decides who); streaming: tailing the stream;
 * failed: stopped with an error the user must act on; resetting: a new snapshot is being prepared.
 */
export type Phase = 'snapshot' | 'streaming' | 'failed' | 'resetting';

/** What the snapshot recorded: when it began (the stream is replayed from before then) and ended. */
export interface SnapshotInfo {
  /** Our clock before the first Scan request. */
  startedAt?: number;
  doneAt?: number;
  items?: number;
  /** Stream records created before this time are already reflected in the snapshot. */
  skipBefore?: number;
}

export interface TableState {
  target: string;
  /** Catalog id of the target table: a target deleted and created again has a new one. */
  targetId?: string;
  sourceTable: string;
  sourceArn: string;
  streamArn: string;
  phase: Phase;
  snapshot: SnapshotInfo;
  error?: string;
  updatedAt: number;
}

export interface UnitRow {
  scope: string;
  unit: string;
  parent?: string;
  owner?: string;
  counter: number;
  renewedAt: number;
  position?: string;
  finished: boolean;
  applied: number;
  lagMs?: number;
  recordAt?: number;
  updatedAt?: number;
}

export interface WorkerRow {
  id: string;
  host: string;
  pid: number;
  started: number;
  heartbeat: number;
  tables: string[];
}

/** Progress written with a checkpoint. */
export interface Checkpoint {
  position?: string;
  applied?: number;
  lagMs?: number;
  recordAt?: number;
}

const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

export class ReplicationState {
  readonly tables: string;
  readonly units: string;
  readonly workers: string;

  constructor(readonly session: CqlSession) {
    const ks = quoteIdent(session.keyspace);
    this.tables = `${ks}.dc_replication`;
    this.units = `${ks}.dc_replication_units`;
    this.workers = `${ks}.dc_replication_workers`;
  }

  async init(): Promise<void> {
    const run = (cql: string) => this.session.client.execute(cql);
    await run(
      `CREATE TABLE IF NOT EXISTS ${this.tables} (target text PRIMARY KEY, target_id text, source_table text, source_arn text, stream_arn text, phase text, snapshot text, error text, updated_at bigint)`,
    );
    await run(
      `CREATE TABLE IF NOT EXISTS ${this.units} (scope text, unit text, parent text, owner text, counter bigint, renewed_at bigint, position text, finished boolean, applied bigint, lag_ms bigint, record_at bigint, updated_at bigint, PRIMARY KEY (scope, unit))`,
    );
    await run(
      `CREATE TABLE IF NOT EXISTS ${this.workers} (id text PRIMARY KEY, host text, pid int, started bigint, heartbeat bigint, tables text)`,
    );
  }

  private get c() {
    return this.session.consistency;
  }

  private applied(rs: { first(): { get(n: string): unknown } | null }): boolean {
    return rs.first()?.get('[applied]') === true;
  }

  // ---- tables -----------------------------------------------------------------------------

  async getTable(target: string): Promise<TableState | undefined> {
    const rs = await this.session.execute(`SELECT * FROM ${this.tables} WHERE target = ?`, [target], this.c.strong);
    const r = rs.first();
    if (!r) return undefined;
    return {
      target,
      targetId: str(r.get('target_id')),
      sourceTable: r.get('source_table'),
      sourceArn: r.get('source_arn'),
      streamArn: r.get('stream_arn'),
      phase: r.get('phase') as Phase,
      snapshot: JSON.parse((r.get('snapshot') as string | null) ?? '{}') as SnapshotInfo,
      error: str(r.get('error')),
      updatedAt: num(r.get('updated_at')) ?? 0,
    };
  }

  async listTables(): Promise<TableState[]> {
    const rs = await this.session.execute(`SELECT target FROM ${this.tables}`, [], this.c.strong);
    const out: TableState[] = [];
    for (const row of rs.rows) {
      const t = await this.getTable(row.get('target') as string);
      if (t) out.push(t);
    }
    return out.sort((a, b) => a.target.localeCompare(b.target));
  }

  /** Registers a new replication; false when another process registered it first. */
  async createTable(s: TableState): Promise<boolean> {
    const rs = await this.session.execute(
      `INSERT INTO ${this.tables} (target, target_id, source_table, source_arn, stream_arn, phase, snapshot, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
      [s.target, s.targetId ?? null, s.sourceTable, s.sourceArn, s.streamArn, s.phase, JSON.stringify(s.snapshot), Date.now()],
      this.c.write,
    );
    return this.applied(rs);
  }

  /** Moves a table to another phase: compare-and-set on the phase (`from` undefined: any phase). */
  async setPhase(target: string, from: Phase | undefined, to: Phase, snapshot: SnapshotInfo, error?: string): Promise<boolean> {
    const rs = await this.session.execute(
      `UPDATE ${this.tables} SET phase = ?, snapshot = ?, error = ?, updated_at = ? WHERE target = ? IF ${from ? 'phase = ?' : 'EXISTS'}`,
      [to, JSON.stringify(snapshot), error ?? null, Date.now(), target, ...(from ? [from] : [])],
      this.c.write,
    );
    return this.applied(rs);
  }

  /** After a reset: a fresh snapshot of (possibly) a new stream. */
  async restart(s: Pick<TableState, 'target' | 'targetId' | 'sourceTable' | 'sourceArn' | 'streamArn'>): Promise<boolean> {
    const rs = await this.session.execute(
      `UPDATE ${this.tables} SET phase = 'snapshot', snapshot = '{}', error = null, target_id = ?, source_table = ?, source_arn = ?, stream_arn = ?, updated_at = ? WHERE target = ? IF phase = 'resetting'`,
      [s.targetId ?? null, s.sourceTable, s.sourceArn, s.streamArn, Date.now(), s.target],
      this.c.write,
    );
    return this.applied(rs);
  }

  async deleteFinishedUnit(scope: string, unit: string): Promise<void> {
    await this.session.execute(`DELETE FROM ${this.units} WHERE scope = ? AND unit = ? IF finished = true`, [scope, unit], this.c.write);
  }

  /** Deletes every unit (lease and checkpoint) of a table. */
  async deleteUnits(target: string): Promise<void> {
    for (const u of await this.listUnits(target)) {
      await this.session.execute(`DELETE FROM ${this.units} WHERE scope = ? AND unit = ? IF EXISTS`, [target, u.unit], this.c.write);
    }
  }

  // ---- units ------------------------------------------------------------------------------

  async listUnits(scope: string): Promise<UnitRow[]> {
    const rs = await this.session.execute(`SELECT * FROM ${this.units} WHERE scope = ?`, [scope], this.c.strong);
    return rs.rows.map(unitOf);
  }

  /** One unit, read through Paxos (it completes any write of the row still in progress). */
  async getUnit(scope: string, unit: string): Promise<UnitRow | undefined> {
    const rs = await this.session.execute(`SELECT * FROM ${this.units} WHERE scope = ? AND unit = ?`, [scope, unit], this.c.serial);
    const row = rs.first();
    return row ? unitOf(row) : undefined;
  }

  async ensureUnit(scope: string, unit: string, parent?: string): Promise<void> {
    await this.session.execute(
      `INSERT INTO ${this.units} (scope, unit, parent, counter, finished, applied) VALUES (?, ?, ?, 0, false, 0) IF NOT EXISTS`,
      [scope, unit, parent ?? null],
      this.c.write,
    );
  }

  /** Takes a unit whose lease counter is still `counter` (nobody renewed or took it meanwhile). */
  async acquire(row: UnitRow, owner: string, now: number): Promise<boolean> {
    const rs = await this.session.execute(
      `UPDATE ${this.units} SET owner = ?, counter = ?, renewed_at = ? WHERE scope = ? AND unit = ? IF counter = ? AND finished = false`,
      [owner, row.counter + 1, now, row.scope, row.unit, row.counter],
      this.c.write,
    );
    return this.applied(rs);
  }

  /** Renews a lease, optionally with a checkpoint; false when the lease was lost. */
  async renew(scope: string, unit: string, owner: string, counter: number, now: number, cp?: Checkpoint): Promise<boolean> {
    const rs = cp
      ? await this.session.execute(
          `UPDATE ${this.units} SET counter = ?, renewed_at = ?, position = ?, applied = ?, lag_ms = ?, record_at = ?, updated_at = ? WHERE scope = ? AND unit = ? IF owner = ? AND counter = ?`,
          [counter + 1, now, cp.position ?? null, cp.applied ?? 0, cp.lagMs ?? null, cp.recordAt ?? null, now, scope, unit, owner, counter],
          this.c.write,
        )
      : await this.session.execute(
          `UPDATE ${this.units} SET counter = ?, renewed_at = ? WHERE scope = ? AND unit = ? IF owner = ? AND counter = ?`,
          [counter + 1, now, scope, unit, owner, counter],
          this.c.write,
        );
    return this.applied(rs);
  }

  /** Gives a lease up: finished (the unit is done for good) or released (someone may take it). */
  async giveUp(scope: string, unit: string, owner: string, counter: number, now: number, finished: boolean, cp?: Checkpoint): Promise<boolean> {
    const rs = cp
      ? await this.session.execute(
          `UPDATE ${this.units} SET owner = null, counter = ?, renewed_at = ?, finished = ?, position = ?, applied = ?, lag_ms = ?, record_at = ?, updated_at = ? WHERE scope = ? AND unit = ? IF owner = ? AND counter = ?`,
          [counter + 1, now, finished, cp.position ?? null, cp.applied ?? 0, cp.lagMs ?? null, cp.recordAt ?? null, now, scope, unit, owner, counter],
          this.c.write,
        )
      : await this.session.execute(
          `UPDATE ${this.units} SET owner = null, counter = ?, renewed_at = ?, finished = ? WHERE scope = ? AND unit = ? IF owner = ? AND counter = ?`,
          [counter + 1, now, finished, scope, unit, owner, counter],
          this.c.write,
        );
    return this.applied(rs);
  }

  // ---- workers ----------------------------------------------------------------------------

  async heartbeat(w: WorkerRow, ttlSeconds: number): Promise<void> {
    await this.session.execute(
      `INSERT INTO ${this.workers} (id, host, pid, started, heartbeat, tables) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?`,
      [w.id, w.host, w.pid, w.started, w.heartbeat, JSON.stringify(w.tables), ttlSeconds],
      this.c.write,
    );
  }

  async removeWorker(id: string): Promise<void> {
    await this.session.execute(`DELETE FROM ${this.workers} WHERE id = ?`, [id], this.c.write);
  }

  async listWorkers(): Promise<WorkerRow[]> {
    const rs = await this.session.execute(`SELECT * FROM ${this.workers}`, [], this.c.strong);
    return rs.rows.map((r) => ({
      id: r.get('id') as string,
      host: r.get('host') as string,
      pid: Number(r.get('pid')),
      started: Number(r.get('started')),
      heartbeat: Number(r.get('heartbeat')),
      tables: JSON.parse((r.get('tables') as string | null) ?? '[]') as string[],
    }));
  }
}

function unitOf(r: Row): UnitRow {
  return {
    scope: r.get('scope') as string,
    unit: r.get('unit') as string,
    parent: str(r.get('parent')),
    owner: str(r.get('owner')),
    counter: num(r.get('counter')) ?? 0,
    renewedAt: num(r.get('renewed_at')) ?? 0,
    position: str(r.get('position')),
    finished: r.get('finished') === true,
    applied: num(r.get('applied')) ?? 0,
    lagMs: num(r.get('lag_ms')),
    recordAt: num(r.get('record_at')),
    updatedAt: num(r.get('updated_at')),
  };
}
