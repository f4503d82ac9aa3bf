// `replicate status`: what the replication state in Cassandra says, per table and shard.
import { ReplicationState, type TableState, type UnitRow, type WorkerRow } from '../storage/state/replication-state.js';

export interface ShardStatus {
  shard: string;
  parent?: string;
  owner?: string;
  position?: string;
  finished: boolean;
  applied: number;
  /** Lag at the last checkpoint, seconds. */
  lagSeconds?: number;
  /** When the last checkpoint was written (ms since the epoch). */
  checkpointAt?: number;
}

export interface TableStatus {
  target: string;
  source: string;
  stream: string;
  phase: string;
  error?: string;
  snapshot: { startedAt?: number; doneAt?: number; items?: number; owner?: string; progress?: number };
  shards: ShardStatus[];
}

export interface Status {
  tables: TableStatus[];
  workers: WorkerRow[];
}

function tableStatus(t: TableState, units: UnitRow[]): TableStatus {
  const snap = units.find((u) => u.unit === 'snapshot');
  return {
    target: t.target,
    source: t.sourceTable,
    stream: t.streamArn,
    phase: t.phase,
    error: t.error,
    snapshot: {
      ...t.snapshot,
      owner: snap?.owner,
      progress: snap && !snap.finished ? snap.applied : undefined,
    },
    shards: units
      .filter((u) => u.unit.startsWith('shard:'))
      .map((u) => ({
        shard: u.unit.slice('shard:'.length),
        parent: u.parent?.slice('shard:'.length),
        owner: u.owner,
        position: u.position,
        finished: u.finished,
        applied: u.applied,
        lagSeconds: u.lagMs === undefined ? undefined : u.lagMs / 1000,
        checkpointAt: u.updatedAt,
      })),
  };
}

export async function readStatus(state: ReplicationState, tables?: string[]): Promise<Status> {
  const all = await state.listTables();
  const chosen = tables?.length ? all.filter((t) => tables.includes(t.target)) : all;
  const out: TableStatus[] = [];
  for (const t of chosen) out.push(tableStatus(t, await state.listUnits(t.target)));
  return { tables: out, workers: await state.listWorkers() };
}

const time = (ms?: number) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

export function formatStatus(s: Status, now = Date.now()): string {
  const lines: string[] = [];
  if (s.tables.length === 0) lines.push('no replicated tables in this keyspace');
  for (const t of s.tables) {
    lines.push(`${t.target}  ←  ${t.source}   phase: ${t.phase}`);
    lines.push(`  stream: ${t.stream}`);
    if (t.error) lines.push(`  error: ${t.error}`);
    const sn = t.snapshot;
    if (sn.doneAt) {
      lines.push(`  snapshot: ${sn.items ?? 0} items, ${time(sn.startedAt)} → ${time(sn.doneAt)} (${(((sn.doneAt ?? 0) - (sn.startedAt ?? 0)) / 1000).toFixed(1)} s)`);
    } else if (t.phase === 'snapshot') {
      lines.push(`  snapshot: in progress${sn.owner ? ` by ${sn.owner}` : ''}, ${sn.progress ?? 0} items written`);
    }
    if (t.shards.length) {
      const rows = [['shard', 'parent', 'state', 'owner', 'position', 'applied', 'lag', 'checkpoint']];
      for (const sh of t.shards) {
        rows.push([
          sh.shard,
          sh.parent ?? '-',
          sh.finished ? 'done' : sh.owner ? 'reading' : 'waiting',
          sh.owner ?? '-',
          sh.position ?? '-',
          String(sh.applied),
          sh.finished ? '-' : sh.lagSeconds === undefined ? '-' : `${sh.lagSeconds.toFixed(1)} s`,
          sh.checkpointAt ? `${((now - sh.checkpointAt) / 1000).toFixed(0)} s ago` : '-',
        ]);
      }
      lines.push(...table(rows).map((l) => '  ' + l));
    }
  }
  if (s.workers.length) {
    lines.push('replicators:');
    for (const w of s.workers) lines.push(`  ${w.id}  tables ${w.tables.join(',')}  heartbeat ${((now - w.heartbeat) / 1000).toFixed(0)} s ago`);
  }
  return lines.join('\n');
}
