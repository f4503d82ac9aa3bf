// Shard handling against a scripted stream (DynamoDB Local has one shard per table and never
// splits): parents before children, splits and closed shards, expiring iterators, throttling,
// trimmed records; and the apply path's replay safety.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { translators } from '../../translators/index.js';
import type { ActionContext } from '../../src/actions/context.js';
import type { ReplicationContext } from '../../src/replication/process.js';
import { storageServices } from '../../src/storage/services.js';
import type { Item } from '../../src/dynamo/types.js';
import { Applier } from '../../src/replication/apply.js';
import { canonicalText } from '../../src/replication/items.js';
import { createReplicationMetrics } from '../../src/replication/metrics.js';
import { Replicator } from '../../src/replication/replicator.js';
import { SKIP_MARGIN_MS } from '../../src/replication/snapshot-phase.js';
import type { ShardInfo, SourceApi, StreamRecord } from '../../src/replication/source.js';
import { ReplicationState } from '../../src/storage/state/replication-state.js';
import { LeaseWatcher } from '../../src/replication/leases.js';
import { ensureTarget } from '../../src/replication/target.js';
import { Catalog } from '../../src/storage/catalog.js';
import { ItemStore } from '../../src/storage/item-store.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { dropKeyspace, waitFor } from './helpers.js';

const KEYSPACE = 'test_repl_shards';

class AwsError extends Error {
  constructor(name: string) {
    super(name);
    this.name = name;
  }
}

interface FakeShard extends ShardInfo {
  records: StreamRecord[];
  /** Errors getRecords throws, in order, before it answers normally. */
  failures: string[];
  iteratorFailures?: string[];
}

/** A source whose stream is a script of shards; it remembers the order shards were read in. */
class FakeSource implements SourceApi {
  readonly reads: { shard: string; at: number; last: boolean }[] = [];
  readonly errorsThrown: string[] = [];
  private seq = 0;

  constructor(
    readonly table: string,
    readonly items: Item[],
    readonly shards: FakeShard[],
  ) {}

  record(eventName: string, item: Item): StreamRecord {
    const seq = String(++this.seq).padStart(21, '0');
    return {
      eventName,
      sequenceNumber: seq,
      approximateCreation: Date.now(),
      keys: { pk: item.pk! },
      newImage: eventName === 'REMOVE' ? undefined : item,
    };
  }

  async describeTable(): Promise<TableDescription> {
    return {
      TableName: this.table,
      TableArn: `arn:aws:dynamodb:local:0:table/${this.table}`,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
      LatestStreamArn: `arn:aws:dynamodb:local:0:table/${this.table}/stream/1`,
      ItemCount: this.items.length,
    };
  }

  async scan(_t: string, segment: number, total: number) {
    return { items: this.items.filter((_, i) => i % total === segment) };
  }

  async getItem(_t: string, key: Item) {
    return this.items.find((i) => JSON.stringify(i.pk) === JSON.stringify(key.pk));
  }

  streams = {
    describeStream: async () => ({ status: 'ENABLED', viewType: 'NEW_IMAGE', shards: this.shards }),
    getShardIterator: async (_arn: string, shardId: string, after?: string) => {
      const shard = this.shards.find((s) => s.id === shardId)!;
      const failure = shard.iteratorFailures?.shift();
      if (failure) throw new AwsError(failure);
      const index = after ? shard.records.findIndex((r) => r.sequenceNumber === after) + 1 : 0;
      return `${shardId}|${index}`;
    },
    getRecords: async (iterator: string) => {
      const [shardId, at] = iterator.split('|') as [string, string];
      const shard = this.shards.find((s) => s.id === shardId)!;
      const failure = shard.failures.shift();
      if (failure) {
        this.errorsThrown.push(`${shardId}:${failure}`);
        throw new AwsError(failure);
      }
      const index = Number(at);
      // Two records per page, so a shard takes several calls.
      const records = shard.records.slice(index, index + 2);
      const end = index + records.length;
      const closed = shard.endingSequenceNumber !== undefined;
      const last = closed && end >= shard.records.length;
      this.reads.push({ shard: shardId, at: Date.now(), last });
      return { records, next: last ? undefined : `${shardId}|${end}` };
    },
  };

  close() {}
}

const item = (pk: string, v: number): Item => ({ pk: { S: pk }, v: { N: String(v) } });
const vOf = (i: Item | undefined) => (i?.v as { N: string } | undefined)?.N;

