// The TTL expiry sweeper, run by every server process. Each table with TTL enabled is cut into
// token-range segments (fixed per table); a server takes a due segment under a lease in Cassandra
// (see leases.ts), reads it page by page and deletes the items that have expired, then marks it
// swept. A segment is due again one sweep period after its last sweep, so with N servers each
// segment is still read once per period, by one of them.
//
// Deletes go through the item store's normal delete path (index entries go too; the mutation is
// marked as a TTL expiry for stream records) and only if the item is still expired when read
// again under compare-and-set: a rewrite with a new TTL between the scan and the delete wins.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Item } from '../dynamo/types.js';
import type { CatalogEntry, TimeToLiveSetting } from '../storage/catalog.js';
import type { TableHandle } from '../storage/item-store.js';
import { segmentRange, tokenRangeItems } from '../storage/range-reader.js';
import { keyOf } from '../storage/translator.js';
import { handleOf } from '../actions/context.js';
import type { StorageServices } from '../storage/services.js';
import { isExpired } from './expiry.js';
import { TtlSegmentTable } from '../storage/state/ttl-segments.js';
import { TtlLeases, type SegmentLease } from './leases.js';
import { createTtlMetrics, type TtlMetrics } from './metrics.js';

type Context = Pick<StorageServices, 'session' | 'catalog' | 'store' | 'translators' | 'config'>;

/** A segment unrenewed for this long is taken over by another server. */
const LEASE_MS = 30_000;
/** How often a sweep renews its lease and records its position (a lightweight transaction each). */
const RENEW_MS = 5000;
/** Deletes in flight per sweep (each is a read and a lightweight transaction). */
const DELETE_CONCURRENCY = 16;

export interface TtlSweeperOptions {
  /** Each segment is swept once per this period (ms); 0: this process does not sweep. */
  periodMs: number;
  pageSize: number;
  registry: Registry;
}

export class TtlSweeper {
  readonly metrics: TtlMetrics;
  /** Test hook: runs after the scan found an expired item and before its delete. */
  beforeExpire?: (table: string, key: Item) => Promise<void>;
  private readonly leases: TtlLeases;
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private stopped = false;

  /** `warn` hears of sweeps that failed (they are retried by the next round, here or elsewhere). */
  constructor(
    private readonly ctx: Context,
    private readonly options: TtlSweeperOptions,
    private readonly warn: (message: string, err: unknown) => void = () => {},
  ) {
    this.metrics = createTtlMetrics(options.registry);
    this.leases = new TtlLeases(new TtlSegmentTable(ctx.session), `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`, LEASE_MS);
  }

  init(): Promise<void> {
    return this.leases.init();
  }

  /** Rounds every quarter period, so a due segment waits at most that long for a server. */
  start(): void {
    if (this.options.periodMs <= 0) return;
    const every = Math.max(1000, this.options.periodMs / 4);
    const tick = () => {
      if (this.stopped) return;
      void this.runOnce().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, every);
      });
    };
    this.timer = setTimeout(tick, every);
  }

  /** Stops; a sweep under way hands its segment back at the next item. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.round;
  }

  /** One round over every table with TTL enabled: sweeps the segments that are due (tests call it directly). */
  runOnce(): Promise<void> {
    this.round ??= this.sweepTables().finally(() => (this.round = undefined));
    return this.round;
  }

  private async sweepTables(): Promise<void> {
    let names: string[];
    try {
      names = await this.ctx.catalog.listNames();
    } catch {
      return; // Cassandra unavailable (or the keyspace dropped): the next round tries again
    }
    for (const name of names) {
      if (this.stopped) return;
      try {
        const entry = await this.ctx.catalog.get(name);
        if (entry && sweepable(entry)) await this.sweepTable(entry);
      } catch (e) {
        if (!this.stopped) this.warn(`ttl: sweep of ${name} failed`, e);
      }
    }
  }

  private async sweepTable(entry: CatalogEntry): Promise<void> {
    const ttl = entry.definition.timeToLive!;
    const rows = await this.leases.segments(entry.definition.id);
    for (let segment = 0; segment < ttl.segments; segment++) {
      if (this.stopped) return;
      if (!TtlLeases.due(rows.get(segment), this.options.periodMs)) continue;
      const lease = await this.leases.acquire(entry.definition.id, segment, rows.get(segment));
      if (lease) await this.sweepSegment(entry, ttl, lease);
    }
  }

  private async sweepSegment(entry: CatalogEntry, ttl: TimeToLiveSetting, lease: SegmentLease): Promise<void> {
    const { session } = this.ctx;
    const d = entry.definition;
    const h = handleOf(this.ctx, entry);
    const { lo, hi } = segmentRange(lease.segment, ttl.segments);
    const name = JSON.stringify(ttl.attributeName); // how the attribute appears in an item's JSON
    const pending = new Set<Promise<void>>();
    let failure: unknown; // the first failed delete: the segment is left for a later round
    const settle = async () => {
      await Promise.all(pending);
      if (failure) throw failure;
    };
    let renewed = Date.now();
    let last: Item | undefined = lease.resume;
    for await (const stored of tokenRangeItems(session, h, lo, hi, lease.resume, session.consistency.eventual, this.options.pageSize)) {
      if (this.stopped) {
        await settle();
        await lease.release(last);
        return;
      }
      this.metrics.scanned.inc({ table: d.name });
      // Most items have not expired: look for the attribute in the JSON before parsing it.
      if (stored.json.includes(name) && isExpired(stored.item, ttl.attributeName, Date.now())) {
        const done: Promise<void> = this.expire(h, keyOf(stored.item, d.key), ttl.attributeName)
          .catch((e) => void (failure ??= e))
          .finally(() => pending.delete(done));
        pending.add(done);
        if (pending.size >= DELETE_CONCURRENCY) await Promise.race(pending);
      }
      last = keyOf(stored.item, d.key);
      if (Date.now() - renewed >= RENEW_MS) {
        await settle();
        renewed = Date.now();
        // Stop when another server took the segment over, or TTL was disabled or moved meanwhile.
        if (!(await lease.renew(last)) || !(await this.stillSwept(entry, ttl))) return;
      }
    }
    await settle();
    await lease.finish();
  }

  private async stillSwept(entry: CatalogEntry, ttl: TimeToLiveSetting): Promise<boolean> {
    const now = await this.ctx.catalog.get(entry.definition.name);
    const t = now?.definition.timeToLive;
    return !!now && now.definition.id === entry.definition.id && sweepable(now) && t!.attributeName === ttl.attributeName;
  }

  private async expire(h: TableHandle, key: Item, attribute: string): Promise<void> {
    const table = h.entry.definition.name;
    await this.beforeExpire?.(table, key);
    if (await this.ctx.store.deleteExpired(h, key, (item) => isExpired(item, attribute, Date.now()))) {
      this.metrics.expired.inc({ table });
    }
  }
}

function sweepable(entry: CatalogEntry): boolean {
  const d = entry.definition;
  return d.timeToLive?.enabled === true && (d.status === 'ACTIVE' || d.status === 'UPDATING');
}
