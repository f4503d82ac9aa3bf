// The `dynamo-cassandra serve` binary as users run it: a separate process with two HTTP workers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, DeleteTableCommand, GetItemCommand, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { contactPoints, sdkClient } from '../helpers/server.js';
import { dropKeyspace, freePort, serveArgs, spawnServe, stopServe, waitServing } from '../helpers/serve-process.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('serve --workers 2: both workers answer, /metrics sums them, SIGTERM stops cleanly', async () => {
  await dropKeyspace('t_cli_serve');
  const port = await freePort();
  const serve = spawnServe(serveArgs(port, 't_cli_serve', '--workers', '2', '--log-level', 'warn'));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitServing(endpoint, serve);
    const client = sdkClient(endpoint);
    await client.send(new CreateTableCommand({ TableName: 'cli', KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
    await client.send(new PutItemCommand({ TableName: 'cli', Item: { k: { S: 'a' }, v: { N: '1' } } }));
    // Fresh connections spread over the workers.
    for (let i = 0; i < 20; i++) {
      const c = sdkClient(endpoint);
      const got = await c.send(new GetItemCommand({ TableName: 'cli', Key: { k: { S: 'a' } } }));
      assert.equal(got.Item?.v.N, '1');
      await c.send(new ListTablesCommand({}));
      c.destroy();
    }
    const metrics = await (await fetch(`${endpoint}/metrics`)).text();
    const m = /dynamodb_requests_total\{action="GetItem",table="cli",status="200"\} (\d+)/.exec(metrics);
    assert.equal(m?.[1], '20', 'the metrics of both workers, summed');
    await client.send(new DeleteTableCommand({ TableName: 'cli' }));
    client.destroy();
  } finally {
    const code = await stopServe(serve);
    await dropKeyspace('t_cli_serve');
    assert.equal(code, 0, `serve exit: ${serve.output()}`);
  }
});

test('npm start under a process manager: SIGTERM to npm stops the server (no orphan left serving)', async () => {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const answers = async () => fetch(endpoint).then((r) => r.ok, () => false);
  const args = ['start', '--', '--port', String(port), '--contact-points', contactPoints().join(','), '--local-dc', process.env.DC_TEST_LOCAL_DC ?? 'datacenter1', '--keyspace', 't_npm_start', '--log-level', 'warn'];
  // Under npm, npm_execpath names npm's own script; run it with this node as npm itself would.
  const npm = process.env.npm_execpath
    ? spawn(process.execPath, [process.env.npm_execpath, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('npm', args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  npm.stdout!.on('data', (d) => (output += d));
  npm.stderr!.on('data', (d) => (output += d));
  try {
    for (let i = 0; !(await answers()); i++) {
      assert.ok(i < 300 && npm.exitCode === null, `npm start did not serve: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const exited = new Promise((r) => npm.once('exit', r));
    npm.kill('SIGTERM');
    await exited;
    let stillServing = true;
    for (let i = 0; i < 150 && stillServing; i++) {
      await new Promise((r) => setTimeout(r, 100));
      stillServing = await answers();
    }
    assert.equal(stillServing, false, `the server kept serving after npm was stopped: ${output}`);
  } finally {
    if (npm.exitCode === null) npm.kill('SIGKILL');
    await dropKeyspace('t_npm_start');
  }
});
