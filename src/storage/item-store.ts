// Item reads and writes with DynamoDB's atomicity on top of Cassandra.
//
// Every write that depends on the old item (conditions, ADD, SET a = a + 1, ReturnValues of old
// values) is a read followed by a compare-and-set lightweight transaction on the row's version;
// when another writer got there first, the read and the decision are repeated. Unconditional
// writes are guarded according to the table's write-isolation mode:
//   always     - every write is a lightweight transaction (safe whatever the mix of writes; default)
//   only_rmw   - unconditional writes are plain writes (faster; safe only if one item never gets
//                plain and conditional writes at the same time)
//   forbid_rmw - plain writes only; requests that need the old item are rejected
//   unsafe_rmw - read-modify-write without transactions (lost updates possible)
import cassandra from 'cassandra-driver';
import { internalServerError, validation } from '../dynamo/errors.js';
import type { Item } from '../dynamo/types.js';
import type { Mutation, TableHandle } from './table-handle.js';
import { IndexWriter, checkIndexKeys, nextVersion } from './indexes.js';
import { eventOf, liveStream, streamKey } from '../streams/model.js';
import { StreamLog, testPause, type PendingRecord } from '../streams/record-log.js';
import { retryingRead, type Long, type CqlSession } from './session.js';
import { KnownItems } from './known-items.js';
import { Transactions } from './transactions/index.js';
import { deleteAt, intentTime } from './transactions/apply.js';
import { onlyCreates } from './creation.js';
import { unlessTransient } from './errors.js';
import { StoredItem, keyColumnValue, keyOf, type BlindUpdate, type Translator, type WriteGuard } from './translator.js';

export type { Mutation, TableHandle } from './table-handle.js';

/** What a read-modify-write decides from the old item: the write to make and the answer to give. */
export interface Decision<T> {
  mutation: Mutation;
  result: T;
}

const MAX_ATTEMPTS = 64;

const { responseErrorCodes } = cassandra.types;

/**
 * Did Cassandra leave a lightweight transaction's outcome unknown? A write timeout (CAS: in the
 * Paxos rounds; SIMPLE: in the commit, after a quorum accepted it), or the coordinator lost after
 * the request was sent (a node killed: the connection closes; or no answer in time). A serial read
 * settles it, so counting a case here that is in fact settled costs only that read.
 */
function outcomeUnknown(e: unknown): boolean {
  const err = e as { code?: number; isSocketError?: boolean; requestNotWritten?: boolean };
  if (err?.code === responseErrorCodes.writeTimeout) return true;
  return (err?.isSocketError === true && err.requestNotWritten !== true) || e instanceof cassandra.errors.OperationTimedOutError;
}


/** A write Cassandra may or may not have applied (a retry by the client is a new write). */
const unknownWriteOutcome = () => internalServerError('The outcome of the write is unknown (a Cassandra node was lost or timed out); it may or may not have been applied');

/** Runs tasks with the same key one after another (per process), so local writers don't race in Paxos. */
class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(task, task);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return current;
  }
}

const { BigDecimal } = cassandra.types;

// A table with indexes or a stream turns blind writes into read-modify-writes: index entries of the
// old item must go, and a stream record needs the old item (and none is written when nothing changes).
const needsOldItem = (h: TableHandle) => (h.entry.definition.indexes?.length ?? 0) > 0 || liveStream(h.entry.definition) !== undefined;

/** An item holding only its key (at a version no row has): what any stored item is at least. */
const bareItem = (key: Item) => new StoredItem(JSON.stringify(key), cassandra.types.Long.ZERO);

/** An item's identity in this process: its table's id (a re-created table is another) and key. */
const itemId = (h: TableHandle, key: Item) => h.entry.definition.id + JSON.stringify(keyOf(key, h.entry.definition.key));

export class ItemStore {
  private readonly queue = new KeyedQueue();
  /** What this process last saw of items that need their old state to be written (see needsOldItem). */
  private readonly known = new KnownItems();
  readonly indexes: IndexWriter;
  readonly streams: StreamLog;
  /** Multi-item transactions; their intents on rows are resolved here for every reader and writer. */
  readonly transactions: Transactions;

