// GET /metrics stays bounded and well-formed: only existing tables get a label of their own (up
// to --metrics-max-tables), a flood of requests for random table names leaves the series count
// where it was, a deleted table's series disappear, and promtool accepts the whole endpoint.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DeleteTableCommand, DescribeTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createPkTable, errorOf, rawRequest, startTestServer, type TestServer } from '../helpers/server.js';

const metricsOf = async (endpoint: string) => (await fetch(`${endpoint}/metrics`)).text();
const seriesLines = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

/** The values of the `table` label across the API's series. */
function tableLabels(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of seriesLines(text)) {
    const m = /^dynamodb_[a-z_]+\{[^}]*table="([^"]*)"/.exec(line);
    if (m) out.add(m[1]);
  }
  return out;
}

describe('bounded /metrics', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('test_metrics_bounded', { metricsMaxTables: 2 });
    for (const name of ['m-one', 'm-two', 'm-three']) await createPkTable(t.client, name);
  });
  after(() => t?.close());

  test('a flood of requests for random table names adds no series', async () => {
    // Some traffic on a real table first, so the series of every kind exist.
    await t.client.send(new PutItemCommand({ TableName: 'm-one', Item: { pk: { S: 'a' } } }));
    await t.client.send(new GetItemCommand({ TableName: 'm-one', Key: { pk: { S: 'a' } } }));
    const random = () => `nope-${randomBytes(6).toString('hex')}`;
    const flood = async () => {
      for (let i = 0; i < 20; i++) {
        await Promise.all([
          errorOf(() => t.client.send(new GetItemCommand({ TableName: random(), Key: { pk: { S: 'a' } } }))),
          errorOf(() => t.client.send(new DescribeTableCommand({ TableName: random() }))),
          rawRequest(t.endpoint, 'PutItem', { TableName: random(), Item: { pk: { N: 'not a number' } } }),
          rawRequest(t.endpoint, 'Scan', { TableName: { not: 'a string' } }),
        ]);
      }
    };
    await flood();
    const before = seriesLines(await metricsOf(t.endpoint)).length;
    await flood();
    const text = await metricsOf(t.endpoint);
    assert.equal(seriesLines(text).length, before, 'the second flood of 80 new names added series');
    // The tables CreateTable made took the two places.
    assert.deepEqual([...tableLabels(text)].sort(), ['m-one', 'm-two', 'other']);
    assert.match(text, /dynamodb_errors_total\{action="GetItem",table="other",type="ResourceNotFoundException"\} 40\n/);
  });

  test('at most --metrics-max-tables tables get their own label', async () => {
    for (const name of ['m-one', 'm-two', 'm-three']) await t.client.send(new DescribeTableCommand({ TableName: name }));
    const text = await metricsOf(t.endpoint);
    assert.deepEqual([...tableLabels(text)].sort(), ['m-one', 'm-two', 'other']);
    assert.match(text, /dynamodb_requests_total\{action="DescribeTable",table="other",status="200"\} 1\n/);
  });

  test("a deleted table's series disappear and free its place", async () => {
    await t.client.send(new DeleteTableCommand({ TableName: 'm-two' }));
    let labels = tableLabels(await metricsOf(t.endpoint));
    assert.equal(labels.has('m-two'), false, 'm-two still has series');
    // Its place goes to the next table that answers.
    await t.client.send(new DescribeTableCommand({ TableName: 'm-three' }));
    labels = tableLabels(await metricsOf(t.endpoint));
    assert.deepEqual([...labels].sort(), ['m-one', 'm-three', 'other']);
  });

  test('a table deleted by another server loses its series at the first ResourceNotFoundException', async () => {
    const other = await startTestServer('test_metrics_bounded');
    try {
      await other.client.send(new DeleteTableCommand({ TableName: 'm-three' }));
    } finally {
      other.client.destroy();
      await other.server.close(); // not other.close(): the keyspace is t's
    }
    // This server's catalog cache may still hold the table for a moment.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const e = await errorOf(() => t.client.send(new DescribeTableCommand({ TableName: 'm-three' }))).catch(() => undefined);
      if (e?.name === 'ResourceNotFoundException') break;
      assert.ok(Date.now() < deadline, 'm-three never became unknown');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(tableLabels(await metricsOf(t.endpoint)).has('m-three'), false);
  });

  test('promtool check metrics accepts the whole endpoint', async (ctx) => {
    if (spawnSync('promtool', ['--version']).error) {
      ctx.skip('promtool is not installed (Debian: apt-get install prometheus)');
      return;
    }
    const text = await metricsOf(t.endpoint);
    assert.match(text, /process_cpu_seconds_total/); // the Node runtime metrics are there
    assert.doesNotMatch(text, /nodejs_active_handles_total/);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  });
});
