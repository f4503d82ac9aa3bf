// What one table's replication needs from the replicator process it runs in: options, the shared
// state tables, lease bookkeeping, stopping, and the fair share of shards among live replicators.
import type { WriteIsolation } from '../config.js';
import type { TargetOpener } from './replica-target.js';
import type { ActionContext } from '../actions/context.js';
import type { Lease, LeaseWatcher } from './leases.js';
import type { ReplicationMetrics } from './metrics.js';
import type { SourceApi } from './source.js';
import type { ReplicationState } from '../storage/state/replication-state.js';
import type { StorageServices } from '../storage/services.js';

export interface TableMapping {
  source: string;
  target: string;
}

/** What a replicator runs on: the actions' context, and the session its state tables use. */
export type ReplicationContext = Omit<ActionContext, 'host'> & Pick<StorageServices, 'session'>;

export interface ReplicatorOptions {
  ctx: ReplicationContext;
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

export interface ReplicationProcess {
  readonly o: ReplicatorOptions;
  readonly state: ReplicationState;
  readonly watcher: LeaseWatcher;
  readonly leaseMs: number;
  readonly stopped: boolean;
  /** Sleeps, but wakes at once when the replicator stops. */
  pause(ms: number): Promise<void>;
  /** Leases held are renewed by the process until dropped. */
  hold(lease: Lease): void;
  drop(lease: Lease): void;
  /** What a table saw at its last discovery: ready shards and the live owners' lease counts. */
  report(target: string, ready: number, owners: Map<string, number>): void;
  /** Shard leases this process holds, over all its tables. */
  owned(): number;
  /** Our fair share of the ready shards of our tables, among the live replicators serving them. */
  share(): Promise<{ fair: number; floor: number }>;
  /** The other owner holding the most leases over our tables, if it holds more than `fair`. */
  busiest(fair: number): string | undefined;
}
