// The tables of the transaction protocol (README "Transactions"):
//   dc_transactions        one row per decided transaction: committed or aborted, decided by one
//                          lightweight transaction (INSERT ... IF NOT EXISTS), kept a day
//   dc_transaction_log     the items each running transaction may lock, by the second it began
//                          (its slot), so a sweeper finds the intents of a crashed server
//   dc_request_tokens      per ClientRequestToken, the transactions that used it and their request
//                          fingerprints, kept 10 minutes (written before the decision: index.ts)
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

/** A transaction that used a ClientRequestToken, and the fingerprint of its request. */
export interface TokenUse {
  tx: string;
  fingerprint: string;
}

export class TransactionRecords {
  private readonly records: string;
  private readonly log: string;
  private readonly tokens: string;
  private readonly logWriter: GroupWriter;

  constructor(private readonly session: CqlSession) {
    this.logWriter = new GroupWriter(session);
    this.records = qualifiedTable(session.keyspace, 'dc_transactions');
    this.log = qualifiedTable(session.keyspace, 'dc_transaction_log');
    this.tokens = qualifiedTable(session.keyspace, 'dc_request_tokens');
  }

  async init(): Promise<void> {
    const run = (cql: string) => this.session.client.execute(cql);
    await run(`CREATE TABLE IF NOT EXISTS ${this.records} (id text PRIMARY KEY, state text)`);
    await run(`CREATE TABLE IF NOT EXISTS ${this.log} (bucket bigint, id text, items text, PRIMARY KEY (bucket, id))`);
    await run(`CREATE TABLE IF NOT EXISTS ${this.tokens} (client_token text, tx text, fingerprint text, PRIMARY KEY (client_token, tx))`);
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

  /** The decision, if one was made (a quorum read sees every completed decision). */
  async state(id: string): Promise<Decision | undefined> {
    // Tried again when a lost node made it time out, as item reads are (session.ts, retryingRead).
    const rs = await retryingRead(() => this.session.execute(`SELECT state FROM ${this.records} WHERE id = ?`, [id], this.session.consistency.strong));
    const row = rs.first();
    return (row?.get('state') as Decision | undefined) ?? undefined;
  }

  /** Decides the transaction unless someone decided it first; returns the decision that stands. */
  async decide(id: string, state: Decision): Promise<Decision> {
    const rs = await this.session.execute(
      `INSERT INTO ${this.records} (id, state) VALUES (?, ?) IF NOT EXISTS USING TTL ${RECORD_TTL_SECONDS}`,
      [id, state],
      this.session.consistency.write,
    );
    return applied(rs.rows) ? state : (rs.rows[0]!.get('state') as Decision);
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

  /** The transactions that used the token in the last 10 minutes (a quorum read sees every completed use). */
  async tokenUses(token: string): Promise<TokenUse[]> {
    const rs = await retryingRead(() => this.session.execute(`SELECT tx, fingerprint FROM ${this.tokens} WHERE client_token = ?`, [token], this.session.consistency.strong));
    return rs.rows.map((r) => ({ tx: r.get('tx') as string, fingerprint: r.get('fingerprint') as string }));
  }

  /** Records that the transaction uses the token (before it is decided). */
  async useToken(token: string, use: TokenUse): Promise<void> {
    await this.session.execute(
      `INSERT INTO ${this.tokens} (client_token, tx, fingerprint) VALUES (?, ?, ?) USING TTL ${TOKEN_TTL_SECONDS}`,
      [token, use.tx, use.fingerprint],
      this.session.consistency.write,
      undefined,
      true,
    );
  }

  /** Takes back a use that was not decided (the request turned out to be a replay). */
  async forgetToken(token: string, tx: string): Promise<void> {
    await this.session.execute(`DELETE FROM ${this.tokens} WHERE client_token = ? AND tx = ?`, [token, tx], this.session.consistency.write, undefined, true);
  }
}
