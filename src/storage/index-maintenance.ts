// Background work of secondary indexes, a service of storage run by every server process:
// - backfilling a GSI added by UpdateTable (CREATING, Backfilling → ACTIVE), taken over by
//   another process when the one doing it stops sending heartbeats;
// - dropping the table of a deleted GSI once every process has stopped writing to it;
// - repairing index entries left unfinished by a process that died mid-write (intent log).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Item } from '../dynamo/types.js';
import type { Catalog, CatalogEntry, TableDefinition } from './catalog.js';
import { INTENT_GRACE_MS, type IndexDefinition } from './indexes.js';
import { MAX_TOKEN, MIN_TOKEN, tokenRangeItems } from './range-reader.js';
import { tableHandle } from './table-handle.js';
import type { StorageServices } from './services.js';

/** Longer than the catalog cache: after this, every process writes to a new index. */
const SETTLE_MS = 3000;
const HEARTBEAT_MS = 5000;
const STALE_MS = 30_000;
/** How far back the first sweep of unfinished index writes looks: a crash while every server was down. */
const FIRST_SWEEP_MS = 3_600_000;


/** Changes one index of a table's definition with compare-and-set, retrying on conflicts. */
export async function changeIndex(
  catalog: Catalog,
  table: string,
  index: string,
  change: (ix: IndexDefinition, d: TableDefinition) => IndexDefinition | null,
): Promise<CatalogEntry | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    catalog.invalidate(table);
    const entry = await catalog.get(table);
    const ix = entry?.definition.indexes?.find((i) => i.name === index);
    if (!entry || !ix) return undefined;
    const next = change(ix, entry.definition);
    const indexes = (entry.definition.indexes ?? []).flatMap((i) => (i.name !== index ? [i] : next ? [next] : []));
    const done = await catalog.replace(entry, { ...entry.definition, indexes: indexes.length ? indexes : undefined });
    if (done) return done;
  }
  throw new Error(`catalog contention on ${table}`);
}

export class IndexMaintenance {
  private timer?: NodeJS.Timeout;
  private running = new Map<string, Promise<void>>();
  /** Where the next sweep of unfinished index writes starts (ms: intents are read by their ids' time). */
  private sweptTo?: number;
  private sweeping?: Promise<void>;
  private stopped = false;
  private readonly abort = new AbortController();

  /** `warn` hears of background work that failed (it is tried again later, by this or another process). */
  constructor(
    private readonly ctx: StorageServices,
    private readonly warn: (message: string, err: unknown) => void = () => {},
  ) {}

  start(periodMs = 10_000): void {
    const tick = () => {
      if (this.stopped) return;
      void this.runOnce().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, periodMs);
      });
    };
    this.timer = setTimeout(tick, 1000);
  }

  /** Stops the rounds and waits for background work to notice (it checks between steps). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await Promise.all(this.running.values());
  }

  /**
   * Runs one piece of background work under `id` unless it runs already. Its failure is reported
   * and never left unhandled: that would end the process. A backfill that fails stops sending
   * heartbeats and is taken over when they are stale; a drop is retried by the next round.
   */
  private task(id: string, work: () => Promise<void>): void {
    if (this.running.has(id) || this.stopped) return;
    const run = work()
      .catch((e) => {
        if (!this.stopped) this.warn(`index maintenance: ${id} failed`, e);
      })
      .finally(() => this.running.delete(id));
    this.running.set(id, run);
  }

  /** One round: stalled backfills, deleted indexes, unfinished index writes. */
  async runOnce(): Promise<void> {
    try {
      for (const name of await this.ctx.catalog.listNames()) {
        const entry = await this.ctx.catalog.get(name);
        for (const ix of entry?.definition.indexes ?? []) {
          if (ix.status === 'CREATING' && Date.now() - (ix.backfillHeartbeat ?? 0) > STALE_MS) this.backfill(name, ix.name);
          if (ix.status === 'DELETING') this.drop(name, ix.name);
        }
      }
      // One sweep at a time: a round that starts while one runs waits for it instead of reading the same slice.
      this.sweeping ??= this.sweepWrites().finally(() => (this.sweeping = undefined));
      await this.sweeping;
    } catch {
      // Cassandra unavailable or a table dropped meanwhile: try again next round.
    }
  }

  /** Finishes unfinished index writes whose intents grew older than the grace period since the last sweep. */
  private async sweepWrites(): Promise<void> {
    const { session, catalog, store } = this.ctx;
    const to = Date.now() - INTENT_GRACE_MS;
    const from = this.sweptTo ?? to - FIRST_SWEEP_MS;
    await store.indexes.sweep(
      session.keyspace,
      async (tableName) => {
        const entry = await catalog.get(tableName);
        if (!entry?.definition.indexes?.length) return undefined;
        const h = tableHandle(this.ctx.translators, entry);
        const d = entry.definition;
        return {
          ref: { id: d.id, name: d.name, key: d.key, indexes: d.indexes! },
          read: (key: Item) => h.translator.read(session, entry.layout, key, session.consistency.serial),
        };
      },
      from,
      to,
    );
    this.sweptTo = to;
  }

  /** Fills a new GSI from the table (idempotent, so a restart begins again from the start). */
  backfill(table: string, index: string): void {
    this.task(`backfill ${table}/${index}`, () => this.doBackfill(table, index));
  }

  private async doBackfill(table: string, index: string): Promise<void> {
    const beat = () => changeIndex(this.ctx.catalog, table, index, (ix) => ({ ...ix, backfillHeartbeat: Date.now() }));
    if (!(await beat())) return;
    await sleep(SETTLE_MS, undefined, { signal: this.abort.signal });
    const entry = await this.ctx.catalog.get(table);
    const ix = entry?.definition.indexes?.find((i) => i.name === index);
    if (!entry || !ix || ix.status !== 'CREATING') return;
    const h = tableHandle(this.ctx.translators, entry);
    const d = entry.definition;
    const ref = { id: d.id, name: d.name, key: d.key, indexes: [ix] };
    let last = Date.now();
    for await (const stored of tokenRangeItems(this.ctx.session, h, MIN_TOKEN, MAX_TOKEN, undefined, this.ctx.session.consistency.strong, 200)) {
      if (this.stopped) return;
      // Written at the item's own version: a newer write to the same item always wins.
      await this.ctx.store.indexes.apply(this.ctx.session.keyspace, ref, undefined, stored.item, stored.version);
      if (Date.now() - last > HEARTBEAT_MS) {
        if (!(await beat())) return;
        last = Date.now();
      }
    }
    await changeIndex(this.ctx.catalog, table, index, (i) => ({ ...i, status: 'ACTIVE', backfilling: false, backfillHeartbeat: undefined }));
  }

  /** Drops a deleted GSI's table once no process can still be writing to it. */
  drop(table: string, index: string): void {
    this.task(`drop ${table}/${index}`, async () => {
      await sleep(SETTLE_MS, undefined, { signal: this.abort.signal });
      const entry = await this.ctx.catalog.get(table);
      const ix = entry?.definition.indexes?.find((i) => i.name === index);
      if (!ix || ix.status !== 'DELETING') return;
      await this.ctx.tables.dropTables([ix.cqlTable]);
      await changeIndex(this.ctx.catalog, table, index, () => null);
    });
  }
}
