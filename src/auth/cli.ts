// `dynamo-cassandra keys create|list|revoke`: manages the access keys the API accepts. Takes the
// Cassandra connection options of serve (flags, DC_* variables, --config) and the same server key.
import { ConfigError, loadConfig, OPTIONS } from '../config.js';
import { openCluster } from '../cluster.js';
import { openKeyStore } from './index.js';
import type { KeyStore } from './key-store.js';
import { parseRule } from './policy.js';

export const KEYS_USAGE = `Usage: dynamo-cassandra keys <create|list|revoke> [options] [serve's connection options]

  keys create [--name NAME] [--allow RULE]... [--account-id ID] [--json]
      Creates a key and prints its id and secret (the secret is shown only once).
      RULE is ACTIONS[:TABLES]: ACTIONS are groups (read, write, admin, *) or action names,
      comma-separated; TABLES are table name patterns with * (default: every table).
      Examples: --allow read   --allow 'read,write:app.*'   --allow 'GetItem,Query:orders'
      Several --allow add up. Without --allow the key may do everything.
      --account-id: account id shown in the ARNs this key sees (default: serve's --account-id).
  keys list [--json]
      Lists keys (never their secrets).
  keys revoke ID
      Revokes a key; servers refuse it within seconds.

Cassandra is reached as serve reaches it (--contact-points, --keyspace, --username, ...), and
secrets are sealed with the same server key (--auth-server-key, DC_AUTH_SERVER_KEY, or the
--auth-server-key-file the server uses).`;

export async function keysCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === 'help' || rest.includes('--help')) {
    process.stdout.write(KEYS_USAGE + '\n');
    return sub ? 0 : 1;
  }
  if (!['create', 'list', 'revoke'].includes(sub)) throw new ConfigError(`unknown keys command ${sub}\n\n${KEYS_USAGE}`);
  const { own, serveArgs, positionals } = splitArgs(rest);
  const config = loadConfig(serveArgs);
  if (sub === 'create') own.allow.forEach(parseRule); // typos before connecting
  if (sub === 'revoke' && positionals.length !== 1) throw new ConfigError('keys revoke takes one access key id');
  if (sub !== 'revoke' && positionals.length) throw new ConfigError(`unexpected argument ${positionals[0]}`);

  const log = (line: string) => process.stderr.write(`[dynamo-cassandra] ${line}\n`);
  const cassandra = await openCluster(config, log);
  try {
    const store = openKeyStore(cassandra.config, cassandra.session, log);
    await store.init();
    return await run(sub, store, own, positionals[0]);
  } finally {
    await cassandra.close();
  }
}

interface OwnOptions {
  name?: string;
  allow: string[];
  accountId?: string;
  json: boolean;
}

/** Separates the options of keys from those of serve (which configure the connection). */
function splitArgs(args: string[]): { own: OwnOptions; serveArgs: string[]; positionals: string[] } {
  const own: OwnOptions = { allow: [], json: false };
  const serveArgs: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(args[i]);
    if (!m) {
      positionals.push(args[i]);
      continue;
    }
    const [, flag, inline] = m;
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new ConfigError(`--${flag} needs a value`);
      return v;
    };
    if (flag === 'name') own.name = value();
    else if (flag === 'allow') own.allow.push(value());
    else if (flag === 'account-id') own.accountId = value();
    else if (flag === 'json') own.json = true;
    else {
      serveArgs.push(args[i]);
      const spec = OPTIONS.find((o) => o.flag === flag);
      if (inline === undefined && (flag === 'config' || (spec && spec.kind !== 'boolean')) && i + 1 < args.length) serveArgs.push(args[++i]);
    }
  }
  return { own, serveArgs, positionals };
}

async function run(sub: string, store: KeyStore, own: OwnOptions, id: string | undefined): Promise<number> {
  const json = own.json;
  switch (sub) {
    case 'create': {
      const spec = { name: own.name, allow: own.allow, accountId: own.accountId };
      const key = await store.create(spec);
      const allow = spec.allow?.length ? spec.allow : ['*'];
      if (json) {
        process.stdout.write(JSON.stringify({ AccessKeyId: key.accessKeyId, SecretAccessKey: key.secretAccessKey, Name: spec.name ?? null, Allow: allow }) + '\n');
      } else {
        process.stdout.write(
          `AccessKeyId      ${key.accessKeyId}\nSecretAccessKey  ${key.secretAccessKey}\nAllow            ${allow.join(' ; ')}\n` +
            `The secret is not shown again; store it now (e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).\n`,
        );
      }
      return 0;
    }
    case 'list': {
      const keys = await store.list();
      if (json) {
        process.stdout.write(JSON.stringify(keys, null, 2) + '\n');
        return 0;
      }
      const rows = [['ACCESS KEY ID', 'NAME', 'ACCOUNT', 'ALLOW', 'CREATED', 'STATUS']];
      for (const k of keys) {
        rows.push([
          k.accessKeyId,
          k.name ?? '',
          k.accountId ?? '(server)',
          k.allow.join(' ; '),
          k.createdAt?.toISOString() ?? '',
          k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active',
        ]);
      }
      const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n');
      return 0;
    }
    default: {
      if (!(await store.revoke(id!))) {
        process.stderr.write(`dynamo-cassandra: no access key ${id}\n`);
        return 1;
      }
      process.stdout.write(`revoked ${id}\n`);
      return 0;
    }
  }
}
