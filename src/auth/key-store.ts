// Access keys in Cassandra (storage's AccessKeyTable, dc_keys in the server's keyspace): secrets
// sealed under the server key, allow rules, account id, revocation time. Lookups are cached for a short while so
// that verification costs no Cassandra round trip per request, yet a revoked key stops working
// within KEY_CACHE_MS on every server.
import { randomBytes, randomInt } from 'node:crypto';
import { ConfigError } from '../config.js';
import type { CqlSession } from '../storage/session.js';
import { AccessKeyTable, type AccessKeyRow } from '../storage/state/access-keys.js';
import { parseRule, type Principal } from './policy.js';
import type { SecretBox } from './secret-box.js';

/** How long a looked-up key (or its absence) is trusted before Cassandra is asked again. */
export const KEY_CACHE_MS = 2000;
const CACHE_LIMIT = 10_000;
const ACCESS_KEY_ID = /^[A-Za-z0-9_+=,.@-]{1,128}$/;

/** A stored key as listed: everything but its secret. */
export type StoredKey = Omit<AccessKeyRow, 'sealed'>;

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
  private readonly rows: AccessKeyTable;
  private readonly cacheMs: number;

  constructor(
    session: CqlSession,
    private readonly box: SecretBox,
    private readonly options: KeyStoreOptions,
  ) {
    this.rows = new AccessKeyTable(session);
    this.cacheMs = options.cacheMs ?? KEY_CACHE_MS;
  }

  init(): Promise<void> {
    return this.rows.init();
  }

  /** Creates a key with a fresh id and secret; the secret is returned only here. */
  async create(spec: NewKey = {}): Promise<{ accessKeyId: string; secretAccessKey: string }> {
    const allow = spec.allow?.length ? spec.allow : ['*'];
    allow.forEach(parseRule); // reject typos before storing
    for (;;) {
      const accessKeyId = newAccessKeyId();
      const secretAccessKey = newSecretAccessKey();
      const sealed = this.box.seal(secretAccessKey, accessKeyId);
      if (await this.rows.insert({ accessKeyId, name: spec.name ?? null, accountId: spec.accountId ?? null, allow, sealed, serverKeyId: this.box.keyId })) {
        return { accessKeyId, secretAccessKey };
      }
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
      let applied;
      if (existing) {
        applied = await this.rows.replaceSecret(accessKeyId, sealed, this.box.keyId);
      } else {
        const allow = spec.allow?.length ? spec.allow : ['*'];
        allow.forEach(parseRule);
        applied = await this.rows.insert({ accessKeyId, name: spec.name ?? null, accountId: spec.accountId ?? null, allow, sealed, serverKeyId: this.box.keyId });
      }
      this.cache.delete(accessKeyId);
      if (applied) return existing ? 'updated' : 'created';
      // Another process changed the row in between (e.g. a second worker): look again.
    }
  }

  async list(): Promise<StoredKey[]> {
    const rows = await this.rows.list();
    return rows.map(withoutSecret).sort((a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0));
  }

  /** Marks the key revoked; false when there is no such key. */
  async revoke(accessKeyId: string): Promise<boolean> {
    const applied = await this.rows.revoke(accessKeyId, new Date());
    this.cache.delete(accessKeyId);
    return applied;
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
    const row = await this.rows.get(accessKeyId);
    if (!row) return undefined;
    const stored = withoutSecret(row);
    let secret: string | undefined;
    try {
      secret = this.box.open(row.sealed as Buffer, accessKeyId);
    } catch {
      this.options.log?.(
        `access key ${accessKeyId}: its secret was sealed with server key ${stored.serverKeyId ?? '?'}, ` +
          `this server has ${this.box.keyId}; every server needs the same --auth-server-key`,
      );
    }
    return { ...stored, secret };
  }
}

function withoutSecret(row: AccessKeyRow): StoredKey {
  const { sealed: _sealed, ...stored } = row;
  return stored;
}
