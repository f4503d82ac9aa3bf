// Every server runs one (unless its period is 0): finishes the transactions whose server died
// between placing intents and removing them, so no item stays locked much longer than the lock
// timeout plus the period even if nobody reads it.
import type { TableHandle } from '../table-handle.js';
import type { Transactions } from './index.js';

export class TransactionSweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private swept = false;

  constructor(
    private readonly transactions: Transactions,
    private readonly lookup: (table: string) => Promise<TableHandle | undefined>,
    private readonly warn: (message: string, err: unknown) => void,
    private readonly periodMs: number,
  ) {}

  start(): void {
    if (this.periodMs <= 0) return;
    // An hour back on start (a crash while every server was down); afterwards five minutes, or
    // more when the period is long enough to miss a transaction logged since the last sweep.
    const minutes = Math.max(5, Math.ceil((3 * this.periodMs) / 60_000));
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.transactions
        .sweep(this.lookup, this.swept ? minutes : Math.max(60, minutes))
        .then(() => void (this.swept = true), (e) => this.warn('transaction sweep failed', e))
        .finally(() => (this.running = undefined));
    }, this.periodMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
