// `dynamo-cassandra keys create|list|revoke`: manages the access keys the API accepts. Takes the
// Cassandra connection options of serve (flags, DC_* variables, --config) and the same server key.
import { ConfigError, loadConfig, type Config } from '../config.js';
import { helpText, loadOptions } from '../options.js';
import { KEYS_COMMAND } from './options.js';
import { openCluster } from '../cluster.js';
import { openKeyStore } from './index.js';
import type { KeyStore } from './key-store.js';
import { parseRule } from './policy.js';

export async function keysCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help' || rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(helpText(KEYS_COMMAND) + '\n');
    return sub ? 0 : 1;
  }
  if (!['create', 'list', 'revoke'].includes(sub)) throw new ConfigError(`unknown keys command ${sub}\n\n${helpText(KEYS_COMMAND)}`);
  const { values, positionals } = loadOptions(KEYS_COMMAND, rest);
  // --account-id is the key's here; the server's account id still comes from DC_ACCOUNT_ID or the file.
  const config = { ...(values as unknown as Config), accountId: loadConfig([]).accountId };
  const own: OwnOptions = { name: values.name as string | undefined, allow: values.allow as string[], accountId: values.keyAccountId as string | undefined, json: values.json === true };
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
