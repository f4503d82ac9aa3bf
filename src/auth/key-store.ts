// Access keys in Cassandra (table dc_keys in the server's keyspace): secrets sealed under the
// server key, allow rules, account id, revocation time. Lookups are cached for a short while so
// that verification costs no Cassandra round trip per request, yet a revoked key stops working
// within KEY_CACHE_MS on every server.
import { randomBytes, randomInt } from 'node:crypto';
import { ConfigError } from '../config.js';
import { qualifiedTable, type CqlSession } from '../storage/session.js';
import { parseRule, type Principal } from './policy.js';
import type { SecretBox } from './secret-box.js';

export const KEYS_TABLE = 'dc_keys';
/** How long a looked-up key (or its absence) is trusted before Cassandra is asked again. */
export const KEY_CACHE_MS = 2000;
const CACHE_LIMIT = 10_000;
const ACCESS_KEY_ID = /^[A-Za-z0-9_+=,.@-]{1,128}$/;

export interface StoredKey {
  accessKeyId: string;
  name: string | null;
  /** null: the server's --account-id. */
  accountId: string | null;
  allow: string[];
  createdAt: Date | null;
  revokedAt: Date | null;
  /** Fingerprint of the server key that sealed the secret. */
  serverKeyId: string | null;
}

export interface ActiveKey {
  accessKeyId: string;
  secretAccessKey: string;
  principal: Principal;
}

export interface NewKey {
  name?: string;
  allow?: string[];
  accountId?: string;
}

export interface KeyStoreOptions {
  /** Account id and region of keys that have none of their own (the server's). */
  accountId: string;
  region: string;
  log?: (message: string) => void;
  cacheMs?: number;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Looks like an AWS access key id (20 upper-case characters), prefixed DC to tell them apart. */
export const newAccessKeyId = () => 'DC' + Array.from({ length: 18 }, () => ALPHABET[randomInt(32)]).join('');
export const newSecretAccessKey = () => randomBytes(30).toString('base64');

interface CacheEntry {
  value: ActiveKey | null;
  expires: number;
  pending?: Promise<ActiveKey | null>;
}

export class KeyStore {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly table: string;
  private readonly cacheMs: number;

  constructor(
    private readonly session: CqlSession,
    private readonly box: SecretBox,
    private readonly options: KeyStoreOptions,
  ) {
    this.table = qualifiedTable(session.keyspace, KEYS_TABLE);
    this.cacheMs = options.cacheMs ?? KEY_CACHE_MS;
  }

  async init(): Promise<void> {
    await this.session.client.execute(
      `CREATE TABLE IF NOT EXISTS ${this.table} (access_key_id text PRIMARY KEY, name text, account_id text, ` +
        `allow_rules list<text>, secret blob, server_key_id text, created_at timestamp, revoked_at timestamp)`,
    );
  }

  /** Creates a key with a fresh id and secret; the secret is returned only here. */
  async create(spec: NewKey = {}): Promise<{ accessKeyId: string; secretAccessKey: string }> {
    const allow = spec.allow?.length ? spec.allow : ['*'];
    allow.forEach(parseRule); // reject typos before storing
    for (;;) {
      const accessKeyId = newAccessKeyId();
      const secretAccessKey = newSecretAccessKey();
      const rs = await this.session.execute(
        `INSERT INTO ${this.table} (access_key_id, name, account_id, allow_rules, secret, server_key_id, created_at) ` +
          `VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
        [accessKeyId, spec.name ?? null, spec.accountId ?? null, allow, this.box.seal(secretAccessKey, accessKeyId), this.box.keyId, new Date()],
        this.session.consistency.write,
      );
      if (rs.first().get('[applied]')) return { accessKeyId, secretAccessKey };
    }
  }

  /**
   * Makes sure the key given at start (--access-key/--secret-key) exists with that secret; the
   * operator's secret wins over a stored one. A revoked key stays revoked: starting is refused.
   */
  async ensure(accessKeyId: string, secretAccessKey: string, spec: NewKey = {}): Promise<'created' | 'updated' | 'unchanged'> {
    if (!ACCESS_KEY_ID.test(accessKeyId)) throw new ConfigError(`access key id '${accessKeyId}' is not valid (1-128 of A-Z a-z 0-9 _+=,.@-)`);
    if (secretAccessKey.length < 8) throw new ConfigError('the secret key must be at least 8 characters long');
    // Lightweight transactions throughout, like create and revoke: LWT and plain writes must not mix on a row.
    for (;;) {
      const existing = await this.read(accessKeyId);
      if (existing?.revokedAt) {
        throw new ConfigError(`access key ${accessKeyId} was revoked on ${existing.revokedAt.toISOString()}; start with another key`);
      }
      if (existing && existing.secret !== undefined && existing.secret === secretAccessKey) return 'unchanged';
      const sealed = this.box.seal(secretAccessKey, accessKeyId);
      let rs;
      if (existing) {
        rs = await this.session.execute(
          `UPDATE ${this.table} SET secret = ?, server_key_id = ? WHERE access_key_id = ? IF revoked_at = null`,
          [sealed, this.box.keyId, accessKeyId],
          this.session.consistency.write,
        );
      } else {
        const allow = spec.allow?.length ? spec.allow : ['*'];
        allow.forEach(parseRule);
        rs = await this.session.execute(
          `INSERT INTO ${this.table} (access_key_id, name, account_id, allow_rules, secret, server_key_id, created_at) ` +
            `VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
          [accessKeyId, spec.name ?? null, spec.accountId ?? null, allow, sealed, this.box.keyId, new Date()],
          this.session.consistency.write,
        );
      }
      this.cache.delete(accessKeyId);
      if (rs.first().get('[applied]')) return existing ? 'updated' : 'created';
      // Another process changed the row in between (e.g. a second worker): look again.
    }
  }

