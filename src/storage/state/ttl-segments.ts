// The TTL sweeper's lease rows (dc_ttl_segments), one per (table id, segment): who sweeps the
// segment, until when, where it stopped and when it was last swept. The lease protocol is in
// src/ttl/leases.ts; every write here is a lightweight transaction on the row as the caller saw it.
// Rows live a week after their last write (Cassandra TTL), so the rows of dropped tables go by themselves.
import { Long, qualifiedTable, type CqlSession, type Row } from '../session.js';

const ROW_TTL_SECONDS = 7 * 24 * 3600;

export interface SegmentRow {
  segment: number;
  owner: string;
  leaseUntil: number;
  /** The last key swept (JSON). */
  resume?: string;
  sweptAt: number;
}

export class TtlSegmentTable {
  private readonly table: string;

  constructor(private readonly session: CqlSession) {
    this.table = qualifiedTable(session.keyspace, 'dc_ttl_segments');
  }

  async init(): Promise<void> {
    await this.session.client.execute(
      `CREATE TABLE IF NOT EXISTS ${this.table} (table_id text, segment int, owner text, lease_until bigint, resume text, swept_at bigint, PRIMARY KEY (table_id, segment))`,
    );
  }

  /** The segment rows of a table (at most its segment count: one small partition). */
  async list(tableId: string): Promise<Map<number, SegmentRow>> {
    const rs = await this.session.execute(
      `SELECT segment, owner, lease_until, resume, swept_at FROM ${this.table} WHERE table_id = ?`,
      [tableId],
      this.session.consistency.strong,
    );
    const out = new Map<number, SegmentRow>();
    for (const row of rs.rows) out.set(row.get('segment') as number, rowOf(row));
    return out;
  }

  /** Makes `owner` the owner until `until`, if the row is still as `seen` (absent: no row yet). */
  async take(tableId: string, segment: number, owner: string, until: number, seen: SegmentRow | undefined): Promise<boolean> {
    const rs = seen
      ? await this.session.execute(
          `UPDATE ${this.table} USING TTL ${ROW_TTL_SECONDS} SET owner = ?, lease_until = ?, resume = ?, swept_at = ? WHERE table_id = ? AND segment = ? IF owner = ? AND lease_until = ? AND swept_at = ?`,
          [owner, Long.fromNumber(until), seen.resume ?? null, Long.fromNumber(seen.sweptAt), tableId, segment, seen.owner, Long.fromNumber(seen.leaseUntil), Long.fromNumber(seen.sweptAt)],
          this.session.consistency.write,
        )
      : await this.session.execute(
          `INSERT INTO ${this.table} (table_id, segment, owner, lease_until, resume, swept_at) VALUES (?, ?, ?, ?, null, 0) IF NOT EXISTS USING TTL ${ROW_TTL_SECONDS}`,
          [tableId, segment, owner, Long.fromNumber(until)],
          this.session.consistency.write,
        );
    return rs.first().get('[applied]') === true;
  }

  /** Rewrites a row owned by `ifOwner` (every column, so the whole row keeps one Cassandra TTL). */
  async write(tableId: string, segment: number, ifOwner: string, row: Omit<SegmentRow, 'segment'>): Promise<boolean> {
    const rs = await this.session.execute(
      `UPDATE ${this.table} USING TTL ${ROW_TTL_SECONDS} SET owner = ?, lease_until = ?, resume = ?, swept_at = ? WHERE table_id = ? AND segment = ? IF owner = ?`,
      [row.owner, Long.fromNumber(row.leaseUntil), row.resume ?? null, Long.fromNumber(row.sweptAt), tableId, segment, ifOwner],
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
