// The tables of the transaction protocol (README "Transactions"):
//   dc_transactions        one row per decided transaction: committed or aborted, decided by one
//                          lightweight transaction (INSERT ... IF NOT EXISTS), kept a day
//   dc_transaction_log     the items each running transaction may lock, by the second it began
//                          (its slot), so a sweeper finds the intents of a crashed server
//   dc_token_transactions  the same for transactions with a ClientRequestToken, in the token's
//                          partition, whose static `winner` names the one that committed with it
//                          in the last 10 minutes: its decision and the token's check are one
//                          lightweight transaction
import cassandra from 'cassandra-driver';
import type { Item } from '../../dynamo/types.js';
import { applied } from '../cql-layout.js';
import { randomView } from '../random-pool.js';
import { Long, qualifiedTable, retryingRead, type CqlSession } from '../session.js';
import { GroupWriter } from './log-writer.js';

export type Decision = 'committed' | 'aborted';

/** Records outlive every intent that names them (intents are resolved within minutes). */
const RECORD_TTL_SECONDS = 86_400;
export const TOKEN_TTL_SECONDS = 600;

export interface LoggedItem {
  table: string;
  key: Item;
}

/**
 * A transaction as its intents name it: its id, and its ClientRequestToken when its decision
 * lives in the token's partition (locks.ts, refOf).
 */
export interface TxRef {
  id: string;
  token?: string;
}

/** The transaction that committed with a ClientRequestToken, and the fingerprint of its request. */
export interface TokenWinner {
  tx: string;
  fingerprint: string;
}

export class TransactionRecords {
  private readonly records: string;
  private readonly log: string;
  private readonly tokened: string;
  private readonly logWriter: GroupWriter;

  constructor(private readonly session: CqlSession) {
    this.logWriter = new GroupWriter(session);
    this.records = qualifiedTable(session.keyspace, 'dc_transactions');
    this.log = qualifiedTable(session.keyspace, 'dc_transaction_log');
    this.tokened = qualifiedTable(session.keyspace, 'dc_token_transactions');
  }

  async init(): Promise<void> {
    const run = (cql: string) => this.session.client.execute(cql);
    await run(`CREATE TABLE IF NOT EXISTS ${this.records} (id text PRIMARY KEY, state text)`);
    await run(`CREATE TABLE IF NOT EXISTS ${this.log} (bucket bigint, id text, items text, PRIMARY KEY (bucket, id))`);
    await run(
      `CREATE TABLE IF NOT EXISTS ${this.tokened} (client_token text, tx text, state text, winner text static, winner_fp text static, PRIMARY KEY (client_token, tx))`,
    );
  }

  /** A new transaction id: a time UUID, so its start time can be read back. */
  static newId(): string {
    // The driver's now() asks the kernel for 8 random bytes (node and clock) per id unless given them.
    const random = randomView(8);
    return cassandra.types.TimeUuid.now(random.subarray(0, 6), random.subarray(6, 8)).toString();
  }

  static startOf(id: string): number {
    return cassandra.types.TimeUuid.fromString(id).getDate().getTime();
  }

  /** Where a transaction's record is: its table, key columns and their values. */
  private recordOf(tx: TxRef): { table: string; key: string[]; params: string[] } {
    return tx.token === undefined ? { table: this.records, key: ['id'], params: [tx.id] } : { table: this.tokened, key: ['client_token', 'tx'], params: [tx.token, tx.id] };
  }

  /** The decision, if one was made (a quorum read sees every completed decision). */
  async state(tx: TxRef): Promise<Decision | undefined> {
    const { table, key, params } = this.recordOf(tx);
    const query = `SELECT state FROM ${table} WHERE ${key.map((c) => `${c} = ?`).join(' AND ')}`;
    // Tried again when a lost node made it time out, as item reads are (session.ts, retryingRead).
    const rs = await retryingRead(() => this.session.execute(query, params, this.session.consistency.strong));
    const row = rs.first();
    return (row?.get('state') as Decision | undefined) ?? undefined;
  }

  /** Decides the transaction unless someone decided it first; returns the decision that stands. */
  async decide(tx: TxRef, state: Decision): Promise<Decision> {
    const { table, key, params } = this.recordOf(tx);
    const rs = await this.session.execute(
      `INSERT INTO ${table} (${key.join(', ')}, state) VALUES (${key.map(() => '?').join(', ')}, ?) IF NOT EXISTS USING TTL ${RECORD_TTL_SECONDS}`,
      [...params, state],
      this.session.consistency.write,
    );
    return applied(rs.rows) ? state : (rs.rows[0]!.get('state') as Decision);
  }

