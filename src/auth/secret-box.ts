// Secret access keys are stored encrypted (AES-256-GCM) under a server key, so that reading the
// keys table (a backup, a snapshot, a CQL user with SELECT) does not hand out credentials.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../config.js';
import { cacheDir } from '../local-node/paths.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 1;

export class SecretBox {
  /** Short fingerprint stored beside each secret: says which server key sealed it. */
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new ConfigError('the auth server key must be 32 bytes (64 hex characters or base64)');
    this.keyId = createHash('sha256').update('dynamo-cassandra auth server key\0').update(key).digest('hex').slice(0, 16);
  }

  /** version | iv | tag | ciphertext; the access key id is bound in as associated data. */
  seal(plaintext: string, accessKeyId: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(accessKeyId, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
  }

  /** Throws when the box was sealed under another key, for another key id, or was altered. */
  open(sealed: Buffer, accessKeyId: string): string {
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) throw new Error('unknown sealed secret format');
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAAD(Buffer.from(accessKeyId, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}

export function parseServerKey(text: string, origin: string): Buffer {
  const s = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(s) ? Buffer.from(s, 'hex') : Buffer.from(s, 'base64');
  if (key.length !== 32) throw new ConfigError(`${origin}: the auth server key must be 32 bytes, as 64 hex characters or base64`);
  return key;
}

export const defaultServerKeyFile = () => join(cacheDir(), 'auth', 'server-key');

/**
 * The server key: given literally (--auth-server-key / DC_AUTH_SERVER_KEY), or read from a file
 * (--auth-server-key-file, default under the cache directory) that is created, readable by its
 * owner only, the first time it is needed. Every process sharing a keyspace needs the same key.
 */
export function loadServerKey(options: { literal?: string; file?: string }): SecretBox {
  if (options.literal) return new SecretBox(parseServerKey(options.literal, 'auth-server-key'));
  const file = options.file || defaultServerKeyFile();
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // Written aside, then linked into place: a concurrent process (another worker) either wins
    // the link or reads a complete key, never a half-written or overwritten one.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    try {
      linkSync(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      unlinkSync(tmp);
    }
  }
  return new SecretBox(parseServerKey(readFileSync(file, 'utf8'), file));
}
