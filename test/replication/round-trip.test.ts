// The round trip DynamoDB Local → dynamo-cassandra → a second DynamoDB Local, with writes during
// the tail (a file of its own: it takes minutes on a busy machine).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { apiTarget } from '../../src/replication/api-target.js';
import { awsSource, type SourceApi } from '../../src/replication/source.js';
import { ReplicationState } from '../../src/storage/state/replication-state.js';
import { verify } from '../../src/replication/verify.js';
import { startApiEnds, type ApiEnds, apiReplicator, endpointOptions, tableOf, waitApiIdentical } from './api-helpers.js';
import { createSourceTable, fill, replicator, startWriters, waitFor, waitIdentical, type Env } from './helpers.js';

describe('round trip between DynamoDB-API endpoints', () => {
  let ends: ApiEnds;
  let env: Env, secondDb: DynamoDBClient, secondApi: SourceApi, ours: SourceApi, toSecond: ReturnType<typeof apiTarget>;
  let second: { endpoint: string };
  before(async () => {
    ends = await startApiEnds('test_repl_trip');
    ({ env, second, secondDb, secondApi, ours, toSecond } = ends);
  });
  after(() => ends?.close());

  test('round trip DynamoDB Local → dynamo-cassandra → DynamoDB Local: verify finds no difference, with writes during the tail', async () => {
    await createSourceTable(env.db, 'trip', { range: true });
    await fill(env.db, 'trip', 200, true);
    // The middle table carries a stream of its own, which the second leg reads.
    await env.server.client.send(tableOf('trip', 'NEW_AND_OLD_IMAGES', true));
    const writers = startWriters(env.db, 'trip', 250, 1, true);
    const first = replicator(env, { tables: [{ source: 'trip', target: 'trip' }], leaseMs: 10_000 });
    const secondLeg = apiReplicator(env, ours, toSecond, 'trip');
    await first.start();
    await secondLeg.start();
    try {
      const state = new ReplicationState(env.ctx.session);
      await waitFor('both snapshots to finish', async () =>
        (await state.getTable('trip'))?.phase === 'streaming' && (await state.getTable(toSecond.scope + 'trip'))?.phase === 'streaming',
        300_000);
      const atTail = writers.ops();
      await waitFor('writers to change items during the tail', async () => writers.ops() >= atTail + 50, 120_000);
      await writers.stop();
      const middle = await waitIdentical(env, 'trip', 'trip', 180_000);
      assert.ok(middle.sourceItems > 150, `${middle.sourceItems} items`);
      // The whole trip: the first DynamoDB Local against the second.
      await waitApiIdentical(env, env.source, secondApi, 'trip');
      // Settled: the scans alone must agree now, without re-reading suspects by key.
      const report = await verify({ ctx: env.ctx, source: env.source, sourceTable: 'trip', target: 'trip', targetApi: secondApi, segments: 2, recheck: false });
      assert.ok(report.identical, JSON.stringify(report).slice(0, 2000));
      assert.equal(report.targetItems, report.sourceItems);
      assert.ok(report.sourceItems > 150);
      assert.equal(first.failures.size + secondLeg.failures.size, 0);
    } finally {
      await writers.stop();
      await Promise.all([first.stop(), secondLeg.stop()]);
    }
  });

});
