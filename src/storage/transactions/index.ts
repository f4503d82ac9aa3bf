// Multi-item transactions over single-row lightweight transactions (README "Transactions").
//
//   1. log      the items the transaction may lock (dc_transaction_log), so a sweeper can find them;
//               sent with the reads, and landed before any intent is placed
//   2. lock     per item, in parallel: read the committed row, decide (condition, new image), place
//               the intent with compare-and-set on the row's version (an action that creates its
//               item under attribute_not_exists places it with IF NOT EXISTS, unread)
//   3. decide   one LWT on the transaction's record: INSERT committed IF NOT EXISTS. Whoever meets an
//               expired intent first inserts 'aborted' instead; the first insert is the decision.
//               With a ClientRequestToken the record is in the token's partition, and the same
//               LWT names this transaction the token's winner unless one committed with it in the
//               last 10 minutes: then this request is a replay (or reuses another's token)
//   4. apply    per item: write the new image through ItemStore.applyDecided, which also clears
//               the intent: on tables with indexes or a stream a compare-and-set on the version the
//               intent set (index entries and stream record included), elsewhere a plain write at
//               the intent's own write timestamp (apply.ts)
//   5. unlog    after the answer
// Readers never wait: a row with an intent shows its committed item unless the record says
// committed, in which case it shows the intent's new image. Writers that meet an intent resolve it
// (roll forward if committed, back if aborted or expired) or get TransactionConflictException.
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoError, idempotentParameterMismatch, internalServerError, transactionConflict, transactionInProgress } from '../../dynamo/errors.js';
import type { Item } from '../../dynamo/types.js';
import { onlyCreates } from '../creation.js';
import { transientFailure, unlessTransient } from '../errors.js';
import { nextVersion } from '../indexes.js';
import type { Mutation, TableHandle } from '../table-handle.js';
import { retryingRead, type CqlSession, type Long } from '../session.js';
import { StoredItem, keyOf } from '../translator.js';
import { LOCK_TIMEOUT_MS, lockExpired, parseLock, placeLock, placeLockIfAbsent, refOf, type Lock, type LockOp } from './locks.js';
import { clearIntentAt, intentTime, intentTimes, sameRead } from './apply.js';
import { TransactionRecords, type Decision, type LoggedItem, type TokenWinner } from './records.js';

export { LOCK_TIMEOUT_MS };

/** What ItemStore offers the protocol: applying a decided mutation, at the intent's write time when the table applies plainly. */
export interface DecidedWriter {
  applyDecided(h: TableHandle, key: Item, mutation: Mutation, expected: Long, version: Long, old: StoredItem | undefined, known?: Long | null): Promise<boolean>;
  /** False when the table applies by compare-and-set (indexes, a stream), which needs no write time. */
  appliesPlainly(h: TableHandle): boolean;
}

/** One action of a transaction. */
export interface TxAction {
  h: TableHandle;
  key: Item;
  /**
   * From the committed old item, what to do. Throwing a DynamoError cancels the transaction with
   * it as this action's reason (ConditionalCheckFailed, ValidationError).
   */
  decide(old: Item | undefined): { op: 'put'; item: Item } | { op: 'delete' } | { op: 'check' };
}

/** A cancelled transaction: per action, undefined (None) or the error that is its reason. */
export class TransactionCancelled extends Error {
  constructor(readonly reasons: (DynamoError | undefined)[]) {
    super('transaction cancelled');
  }
}

export interface TxOutcome {
  /** Committed old items and new images, per action (for capacity). */
  olds: (Item | undefined)[];
  nexts: (Item | undefined)[];
  /** True when the ClientRequestToken named a transaction that already committed. */
  replayed: boolean;
}

interface Locked {
  old: StoredItem | undefined;
  lock: Lock;
  version: Long;
}

const MAX_ATTEMPTS = 32;

