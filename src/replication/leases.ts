// Leases on units of work (the snapshot, stream shards), kept in Cassandra with lightweight
// transactions. A lease is a counter the owner bumps on every renewal and checkpoint; another
// process considers it expired when it has seen the same (owner, counter) for a whole lease
// period on its own clock, so expiry does not depend on clocks agreeing.
//
// Clocks do matter for one thing: the replicator writes items with plain (timestamped) writes,
// so the next owner's writes must carry later timestamps than the last owner's. The owner stops
// writing once its own clock passes (last successful renewal + lease period); a new owner waits
// until its clock passes that same instant (stored as renewed_at) before its first write.
import { ReplicationState, type Checkpoint, type UnitRow } from '../storage/state/replication-state.js';

export class LeaseLost extends Error {
  constructor(unit: string) {
    super(`lease on ${unit} lost`);
    this.name = 'LeaseLost';
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export class Lease {
  lost = false;
  /** Our clock when the last successful renewal was sent: the lease is ours until this + period. */
  private renewedAt: number;
  /** A write of ours failed with an unknown outcome (a timeout): it may have moved the counter on. */
  private uncertain = false;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly state: ReplicationState,
    readonly scope: string,
    readonly unit: string,
    readonly owner: string,
    private counter: number,
    now: number,
    private readonly periodMs: number,
  ) {
    this.renewedAt = now;
  }

  /** Whether writes under this lease may still be issued (with a safety margin). */
  valid(): boolean {
    return !this.lost && Date.now() < this.renewedAt + this.periodMs - Math.min(1000, this.periodMs / 5);
  }

  check(): void {
    if (!this.valid()) throw new LeaseLost(this.unit);
  }

  get lastRenewal(): number {
    return this.renewedAt;
  }

  // Renewals from the timer and checkpoints from the worker must not race on the counter.
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const next = this.chain.then(task, task);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async cas(run: (counter: number, now: number) => Promise<boolean>): Promise<void> {
    if (this.lost) throw new LeaseLost(this.unit);
    const now = Date.now();
    let ok: boolean;
    try {
      ok = await run(this.counter, now);
      if (!ok && this.uncertain) {
        // The write that timed out may have applied after all (a busy cluster): then the row holds
        // our owner and next counter, and the lease is still ours. Without this check the lease
        // would count as lost, and the shard would wait a whole lease period for a new owner.
        const row = await this.state.getUnit(this.scope, this.unit);
        if (row?.owner === this.owner && row.counter === this.counter + 1) {
          this.counter++;
          ok = await run(this.counter, now);
        }
      }
    } catch (e) {
      this.uncertain = true;
      throw e;
    }
    this.uncertain = false;
    if (!ok) {
      this.lost = true;
      throw new LeaseLost(this.unit);
    }
    this.counter++;
    this.renewedAt = now;
  }

  renew(): Promise<void> {
    return this.serial(() => this.cas((c, now) => this.state.renew(this.scope, this.unit, this.owner, c, now)));
  }

  checkpoint(cp: Checkpoint): Promise<void> {
    return this.serial(() => this.cas((c, now) => this.state.renew(this.scope, this.unit, this.owner, c, now, cp)));
  }

  /** Marks the unit done for good (a closed shard read to its end, a finished snapshot). */
  finish(cp?: Checkpoint): Promise<void> {
    return this.serial(async () => {
      await this.cas((c, now) => this.state.giveUp(this.scope, this.unit, this.owner, c, now, true, cp));
      this.lost = true;
    });
  }

  /** Hands the unit back so another process can take it at once. */
  release(cp?: Checkpoint): Promise<void> {
    return this.serial(async () => {
      if (this.lost) return;
      await this.cas((c, now) => this.state.giveUp(this.scope, this.unit, this.owner, c, now, false, cp));
      this.lost = true;
    });
  }

  /** Without a network round: forget the lease (another process will see it expire). */
  abandon(): void {
    this.lost = true;
  }
}

/** Tracks what this process has seen of other owners' leases, to tell when one has expired. */
export class LeaseWatcher {
  private readonly seen = new Map<string, { owner?: string; counter: number; since: number }>();

  constructor(
    readonly owner: string,
    readonly periodMs: number,
  ) {}

  /** True when the unit may be taken now: unowned, or its lease has not moved for a period. */
  available(row: UnitRow, now = Date.now()): boolean {
    if (row.finished) return false;
    if (!row.owner) return true;
    const key = row.scope + '\u0000' + row.unit;
    const s = this.seen.get(key);
    if (!s || s.owner !== row.owner || s.counter !== row.counter) {
      this.seen.set(key, { owner: row.owner, counter: row.counter, since: now });
      return false;
    }
    return now - s.since >= this.periodMs;
  }

  /** Whether the row's owner looks alive (its lease moved within a period). */
  alive(row: UnitRow, now = Date.now()): boolean {
    if (!row.owner || row.finished) return false;
    const s = this.seen.get(row.scope + '\u0000' + row.unit);
    return !s || s.owner !== row.owner || s.counter !== row.counter || now - s.since < this.periodMs;
  }

  /**
   * Takes the unit. Resolves to the lease once it is safe to write under it (after the clock
   * fence described above), or undefined when another process won the race.
   */
  async acquire(state: ReplicationState, row: UnitRow, log?: (line: string) => void): Promise<Lease | undefined> {
    const now = Date.now();
    if (!(await state.acquire(row, this.owner, now))) return undefined;
    const lease = new Lease(state, row.scope, row.unit, this.owner, row.counter + 1, now, this.periodMs);
    if (row.renewedAt) {
      // A previous owner wrote until at most renewed_at + period (released: until renewed_at).
      const until = row.renewedAt + (row.owner ? this.periodMs : 0) + 1;
      const wait = until - Date.now();
      if (wait > 2 * this.periodMs) {
        log?.(`clock of the previous owner of ${row.unit} is ${Math.round(wait / 1000)} s ahead of ours; not waiting for it`);
      } else if (wait > 0) {
        // Keep the lease alive while waiting.
        const stop = Date.now() + wait;
        while (Date.now() < stop) {
          await sleep(Math.min(stop - Date.now(), this.periodMs / 3));
          if (Date.now() < stop) await lease.renew();
        }
        await lease.renew();
      }
    }
    return lease;
  }
}
