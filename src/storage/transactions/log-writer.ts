// The transaction log's writes, gathered. Every transaction that starts in the same second logs
// into the same partition (its slot), so the inserts and deletes that arrive while one write to
// that partition is on its way go out together when it returns, as one unlogged batch: a single
// partition's batch is one mutation in Cassandra, not one per row. An idle server sends each write
// at the end of the event loop's poll phase, as the session's coalescing does; a write nobody waits
// for (the delete once a transaction is done) may linger a little for company instead.
import type { CqlSession } from '../session.js';

/** At most this many statements a batch (a single partition's batch is one mutation, bounded in size by Cassandra). */
const MAX_GROUP = 64;

interface Pending {
  query: string;
  params: unknown[];
  done: (error?: unknown) => void;
  /** How long it may wait for company (0: none). */
  lingerMs: number;
}

interface Partition {
  busy: boolean;
  waiting: Pending[];
  /** A flush at the end of this turn of the event loop is scheduled. */
  soon: boolean;
  /** A flush is scheduled for lingering writes. */
  timer?: NodeJS.Timeout;
}

export class GroupWriter {
  private readonly partitions = new Map<string, Partition>();

  constructor(private readonly session: CqlSession) {}

  /**
   * Writes the statement (a plain, idempotent write to `partition`) with whatever else is waiting
   * for it; with `lingerMs`, waits up to that long for other writes to the partition to join.
   */
  write(partition: string, query: string, params: unknown[], lingerMs = 0): Promise<void> {
    let p = this.partitions.get(partition);
    if (!p) this.partitions.set(partition, (p = { busy: false, waiting: [], soon: false }));
    const part = p;
    return new Promise((resolve, reject) => {
      part.waiting.push({ query, params, lingerMs, done: (e) => (e === undefined ? resolve() : reject(e)) });
      if (part.busy || part.soon) return; // the flush on its way takes it
      if (lingerMs === 0) {
        part.soon = true;
        setImmediate(() => {
          part.soon = false;
          this.flush(partition, part, true);
        });
      } else this.linger(partition, part, lingerMs);
    });
  }

  private linger(partition: string, p: Partition, ms: number): void {
    if (p.timer) return;
    p.timer = setTimeout(() => {
      p.timer = undefined;
      this.flush(partition, p, true);
    }, ms);
    p.timer.unref();
  }

  /** Sends what waits; unless `due`, writes that may linger wait on (for the next write or their timer). */
  private flush(partition: string, p: Partition, due = false): void {
    if (p.busy) return;
    if (!due && p.waiting.length > 0 && p.waiting.every((w) => w.lingerMs > 0)) return this.linger(partition, p, p.waiting[0]!.lingerMs);
    clearTimeout(p.timer);
    p.timer = undefined;
    if (p.waiting.length === 0) {
      if (!p.soon && this.partitions.get(partition) === p) this.partitions.delete(partition);
      return;
    }
    const group = p.waiting.splice(0, MAX_GROUP);
    p.busy = true;
    const statements = group.map(({ query, params }) => ({ query, params }));
    const sent = this.session.batch(statements, { consistency: this.session.consistency.write, logged: false, isIdempotent: true });
    sent.then(
      () => group.forEach((w) => w.done()),
      (e: unknown) => group.forEach((w) => w.done(e)),
    ).finally(() => {
      p.busy = false;
      this.flush(partition, p);
    });
  }
}