/** Attempts at the decision when one fails on a lost or overloaded node (pauses of 0.1, 0.2, 0.4 s between). */
const DECIDE_ATTEMPTS = 4;

/** Transient failures in a row after which lock() gives up on an item (its node is gone, not busy). */
const UNAVAILABLE_ATTEMPTS = 4;

/** How long a committed transaction's unlog may wait for other writes to its log slot. */
const UNLOG_LINGER_MS = 50;

/** A request's ClientRequestToken and the fingerprint of its parameters. */
export interface RequestToken {
  token: string;
  fingerprint: string;
}

/** Thrown by lock() on meeting an older copy of the request (the same token): the request's answer. */
class SameToken extends Error {
  constructor(readonly error: DynamoError) {
    super(error.message);
  }
}

/** The new image of an action that can only create its item: it places its intent IF NOT EXISTS, unread. */
function creation(a: TxAction): Item | undefined {
  const d = onlyCreates(() => a.decide(undefined), () => a.decide({ ...a.key }), (d) => d.op === 'put');
  return d?.op === 'put' ? d.item : undefined;
}

/** A delay point that only tests enable: DC_TEST_TRANSACTION_PAUSE=<locked|committed>:<ms>. */
const PAUSE = /^(locked|committed):(\d+)$/.exec(process.env.DC_TEST_TRANSACTION_PAUSE ?? '');
async function testPause(phase: 'locked' | 'committed', id: string): Promise<void> {
  if (!PAUSE || PAUSE[1] !== phase) return;
  process.stderr.write(`[dynamo-cassandra] test pause: transaction ${id} ${phase}\n`);
  await sleep(Number(PAUSE[2]));
}

/** Whether a committed intent writes the item (a put, or a delete of an item that exists). */
const writesItem = (lock: Lock, old: StoredItem | undefined): boolean => lock.op === 'put' || (lock.op === 'delete' && old !== undefined);

const mutationOf = (lock: Lock): Mutation => (lock.op === 'put' ? { kind: 'put', item: lock.item! } : lock.op === 'delete' ? { kind: 'delete' } : { kind: 'none' });

/** What a reader sees of a row: the committed item (undefined when there is none). */
async function viewWith(records: TransactionRecords, stored: StoredItem): Promise<StoredItem | undefined> {
  if (!stored.lock) return stored.present ? stored : undefined;
  const lock = parseLock(stored.lock);
  if ((await records.state(refOf(lock))) !== 'committed') return stored.present ? stored : undefined;
  if (lock.op === 'put') return new StoredItem(JSON.stringify(lock.item), stored.version);
  if (lock.op === 'delete') return undefined;
  return stored.present ? stored : undefined;
}

const recordsOf = new WeakMap<CqlSession, TransactionRecords>();

/** The committed view of a row read by a range read (Query, Scan); rows without intents pass as they are. */
export function committedView(session: CqlSession, stored: StoredItem): Promise<StoredItem | undefined> {
  let records = recordsOf.get(session);
  if (!records) recordsOf.set(session, (records = new TransactionRecords(session)));
  return viewWith(records, stored);
}

export class Transactions {
  readonly records: TransactionRecords;

  constructor(
    private readonly session: CqlSession,
    private readonly writer: DecidedWriter,
    /** After this long anyone who meets a transaction's intents may abort it. */
    private readonly lockTimeoutMs = LOCK_TIMEOUT_MS,
  ) {
    this.records = new TransactionRecords(session);
  }

  init(): Promise<void> {
    return this.records.init();
  }

  view(stored: StoredItem): Promise<StoredItem | undefined> {
    return viewWith(this.records, stored);
  }

  /**
   * Clears the intent on a row a writer met: rolls it forward or back once decided, aborts the
   * transaction first when it has expired, and throws TransactionConflictException while it runs.
   */
  async settle(h: TableHandle, key: Item, stored: StoredItem): Promise<void> {
    const lock = parseLock(stored.lock!);
    let state = await this.records.state(refOf(lock));
    if (!state) {
      if (!lockExpired(lock, this.lockTimeoutMs)) throw transactionConflict();
      state = await this.records.decide(refOf(lock), 'aborted');
    }
    await this.finish(h, key, stored.present ? stored : undefined, lock, stored.version, state);
  }