  async list(): Promise<StoredKey[]> {
    const rs = await this.session.execute(`SELECT * FROM ${this.table}`, [], this.session.consistency.strong);
    return rs.rows.map(rowToStored).sort((a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0));
  }

  /** Marks the key revoked; false when there is no such key. */
  async revoke(accessKeyId: string): Promise<boolean> {
    const rs = await this.session.execute(
      `UPDATE ${this.table} SET revoked_at = ? WHERE access_key_id = ? IF EXISTS`,
      [new Date(), accessKeyId],
      this.session.consistency.write,
    );
    this.cache.delete(accessKeyId);
    return Boolean(rs.first().get('[applied]'));
  }

  /** True when at least one key is usable (decides the default auth mode off loopback). */
  async hasActiveKeys(): Promise<boolean> {
    return (await this.list()).some((k) => !k.revokedAt);
  }

  /** The usable key with that id (cached), or null for unknown, revoked or unreadable keys. */
  lookup(accessKeyId: string): Promise<ActiveKey | null> | ActiveKey | null {
    const now = Date.now();
    const hit = this.cache.get(accessKeyId);
    if (hit && hit.expires > now) return hit.value;
    if (hit?.pending) return hit.pending;
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear(); // random ids must not grow memory
    const pending = this.fetch(accessKeyId).then(
      (value) => {
        this.cache.set(accessKeyId, { value, expires: Date.now() + this.cacheMs });
        return value;
      },
      (e) => {
        this.cache.delete(accessKeyId);
        throw e;
      },
    );
    this.cache.set(accessKeyId, { value: hit?.value ?? null, expires: 0, pending });
    return pending;
  }

  private async fetch(accessKeyId: string): Promise<ActiveKey | null> {
    if (!ACCESS_KEY_ID.test(accessKeyId)) return null;
    const key = await this.read(accessKeyId);
    if (!key || key.revokedAt || key.secret === undefined) return null;
    const accountId = key.accountId ?? this.options.accountId;
    return {
      accessKeyId,
      secretAccessKey: key.secret,
      principal: {
        arn: `arn:aws:iam::${accountId}:user/${key.name ?? accessKeyId}`,
        accountId,
        region: this.options.region,
        rules: key.allow.map(parseRule),
      },
    };
  }

  /** The stored key with its secret opened (secret undefined when this server key cannot open it). */
  private async read(accessKeyId: string): Promise<(StoredKey & { secret?: string }) | undefined> {
    const rs = await this.session.execute(`SELECT * FROM ${this.table} WHERE access_key_id = ?`, [accessKeyId], this.session.consistency.strong);
    const row = rs.first();
    if (!row) return undefined;
    const stored = rowToStored(row);
    let secret: string | undefined;
    try {
      secret = this.box.open(row.get('secret') as Buffer, accessKeyId);
    } catch {
      this.options.log?.(
        `access key ${accessKeyId}: its secret was sealed with server key ${stored.serverKeyId ?? '?'}, ` +
          `this server has ${this.box.keyId}; every server needs the same --auth-server-key`,
      );
    }
    return { ...stored, secret };
  }
}

function rowToStored(row: { get(name: string): unknown }): StoredKey {
  return {
    accessKeyId: row.get('access_key_id') as string,
    name: (row.get('name') as string | null) ?? null,
    accountId: (row.get('account_id') as string | null) ?? null,
    allow: (row.get('allow_rules') as string[] | null) ?? [],
    createdAt: (row.get('created_at') as Date | null) ?? null,
    revokedAt: (row.get('revoked_at') as Date | null) ?? null,
    serverKeyId: (row.get('server_key_id') as string | null) ?? null,
  };
}
