// Every server runs one: finishes the transactions whose server died between placing intents and
// removing them, so no item stays locked much longer than LOCK_TIMEOUT_MS even if nobody reads it.
import type { TableHandle } from '../table-handle.js';
import type { Transactions } from './index.js';

const INTERVAL_MS = 5000;

export class TransactionSweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private swept = false;

  constructor(
    private readonly transactions: Transactions,
    private readonly lookup: (table: string) => Promise<TableHandle | undefined>,
    private readonly warn: (message: string, err: unknown) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      // An hour back on start (a crash while every server was down), five minutes afterwards.
      this.running = this.transactions
        .sweep(this.lookup, this.swept ? 5 : 60)
        .then(() => void (this.swept = true), (e) => this.warn('transaction sweep failed', e))
        .finally(() => (this.running = undefined));
    }, INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