  /**
   * Applies (committed) or removes (aborted, or a check) one intent; false if the row had already
   * moved on. `at`: the intent's write time as timesOf() read it (undefined: read it here).
   */
  private async finish(h: TableHandle, key: Item, old: StoredItem | undefined, lock: Lock, locked: Long, state: Decision, at?: Long | null): Promise<boolean> {
    const mutation = mutationOf(lock);
    if (state === 'committed' && writesItem(lock, old)) return this.writer.applyDecided(h, key, mutation, locked, nextVersion(locked), old, at);
    const time = at === undefined ? await intentTime(this.session, h.entry.layout, key, locked) : at;
    if (!time) return false;
    await clearIntentAt(this.session, h.entry.layout, key, old !== undefined, nextVersion(locked), time);
    return true;
  }

  /**
   * The intents' write times for finish(), read ahead (null: the row moved on; undefined: the apply
   * needs none): one read per table, or per partition of a table with a sort key.
   */
  private async timesOf(actions: TxAction[], locked: Locked[]): Promise<(Long | null | undefined)[]> {
    const times: (Long | null | undefined)[] = actions.map(() => undefined);
    const reads = new Map<string, number[]>();
    locked.forEach((l, i) => {
      const { h, key } = actions[i];
      if (writesItem(l.lock, l.old) && !this.writer.appliesPlainly(h)) return;
      const id = sameRead(h.entry.layout, key);
      const group = reads.get(id);
      if (group) group.push(i);
      else reads.set(id, [i]);
    });
    await Promise.all(
      [...reads.values()].map(async (group) => {
        const { layout } = actions[group[0]!].h.entry;
        const read =
          group.length === 1
            ? [await intentTime(this.session, layout, actions[group[0]!].key, locked[group[0]!].version)]
            : await intentTimes(this.session, layout, group.map((i) => actions[i].key), group.map((i) => locked[i].version));
        group.forEach((i, j) => (times[i] = read[j] ?? null));
      }),
    );
    return times;
  }

