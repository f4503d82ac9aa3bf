// The transaction log's writes, gathered. Every transaction that starts in the same second logs
// into the same partition (its slot), so the inserts and deletes that arrive while one write to
// that partition is on its way go out together when it returns, as one unlogged batch: a single
// partition's batch is one mutation in Cassandra, not one per row. An idle server sends each write
// at the end of the event loop's poll phase, as the session's coalescing does.
import type { CqlSession } from '../session.js';

/** At most this many statements a batch (a single partition's batch is one mutation, bounded in size by Cassandra). */
const MAX_GROUP = 64;

interface Pending {
  query: string;
  params: unknown[];
  done: (error?: unknown) => void;
}

interface Partition {
  busy: boolean;
  waiting: Pending[];
}

export class GroupWriter {
  private readonly partitions = new Map<string, Partition>();

  constructor(private readonly session: CqlSession) {}

  /** Writes the statement (a plain, idempotent write to `partition`) with whatever else is waiting for it. */
  write(partition: string, query: string, params: unknown[]): Promise<void> {
    let p = this.partitions.get(partition);
    if (!p) this.partitions.set(partition, (p = { busy: false, waiting: [] }));
    return new Promise((resolve, reject) => {
      p.waiting.push({ query, params, done: (e) => (e === undefined ? resolve() : reject(e)) });
      if (!p.busy && p.waiting.length === 1) setImmediate(() => this.flush(partition, p));
    });
  }

  private flush(partition: string, p: Partition): void {
    if (p.busy) return;
    if (p.waiting.length === 0) {
      this.partitions.delete(partition);
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
