// One configuration object for `serve` (and the commands that take its Cassandra options), from
// the option table below through src/options.ts: defaults, an optional JSON file, environment
// variables and flags. The table is also the source of `serve --help` and the README's table.
import { TRANSLATOR_NAMES, type TranslatorName } from '../translators/index.js';
import { ConfigError, loadOptions, optionsMarkdown as markdownOf, defaults, type CommandSpec, type OptionSpec } from './options.js';
import { COMMITLOG_SYNC_MODES, type CommitlogSync } from './local-node/index.js';

export { ConfigError };
export type { TranslatorName };
export const TRANSLATORS = TRANSLATOR_NAMES;

export const WRITE_ISOLATION_MODES = ['always', 'only_rmw', 'forbid_rmw', 'unsafe_rmw'] as const;
export type WriteIsolation = (typeof WRITE_ISOLATION_MODES)[number];

export interface Config {
  host: string;
  port: number;
  contactPoints: string[];
  localDc: string;
  keyspace: string;
  replication: string;
  username?: string;
  password?: string;
  cassandraTls: boolean;
  cassandraCa?: string;
  cassandraTlsVerify: boolean;
  translator: TranslatorName;
  writeIsolation: WriteIsolation;
  readConsistency: string;
  consistentReadConsistency: string;
  writeConsistency: string;
  serialConsistency: string;
  cqlConnections: number;
  cqlCoalesce: boolean;
  embeddedAddress: string;
  embeddedPort: number;
  embeddedDataDir?: string;
  embeddedHeapMb: number;
  embeddedCommitlogSync: CommitlogSync;
  workers: number;
  region: string;
  accountId: string;
  logLevel: string;
  metricsMaxTables: number;
  cqlProxyListen?: string;
  cqlProxySource?: string;
  cqlProxyTarget?: string;
  // Authentication and HTTPS (src/auth/).
  auth: 'auto' | 'off' | 'warn' | 'enforce';
  accessKey?: string;
  secretKey?: string;
  authServerKey?: string;
  authServerKeyFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  // Replication from DynamoDB Streams (src/replication/).
  replicateSourceEndpoint?: string;
  replicateTables: string[];
  replicateRegion?: string;
  replicateSegments: number;
  replicateConcurrency: number;
  replicateLeaseSeconds: number;
  replicateWriteIsolation: WriteIsolation;
  replicateMetricsPort: number;
  replicateTarget: 'cassandra' | 'dynamodb';
  replicateTargetEndpoint?: string;
  replicateTargetRegion?: string;
  replicateIgnoreReplicated: boolean;
  // Time to Live (src/ttl/).
  ttlSweepSeconds: number;
  ttlPageSize: number;
  ttlSegments: number;
  ttlChangeCooldownSeconds: number;
  // Transactions (src/storage/transactions/).
  transactionLockTimeoutMs: number;
  transactionSweepMs: number;
}

const CONSISTENCY_LEVELS = [
  'ANY', 'ONE', 'TWO', 'THREE', 'QUORUM', 'ALL', 'LOCAL_QUORUM', 'EACH_QUORUM', 'LOCAL_ONE',
] as const;

