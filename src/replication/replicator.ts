// The replicator process: for each table, a full migration (target creation, snapshot, stream
// tail: see table-replication.ts and its phases) that converges to the source's state, shared with
// any other replicator processes on the same keyspace through leases in Cassandra.
//
// Why it converges (README, "Replication from DynamoDB Streams"): the snapshot records its start
// time T0 before the first Scan request, and the stream is then replayed from the oldest record of
// every shard (skipping only records created well before T0, whose effects every Scan page already
// saw). The tail starts only after the whole snapshot is written, each item's records arrive in
// order (one shard at a time, parents before children, a batch in sequence order), and every record
// carries the whole new item or a delete — so each item ends at its last record's state, or at the
// snapshot's when it has no record after T0.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { LeaseLost, LeaseWatcher, sleep, type Lease } from './leases.js';
import type { ReplicationProcess, ReplicatorOptions, TableMapping } from './process.js';
import { ReplicationState } from '../storage/state/replication-state.js';
import { TableReplication } from './table-replication.js';

export type { ReplicatorOptions, TableMapping } from './process.js';

/** Parses "NAME" or "SOURCE=TARGET". */
export function parseTableMapping(spec: string): TableMapping {
  const i = spec.indexOf('=');
  return i < 0 ? { source: spec, target: spec } : { source: spec.slice(0, i), target: spec.slice(i + 1) };
}

export class Replicator implements ReplicationProcess {
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
    this.id = o.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
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
        host: hostname(),
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
