// The access keys' rows (dc_keys in the server's keyspace): sealed secret, allow rules, account
// id, creation and revocation time. Sealing, caching and the rules are src/auth/'s; every write
// here is a lightweight transaction (LWT and plain writes must not mix on a row).
import { qualifiedTable, type CqlSession, type Row } from '../session.js';

export const KEYS_TABLE = 'dc_keys';

export interface AccessKeyRow {
  accessKeyId: string;
  name: string | null;
  /** null: the server's --account-id. */
  accountId: string | null;
  allow: string[];
  createdAt: Date | null;
  revokedAt: Date | null;
  /** Fingerprint of the server key that sealed the secret. */
  serverKeyId: string | null;
  /** The secret, sealed. */
  sealed: Buffer | null;
}

export type NewAccessKeyRow = Pick<AccessKeyRow, 'accessKeyId' | 'name' | 'accountId' | 'allow' | 'serverKeyId'> & { sealed: Buffer };

export class AccessKeyTable {
  private readonly table: string;

  constructor(private readonly session: CqlSession) {
    this.table = qualifiedTable(session.keyspace, KEYS_TABLE);
  }

  async init(): Promise<void> {
    await this.session.client.execute(
      `CREATE TABLE IF NOT EXISTS ${this.table} (access_key_id text PRIMARY KEY, name text, account_id text, ` +
        `allow_rules list<text>, secret blob, server_key_id text, created_at timestamp, revoked_at timestamp)`,
    );
  }

  /** Inserts a key created now; false when the id is taken. */
  async insert(k: NewAccessKeyRow): Promise<boolean> {
    const rs = await this.session.execute(
      `INSERT INTO ${this.table} (access_key_id, name, account_id, allow_rules, secret, server_key_id, created_at) ` +
        `VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
      [k.accessKeyId, k.name, k.accountId, k.allow, k.sealed, k.serverKeyId, new Date()],
      this.session.consistency.write,
    );
    return applied(rs.first());
  }

  /** Replaces the secret of a key not revoked; false when it is revoked (or gone). */
  async replaceSecret(accessKeyId: string, sealed: Buffer, serverKeyId: string): Promise<boolean> {
    const rs = await this.session.execute(
      `UPDATE ${this.table} SET secret = ?, server_key_id = ? WHERE access_key_id = ? IF revoked_at = null`,
      [sealed, serverKeyId, accessKeyId],
      this.session.consistency.write,
    );
    return applied(rs.first());
  }

  /** Marks a key revoked; false when there is no such key. */
  async revoke(accessKeyId: string, at: Date): Promise<boolean> {
    const rs = await this.session.execute(
      `UPDATE ${this.table} SET revoked_at = ? WHERE access_key_id = ? IF EXISTS`,
      [at, accessKeyId],
      this.session.consistency.write,
    );
    return applied(rs.first());
  }

  async list(): Promise<AccessKeyRow[]> {
    const rs = await this.session.execute(`SELECT * FROM ${this.table}`, [], this.session.consistency.strong);
    return rs.rows.map(rowOf);
  }

  async get(accessKeyId: string): Promise<AccessKeyRow | undefined> {
    const rs = await this.session.execute(`SELECT * FROM ${this.table} WHERE access_key_id = ?`, [accessKeyId], this.session.consistency.strong);
    const row = rs.first();
    return row ? rowOf(row) : undefined;
  }
}

const applied = (row: Row | null): boolean => Boolean(row?.get('[applied]'));

function rowOf(row: Row): AccessKeyRow {
  return {
    accessKeyId: row.get('access_key_id') as string,
    name: (row.get('name') as string | null) ?? null,
    accountId: (row.get('account_id') as string | null) ?? null,
    allow: (row.get('allow_rules') as string[] | null) ?? [],
    createdAt: (row.get('created_at') as Date | null) ?? null,
    revokedAt: (row.get('revoked_at') as Date | null) ?? null,
    serverKeyId: (row.get('server_key_id') as string | null) ?? null,
    sealed: (row.get('secret') as Buffer | null) ?? null,
  };
}
