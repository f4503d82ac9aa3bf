// `npm test -- test/unit` runs the unit tests alone without starting a Cassandra node.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const runner = join(dirname(fileURLToPath(import.meta.url)), '..', 'run.js');

test('selecting only unit tests starts no Cassandra node', () => {
  const env = { ...process.env };
  delete env.DC_TEST_CONTACT_POINTS;
  delete env.NODE_TEST_CONTEXT; // else the inner test runner reports to ours instead of printing
  // An address no node could start on: if the runner tried, the run would fail.
  env.DC_TEST_NODE_ADDRESS = '192.0.2.1';
  const run = spawnSync(process.execPath, [runner, 'test/unit/numbers'], { env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr + run.stdout);
  assert.doesNotMatch(run.stderr, /\[test-node\]/);
  assert.match(run.stdout, /# pass [1-9]/);
});

test('a filter that selects nothing fails instead of running everything', () => {
  const run = spawnSync(process.execPath, [runner, 'no-such-test-file'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /no test file matches no-such-test-file/);
});