/** The options of serve, grouped as in the README; the key is the Config property. */
export const OPTIONS: (OptionSpec & { key: keyof Config })[] = [
  { key: 'host', flag: 'host', kind: 'string', default: '127.0.0.1', help: 'Address the HTTP API listens on' },
  { key: 'port', flag: 'port', kind: 'number', default: 8000, help: 'Port of the HTTP API' },
  {
    key: 'contactPoints', flag: 'contact-points', kind: 'list', default: [],
    help: 'Cassandra contact points (host or host:port, comma-separated). Empty: start or reuse the embedded local node',
  },
  { key: 'localDc', flag: 'local-dc', kind: 'string', default: 'datacenter1', help: 'Local datacenter of the Cassandra cluster' },
  { key: 'keyspace', flag: 'keyspace', kind: 'string', default: 'dynamo', help: 'Keyspace holding the catalog and all tables' },
  {
    key: 'replication', flag: 'replication', kind: 'string',
    default: "{'class': 'SimpleStrategy', 'replication_factor': 1}",
    help: 'Replication map used when the keyspace is created (e.g. {\'class\': \'NetworkTopologyStrategy\', \'dc1\': 3})',
  },
  { key: 'username', flag: 'username', kind: 'string', help: 'Cassandra username (PasswordAuthenticator)' },
  { key: 'password', flag: 'password', kind: 'string', help: 'Cassandra password' },
  { key: 'cassandraTls', flag: 'cassandra-tls', kind: 'boolean', default: false, help: 'Connect to Cassandra over TLS' },
  { key: 'cassandraCa', flag: 'cassandra-ca', kind: 'string', help: 'PEM file with the CA certificate(s) for Cassandra TLS' },
  {
    key: 'cassandraTlsVerify', flag: 'cassandra-tls-verify', kind: 'boolean', default: true,
    help: 'Verify the Cassandra server certificate and host name',
  },
  {
    key: 'translator', flag: 'translator', kind: 'string', default: 'document', choices: TRANSLATOR_NAMES,
    help: 'Default CQL layout for new tables (per table: tag dynamo-cassandra:translator)',
  },
  {
    key: 'writeIsolation', flag: 'write-isolation', kind: 'string', default: 'always', choices: WRITE_ISOLATION_MODES,
    help: 'Default write isolation (per table: tag dynamo-cassandra:write_isolation)',
  },
  {
    key: 'readConsistency', flag: 'read-consistency', kind: 'string', default: 'LOCAL_ONE', choices: CONSISTENCY_LEVELS,
    help: 'Consistency level of eventually consistent reads',
  },
  {
    key: 'consistentReadConsistency', flag: 'consistent-read-consistency', kind: 'string', default: 'LOCAL_QUORUM',
    choices: CONSISTENCY_LEVELS, help: 'Consistency level of ConsistentRead=true and of reads before conditional writes',
  },
  {
    key: 'writeConsistency', flag: 'write-consistency', kind: 'string', default: 'LOCAL_QUORUM', choices: CONSISTENCY_LEVELS,
    help: 'Consistency level of writes (and of the commit of lightweight transactions)',
  },
  {
    key: 'serialConsistency', flag: 'serial-consistency', kind: 'string', default: 'LOCAL_SERIAL',
    choices: ['SERIAL', 'LOCAL_SERIAL'], help: 'Serial consistency of lightweight transactions',
  },
  {
    key: 'cqlConnections', flag: 'cql-connections', kind: 'number', default: 1,
    help: 'Driver connections per Cassandra node in this datacenter (each carries thousands of requests)',
  },
  {
    key: 'cqlCoalesce', flag: 'cql-coalesce', kind: 'boolean', default: true,
    help: 'Send the CQL of all requests that arrive together in one socket write (less Cassandra CPU per request)',
  },
  { key: 'embeddedAddress', flag: 'embedded-address', kind: 'string', default: '127.0.0.1', help: 'Address of the embedded node' },
  { key: 'embeddedPort', flag: 'embedded-port', kind: 'number', default: 9042, help: 'CQL port of the embedded node' },
  {
    key: 'embeddedDataDir', flag: 'embedded-data-dir', kind: 'string',
    help: 'Data directory of the embedded node (default: under the cache directory)',
  },
  { key: 'embeddedHeapMb', flag: 'embedded-heap-mb', kind: 'number', default: 768, help: 'Java heap of the embedded node (MiB)' },
  {
    key: 'embeddedCommitlogSync', flag: 'embedded-commitlog-sync', kind: 'string', choices: COMMITLOG_SYNC_MODES, default: 'periodic',
    help: 'Commit-log sync of the embedded node: periodic (a crash loses the last ~100 ms of acknowledged writes), batch or group (none lost; slower writes)',
  },
  { key: 'workers', flag: 'workers', kind: 'number', default: 1, help: 'HTTP worker processes (node:cluster) sharing the port' },
  { key: 'region', flag: 'region', kind: 'string', default: 'us-east-1', help: 'Region shown in ARNs and DescribeEndpoints' },
  { key: 'accountId', flag: 'account-id', kind: 'string', default: '000000000000', help: 'Account id shown in ARNs' },
  { key: 'logLevel', flag: 'log-level', kind: 'string', default: 'info', help: 'Log level (fatal, error, warn, info, debug, trace)' },
  {
    key: 'metricsMaxTables', flag: 'metrics-max-tables', kind: 'number', default: 100,
    help: 'Tables that get a `table` label of their own in /metrics (existing tables, first come; the rest count as `other`)',
  },
  { key: 'cqlProxyListen', flag: 'cql-proxy-listen', kind: 'string', help: 'Also run the CQL dual-write proxy on HOST:PORT (its other settings: DC_CQL_PROXY_* variables)' },
  { key: 'cqlProxySource', flag: 'cql-proxy-source', kind: 'string', help: 'Source cluster of the CQL proxy (HOST:PORT,...)' },
  { key: 'cqlProxyTarget', flag: 'cql-proxy-target', kind: 'string', help: 'Target cluster of the CQL proxy (HOST:PORT,...)' },
  // Authentication and HTTPS (src/auth/).
  {
    key: 'auth', flag: 'auth', kind: 'string', default: 'auto', choices: ['auto', 'off', 'warn', 'enforce'],
    help: 'SigV4 request authentication. auto: enforce when --access-key is given; off on a loopback address; elsewhere enforce if keys exist, else refuse to start. warn: check and log, never refuse',
  },
  { key: 'accessKey', flag: 'access-key', kind: 'string', help: 'Access key id that must exist at start (created or re-keyed with --secret-key; allowed everything)' },
  { key: 'secretKey', flag: 'secret-key', kind: 'string', help: 'Secret of --access-key (prefer the environment variable)' },
  {
    key: 'authServerKey', flag: 'auth-server-key', kind: 'string',
    help: 'Key (32 bytes, hex or base64) that encrypts stored secrets; all servers of a keyspace need the same one (prefer the environment variable)',
  },
  {
    key: 'authServerKeyFile', flag: 'auth-server-key-file', kind: 'string',
    help: 'File holding the auth server key when --auth-server-key is not given (default: auth/server-key under the cache directory, generated on first use)',
  },
  { key: 'tlsCert', flag: 'tls-cert', kind: 'string', help: 'PEM certificate (chain) file: serve the API over HTTPS' },
  { key: 'tlsKey', flag: 'tls-key', kind: 'string', help: 'PEM private key file of --tls-cert' },
  // Replication from DynamoDB Streams (src/replication/); `replicate` also takes the short forms.
  {
    key: 'replicateSourceEndpoint', flag: 'replicate-source-endpoint', kind: 'string',
    help: 'Endpoint URL of the source DynamoDB (default: AWS, with credentials and region from the AWS chain)',
  },
  {
    key: 'replicateTables', flag: 'replicate-tables', kind: 'list', default: [],
    help: 'Source tables to replicate into Cassandra (NAME or SOURCE=TARGET, comma-separated); with serve, runs the replicator beside the API',
  },
  { key: 'replicateRegion', flag: 'replicate-region', kind: 'string', help: 'Region of the source tables (default: from the AWS chain)' },
  { key: 'replicateSegments', flag: 'replicate-segments', kind: 'number', default: 4, help: 'Parallel Scan segments of a snapshot' },
  { key: 'replicateConcurrency', flag: 'replicate-concurrency', kind: 'number', default: 64, help: 'Writes in flight per snapshot segment or stream shard' },
  {
    key: 'replicateLeaseSeconds', flag: 'replicate-lease-seconds', kind: 'number', default: 10,
    help: 'Shard lease period: a dead replicator\'s shards are taken over after about this long',
  },
  {
    key: 'replicateWriteIsolation', flag: 'replicate-write-isolation', kind: 'string', default: 'only_rmw', choices: WRITE_ISOLATION_MODES,
    help: 'Write isolation of target tables the replicator creates (only_rmw: plain writes, fastest; always: lightweight transactions)',
  },
  {
    key: 'replicateMetricsPort', flag: 'replicate-metrics-port', kind: 'number', default: 9464,
    help: 'Port of GET /metrics of `replicate` (on --host; 0: none). Inside serve, the API\'s /metrics carries them',
  },
  {
    key: 'replicateTarget', flag: 'replicate-target', kind: 'string', default: 'cassandra', choices: ['cassandra', 'dynamodb'],
    help: 'Where replicas go: tables in this Cassandra keyspace, or a DynamoDB-API endpoint (Amazon DynamoDB, DynamoDB Local, another dynamo-cassandra; checkpoints and leases stay in this keyspace)',
  },
  {
    key: 'replicateTargetEndpoint', flag: 'replicate-target-endpoint', kind: 'string',
    help: 'Endpoint URL of the DynamoDB-API target (implies --replicate-target dynamodb; default with dynamodb: AWS, credentials from the AWS chain)',
  },
  { key: 'replicateTargetRegion', flag: 'replicate-target-region', kind: 'string', help: 'Region of a DynamoDB-API target (default: --replicate-region, else the AWS chain)' },
  {
    key: 'replicateIgnoreReplicated', flag: 'replicate-ignore-replicated', kind: 'boolean', default: false,
    help: 'Skip source stream records that a replicator wrote: the loop guard when both directions run (give it to both)',
  },
  // Time to Live (src/ttl/).
  {
    key: 'ttlSweepSeconds', flag: 'ttl-sweep-seconds', kind: 'number', default: 20,
    help: 'Each segment of a table with TTL enabled is swept for expired items once per this period, by one of the servers (0: this server does not sweep)',
  },
  { key: 'ttlPageSize', flag: 'ttl-page-size', kind: 'number', default: 100, help: 'Items the TTL sweep reads per Cassandra page' },
  {
    key: 'ttlSegments', flag: 'ttl-segments', kind: 'number', default: 4,
    help: 'Token-range segments of a table, the units of TTL sweep work servers share (fixed for a table when its TTL is enabled)',
  },
  {
    key: 'ttlChangeCooldownSeconds', flag: 'ttl-change-cooldown-seconds', kind: 'number', default: 3600,
    help: 'UpdateTimeToLive refuses a second change of a table\'s TTL within this period, as DynamoDB does (0: no cooldown)',
  },
  // Transactions (src/storage/transactions/).
  {
    key: 'transactionLockTimeoutMs', flag: 'transaction-lock-timeout-ms', kind: 'number', default: 5000,
    help: 'A transaction\'s write intents on items may be aborted by any reader or writer that meets them after this long (bounds how long a crashed server\'s transaction keeps items locked; every server should use the same value; at least 1)',
  },
  {
    key: 'transactionSweepMs', flag: 'transaction-sweep-ms', kind: 'number', default: 5000,
    help: 'Period of this server\'s sweep that finishes transactions whose server died, so their items are unlocked even if nobody reads them (0: this server does not sweep)',
  },
];

