// Every server runs one (unless its period is 0): finishes the transactions whose server died
// between placing intents and removing them, so no item stays locked much longer than the lock
// timeout plus the period even if nobody reads it.
// Each sweep reads the log's slots (seconds) from where the last one stopped up to the last slot
// whose transactions are all older than twice the lock timeout, so every slot is read about once:
// re-reading minutes of finished transactions' tombstones on every sweep would cost Cassandra more
// as the rate grows, and fail past its tombstone limit.
import type { TableHandle } from '../table-handle.js';
import type { Transactions } from './index.js';
import { TransactionRecords } from './records.js';

/** How far back the first sweep of a process looks: a crash while every server was down. */
const FIRST_SWEEP_MS = 3_600_000;

export class TransactionSweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  /** The first slot not yet swept. */
  private next?: number;

  constructor(
    private readonly transactions: Transactions,
    private readonly lookup: (table: string) => Promise<TableHandle | undefined>,
    private readonly warn: (message: string, err: unknown) => void,
    private readonly periodMs: number,
  ) {}

  start(): void {
    if (this.periodMs <= 0) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      const now = Date.now();
      const from = this.next ?? TransactionRecords.slotOf(now - FIRST_SWEEP_MS);
      const to = this.transactions.sweepableThrough(now);
      if (from > to) return;
      this.running = this.transactions
        .sweep(this.lookup, from, to)
        .then((r) => void (this.next = r.next), (e) => this.warn('transaction sweep failed', e))
        .finally(() => (this.running = undefined));
    }, this.periodMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