  constructor(
    private readonly session: CqlSession,
    options: { transactionLockTimeoutMs?: number } = {},
  ) {
    this.indexes = new IndexWriter(session);
    this.streams = new StreamLog(session);
    this.transactions = new Transactions(session, this, options.transactionLockTimeoutMs);
  }

  /** The committed item (read-committed: a running transaction's intent is not visible). */
  async read(h: TableHandle, key: Item, consistent: boolean): Promise<StoredItem | undefined> {
    const c = this.session.consistency;
    const stored = await this.readRetrying(h, key, consistent ? c.strong : c.eventual);
    return stored && (stored.lock || !stored.present) ? this.transactions.view(stored) : stored;
  }

  /** The stored row as a serial read sees it (completing a write still in progress), intent and all. */
  readSerial(h: TableHandle, key: Item): Promise<StoredItem | undefined> {
    return h.translator.read(this.session, h.entry.layout, key, this.session.consistency.serial);
  }

  private blindGuard(h: TableHandle): WriteGuard {
    return h.isolation === 'always' ? { kind: 'always' } : { kind: 'plain' };
  }

  // The blind writes need no old item, except on a table with indexes, whose entries for the old
  // item must go: there they become read-modify-writes (internal ones, allowed under forbid_rmw).
  // `withOld` asks for the old item anyway (e.g. to size consumed capacity); it is returned when read.

  async putBlind(h: TableHandle, item: Item, withOld = false): Promise<Item | undefined> {
    const viaRead = () => this.mutate(h, item, (old) => ({ mutation: { kind: 'put', item }, result: old?.item }), true);
    if (needsOldItem(h) || withOld) return viaRead();
    // Not applied (under `always`) means a transaction's intent is on the row: resolve it via a read.
    const version = nextVersion();
    const { layout } = h.entry;
    const put = () => h.translator.put(this.session, layout, item, this.blindGuard(h), version);
    if (await this.settledBlind(h, item, put, (now) => now?.version.equals(version) === true)) return undefined;
    return viaRead();
  }

  /**
   * The statement of a plain (unconditional) put of a whole item, for bulk writers that batch them;
   * undefined on a table with indexes or a stream, whose writes need the old item.
   */
  plainPut(h: TableHandle, item: Item): { query: string; params: unknown[] } | undefined {
    if (needsOldItem(h)) return undefined;
    const [query, params] = h.translator.plainPut(h.entry.layout, item, nextVersion());
    return { query, params };
  }

  /**
   * Plain statements as one unlogged batch (callers keep it small and within one replica set),
   * written at the given Cassandra timestamp (µs).
   */
  async batch(statements: { query: string; params: unknown[] }[], timestamp: Long): Promise<void> {
    const options = { prepare: true, consistency: this.session.consistency.write, timestamp };
    if (statements.length === 1) await this.session.query(statements[0]!.query, statements[0]!.params, options);
    else await this.session.batch(statements, { ...options, logged: false });
  }

  /** Names the replicas of an item's partition (one string per replica set; '' if unknown). */
  replicasOf(h: TableHandle, item: Item): string {
    const { layout } = h.entry;
    const value = keyColumnValue(item[layout.key.hash.name]!);
    // The serialized partition key, as the driver would route it (text, decimal or blob).
    const routingKey =
      typeof value !== 'string' ? (value as Buffer) : layout.key.hash.type === 'S' ? Buffer.from(value) : BigDecimal.toBuffer(BigDecimal.fromString(value));
    const hosts = this.session.client.getReplicas(layout.keyspace, routingKey) as { address: string }[] | null;
    return hosts ? hosts.map((host) => host.address).join(',') : '';
  }

  async deleteBlind(h: TableHandle, key: Item, withOld = false): Promise<Item | undefined> {
    const viaRead = () => this.mutate(h, key, (old) => ({ mutation: old ? { kind: 'delete' } : { kind: 'none' }, result: old?.item }), true);
    if (needsOldItem(h) || withOld) return viaRead();
    const del = () => h.translator.delete(this.session, h.entry.layout, key, this.blindGuard(h));
    // No row after the serial read: whether ours landed or not, a delete there changes nothing.
    if (await this.settledBlind(h, key, del, (now) => !now)) return undefined;
    return viaRead();
  }

