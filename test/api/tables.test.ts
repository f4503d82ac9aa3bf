// Control plane and wire protocol, through the AWS SDK v3 and raw HTTP, over real Cassandra.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crc32, gzipSync } from 'node:zlib';
import {
  BatchWriteItemCommand, CreateTableCommand, DeleteTableCommand, DescribeEndpointsCommand, DescribeLimitsCommand, DescribeTableCommand,
  GetItemCommand, ListTablesCommand, ListTagsOfResourceCommand, PutItemCommand, TagResourceCommand,
  UntagResourceCommand, UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import { EXACT_STATS_ITEMS } from '../../src/actions/table-description.js';
import { itemSize } from '../../src/dynamo/attribute-values.js';
import { TEST_TRANSLATORS, errorOf, rawRequest, startTestServer, type TestServer } from '../helpers/server.js';

for (const translator of TEST_TRANSLATORS) {
  describe(`tables (${translator})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(`t_tables_${translator}`, { translator });
    });
    after(() => t?.close());

    const create = (name: string, extra: Record<string, unknown> = {}) =>
      t.client.send(
        new CreateTableCommand({
          TableName: name,
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
          ...extra,
        }),
      );

    test('CreateTable, DescribeTable, DeleteTable lifecycle', async () => {
      const created = await t.client.send(
        new CreateTableCommand({
          TableName: 'Lifecycle',
          KeySchema: [
            { AttributeName: 'id', KeyType: 'HASH' },
            { AttributeName: 'ts', KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: 'id', AttributeType: 'B' },
            { AttributeName: 'ts', AttributeType: 'N' },
          ],
          ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 7 },
          Tags: [{ Key: 'team', Value: 'core' }],
        }),
      );
      const d = created.TableDescription!;
      assert.equal(d.TableName, 'Lifecycle');
      assert.equal(d.TableStatus, 'CREATING');
      assert.equal(d.TableArn, 'arn:aws:dynamodb:us-east-1:000000000000:table/Lifecycle');
      assert.match(d.TableId!, /^[0-9a-f-]{36}$/);
      assert.deepEqual(d.KeySchema, [
        { AttributeName: 'id', KeyType: 'HASH' },
        { AttributeName: 'ts', KeyType: 'RANGE' },
      ]);
      assert.equal(d.ProvisionedThroughput?.ReadCapacityUnits, 5);
      assert.equal(d.ProvisionedThroughput?.WriteCapacityUnits, 7);
      assert.ok(d.CreationDateTime instanceof Date);
      assert.ok(Math.abs(d.CreationDateTime!.getTime() - Date.now()) < 60_000);

      const described = (await t.client.send(new DescribeTableCommand({ TableName: 'Lifecycle' }))).Table!;
      assert.equal(described.TableStatus, 'ACTIVE');
      assert.equal(described.TableId, d.TableId);
      assert.equal(typeof described.ItemCount, 'number');
      assert.equal(typeof described.TableSizeBytes, 'number');
      assert.deepEqual(described.AttributeDefinitions, [
        { AttributeName: 'id', AttributeType: 'B' },
        { AttributeName: 'ts', AttributeType: 'N' },
      ]);

      const dup = await errorOf(() =>
        t.client.send(
          new CreateTableCommand({
            TableName: 'Lifecycle',
            KeySchema: [{ AttributeName: 'x', KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: 'x', AttributeType: 'S' }],
            BillingMode: 'PAY_PER_REQUEST',
          }),
        ),
      );
      assert.equal(dup.name, 'ResourceInUseException');

      const deleted = await t.client.send(new DeleteTableCommand({ TableName: 'Lifecycle' }));
      assert.equal(deleted.TableDescription?.TableStatus, 'DELETING');
      const gone = await errorOf(() => t.client.send(new DescribeTableCommand({ TableName: 'Lifecycle' })));
      assert.equal(gone.name, 'ResourceNotFoundException');
      const itemGone = await errorOf(() =>
        t.client.send(new GetItemCommand({ TableName: 'Lifecycle', Key: { id: { B: Buffer.from('a') }, ts: { N: '1' } } })),
      );
      assert.equal(itemGone.name, 'ResourceNotFoundException');
      // The name is free again and the new table starts empty.
      await t.client.send(
        new CreateTableCommand({
          TableName: 'Lifecycle',
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      const again = await t.client.send(new DescribeTableCommand({ TableName: 'Lifecycle' }));
      assert.notEqual(again.Table?.TableId, d.TableId);
      assert.equal(again.Table?.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST');
    });

    test('every legal DynamoDB table name works, however long or odd', async () => {
      const names = ['a.b', 'x-y_z.0', 'A'.repeat(255), 'Same-Prefix.' + 'q'.repeat(60), 'same_prefix_' + 'q'.repeat(60)];
      for (const name of names) {
        await create(name);
        await t.client.send(new PutItemCommand({ TableName: name, Item: { pk: { S: 'k' }, v: { S: name } } }));
      }
      for (const name of names) {
        const got = await t.client.send(new GetItemCommand({ TableName: name, Key: { pk: { S: 'k' } } }));
        assert.equal(got.Item?.v?.S, name);
      }
      for (const name of names) await t.client.send(new DeleteTableCommand({ TableName: name }));
    });

    test('ListTables sorts and pages', async () => {
      const names = ['list-c', 'list-a', 'list-b', 'list-d'];
      await Promise.all(names.map((n) => create(n)));
      const all = await t.client.send(new ListTablesCommand({}));
      const ours = all.TableNames!.filter((n) => n.startsWith('list-'));
      assert.deepEqual(ours, ['list-a', 'list-b', 'list-c', 'list-d']);
      const seen: string[] = [];
      let start: string | undefined;
      do {
        const page = await t.client.send(new ListTablesCommand({ Limit: 3, ExclusiveStartTableName: start }));
        assert.ok(page.TableNames!.length <= 3);
        seen.push(...page.TableNames!);
        start = page.LastEvaluatedTableName;
      } while (start);
      assert.deepEqual(seen, [...all.TableNames!]);
      const after = await t.client.send(new ListTablesCommand({ ExclusiveStartTableName: 'list-b' }));
      assert.deepEqual(after.TableNames!.filter((n) => n.startsWith('list-')), ['list-c', 'list-d']);
      await Promise.all(names.map((n) => t.client.send(new DeleteTableCommand({ TableName: n }))));
    });

    test('UpdateTable changes billing and throughput; DescribeTable reflects it', async () => {
      await create('updatable');
      const upd = await t.client.send(
        new UpdateTableCommand({
          TableName: 'updatable',
          BillingMode: 'PROVISIONED',
          ProvisionedThroughput: { ReadCapacityUnits: 3, WriteCapacityUnits: 4 },
        }),
      );
      assert.equal(upd.TableDescription?.ProvisionedThroughput?.ReadCapacityUnits, 3);
      const d = (await t.client.send(new DescribeTableCommand({ TableName: 'updatable' }))).Table!;
      assert.equal(d.ProvisionedThroughput?.WriteCapacityUnits, 4);
      assert.equal(d.BillingModeSummary, undefined);
      const same = await errorOf(() =>
        t.client.send(
          new UpdateTableCommand({ TableName: 'updatable', ProvisionedThroughput: { ReadCapacityUnits: 3, WriteCapacityUnits: 4 } }),
        ),
      );
      assert.equal(same.name, 'ValidationException');
      const nothing = await errorOf(() => t.client.send(new UpdateTableCommand({ TableName: 'updatable' })));
      assert.equal(nothing.name, 'ValidationException');
      await t.client.send(new UpdateTableCommand({ TableName: 'updatable', DeletionProtectionEnabled: true }));
      const protectedErr = await errorOf(() => t.client.send(new DeleteTableCommand({ TableName: 'updatable' })));
      assert.equal(protectedErr.name, 'ValidationException');
      await t.client.send(new UpdateTableCommand({ TableName: 'updatable', DeletionProtectionEnabled: false }));
      await t.client.send(new DeleteTableCommand({ TableName: 'updatable' }));
    });

    test('tags: add, list, remove; the translator tag is fixed', async () => {
      const arn = (await create('tagged')).TableDescription!.TableArn!;
      await t.client.send(new TagResourceCommand({ ResourceArn: arn, Tags: [{ Key: 'env', Value: 'test' }, { Key: 'owner', Value: 'me' }] }));
      let tags = (await t.client.send(new ListTagsOfResourceCommand({ ResourceArn: arn }))).Tags!;
      assert.deepEqual(Object.fromEntries(tags.map((x) => [x.Key, x.Value])), { env: 'test', owner: 'me' });
      await t.client.send(new UntagResourceCommand({ ResourceArn: arn, TagKeys: ['owner'] }));
      tags = (await t.client.send(new ListTagsOfResourceCommand({ ResourceArn: arn }))).Tags!;
      assert.deepEqual(tags, [{ Key: 'env', Value: 'test' }]);
      const fixed = await errorOf(() =>
        t.client.send(new TagResourceCommand({ ResourceArn: arn, Tags: [{ Key: 'dynamo-cassandra:translator', Value: 'cells' }] })),
      );
      assert.equal(fixed.name, 'ValidationException');
      const missing = await errorOf(() =>
        t.client.send(new ListTagsOfResourceCommand({ ResourceArn: arn.replace('tagged', 'nothere') })),
      );
      assert.equal(missing.name, 'ResourceNotFoundException');
      await t.client.send(new DeleteTableCommand({ TableName: 'tagged' }));
    });

    test('a table tag picks the translator and its CQL layout', async () => {
      const other = translator === 'document' ? 'cells' : 'document';
      await create('layout-choice', { Tags: [{ Key: 'dynamo-cassandra:translator', Value: other }] });
      const rs = await t.server.session.client.execute(
        'SELECT column_name FROM system_schema.columns WHERE keyspace_name = ?',
        [t.config.keyspace],
      );
      const columns = new Set(rs.rows.map((r) => r.get('column_name')));
      assert.ok(columns.has(other === 'cells' ? 'attrs' : 'item'), `expected the ${other} layout, got ${[...columns]}`);
      await t.client.send(new PutItemCommand({ TableName: 'layout-choice', Item: { pk: { S: 'a' }, n: { N: '1' } } }));
      const got = await t.client.send(new GetItemCommand({ TableName: 'layout-choice', Key: { pk: { S: 'a' } } }));
      assert.deepEqual(got.Item, { pk: { S: 'a' }, n: { N: '1' } });
      const bad = await errorOf(() => create('layout-bad', { Tags: [{ Key: 'dynamo-cassandra:translator', Value: 'nope' }] }));
      assert.equal(bad.name, 'ValidationException');
      await t.client.send(new DeleteTableCommand({ TableName: 'layout-choice' }));
    });

    test('CreateTable validation errors', async () => {
      const cases: [string, Record<string, unknown>][] = [
        ['bad name', { TableName: 'a!' }],
        ['two hash keys', {
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'x', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'x', AttributeType: 'S' }],
        }],
        ['range first', {
          KeySchema: [{ AttributeName: 'pk', KeyType: 'RANGE' }],
        }],
        ['undefined key attribute', { AttributeDefinitions: [{ AttributeName: 'other', AttributeType: 'S' }] }],
        ['extra attribute definition', {
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'x', AttributeType: 'S' }],
        }],
        ['provisioned without throughput', { BillingMode: 'PROVISIONED' }],
        ['on-demand with throughput', { ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } }],
        ['bad key type', { AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'BOOL' }] }],
      ];
      for (const [label, extra] of cases) {
        const e = await errorOf(() => create('validation-target', extra));
        assert.equal(e.name, 'ValidationException', label);
      }
      const described = await errorOf(() => t.client.send(new DescribeTableCommand({ TableName: 'validation-target' })));
      assert.equal(described.name, 'ResourceNotFoundException');
    });

    test(`DescribeTable counts and sizes items exactly up to ${EXACT_STATS_ITEMS} items, per index by what it holds`, async () => {
      await create('Counted', {
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'tag', AttributeType: 'S' }],
        GlobalSecondaryIndexes: [{ IndexName: 'by-tag', KeySchema: [{ AttributeName: 'tag', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
      });
      // Every third item has the index key (a sparse index); numbers of both signs and alignments.
      const items = Array.from({ length: EXACT_STATS_ITEMS }, (_, i) => ({
        pk: { S: `item-${i}` },
        n: { N: i % 2 ? `-${i}.5` : String(i * 100) },
        ...(i % 3 === 0 ? { tag: { S: `t${i % 7}` } } : {}),
      }));
      for (let i = 0; i < items.length; i += 25) {
        await t.client.send(new BatchWriteItemCommand({ RequestItems: { Counted: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
      }
      const d = (await t.client.send(new DescribeTableCommand({ TableName: 'Counted' }))).Table!;
      assert.equal(d.ItemCount, EXACT_STATS_ITEMS);
      assert.equal(d.TableSizeBytes, items.reduce((n, it) => n + itemSize(it), 0));
      const indexed = items.filter((it) => it.tag);
      const ix = d.GlobalSecondaryIndexes![0]!;
      assert.equal(ix.ItemCount, indexed.length);
      assert.equal(ix.IndexSizeBytes, indexed.reduce((n, it) => n + itemSize({ pk: it.pk, tag: it.tag! }), 0), 'KEYS_ONLY: keys only');
      await t.client.send(new DeleteTableCommand({ TableName: 'Counted' }));
    });

    test('DescribeEndpoints and DescribeLimits', async () => {
      const ep = await t.client.send(new DescribeEndpointsCommand({}));
      assert.equal(ep.Endpoints?.length, 1);
      assert.equal(ep.Endpoints?.[0].CachePeriodInMinutes, 1440);
      const limits = await t.client.send(new DescribeLimitsCommand({}));
      assert.equal(limits.TableMaxReadCapacityUnits, 40000);
    });

    test('wire protocol: errors, CRC32, request ids, gzip, health, metrics', async () => {
      const unknown = await rawRequest(t.endpoint, 'NoSuchAction', {});
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.__type, /#UnknownOperationException$/);
      const malformed = await rawRequest(t.endpoint, 'ListTables', '{"Limit": ');
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.__type, 'com.amazon.coral.service#SerializationException');
      const wrongType = await rawRequest(t.endpoint, 'ListTables', { Limit: 'ten' });
      assert.equal(wrongType.status, 400);
      assert.equal(wrongType.body.__type, 'com.amazon.coral.service#SerializationException');
      const missing = await rawRequest(t.endpoint, 'DescribeTable', {});
      assert.equal(missing.body.__type, 'com.amazon.coral.validate#ValidationException');
      // DynamoDB reports a missing or short TableName of the table actions on its own.
      assert.equal(missing.body.message, "The parameter 'TableName' is required but was not present in the request");
      const short = await rawRequest(t.endpoint, 'DescribeTable', { TableName: 'ab' });
      assert.equal(
        short.body.message,
        'TableName must be at least 3 characters long and at most 255 characters long',
      );
      const ok = await rawRequest(t.endpoint, 'ListTables', {});
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('x-amz-crc32'), String(crc32(ok.text)));
      assert.match(ok.headers.get('x-amzn-requestid') ?? '', /^[0-9A-Z]{52}$/);
      assert.equal(ok.headers.get('content-type'), 'application/x-amz-json-1.0');
      const gz = await fetch(t.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'content-encoding': 'gzip',
          'x-amz-target': 'DynamoDB_20120810.DescribeTable',
        },
        body: gzipSync(JSON.stringify({ TableName: 'no-such-table' })),
      });
      assert.equal(gz.status, 400);
      assert.match((await gz.json()).__type, /#ResourceNotFoundException$/);
      const health = await fetch(t.endpoint + '/');
      assert.equal(health.status, 200);
      assert.match(await health.text(), /^healthy/);
      const metrics = await (await fetch(t.endpoint + '/metrics')).text();
      assert.match(metrics, /dynamodb_requests_total\{action="ListTables",table="",status="200"\} \d+/);
      assert.match(metrics, /dynamodb_errors_total\{action="DescribeTable",table="other",type="ResourceNotFoundException"\} \d+/);
      assert.match(metrics, /dynamodb_request_duration_seconds_bucket\{le="0.005",action="ListTables",table=""\}/);
    });
  });
}