  /**
   * Runs a transaction: all actions or none. Throws TransactionCancelled with per-action reasons,
   * or the DynamoDB errors of ClientRequestToken reuse.
   */
  async run(actions: TxAction[], token?: RequestToken): Promise<TxOutcome> {
    const id = TransactionRecords.newId();
    // The log row goes out with the reads; intents wait for it.
    const logged = this.records.logItems(id, actions.map((a): LoggedItem => ({ table: a.h.entry.definition.name, key: keyOf(a.key, a.h.entry.definition.key) })));
    logged.catch(() => undefined); // its failure reaches us through the actions that wait for it
    const results = await Promise.allSettled(actions.map((a) => this.lock(id, a, logged, token)));
    const locked = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    // A lock that failed on a lost node may have placed its intent unseen.
    const unknownIntents = rejected.some((e) => !(e instanceof DynamoError || e instanceof SameToken));
    const release = async () => {
      // An intent whose removal failed (a lost or overloaded node), or that may stand unseen, stays
      // for whoever meets it or the sweeper, which finds it through the log: the log row stays too.
      // The answer waits for the intents (a client trying again must not meet them), not for the
      // unlog, which lingers as a committed transaction's does.
      const removed = await Promise.allSettled(locked.map((l, i) => l && this.finish(actions[i].h, actions[i].key, l.old, l.lock, l.version, 'aborted')));
      if (!unknownIntents && removed.every((r) => r.status === 'fulfilled')) this.records.unlog(id, UNLOG_LINGER_MS).catch(() => undefined);
    };
    const sameToken = rejected.find((e): e is SameToken => e instanceof SameToken);
    if (sameToken) {
      await release();
      throw sameToken.error;
    }
    if (rejected.length > 0) {
      await release();
      const unexpected = rejected.find((e) => !(e instanceof DynamoError));
      if (unexpected) throw unexpected;
      // A request sent again after its transaction committed fails its conditions on its own
      // writes: the token says it is a replay (or another request's token).
      const earlier = token && this.asEarlier(await this.records.tokenWinner(token.token), token);
      if (earlier) return earlier;
      throw new TransactionCancelled(results.map((r) => (r.status === 'rejected' ? (r.reason as DynamoError) : undefined)));
    }
    await testPause('locked', id);
    // The intents' write times, which plain applies are written at, are read beside the decision.
    const times = this.timesOf(actions, locked as Locked[]);
    times.catch(() => undefined);
    const decision = await this.commit(id, token);
    if (decision !== 'committed') {
      await release();
      // Someone took our intents for a crashed transaction's (we were slower than the lock timeout).
      if (decision === 'aborted') throw new TransactionCancelled(actions.map(() => transactionConflict()));
      return this.asEarlier(decision, token!)!;
    }
    await testPause('committed', id);
    // A write that does not apply was rolled forward by someone who met the intent: also done.
    const at = await times.catch(() => undefined);
    // Committed is committed: an apply that fails (its outcome unknown on a lost or overloaded node)
    // is finished by whoever meets the intent, or by the sweeper through the log row, which then
    // stays; readers see the new image meanwhile, since the record says committed.
    const applied = await Promise.allSettled(locked.map((l, i) => this.finish(actions[i].h, actions[i].key, l!.old, l!.lock, l!.version, 'committed', at?.[i])));
    // Not awaited: every intent is gone, and a log row left behind only costs the sweeper a look.
    // It rides with the slot's next log write, as the answer does not wait for it.
    if (applied.every((r) => r.status === 'fulfilled')) this.records.unlog(id, UNLOG_LINGER_MS).catch(() => undefined);
    return {
      olds: locked.map((l) => l!.old?.item),
      nexts: locked.map((l, i) => (l!.lock.op === 'put' ? l!.lock.item : l!.lock.op === 'check' ? locked[i]!.old?.item : undefined)),
      replayed: false,
    };
  }

  /**
   * Step 3: the decision, or the token's winner when another transaction committed with it. An
   * attempt that failed on a lost or overloaded node may have landed: sent again, the LWT finishes
   * any Paxos round left open on the record's partition, then finds its own decision (IF NOT
   * EXISTS) or makes it.
   */
  private async commit(id: string, token?: RequestToken): Promise<Decision | TokenWinner> {
    for (let attempt = 1; ; attempt++) {
      try {
        // With a token, the decision also checks that no other transaction committed with it.
        return token ? await this.records.commitWithToken(id, token.token, token.fingerprint) : await this.records.decide({ id }, 'committed');
      } catch (e) {
        if (attempt >= DECIDE_ATTEMPTS || !transientFailure(e)) throw e;
        await sleep(50 * 2 ** attempt);
      }
    }
  }

  /**
   * What the transaction that committed with the request's token (in the last 10 minutes) makes
   * of this request: a replay, done, if it ran the same request; IdempotentParameterMismatch if
   * another. Undefined: none did.
   */
  private asEarlier(winner: TokenWinner | undefined, token: RequestToken): TxOutcome | undefined {
    if (!winner) return undefined;
    if (winner.fingerprint !== token.fingerprint) throw idempotentParameterMismatch();
    return { olds: [], nexts: [], replayed: true };
  }