  /**
   * TTL expiry: deletes the item only if `stillExpired` holds for it at delete time (a
   * compare-and-set on its version, so a rewrite with a new TTL wins), through the normal delete
   * path so index entries go too. True when this call deleted it.
   */
  deleteExpired(h: TableHandle, key: Item, stillExpired: (item: Item) => boolean): Promise<boolean> {
    return this.mutate(
      h,
      key,
      (old) => (old && stillExpired(old.item) ? { mutation: { kind: 'delete', cause: 'ttl' }, result: true } : { mutation: { kind: 'none' }, result: false }),
      true,
    );
  }

  async updateBlind(h: TableHandle, key: Item, update: BlindUpdate): Promise<void> {
    const blind = !needsOldItem(h) && h.translator.updateBlind;
    const version = nextVersion();
    const write = () => h.translator.updateBlind!(this.session, h.entry.layout, key, update, this.blindGuard(h), version);
    // Not applied under `always` means a transaction's intent is on the row: resolve it first.
    if (!blind || !(await this.settledBlind(h, key, write, (now) => now?.version.equals(version) === true))) {
      await this.mutate(
        h,
        key,
        (old) => {
          const item: Item = { ...(old?.item ?? key), ...update.set };
          for (const name of update.remove) delete item[name];
          return { mutation: { kind: 'put', item }, result: undefined };
        },
        true,
      );
    }
  }

  /**
   * Runs a blind write. Under `always` it is an always-true lightweight transaction, and one whose
   * coordinator was lost or whose Paxos round timed out is settled by a serial read, as conditional
   * writes are (writeChange): that read completes or supersedes any round in progress (Cassandra
   * 4.0+ also keeps a half-accepted proposal from being completed later), so afterwards the row
   * shows whether ours landed. `landed` says so from the row; then the write is done.
   *
   * Otherwise it is not proposed again. Either it never landed, or it landed and a later write
   * replaced it; a blind write reads no earlier state, so the two cannot be told apart (versions
   * are unique, but a delete leaves no version behind). Proposing it again in the second case
   * would put our value back over a later write that a reader may already have seen replace ours:
   * the item would go back in time. Answering success in the first case could be just as wrong: a
   * later conditional write may have succeeded on the state ours never replaced. So the client
   * gets a retryable InternalServerError, as DynamoDB answers when a write's outcome is unknown;
   * a retry is a new write, ordered after everything the client has seen.
   */
  private async settledBlind(h: TableHandle, key: Item, write: () => Promise<boolean>, landed: (now: StoredItem | undefined) => boolean): Promise<boolean> {
    try {
      return await write();
    } catch (e) {
      if (h.isolation !== 'always' || !outcomeUnknown(e)) throw e;
    }
    if (landed(await this.settlingRead(h, key))) return true;
    throw unknownWriteOutcome();
  }

  /** The serial read that settles a write of unknown outcome; failing, it leaves the outcome unknown. */
  private settlingRead(h: TableHandle, key: Item): Promise<StoredItem | undefined> {
    return this.readRetrying(h, key, this.session.consistency.serial).catch(() => Promise.reject(unknownWriteOutcome()));
  }

  private readRetrying(h: TableHandle, key: Item, consistency: number): Promise<StoredItem | undefined> {
    return retryingRead(() => h.translator.read(this.session, h.entry.layout, key, consistency));
  }

  /**
   * Reads the item, lets `decide` choose the write, and applies it atomically. `decide` may throw
   * (e.g. ConditionalCheckFailedException) and may run more than once.
   */
  mutate<T>(h: TableHandle, key: Item, decide: (old: StoredItem | undefined) => Decision<T>, internal = false): Promise<T> {
    if (h.isolation === 'forbid_rmw' && !internal) {
      return Promise.reject(
        validation(
          "Read-modify-write operations are disabled by 'forbid_rmw' write isolation policy. Refusing to perform this operation.",
        ),
      );
    }
    const keyId = itemId(h, key);
    const plain = h.isolation === 'unsafe_rmw' || h.isolation === 'forbid_rmw';
    return this.queue.run(keyId, () => (plain ? this.unsafe(h, key, decide) : this.cas(h, key, keyId, decide)));
  }