/** How a command reaches Cassandra: the options of serve that replicate, verify and keys take too. */
const CASSANDRA_FLAGS = [
  'contact-points', 'local-dc', 'keyspace', 'replication', 'username', 'password', 'cassandra-tls', 'cassandra-ca',
  'cassandra-tls-verify', 'read-consistency', 'consistent-read-consistency', 'write-consistency', 'serial-consistency',
  'cql-connections', 'embedded-address', 'embedded-port', 'embedded-data-dir', 'embedded-heap-mb',
];

/**
 * The option lists of a command that takes serve's options: `own` (its table) is listed first;
 * serve's Cassandra options are listed as shared, the rest of serve's are taken but not listed.
 */
export function withServeOptions(own: OptionSpec[], alsoListed: string[] = []): Pick<CommandSpec, 'options' | 'shared' | 'hidden'> {
  const taken = new Set(own.map((o) => o.flag));
  const rest = OPTIONS.filter((o) => !taken.has(o.flag));
  return {
    options: [...own, ...rest.filter((o) => alsoListed.includes(o.flag))],
    shared: rest.filter((o) => CASSANDRA_FLAGS.includes(o.flag) && !alsoListed.includes(o.flag)),
    hidden: rest.filter((o) => !CASSANDRA_FLAGS.includes(o.flag) && !alsoListed.includes(o.flag)),
  };
}

export const SERVE_COMMAND: CommandSpec = {
  name: 'serve',
  summary: 'Serves a DynamoDB-compatible HTTP API over Cassandra (an embedded local node unless --contact-points is given)',
  usage: ['serve [options]'],
  example: 'serve --port 8000 --contact-points 10.0.0.1,10.0.0.2 --local-dc dc1 --keyspace dynamo',
  options: OPTIONS,
  envPrefix: 'DC_',
};

/** DC_CONTACT_POINTS for --contact-points, and so on. */
export const envName = (flag: string) => 'DC_' + flag.toUpperCase().replace(/-/g, '_');

export function defaultConfig(): Config {
  return defaults(OPTIONS) as unknown as Config;
}

/**
 * Builds the configuration from argv (without the subcommand), the environment and an optional
 * `--config FILE` (or DC_CONFIG) JSON file whose keys are the flag names.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  return loadOptions(SERVE_COMMAND, argv, env).values as unknown as Config;
}

/** The option table as Markdown, for the README. */
export function optionsMarkdown(): string {
  return markdownOf(SERVE_COMMAND);
}
