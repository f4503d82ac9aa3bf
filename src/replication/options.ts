// The option tables of `replicate`, `replicate status` and `verify`: their own options, serve's
// replication options under short names, and serve's Cassandra options (src/config.ts).
import { withServeOptions } from '../config.js';
import type { CommandSpec } from '../options.js';

/** Short forms of serve's --replicate-* options, as these commands take them. */
const SHORT_FORMS: Record<string, string> = {
  table: 'replicate-tables',
  'source-endpoint': 'replicate-source-endpoint',
  region: 'replicate-region',
  segments: 'replicate-segments',
  concurrency: 'replicate-concurrency',
  'lease-seconds': 'replicate-lease-seconds',
  'metrics-port': 'replicate-metrics-port',
  target: 'replicate-target',
  'target-endpoint': 'replicate-target-endpoint',
  'target-region': 'replicate-target-region',
  'ignore-replicated': 'replicate-ignore-replicated',
};

const json = { key: 'json', flag: 'json', kind: 'boolean', default: false, help: 'Print JSON', env: 'DC_REPLICATE_JSON' } as const;

export const REPLICATE_COMMAND: CommandSpec = {
  name: 'replicate',
  summary: 'Copies DynamoDB tables into Cassandra or another DynamoDB-API endpoint (snapshot, then the stream) and follows their streams until stopped',
  usage: [
    'replicate --table NAME [--table SOURCE=TARGET ...] [--source-endpoint URL] [--region R] [options]',
    'replicate status [--table NAME ...] [--json]',
  ],
  description:
    'Source credentials and region come from the standard AWS chain. The source table needs a stream with new\n' +
    'images (NEW_IMAGE or NEW_AND_OLD_IMAGES). "replicate status --help" for the positions and lag of each table.\n' +
    'With --target-endpoint the replicas are tables of that DynamoDB-API endpoint; checkpoints and leases stay in Cassandra.',
  example: 'replicate --table orders --table users=users_copy --source-endpoint http://localhost:8001 --contact-points 10.0.0.1',
  ...withServeOptions(
    [
      {
        key: 'resnapshot', flag: 'resnapshot', kind: 'boolean', default: false, env: 'DC_REPLICATE_RESNAPSHOT',
        help: 'Empty the targets and copy them anew (after a stream was trimmed or replaced): a one-off flag',
      },
    ],
    ['replicate-tables', 'replicate-source-endpoint', 'replicate-region', 'replicate-segments', 'replicate-concurrency',
      'replicate-lease-seconds', 'replicate-write-isolation', 'replicate-metrics-port', 'replicate-target', 'replicate-target-endpoint',
      'replicate-target-region', 'replicate-ignore-replicated', 'host'],
  ),
  envPrefix: 'DC_',
  aliases: SHORT_FORMS,
};

export const REPLICATE_STATUS_COMMAND: CommandSpec = {
  name: 'replicate status',
  summary: 'Shows the phase, stream positions and lag of replicated tables, from the checkpoints in Cassandra',
  usage: ['replicate status [--table NAME ...] [--json]'],
  example: 'replicate status --table orders --json',
  ...withServeOptions([json], ['replicate-tables', 'replicate-target', 'replicate-target-endpoint', 'replicate-target-region']),
  envPrefix: 'DC_',
  aliases: SHORT_FORMS,
};

export const VERIFY_COMMAND: CommandSpec = {
  name: 'verify',
  summary: 'Compares DynamoDB tables with their replicas item by item (exit code 0 only when identical)',
  usage: ['verify --table NAME [--table SOURCE=TARGET ...] [--source-endpoint URL] [--region R] [options]'],
  example: 'verify --table orders --source-endpoint http://localhost:8001 --max-report 50',
  ...withServeOptions(
    [
      { ...json, env: 'DC_VERIFY_JSON' },
      {
        key: 'maxReport', flag: 'max-report', kind: 'number', default: 20, env: 'DC_VERIFY_MAX_REPORT',
        help: 'Most missing, extra and different items listed per table',
      },
    ],
    ['replicate-tables', 'replicate-source-endpoint', 'replicate-region', 'replicate-segments', 'replicate-target', 'replicate-target-endpoint',
      'replicate-target-region'],
  ),
  envPrefix: 'DC_',
  aliases: SHORT_FORMS,
};