  private async unsafe<T>(h: TableHandle, key: Item, decide: (old: StoredItem | undefined) => Decision<T>): Promise<T> {
    for (;;) {
      const old = await this.read(h, key, true);
      const { mutation, result } = decide(old);
      if (await this.writeChange(h, key, mutation, { kind: 'plain' }, { version: nextVersion(old?.version) }, old)) return result;
    }
  }

  private async cas<T>(h: TableHandle, key: Item, keyId: string, decide: (old: StoredItem | undefined) => Decision<T>): Promise<T> {
    let consistency = this.session.consistency.strong;
    // A write that can only create the item (attribute_not_exists on its key) is tried unread, IF
    // NOT EXISTS: applied, the item was absent, which is what it was decided on; refused, the
    // item (or a transaction's intent) is there, and the row the refusal returns is decided on
    // below as a read. Not on a table with indexes or a stream, where a refused write would have
    // begun their writes for nothing.
    let seen: StoredItem | undefined;
    const creates = !needsOldItem(h) && onlyCreates(() => decide(undefined), () => decide(bareItem(keyOf(key, h.entry.definition.key))), (d) => d.mutation.kind === 'put');
    if (creates) {
      const guard: WriteGuard = { kind: 'version', expected: null, seen: (row) => (seen = h.translator.decode(row)) };
      if (await this.writeChange(h, key, creates.mutation, guard, { version: nextVersion() }, undefined)) return creates.result;
      consistency = this.session.consistency.serial;
    }
    // The item's state as this process last saw it saves the read, if it is still the item's: the
    // compare-and-set on its version tells. Only a decision to write is taken from it unread.
    const known = needsOldItem(h) ? this.known.get(keyId) : undefined;
    if (known !== undefined) {
      const old = known ?? undefined;
      let decision: Decision<T> | undefined;
      try {
        decision = decide(old);
      } catch {
        decision = undefined; // e.g. a condition that failed on a state that may be stale
      }
      // A write that would change nothing writes nothing, so it could not tell a stale state either.
      const m = decision?.mutation;
      if (decision && m && m.kind !== 'none' && eventOf(old?.item, m.kind === 'put' ? m.item : undefined)) {
        if (await this.writeOver(h, key, m, old)) return decision.result;
        consistency = this.session.consistency.serial;
      }
    }
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const old = seen ?? (await this.readRetrying(h, key, consistency));
      seen = undefined;
      if (old?.lock) {
        // A transaction holds the item: finish it if decided or expired, else TransactionConflictException.
        // A settling write that failed on a lost or overloaded node: the serial read that follows tells.
        await this.transactions.settle(h, key, old).catch(unlessTransient);
        consistency = this.session.consistency.serial;
        continue;
      }
      const { mutation, result } = decide(old);
      if (mutation.kind === 'none') {
        if (needsOldItem(h)) this.known.set(keyId, old ?? null);
        return result;
      }
      if (await this.writeOver(h, key, mutation, old)) return result;
      // Lost the race: read the latest state through Paxos and decide again, after a short pause.
      consistency = this.session.consistency.serial;
      if (attempt > 2) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
    }
    throw internalServerError('Too much contention on this item; the write was not applied');
  }

  /** Writes `mutation` at the next version if the row is still at `old`'s (compare-and-set). */
  private writeOver(h: TableHandle, key: Item, mutation: Mutation, old: StoredItem | undefined): Promise<boolean> {
    return this.writeChange(h, key, mutation, { kind: 'version', expected: old ? old.version : null }, { version: nextVersion(old?.version) }, old);
  }

  /** Whether applyDecided writes the table's rows plainly, at the intent's write time (no indexes, no stream). */
  appliesPlainly(h: TableHandle): boolean {
    return !needsOldItem(h);
  }

  /**
   * Applies a mutation decided elsewhere (a transaction's commit, or its roll-forward by whoever
   * met its intent) to the row whose intent set version `expected`, with the old item for indexes
   * and streams. False when the row had moved on (someone else finished the intent). `known`: the
   * intent's write time as intentTime() read it (undefined: read it here).
   */
  async applyDecided(
    h: TableHandle, key: Item, mutation: Mutation, expected: Long, version: Long, old: StoredItem | undefined, known?: Long | null,
  ): Promise<boolean> {
    if (needsOldItem(h) || mutation.kind === 'none') return this.writeChange(h, key, mutation, { kind: 'version', expected }, { version }, old);
    // Without indexes or a stream: plain writes at the intent's own timestamp (transactions/apply.ts).
    const { layout } = h.entry;
    const at = known === undefined ? await intentTime(this.session, layout, key, expected) : known;
    if (!at) return false;
    if (mutation.kind === 'put') {
      const [query, params] = h.translator.putAt(layout, mutation.item, version, at);
      await this.session.execute(query, params, this.session.consistency.write, undefined, true);
    } else await deleteAt(this.session, layout, key, at);
    return true;
  }

  /**
   * Applies a decided mutation of `key` from `old`, guarded by `guard`, at `write.version` (which a
   * stream record may move to a newer version: the caller reads it back). The one place where item
   * changes are written with their index entries and stream records: every write path (and a
   * transaction's commit) goes through it. False when the guarded write did not apply.
   */
  async writeChange(
    h: TableHandle,
    key: Item,
    mutation: Mutation,
    guard: WriteGuard,
    write: { version: Long },
    old: StoredItem | undefined,
  ): Promise<boolean> {
    const { layout, definition } = h.entry;
    if (mutation.kind === 'none' || (mutation.kind === 'delete' && !old)) return true;
    const next = mutation.kind === 'put' ? mutation.item : undefined;
    const indexed = definition.indexes && definition.indexes.length > 0 ? definition.indexes : undefined;
    if (next) checkIndexKeys(indexed, next);
    const stream = liveStream(definition);
    const event = stream && eventOf(old?.item, next);
    if (stream && !event) return true; // the item would not change: no write and no record, as in DynamoDB
    // Until this write is decided, this process does not know the item.
    const keyId = needsOldItem(h) ? itemId(h, key) : undefined;
    if (keyId) this.known.forget(keyId);
    let record: PendingRecord | undefined;
    if (stream && event) {
      const itemKey = keyOf(key, definition.key);
      const expiry = mutation.kind === 'delete' && mutation.cause === 'ttl';
      const change = {
        stream: streamKey(definition.name, stream.label), info: stream, schema: definition.key, key: itemKey, old, next, expiry, replicated: h.replicated,
      };
      record = await this.streams.begin(change, event, write.version);
      write.version = record.version;
    }
    const version = write.version;
    const ref = indexed && { id: definition.id, name: definition.name, key: definition.key, indexes: indexed };
    const intent = ref && (await this.indexes.begin(ref, keyOf(key, definition.key), old?.item, next, version));
    if (record && this.streams.expired(record)) {
      // Too slow to write the item now: a reader may be deciding the record. Give up and retry.
      await this.streams.settle(record, 'A');
      if (intent) await this.indexes.end(intent);
      return false;
    }
    if (record) await testPause('before-item');
    // A write that throws leaves its record pending: readers decide it from the item (record-log.ts).
    let applied: boolean;
    try {
      applied = next
        ? await h.translator.put(this.session, layout, next, guard, version, old)
        : await h.translator.delete(this.session, layout, key, guard);
    } catch (e) {
      if (guard.kind !== 'version' || !outcomeUnknown(e)) throw e;
      // A serial read finishes any round in progress and tells whether ours landed; then the
      // indexes and the stream record are completed as for any write.
      const now = await this.settlingRead(h, key);
      if (next ? now?.version.equals(version) : !now) applied = true;
      else if (guard.expected ? now?.version.equals(guard.expected) : !now) applied = false;
      else throw unknownWriteOutcome();
    }
    if (record) {
      await testPause('after-item');
      // Not awaited: the change is visible and the answer need not wait for the mark (readers wait
      // for it instead, and decide the record themselves should it never come).
      this.streams.settle(record, applied ? 'C' : 'A').catch(() => undefined);
    }
    if (keyId && applied) this.known.set(keyId, next ? new StoredItem(JSON.stringify(next), version) : null);
    if (ref && intent) {
      if (applied) await this.indexes.apply(layout.keyspace, ref, old?.item, next, version);
      await this.indexes.end(intent);
    }
    return applied;
  }
}
