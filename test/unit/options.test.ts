// The one option mechanism (src/options.ts): precedence, value forms, per-command variables and
// files, and every command's generated --help.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMAND_SPECS } from '../../src/command-specs.js';
import { loadConfig } from '../../src/config.js';
import { cqlProxyOptionsFromEnvironment } from '../../src/cqlproxy/commands.js';
import { CQL_PROXY_COMMAND } from '../../src/cqlproxy/options.js';
import { ConfigError, envName, helpText, loadOptions } from '../../src/options.js';
import { KEYS_COMMAND } from '../../src/auth/options.js';
import { REPLICATE_COMMAND } from '../../src/replication/options.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli.js');
const jsonFile = (content: unknown) => {
  const file = join(mkdtempSync(join(tmpdir(), 'dc-options-')), 'config.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
};

test('precedence: flag over environment over file over default', () => {
  const file = jsonFile({ port: 8001, keyspace: 'from_file', 'local-dc': 'dc_file' });
  const env = { DC_CONFIG: file, DC_PORT: '8002', DC_KEYSPACE: 'from_env' };
  const config = loadConfig(['--port', '8003'], env);
  assert.equal(config.port, 8003);
  assert.equal(config.keyspace, 'from_env');
  assert.equal(config.localDc, 'dc_file');
  assert.equal(config.region, 'us-east-1');
});

test('booleans: --flag, --no-flag, --flag false, --flag=true; junk is refused', () => {
  assert.equal(loadConfig(['--cql-coalesce', 'false'], {}).cqlCoalesce, false);
  assert.equal(loadConfig(['--no-cql-coalesce'], {}).cqlCoalesce, false);
  assert.equal(loadConfig(['--cassandra-tls'], {}).cassandraTls, true);
  assert.equal(loadConfig(['--cassandra-tls=true'], {}).cassandraTls, true);
  assert.equal(loadConfig([], { DC_CASSANDRA_TLS_VERIFY: 'no' }).cassandraTlsVerify, false);
  assert.throws(() => loadConfig(['--cassandra-tls=maybe'], {}), ConfigError);
  assert.throws(() => loadConfig([], { DC_CQL_COALESCE: 'maybe' }), /invalid value "maybe" for cql-coalesce/);
});

test('bad values and unknown flags or file keys are ConfigErrors naming them', () => {
  assert.throws(() => loadConfig(['--port', 'x'], {}), /--port: invalid value "x" for port/);
  assert.throws(() => loadConfig(['--translator', 'rows'], {}), /translator must be one of document, cells \(got rows\)/);
  assert.throws(() => loadConfig(['--no-such-flag'], {}), ConfigError);
  assert.throws(() => loadConfig([], { DC_CONFIG: jsonFile({ nope: 1 }) }), /unknown option nope/);
});

test("replicate: short forms of serve's options, --table repeatable and comma-separated, the last of a flag wins", () => {
  const { values } = loadOptions(REPLICATE_COMMAND, ['--table', 'a,b', '--table', 'c=d', '--region', 'eu-west-1', '--segments', '2', '--replicate-segments', '3', '--resnapshot'], {
    DC_REPLICATE_TABLES: 'ignored',
  });
  assert.deepEqual(values.replicateTables, ['a', 'b', 'c=d']);
  assert.equal(values.replicateRegion, 'eu-west-1');
  assert.equal(values.region, 'us-east-1', "--region is the source's region here, not serve's ARN region");
  assert.equal(values.replicateSegments, 3);
  assert.equal(values.resnapshot, true);
  assert.equal(values.keyspace, 'dynamo');
});

test('keys: --allow keeps commas inside a rule and repeats; positionals pass through', () => {
  const { values, positionals } = loadOptions(KEYS_COMMAND, ['--allow', 'read,write:app.*', '--allow', 'GetItem:orders', '--account-id', '123', '--keyspace', 'k'], {});
  assert.deepEqual(values.allow, ['read,write:app.*', 'GetItem:orders']);
  assert.equal(values.keyAccountId, '123');
  assert.equal(values.keyspace, 'k');
  assert.deepEqual(loadOptions(KEYS_COMMAND, ['revoke', 'AKID'], {}).positionals, ['revoke', 'AKID']);
  assert.deepEqual(positionals, []);
});

test('cql-proxy: DC_CQL_PROXY_* variables and its own file; serve reads the same variables', () => {
  assert.equal(envName(CQL_PROXY_COMMAND, 'on-target-failure'), 'DC_CQL_PROXY_ON_TARGET_FAILURE');
  const file = jsonFile({ 'mirror-reads': 0.25, 'timeout-ms': 5000 });
  const opts = cqlProxyOptionsFromEnvironment({ DC_CQL_PROXY_CONFIG: file, DC_CQL_PROXY_ON_TARGET_FAILURE: 'fail', DC_CQL_PROXY_WAIT: 'false' });
  assert.equal(opts.onTargetFailure, 'fail');
  assert.equal(opts.wait, false);
  assert.equal(opts.mirrorReads, 0.25);
  assert.equal(opts.requestTimeoutMs, 5000);
  assert.equal(opts.tlsVerify, true);
  assert.equal(loadOptions(CQL_PROXY_COMMAND, ['--wait', 'false', '--tls-verify', 'false'], {}).values.wait, false);
  assert.throws(() => loadOptions(CQL_PROXY_COMMAND, ['--mirror-reads', '2'], {}), /invalid value "2" for mirror-reads/);
  assert.throws(() => loadOptions(CQL_PROXY_COMMAND, [], { DC_CQL_PROXY_ON_TARGET_FAILURE: 'panic' }), /must be one of log, fail/);
});

for (const command of COMMAND_SPECS) {
  test(`${command.name} --help: usage, every option with its default and variable, and an example`, () => {
    const run = spawnSync(process.execPath, [cli, ...command.name.split(' '), '--help'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const out = run.stdout;
    assert.equal(out.trim(), helpText(command).trim());
    assert.match(out, new RegExp(`^Usage: dynamo-cassandra ${command.name} `));
    for (const o of [...command.options, ...(command.shared ?? [])]) {
      const entry = out.slice(out.indexOf(`  --${o.flag}`));
      assert.ok(out.includes(`  --${o.flag}`), `--${o.flag} missing`);
      const defaultLine = entry.split('\n')[2] ?? '';
      assert.match(defaultLine, /^ {6}default: .+; environment: DC_[A-Z_]+$/, `--${o.flag}: ${defaultLine}`);
      if (o.default !== undefined && !(Array.isArray(o.default) && o.default.length === 0)) {
        assert.ok(defaultLine.includes(`default: ${Array.isArray(o.default) ? o.default.join(',') : String(o.default)};`), defaultLine);
      }
    }
    assert.match(out, /\nExample:\n {2}dynamo-cassandra \S/);
  });
}
