// The option table of `keys`: its own options plus serve's Cassandra options and server key.
import { withServeOptions } from '../config.js';
import type { CommandSpec } from '../options.js';

export const KEYS_COMMAND: CommandSpec = {
  name: 'keys',
  summary: 'Creates, lists and revokes the access keys the API accepts',
  usage: ['keys create [--name NAME] [--allow RULE]... [--account-id ID] [--json] [options]', 'keys list [--json] [options]', 'keys revoke ID [options]'],
  description:
    'keys create prints a new key id and its secret (the secret is shown only once). RULE is ACTIONS[:TABLES]:\n' +
    'ACTIONS are groups (read, write, admin, *) or action names, comma-separated; TABLES are table name patterns\n' +
    "with * (default: every table), e.g. --allow read, --allow 'read,write:app.*', --allow 'GetItem,Query:orders'.\n" +
    'Several --allow add up; without --allow the key may do everything. keys list never shows secrets; keys revoke\n' +
    'ID makes servers refuse the key within seconds. Cassandra is reached as serve reaches it, and secrets are\n' +
    'sealed with the same server key as the servers use.',
  example: "keys create --name reporting --allow 'read:reports.*' --contact-points 10.0.0.1",
  ...withServeOptions(
    [
      { key: 'name', flag: 'name', kind: 'string', env: 'DC_KEYS_NAME', help: 'keys create: a name for the key', value: 'NAME' },
      { key: 'allow', flag: 'allow', kind: 'repeat', default: [], env: 'DC_KEYS_ALLOW', defaultText: 'everything', value: 'RULE',
        help: 'keys create: what the key may do, ACTIONS[:TABLES] (repeatable)' },
      { key: 'keyAccountId', flag: 'account-id', kind: 'string', env: 'DC_KEYS_ACCOUNT_ID', value: 'ID', defaultText: "serve's --account-id",
        help: 'keys create: account id shown in the ARNs this key sees' },
      { key: 'json', flag: 'json', kind: 'boolean', default: false, env: 'DC_KEYS_JSON', help: 'Print JSON' },
    ],
    ['auth-server-key', 'auth-server-key-file'],
  ),
  envPrefix: 'DC_',
  positionals: true,
};
