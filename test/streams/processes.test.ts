// Several serve processes writing one stream, and a process killed (SIGKILL) between the item write
// and its record's commit, or between the record and the item write.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { CreateTableCommand, GetItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { freePort, serveArgs, spawnServe, waitForOutput, waitServing } from '../helpers/serve-process.js';
import { TEST_TRANSLATORS, sdkClient, startTestServer, type TestServer } from '../helpers/server.js';
import { bySequence, readStream, streamsClient } from './helpers.js';

/** A `serve` process of its own over the same keyspace; `env` may set a test pause point. */
async function serveProcess(keyspace: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; client: DynamoDBClient; output: () => string }> {
  const port = await freePort();
  const serve = spawnServe(serveArgs(port, keyspace), { env: { ...process.env, NODE_NO_WARNINGS: '1', ...env } });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitServing(endpoint, serve);
  return { child: serve.child, client: sdkClient(endpoint), output: serve.output };
}

async function createStreamTable(client: DynamoDBClient, name: string, translator: string): Promise<string> {
  const out = await client.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      Tags: [{ Key: 'dynamo-cassandra:translator', Value: translator }],
    }),
  );
  return out.TableDescription!.LatestStreamArn!;
}

for (const translator of TEST_TRANSLATORS) {
  describe(`streams across processes (${translator})`, () => {
    const keyspace = `t_streams_processes_${translator}`;
    let t: TestServer;
    let streams: DynamoDBStreamsClient;
    const children: ChildProcess[] = [];
    before(async () => {
      t = await startTestServer(keyspace);
      streams = streamsClient(t.endpoint);
    });
    after(async () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      streams.destroy();
      await t.close();
    });

    test('two serve processes updating the same items: every change once, in order per item', async () => {
      const arn = await createStreamTable(t.client, 'shared', translator);
      const other = await serveProcess(keyspace);
      children.push(other.child);
      const ITEMS = 6;
      const ROUNDS = 15;
      const writers = [t.client, other.client];
      await Promise.all(
        writers.flatMap((client, w) =>
          Array.from({ length: ITEMS }, async (_, i) => {
            for (let r = 0; r < ROUNDS; r++) {
              await client.send(
                new UpdateItemCommand({
                  TableName: 'shared',
                  Key: { pk: { S: `item${i}` } },
                  UpdateExpression: 'ADD n :one SET #w = :w',
                  ExpressionAttributeNames: { '#w': `w${w}` },
                  ExpressionAttributeValues: { ':one': { N: '1' }, ':w': { N: String(r) } },
                }),
              );
            }
          }),
        ),
      );
      other.client.destroy();
      other.child.kill('SIGTERM');
      const total = ITEMS * ROUNDS * writers.length;
      const records = bySequence(await readStream(streams, arn, total, 20_000));
      assert.equal(records.length, total, 'one record per change');
      for (let i = 0; i < ITEMS; i++) {
        const mine = records.filter((r) => r.dynamodb!.Keys!.pk!.S === `item${i}`);
        assert.deepEqual(
          mine.map((r) => Number(r.dynamodb!.NewImage!.n!.N)),
          Array.from({ length: ROUNDS * writers.length }, (_, k) => k + 1),
          `item${i}: the counter's records in order`,
        );
        assert.equal(mine[0]!.eventName, 'INSERT');
        for (let k = 1; k < mine.length; k++) {
          assert.equal(mine[k]!.eventName, 'MODIFY');
          assert.deepEqual(mine[k]!.dynamodb!.OldImage, mine[k - 1]!.dynamodb!.NewImage, 'each old image is the previous new image');
        }
      }
    });

    test('SIGKILL after the item write: the record is still delivered; before it: no record is invented', async () => {
      const arn = await createStreamTable(t.client, 'killed', translator);
      await t.client.send(new PutItemCommand({ TableName: 'killed', Item: { pk: { S: 'before' } } }));
      for (const [point, pk] of [['after-item', 'landed'], ['before-item', 'never']] as const) {
        const victim = await serveProcess(keyspace, { DC_TEST_STREAM_PAUSE: point });
        children.push(victim.child);
        void victim.client.send(new PutItemCommand({ TableName: 'killed', Item: { pk: { S: pk }, v: { S: point } } })).catch(() => undefined);
        await waitForOutput(victim, `stream-pause: ${point}`);
        victim.child.kill('SIGKILL');
        victim.client.destroy();
      }
      await t.client.send(new PutItemCommand({ TableName: 'killed', Item: { pk: { S: 'after' } } }));
      const landed = await t.client.send(new GetItemCommand({ TableName: 'killed', Key: { pk: { S: 'landed' } }, ConsistentRead: true }));
      assert.deepEqual(landed.Item, { pk: { S: 'landed' }, v: { S: 'after-item' } });
      const never = await t.client.send(new GetItemCommand({ TableName: 'killed', Key: { pk: { S: 'never' } }, ConsistentRead: true }));
      assert.equal(never.Item, undefined);
      // Pending records are decided by readers once older than 10 s.
      const records = await readStream(streams, arn, 3, 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      const all = await readStream(streams, arn, 100, 500);
      assert.deepEqual(new Set(all.map((r) => r.dynamodb!.Keys!.pk!.S)), new Set(['before', 'landed', 'after']));
      assert.equal(all.length, 3);
      assert.ok(records.length >= 3);
    });
  });
}
