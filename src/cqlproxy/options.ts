// The option tables of `cql-proxy`, `replay` and `read-report`: flags, DC_CQL_PROXY_* variables
// and a JSON file (--config or DC_CQL_PROXY_CONFIG), parsed by src/options.ts like serve's.
import type { CommandSpec, OptionSpec } from '../options.js';

const option = (flag: string, kind: OptionSpec['kind'], help: string, more: Partial<OptionSpec> = {}): OptionSpec => ({
  key: flag,
  flag,
  kind,
  help,
  ...more,
});

const HOSTS = 'HOST:PORT,...';

export const PROXY_OPTIONS: OptionSpec[] = [
  option('listen', 'string', 'Address the proxy listens on for CQL clients', { default: '0.0.0.0:29042', value: 'HOST:PORT' }),
  option('source', 'string', 'Source cluster: its contact points (reads and writes go here)', { value: HOSTS }),
  option('target', 'string', 'Target cluster: its contact points (writes are copied here)', { value: HOSTS }),
  option('wait', 'boolean', 'Answer after both clusters; false answers on the source and writes the target asynchronously', { default: true }),
  option('on-target-failure', 'string', 'With --wait: log the failed target write and answer with the source result, or fail the request', {
    default: 'log',
    choices: ['log', 'fail'],
  }),
  option('timeout-ms', 'number', 'Request timeout: a cluster that does not answer in time gives the client a WRITE_TIMEOUT/READ_TIMEOUT', { default: 10000 }),
  option('target-timeout-ms', 'number', 'Request timeout towards the target', { defaultText: 'the --timeout-ms value' }),
  option('mirror-reads', 'fraction', 'Fraction of reads also run on the target and compared (0..1)', { default: 0 }),
  option('failed-log', 'string', 'Durable log of writes the target missed (apply them with `replay`)', {
    default: 'cql-proxy-failed-writes.jsonl',
    value: 'FILE',
  }),
  option('read-report', 'string', 'JSON lines of mirrored reads that differed', { default: 'cql-proxy-read-report.jsonl', value: 'FILE' }),
  option('target-username', 'string', "Username on the target (default: the client's login goes to the source only)"),
  option('target-password', 'string', 'Password on the target (prefer the environment variable)'),
  option('tls-cert', 'string', 'PEM certificate file: serve clients over TLS', { value: 'FILE' }),
  option('tls-key', 'string', 'PEM private key file of --tls-cert', { value: 'FILE' }),
  option('tls-client-ca', 'string', 'PEM CA file: require client certificates signed by it', { value: 'FILE' }),
  option('source-tls', 'boolean', 'Connect to the source over TLS', { default: false }),
  option('source-ca', 'string', 'PEM CA file for the source (implies --source-tls)', { value: 'FILE' }),
  option('target-tls', 'boolean', 'Connect to the target over TLS', { default: false }),
  option('target-ca', 'string', 'PEM CA file for the target (implies --target-tls)', { value: 'FILE' }),
  option('backend-cert', 'string', 'PEM client certificate file presented to the clusters', { value: 'FILE' }),
  option('backend-key', 'string', 'PEM private key file of --backend-cert', { value: 'FILE' }),
  option('tls-verify', 'boolean', 'Verify the clusters\' certificates and host names', { default: true }),
  option('advertise', 'string', 'Address and port clients see in system.local', { value: 'HOST:PORT', defaultText: 'the address they connected to' }),
  option('datacenter', 'string', 'Datacenter name clients see', { value: 'NAME', defaultText: "the source's" }),
  option('metrics-port', 'number', 'Serve Prometheus GET /metrics on this port', { defaultText: 'no metrics listener' }),
];

const pick = (flags: string[], overrides: Record<string, Partial<OptionSpec>> = {}): OptionSpec[] =>
  flags.map((flag) => ({ ...PROXY_OPTIONS.find((o) => o.flag === flag)!, ...overrides[flag] }));

export const CQL_PROXY_COMMAND: CommandSpec = {
  name: 'cql-proxy',
  summary: 'CQL dual-write proxy for migrations between Cassandra clusters: writes go to both, reads to the source',
  usage: ['cql-proxy --source HOST:PORT[,...] --target HOST:PORT[,...] [options]'],
  example: 'cql-proxy --source 10.0.0.1:9042 --target 10.1.0.1:9042 --on-target-failure log --metrics-port 9465',
  options: PROXY_OPTIONS,
  envPrefix: 'DC_CQL_PROXY_',
};

export const REPLAY_COMMAND: CommandSpec = {
  name: 'replay',
  summary: 'Applies the writes the cql-proxy could not apply to the target (safe while the proxy runs)',
  usage: ['replay --target HOST:PORT[,...] [--failed-log FILE] [options]'],
  description:
    'Entries the target refuses are kept in FILE.rejected. Counter updates and list appends the target may\n' +
    'already have applied (it timed out) would count twice: they are set aside in FILE.uncertain unless\n' +
    '--apply-uncertain is given.',
  example: 'replay --target 10.1.0.1:9042 --failed-log cql-proxy-failed-writes.jsonl',
  options: [
    ...pick(['target', 'failed-log', 'target-username', 'target-password', 'target-tls', 'target-ca', 'backend-cert', 'backend-key', 'tls-verify']),
    ...pick(['timeout-ms'], { 'timeout-ms': { default: 30000, help: 'Timeout of each write to the target' } }),
    option('apply-uncertain', 'boolean', 'Also apply counter updates and list appends the target may already have applied', { default: false }),
  ],
  envPrefix: 'DC_CQL_PROXY_',
};

export const READ_REPORT_COMMAND: CommandSpec = {
  name: 'read-report',
  summary: 'Summarises the mirrored reads that differed between source and target, per table, with sample keys',
  usage: ['read-report [--read-report FILE] [--json]'],
  example: 'read-report --read-report cql-proxy-read-report.jsonl --json',
  options: [...pick(['read-report']), option('json', 'boolean', 'Print JSON', { default: false })],
  envPrefix: 'DC_CQL_PROXY_',
};
