// The tables of the transaction protocol (README "Transactions"):
//   dc_transactions        one row per decided transaction: committed or aborted, decided by one
//                          lightweight transaction (INSERT ... IF NOT EXISTS), kept a day
//   dc_transaction_log     the items each running transaction may lock, by minute bucket, so a
//                          sweeper finds the intents of a crashed server
//   dc_transaction_tokens  ClientRequestToken → request fingerprint and transaction, kept 10 minutes
import cassandra from 'cassandra-driver';
import type { Item } from '../../dynamo/types.js';
import { applied } from '../cql-layout.js';
import { randomView } from '../random-pool.js';
import { Long, qualifiedTable, retryingRead, type CqlSession } from '../session.js';

export type Decision = 'committed' | 'aborted';

/** Records outlive every intent that names them (intents are resolved within minutes). */
const RECORD_TTL_SECONDS = 86_400;
export const TOKEN_TTL_SECONDS = 600;

export interface LoggedItem {
  table: string;
  key: Item;
}

export interface TokenClaim {
  fingerprint: string;
  tx: string;
}

export class TransactionRecords {
  private readonly records: string;
  private readonly log: string;
  private readonly tokens: string;

  constructor(private readonly session: CqlSession) {
    this.records = qualifiedTable(session.keyspace, 'dc_transactions');
    this.log = qualifiedTable(session.keyspace, 'dc_transaction_log');
    this.tokens = qualifiedTable(session.keyspace, 'dc_transaction_tokens');
  }

  async init(): Promise<void> {
    const run = (cql: string) => this.session.client.execute(cql);
    await run(`CREATE TABLE IF NOT EXISTS ${this.records} (id text PRIMARY KEY, state text)`);
    await run(`CREATE TABLE IF NOT EXISTS ${this.log} (bucket bigint, id text, items text, PRIMARY KEY (bucket, id))`);
    await run(`CREATE TABLE IF NOT EXISTS ${this.tokens} (client_token text PRIMARY KEY, fingerprint text, tx text)`);
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

  private static bucketOf(id: string): Long {
    return Long.fromNumber(Math.floor(TransactionRecords.startOf(id) / 60_000));
  }

  /** Written before the first intent is placed. */
  async logItems(id: string, items: LoggedItem[]): Promise<void> {
    await this.session.execute(
      `INSERT INTO ${this.log} (bucket, id, items) VALUES (?, ?, ?) USING TTL ${RECORD_TTL_SECONDS}`,
      [TransactionRecords.bucketOf(id), id, JSON.stringify(items)],
      this.session.consistency.write,
    );
  }

  /** Once every intent is gone. */
  async unlog(id: string): Promise<void> {
    await this.session.execute(`DELETE FROM ${this.log} WHERE bucket = ? AND id = ?`, [TransactionRecords.bucketOf(id), id], this.session.consistency.write);
  }

  /** Logged transactions of one minute bucket. */
  async logged(bucket: number): Promise<{ id: string; items: LoggedItem[] }[]> {
    const rs = await this.session.execute(`SELECT id, items FROM ${this.log} WHERE bucket = ?`, [Long.fromNumber(bucket)], this.session.consistency.strong);
    return rs.rows.map((r) => ({ id: r.get('id') as string, items: JSON.parse(r.get('items') as string) as LoggedItem[] }));
  }

  /** Claims the token for this transaction; returns the claim that stands (ours or an earlier one). */
  async claimToken(token: string, claim: TokenClaim): Promise<TokenClaim> {
    const rs = await this.session.execute(
      `INSERT INTO ${this.tokens} (client_token, fingerprint, tx) VALUES (?, ?, ?) IF NOT EXISTS USING TTL ${TOKEN_TTL_SECONDS}`,
      [token, claim.fingerprint, claim.tx],
      this.session.consistency.write,
    );
    if (applied(rs.rows)) return claim;
    const row = rs.rows[0]!;
    return { fingerprint: row.get('fingerprint') as string, tx: row.get('tx') as string };
  }

  /** Gives a token back after its transaction was cancelled, so that a retry runs it again. */
  async releaseToken(token: string, tx: string): Promise<void> {
    await this.session.execute(`DELETE FROM ${this.tokens} WHERE client_token = ? IF tx = ?`, [token, tx], this.session.consistency.write);
  }
}
