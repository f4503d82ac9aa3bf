// Who sweeps which segment of which table, kept in Cassandra so that any number of servers share
// the work without doing it twice. One row per (table id, segment):
//   owner        the server sweeping it now ('' when nobody is)
//   lease_until  the owner's clock (ms) until which the segment is its own; renewed every 5 s
//   resume       the last key swept (JSON), so a successor continues where a dead owner stopped
//   swept_at     when the last full sweep of the segment finished (ms)
// Every change is a lightweight transaction on the row as it was seen (owner, lease, last sweep),
// so exactly one server takes a free or expired segment, and a segment swept meanwhile is not
// taken again on a stale read. Clocks only decide when a lease counts as expired: a fast clock
// can make two servers sweep a segment at once, which costs work but is safe, because every
// delete checks the item again under compare-and-set. Rows live a week after their last write
// (Cassandra TTL), so the rows of dropped tables go by themselves.
import type { CqlSession, Row } from '../storage/session.js';
import { Long, qualifiedTable } from '../storage/session.js';
import type { Item } from '../dynamo/types.js';

const ROW_TTL_SECONDS = 7 * 24 * 3600;

export interface SegmentRow {
  segment: number;
  owner: string;
  leaseUntil: number;
  resume?: string;
  sweptAt: number;
}

export class SegmentLease {
  constructor(
    private readonly leases: TtlLeases,
    readonly tableId: string,
    readonly segment: number,
    /** Where the previous owner stopped, if it did not finish. */
    readonly resume: Item | undefined,
    readonly sweptAt: number,
  ) {}

  /** Extends the lease and records progress; false when another server took the segment. */
  renew(resume: Item | undefined): Promise<boolean> {
    return this.leases.write(this, this.leases.owner, this.leases.leaseUntil(), resume, this.sweptAt);
  }

  /** The segment is swept: free, and not due again for a period. */
  finish(): Promise<boolean> {
    return this.leases.write(this, '', 0, undefined, Date.now());
  }

  /** Hands the segment back unfinished (this server stops): another may continue at once from `resume`. */
  release(resume: Item | undefined): Promise<boolean> {
    return this.leases.write(this, '', 0, resume, this.sweptAt);
  }
}

export class TtlLeases {
  private readonly table: string;

  constructor(
    private readonly session: CqlSession,
    readonly owner: string,
    private readonly leaseMs: number,
  ) {
    this.table = qualifiedTable(session.keyspace, 'dc_ttl_segments');
  }

  async init(): Promise<void> {
    await this.session.client.execute(
      `CREATE TABLE IF NOT EXISTS ${this.table} (table_id text, segment int, owner text, lease_until bigint, resume text, swept_at bigint, PRIMARY KEY (table_id, segment))`,
    );
  }

  leaseUntil(): number {
    return Date.now() + this.leaseMs;
  }

  /** The segments of a table (at most its segment count: one small partition). */
  async segments(tableId: string): Promise<Map<number, SegmentRow>> {
    const rs = await this.session.execute(
      `SELECT segment, owner, lease_until, resume, swept_at FROM ${this.table} WHERE table_id = ?`,
      [tableId],
      this.session.consistency.strong,
    );
    const out = new Map<number, SegmentRow>();
    for (const row of rs.rows) out.set(row.get('segment') as number, rowOf(row));
    return out;
  }

  /** Whether a segment needs a sweep now: never swept, swept a period ago, or its owner's lease ran out. */
  static due(row: SegmentRow | undefined, periodMs: number, now = Date.now()): boolean {
    if (!row) return true;
    return row.owner === '' ? row.sweptAt + periodMs <= now : row.leaseUntil < now;
  }

  /** Takes a due segment; undefined when another server was faster. */
  async acquire(tableId: string, segment: number, seen: SegmentRow | undefined): Promise<SegmentLease | undefined> {
    const until = Long.fromNumber(this.leaseUntil());
    const rs = seen
      ? await this.session.execute(
          `UPDATE ${this.table} USING TTL ${ROW_TTL_SECONDS} SET owner = ?, lease_until = ?, resume = ?, swept_at = ? WHERE table_id = ? AND segment = ? IF owner = ? AND lease_until = ? AND swept_at = ?`,
          [this.owner, until, seen.resume ?? null, Long.fromNumber(seen.sweptAt), tableId, segment, seen.owner, Long.fromNumber(seen.leaseUntil), Long.fromNumber(seen.sweptAt)],
          this.session.consistency.write,
        )
      : await this.session.execute(
          `INSERT INTO ${this.table} (table_id, segment, owner, lease_until, resume, swept_at) VALUES (?, ?, ?, ?, null, 0) IF NOT EXISTS USING TTL ${ROW_TTL_SECONDS}`,
          [tableId, segment, this.owner, until],
          this.session.consistency.write,
        );
    if (rs.first().get('[applied]') !== true) return undefined;
    const resume = seen?.resume ? (JSON.parse(seen.resume) as Item) : undefined;
    return new SegmentLease(this, tableId, segment, resume, seen?.sweptAt ?? 0);
  }

  /** Rewrites a segment row we own (every column, so the whole row keeps one Cassandra TTL). */
  async write(lease: SegmentLease, owner: string, leaseUntil: number, resume: Item | undefined, sweptAt: number): Promise<boolean> {
    const rs = await this.session.execute(
      `UPDATE ${this.table} USING TTL ${ROW_TTL_SECONDS} SET owner = ?, lease_until = ?, resume = ?, swept_at = ? WHERE table_id = ? AND segment = ? IF owner = ?`,
      [owner, Long.fromNumber(leaseUntil), resume ? JSON.stringify(resume) : null, Long.fromNumber(sweptAt), lease.tableId, lease.segment, this.owner],
      this.session.consistency.write,
    );
    return rs.first().get('[applied]') === true;
  }
}

function rowOf(row: Row): SegmentRow {
  const num = (name: string) => Number((row.get(name) as Long | null)?.toString() ?? 0);
  return {
    segment: row.get('segment') as number,
    owner: (row.get('owner') as string | null) ?? '',
    leaseUntil: num('lease_until'),
    resume: (row.get('resume') as string | null) ?? undefined,
    sweptAt: num('swept_at'),
  };
}