  /**
   * Commits a transaction with a ClientRequestToken unless another committed with the token in the
   * last 10 minutes (then returns that one: a replay, or another request's token) or someone
   * aborted it first ('aborted'). One lightweight transaction on the token's partition.
   */
  async commitWithToken(id: string, token: string, fingerprint: string): Promise<'committed' | 'aborted' | TokenWinner> {
    const rs = await this.session.batch(
      [
        { query: `UPDATE ${this.tokened} USING TTL ${TOKEN_TTL_SECONDS} SET winner = ?, winner_fp = ? WHERE client_token = ? IF winner = null`, params: [id, fingerprint, token] },
        { query: `INSERT INTO ${this.tokened} (client_token, tx, state) VALUES (?, ?, 'committed') IF NOT EXISTS USING TTL ${RECORD_TTL_SECONDS}`, params: [token, id] },
      ],
      { consistency: this.session.consistency.write, serialConsistency: this.session.consistency.serial },
    );
    if (applied(rs.rows)) return 'committed';
    // The refused batch answers with the rows its conditions read: the static row (the winner)
    // and ours, if someone decided it. Ours committed: this is the commit sent again after an
    // attempt whose outcome was unknown, which had landed.
    const winner = rs.rows.find((r) => r.get('winner'));
    const ours = rs.rows.find((r) => r.get('tx') === id)?.get('state') as Decision | undefined;
    if (winner?.get('winner') === id || ours === 'committed') return 'committed';
    if (winner) return { tx: winner.get('winner') as string, fingerprint: winner.get('winner_fp') as string };
    return 'aborted';
  }

  /** The transaction that committed with the token in the last 10 minutes, if any. */
  async tokenWinner(token: string): Promise<TokenWinner | undefined> {
    const rs = await retryingRead(() =>
      this.session.execute(`SELECT winner, winner_fp FROM ${this.tokened} WHERE client_token = ? LIMIT 1`, [token], this.session.consistency.strong),
    );
    const row = rs.first();
    const tx = row?.get('winner') as string | null | undefined;
    return tx ? { tx, fingerprint: row!.get('winner_fp') as string } : undefined;
  }

  /**
   * The log's partition for transactions begun at `ms`: one per second. Each finished transaction
   * leaves a tombstone in it, so a partition is read about once by each sweeper (whose cursor then
   * moves past it), and a second's worth of tombstones stays far below Cassandra's read limits.
   */
  static slotOf(ms: number): number {
    return Math.floor(ms / 1000);
  }

  private static bucketOf(id: string): Long {
    return Long.fromNumber(TransactionRecords.slotOf(TransactionRecords.startOf(id)));
  }

  /** Written before the first intent is placed (gathered with the other log writes of its slot). */
  logItems(id: string, items: LoggedItem[]): Promise<void> {
    const bucket = TransactionRecords.bucketOf(id);
    return this.logWriter.write(bucket.toString(), `INSERT INTO ${this.log} (bucket, id, items) VALUES (?, ?, ?) USING TTL ${RECORD_TTL_SECONDS}`, [
      bucket,
      id,
      JSON.stringify(items),
    ]);
  }

  /** Once every intent is gone; `lingerMs`: for a caller that does not wait, how long it may wait for company (GroupWriter). */
  unlog(id: string, lingerMs = 0): Promise<void> {
    const bucket = TransactionRecords.bucketOf(id);
    return this.logWriter.write(bucket.toString(), `DELETE FROM ${this.log} WHERE bucket = ? AND id = ?`, [bucket, id], lingerMs);
  }

  /** Logged transactions of one slot (slotOf). */
  async logged(slot: number): Promise<{ id: string; items: LoggedItem[] }[]> {
    const rs = await retryingRead(() => this.session.execute(`SELECT id, items FROM ${this.log} WHERE bucket = ?`, [Long.fromNumber(slot)], this.session.consistency.strong));
    return rs.rows.map((r) => ({ id: r.get('id') as string, items: JSON.parse(r.get('items') as string) as LoggedItem[] }));
  }
}