  /**
   * Step 2 for one action: returns the placed intent, or throws the action's cancellation reason.
   * Places nothing until `logged` (the log row written) resolves.
   */
  private async lock(id: string, a: TxAction, logged: Promise<void>, token?: RequestToken): Promise<Locked> {
    const { translator, entry } = a.h;
    const at = TransactionRecords.startOf(id);
    const tokenOf = token && { tk: token.token, fp: token.fingerprint, tt: 1 as const };
    // An action that creates the item and holds only if it is absent (a Put or Update under
    // attribute_not_exists) places its intent without reading: IF NOT EXISTS is the check, and a
    // failed one returns the row, which then serves as the read.
    const creates = creation(a);
    let known: StoredItem | undefined;
    let consistency = this.session.consistency.strong;
    // A compare-and-set that failed on a lost or overloaded node may have landed: read serially
    // (which finishes a Paxos round left open), and an intent of ours found there is ours placed.
    // Such failures, one after another, mean a node is gone rather than the item contended: after
    // a few, the last is the answer (a retryable InternalServerError).
    let failedInRow = 0;
    const unlessGone = (e: unknown): undefined => {
      unlessTransient(e);
      if (++failedInRow >= UNAVAILABLE_ATTEMPTS) throw e;
      return undefined;
    };
    const placed = <T>(attempt: Promise<T>): Promise<T | undefined> =>
      attempt.then(
        (r) => ((failedInRow = 0), r),
        (e: unknown) => {
          unlessGone(e);
          consistency = this.session.consistency.serial;
          return undefined;
        },
      );
    if (creates) {
      await this.inTime(logged, at);
      const lock: Lock = { id, op: 'put', at, item: creates, ...tokenOf };
      const version = nextVersion();
      const refused = await placed(placeLockIfAbsent(this.session, entry.layout, a.key, lock, version, translator.decode).then((row) => row ?? null));
      if (refused === null) return { old: undefined, lock, version };
      known = refused;
    }
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const level = consistency;
      const stored = known ?? (await retryingRead(() => translator.read(this.session, entry.layout, a.key, level)));
      known = undefined;
      consistency = this.session.consistency.serial;
      if (stored?.lock) {
        const other = parseLock(stored.lock);
        if (other.id === id) return { old: stored.present ? stored : undefined, lock: other, version: stored.version };
        if (token && (await this.givesWay(id, other, token))) attempt--;
        // A settling write that failed on a lost or overloaded node: the serial read that follows tells.
        else await this.settle(a.h, a.key, stored).then(() => (failedInRow = 0), unlessGone);
        continue;
      }
      const old = stored?.present ? stored : undefined;
      const d = a.decide(old?.item);
      const lock: Lock = { id, op: d.op as LockOp, at, ...(d.op === 'put' && { item: d.item }), ...tokenOf };
      const version = nextVersion(old?.version);
      await this.inTime(logged, at);
      if (await placed(placeLock(this.session, entry.layout, a.key, lock, old ? old.version : null, version))) return { old, lock, version };
      if (attempt > 2) await sleep(Math.random() * Math.min(50, 2 ** attempt));
    }
    throw internalServerError('Too much contention on this item; the transaction was not applied');
  }

  /**
   * Waits for the log row; then refuses (TransactionConflict) to place an intent for a transaction
   * older than the lock timeout, which others may abort already, and whose log slot a sweeper
   * may have read before the row landed (sweeps read a slot once, twice the lock timeout after it).
   */
  private async inTime(logged: Promise<void>, at: number): Promise<void> {
    await logged;
    if (Date.now() - at > this.lockTimeoutMs) throw transactionConflict();
  }

  /**
   * Copies of one request (the same ClientRequestToken) that meet each other's intents: the
   * younger gives up with TransactionInProgressException (or IdempotentParameterMismatchException
   * for another request), the older waits for it to let go (true, after a pause). False: the
   * intent is not a live copy's, to be settled as any other.
   */
  private async givesWay(id: string, other: Lock, token: RequestToken): Promise<boolean> {
    if (other.tk !== token.token || other.id === id || lockExpired(other, this.lockTimeoutMs)) return false;
    const start = TransactionRecords.startOf(id);
    const older = other.at < start || (other.at === start && other.id < id);
    if (older) throw new SameToken(other.fp === token.fingerprint ? transactionInProgress() : idempotentParameterMismatch());
    await sleep(2 + Math.random() * 20);
    return true;
  }

  /**
   * Reads items as one snapshot that never shows half a transaction: reads every row twice
   * (linearizable reads) and accepts when no row changed in between, so all held their values at
   * the moment the first round ended. Intents of committed transactions are rolled forward first;
   * those of running ones show the committed item, which is what the rows held at that moment.
   */
  async snapshot(reads: { h: TableHandle; key: Item }[]): Promise<(StoredItem | undefined)[]> {
    const serial = this.session.consistency.serial;
    // Serial reads, tried again when a lost node made one time out (session.ts, retryingRead).
    const readAll = () => Promise.all(reads.map((r) => retryingRead(() => r.h.translator.read(this.session, r.h.entry.layout, r.key, serial))));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 1) await sleep(Math.random() * Math.min(50, 2 ** attempt));
      const first = await readAll();
      const views: (StoredItem | undefined)[] = [];
      let moved = false;
      for (let i = 0; i < first.length; i++) {
        const stored = first[i];
        if (!stored?.lock) {
          views.push(stored?.present ? stored : undefined);
          continue;
        }
        const lock = parseLock(stored.lock);
        const state = await this.records.state(refOf(lock));
        if (state || lockExpired(lock, this.lockTimeoutMs)) {
          // Decided (or dead): finish it, then read again.
          await this.settle(reads[i].h, reads[i].key, stored).catch(() => undefined);
          moved = true;
          break;
        }
        views.push(stored.present ? stored : undefined);
      }
      if (moved) continue;
      if (reads.length === 1) return views;
      const second = await readAll();
      const same = second.every((s, i) => (s && first[i] ? s.version.equals(first[i]!.version) : s === first[i]));
      if (same) return views;
    }
    throw new TransactionCancelled(reads.map(() => transactionConflict()));
  }

  /**
   * Finishes the logged transactions of slots `from` to `to` (TransactionRecords.slotOf) that are
   * older than twice the lock timeout: their servers died or stalled. Returns how many it finished
   * and the slot to start from next time: the first one holding a younger transaction, else the
   * one after `to`. A failure throws, and the caller starts from `from` again.
   */
  async sweep(lookup: (table: string) => Promise<TableHandle | undefined>, from: number, to: number): Promise<{ finished: number; next: number }> {
    let finished = 0;
    // Slots are read a few at a time ahead of their turn: after a restart there are thousands, mostly empty.
    const reads = new Map<number, ReturnType<TransactionRecords['logged']>>();
    const read = (slot: number) => {
      if (slot <= to && !reads.has(slot)) reads.set(slot, this.records.logged(slot));
      return reads.get(slot);
    };
    for (let slot = from; slot <= to; slot++) {
      for (let ahead = slot; ahead < slot + 32; ahead++) read(ahead)?.catch(() => undefined);
      const logged = await read(slot)!;
      reads.delete(slot);
      for (const { id, items } of logged) {
        if (Date.now() - TransactionRecords.startOf(id) < 2 * this.lockTimeoutMs) return { finished, next: slot };
        for (const { table, key } of items) {
          const h = await lookup(table);
          if (!h) continue;
          const stored = await h.translator.read(this.session, h.entry.layout, key, this.session.consistency.serial);
          if (stored?.lock && parseLock(stored.lock).id === id) await this.settle(h, key, stored);
        }
        await this.records.unlog(id);
        finished++;
      }
    }
    return { finished, next: to + 1 };
  }

  /** The last slot whose every transaction is old enough to sweep at `now`. */
  sweepableThrough(now = Date.now()): number {
    return TransactionRecords.slotOf(now - 2 * this.lockTimeoutMs) - 1;
  }
}