describe('shards', () => {
  let server: TestServer;
  let ctx: ReplicationContext;
  before(async () => {
    await dropKeyspace(KEYSPACE);
    server = await startTestServer(KEYSPACE);
    const session = server.server.session;
    const catalog = new Catalog(session);
    await catalog.init();
    ctx = storageServices({ config: server.config, session, catalog, store: new ItemStore(session), translators });
  });
  after(async () => {
    await server?.close();
  });

  const run = (source: FakeSource, target: string) =>
    new Replicator({
      ctx,
      source,
      tables: [{ source: source.table, target }],
      metrics: createReplicationMetrics(),
      log: (l) => process.env.DC_TEST_VERBOSE && process.stderr.write(`[replicator] ${l}\n`),
      leaseMs: 2000,
      pollMs: 20,
      discoverMs: 100,
    });

  const read = async (target: string, pk: string) => {
    const entry = (await ctx.catalog.get(target))!;
    const stored = await ctx.store.read({ entry, translator: translators.document, isolation: 'only_rmw' }, { pk: { S: pk } }, true);
    return stored?.item;
  };

  test('a split: the parent is read to its end before its children; expired iterators and throttling are survived', async () => {
    const source = new FakeSource('split', [item('a', 0), item('b', 0), item('c', 0)], []);
    const parent: FakeShard = { id: 'shard-parent', records: [], failures: [], endingSequenceNumber: 'x' };
    const left: FakeShard = { id: 'shard-left', parent: 'shard-parent', records: [], failures: ['ExpiredIteratorException'] };
    const right: FakeShard = {
      id: 'shard-right',
      parent: 'shard-parent',
      records: [],
      failures: ['LimitExceededException', 'ProvisionedThroughputExceededException'],
    };
    // The same items change in the parent and again in the children: order decides the result.
    for (let v = 1; v <= 5; v++) parent.records.push(source.record('MODIFY', item('a', v)), source.record('MODIFY', item('b', v)));
    parent.records.push(source.record('REMOVE', item('c', 0)));
    left.records.push(source.record('MODIFY', item('a', 10)), source.record('INSERT', item('c', 10)), source.record('MODIFY', item('a', 11)));
    right.records.push(source.record('REMOVE', item('b', 5)), source.record('INSERT', item('d', 1)));
    // Children are listed first: discovery order must not matter.
    source.shards.push(left, right, parent);
    const r = run(source, 'split');
    await r.start();
    try {
      await waitFor('all shards applied', async () => {
        const units = await r.state.listUnits('split');
        return units.filter((u) => u.unit.startsWith('shard:') && u.finished).length === 1 &&
          vOf(await read('split', 'd')) !== undefined &&
          vOf(await read('split', 'a')) === '11'
          ? true
          : undefined;
      }, 20_000);
      assert.equal(vOf(await read('split', 'a')), '11');
      assert.equal(await read('split', 'b'), undefined);
      assert.equal(vOf(await read('split', 'c')), '10');
      assert.equal(vOf(await read('split', 'd')), '1');
      const parentEnd = source.reads.find((x) => x.shard === 'shard-parent' && x.last)!.at;
      const firstChild = Math.min(...source.reads.filter((x) => x.shard !== 'shard-parent').map((x) => x.at));
      assert.ok(parentEnd <= firstChild, 'children were read only after the parent was finished');
      assert.deepEqual(source.errorsThrown.sort(), [
        'shard-left:ExpiredIteratorException',
        'shard-right:LimitExceededException',
        'shard-right:ProvisionedThroughputExceededException',
      ]);
      assert.equal(r.failures.size, 0);
    } finally {
      await r.stop();
    }
  });

  test('trimmed records (or an expired shard) stop the table with what to do, never a silent skip', async () => {
    const source = new FakeSource('trimmed', [item('a', 0)], [
      { id: 'shard-1', records: [], failures: ['TrimmedDataAccessException'] },
    ]);
    source.shards[0]!.records.push(source.record('MODIFY', item('a', 1)));
    const r = run(source, 'trimmed');
    await r.start();
    await r.done();
    await r.stop();
    const message = r.failures.get('trimmed')?.message ?? '';
    assert.match(message, /trimmed/);
    assert.match(message, /--resnapshot/);
    const state = await new ReplicationState(ctx.session).getTable('trimmed');
    assert.equal(state?.phase, 'failed');
    // A restarted replicator refuses too, with the same advice.
    const again = run(source, 'trimmed');
    await again.start();
    await again.done();
    await again.stop();
    assert.match(again.failures.get('trimmed')?.message ?? '', /--resnapshot/);
    // A shard that expired under us (GetRecords: ResourceNotFoundException) is reported the same way.
    const expired = new FakeSource('expired', [item('a', 0)], [
      { id: 'shard-1', records: [], failures: ['ResourceNotFoundException'], iteratorFailures: ['', 'ResourceNotFoundException'] },
    ]);
    expired.shards[0]!.records.push(expired.record('MODIFY', item('a', 1)));
    const gone = run(expired, 'expired');
    await gone.start();
    await gone.done();
    await gone.stop();
    assert.match(gone.failures.get('expired')?.message ?? '', /shard no longer exists.*--resnapshot/);
    // --resnapshot starts over (the stream is readable again here) and converges.
    source.shards[0]!.failures = [];
    const fresh = new Replicator({ ...again.o, resnapshot: true, metrics: createReplicationMetrics() });
    await fresh.start();
    try {
      await waitFor('the new snapshot and the tail', async () => vOf(await read('trimmed', 'a')) === '1', 20_000);
      assert.equal(fresh.failures.size, 0);
    } finally {
      await fresh.stop();
    }
  });

  test('a snapshot write arriving after the tail cannot undo it, on plain and on LWT targets', async () => {
    for (const isolation of ['only_rmw', 'always'] as const) {
      const source = new FakeSource(`late_${isolation}`, [], []);
      const target = await ensureTarget(ctx as ActionContext, await source.describeTable(), source.table, isolation, () => undefined);
      const applier = new Applier(ctx.store, target.handle, 8);
      const startedAt = Date.now();
      await applier.applyRecords([source.record('MODIFY', item('x', 2)), source.record('REMOVE', item('z', 1))], 0);
      // A replicator that lost the snapshot lease writes what its Scan saw before those changes.
      await applier.putItems([item('x', 1), item('y', 1), item('z', 1)], startedAt - SKIP_MARGIN_MS);
      assert.equal(vOf(await read(source.table, 'x')), '2', isolation);
      assert.equal(vOf(await read(source.table, 'y')), '1', isolation);
      assert.equal(await read(source.table, 'z'), undefined, isolation);
    }
  });

  test('a checkpoint that applied but whose answer was lost (a timeout) keeps the lease', async () => {
    class LostAnswers extends ReplicationState {
      lose = 1;
      override async renew(...args: Parameters<ReplicationState['renew']>): Promise<boolean> {
        const applied = await super.renew(...args);
        if (this.lose-- > 0) throw new Error('operation timed out (the write applied)');
        return applied;
      }
    }
    const state = new LostAnswers(ctx.session);
    await state.init();
    await state.ensureUnit('leases', 'unit');
    const lease = (await new LeaseWatcher('me', 5000).acquire(state, (await state.getUnit('leases', 'unit'))!))!;
    await assert.rejects(lease.checkpoint({ position: '1' }), /timed out/);
    await lease.checkpoint({ position: '2' });
    assert.ok(lease.valid());
    const row = await state.getUnit('leases', 'unit');
    assert.equal(row?.owner, 'me');
    assert.equal(row?.position, '2');
  });

  test('applying records twice, or out of batch boundaries, changes nothing (replay safety)', async () => {
    const source = new FakeSource('replay', [], []);
    const entry = await ensureTarget(ctx as ActionContext, await source.describeTable(), 'replay', 'only_rmw', () => undefined);
    const applier = new Applier(ctx.store, entry.handle, 8);
    const records = [
      source.record('INSERT', item('x', 1)),
      source.record('MODIFY', item('x', 2)),
      source.record('INSERT', item('y', 1)),
      source.record('REMOVE', item('y', 1)),
      source.record('MODIFY', item('x', 3)),
    ];
    const state = async () => JSON.stringify([await read('replay', 'x'), await read('replay', 'y')].map((i) => i && canonicalText(i)));
    await applier.applyRecords(records, 0);
    const once = await state();
    assert.equal(once, JSON.stringify([canonicalText(item('x', 3)), undefined]));
    await applier.applyRecords(records, 0);
    assert.equal(await state(), once);
    // A replay that starts mid-way (a checkpoint older than what was applied) converges too.
    for (let i = 0; i < records.length; i++) await applier.applyRecords(records.slice(i), 0);
    assert.equal(await state(), once);
  });
});
