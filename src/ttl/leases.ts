// Who sweeps which segment of which table, kept in Cassandra (storage's TtlSegmentTable) so that any number of servers share
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
import type { Item } from '../dynamo/types.js';
import type { SegmentRow, TtlSegmentTable } from '../storage/state/ttl-segments.js';

export type { SegmentRow };

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
  constructor(
    private readonly rows: TtlSegmentTable,
    readonly owner: string,
    private readonly leaseMs: number,
  ) {}

  init(): Promise<void> {
    return this.rows.init();
  }

  leaseUntil(): number {
    return Date.now() + this.leaseMs;
  }

  /** The segments of a table (at most its segment count: one small partition). */
  segments(tableId: string): Promise<Map<number, SegmentRow>> {
    return this.rows.list(tableId);
  }

  /** Whether a segment needs a sweep now: never swept, swept a period ago, or its owner's lease ran out. */
  static due(row: SegmentRow | undefined, periodMs: number, now = Date.now()): boolean {
    if (!row) return true;
    return row.owner === '' ? row.sweptAt + periodMs <= now : row.leaseUntil < now;
  }

  /** Takes a due segment; undefined when another server was faster. */
  async acquire(tableId: string, segment: number, seen: SegmentRow | undefined): Promise<SegmentLease | undefined> {
    if (!(await this.rows.take(tableId, segment, this.owner, this.leaseUntil(), seen))) return undefined;
    const resume = seen?.resume ? (JSON.parse(seen.resume) as Item) : undefined;
    return new SegmentLease(this, tableId, segment, resume, seen?.sweptAt ?? 0);
  }

  /** Rewrites a segment row we own. */
  write(lease: SegmentLease, owner: string, leaseUntil: number, resume: Item | undefined, sweptAt: number): Promise<boolean> {
    return this.rows.write(lease.tableId, lease.segment, this.owner, { owner, leaseUntil, resume: resume ? JSON.stringify(resume) : undefined, sweptAt });
  }
}
