// What happens to a running replication when someone changes its ends: the source's stream
// disabled, or replaced by a new one (disabled and enabled again), and the target table deleted.
// A lost stream stops the table with what happened and what to do, after applying everything the
// old stream recorded; a deleted target is created again and copied anew.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DeleteTableCommand, DescribeTableCommand, PutItemCommand, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { handleOf, type ActionContext } from '../../src/actions/context.js';
import { verify } from '../../src/replication/verify.js';
import { ReplicationState } from '../../src/storage/state/replication-state.js';
import { createSourceTable, fill, replicator, richItem, startEnv, startWriters, waitFor, waitIdentical, type Env } from './helpers.js';

describe('changes at either end of a running replication', () => {
  let env: Env;
  let state: ReplicationState;
  before(async () => {
    env = await startEnv('test_repl_changes');
    state = new ReplicationState(env.ctx.session);
  });
  after(async () => {
    await env?.close();
  });

  const setStream = (table: string, enabled: boolean) =>
    env.db.send(
      new UpdateTableCommand({
        TableName: table,
        StreamSpecification: enabled ? { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } : { StreamEnabled: false },
      }),
    );
  const put = (table: string, i: number) => env.db.send(new PutItemCommand({ TableName: table, Item: richItem(i) }));
  const identicalNow = async (table: string) =>
    (await verify({ ctx: env.ctx, source: env.source, sourceTable: table, target: table, segments: 2, buckets: 256 })).identical;

  /** Runs a replicator until its only table stops; returns the reason. */
  const runUntilFailed = async (table: string, o: { resnapshot?: boolean } = {}) => {
    const r = replicator(env, { tables: [{ source: table, target: table }], ...o });
    await r.start();
    await r.done();
    await r.stop();
    return r.failures.get(table)?.message ?? '';
  };

  /** `replicate --resnapshot`: copies the source anew, follows its current stream, converges. */
  const resnapshot = async (table: string, next: number) => {
    const fresh = replicator(env, { tables: [{ source: table, target: table }], resnapshot: true });
    await fresh.start();
    try {
      await put(table, next);
      await waitIdentical(env, table);
      assert.equal(fresh.failures.size, 0);
    } finally {
      await fresh.stop();
    }
  };

  test('the stream disabled while tailing: its records are applied, then the table stops with what to do', async () => {
    await createSourceTable(env.db, 'disabled');
    await fill(env.db, 'disabled', 50);
    const r = replicator(env, { tables: [{ source: 'disabled', target: 'disabled' }] });
    await r.start();
    try {
      await waitIdentical(env, 'disabled');
      // Changes just before the stream goes away must still arrive.
      for (let i = 50; i < 60; i++) await put('disabled', i);
      await setStream('disabled', false);
      await r.done();
    } finally {
      await r.stop();
    }
    const message = r.failures.get('disabled')?.message ?? '';
    assert.match(message, /stream of disabled was disabled/);
    assert.match(message, /Every change the old stream recorded is applied/);
    assert.match(message, /StreamEnabled=true.*--resnapshot/);
    assert.ok(await identicalNow('disabled'), 'every change up to the disabling was applied');
    const failed = await state.getTable('disabled');
    assert.equal(failed?.phase, 'failed');
    assert.match(failed?.error ?? '', /was disabled/);

    // Changes while there is no stream reach the target only through a new snapshot.
    for (let i = 60; i < 70; i++) await put('disabled', i);
    assert.match(await runUntilFailed('disabled'), /was disabled.*--resnapshot/);
    await setStream('disabled', true);
    assert.match(await runUntilFailed('disabled'), /was replaced.*--resnapshot/);
    assert.equal(await identicalNow('disabled'), false);
    await resnapshot('disabled', 70);
  });

  test('the stream replaced while tailing (disabled and enabled again): the table stops naming both streams', async () => {
    await createSourceTable(env.db, 'replaced');
    await fill(env.db, 'replaced', 50);
    const r = replicator(env, { tables: [{ source: 'replaced', target: 'replaced' }] });
    await r.start();
    const old = (await env.db.send(new DescribeTableCommand({ TableName: 'replaced' }))).Table!.LatestStreamArn!;
    let latest: string;
    try {
      await waitIdentical(env, 'replaced');
      await put('replaced', 50);
      await setStream('replaced', false);
      await put('replaced', 51); // in neither stream
      await setStream('replaced', true);
      latest = (await env.db.send(new DescribeTableCommand({ TableName: 'replaced' }))).Table!.LatestStreamArn!;
      assert.notEqual(latest, old);
      await put('replaced', 52); // in the new stream only
      await r.done();
    } finally {
      await r.stop();
    }
    const message = r.failures.get('replaced')?.message ?? '';
    assert.ok(message.includes(`${old} → ${latest}`), message);
    assert.match(message, /was replaced.*Every change the old stream recorded is applied.*--resnapshot/);
    const handle = handleOf(env.ctx as ActionContext, (await env.ctx.catalog.get('replaced'))!);
    const get = (i: number) => env.ctx.store.read(handle, { pk: { S: richItem(i).pk!.S! } }, true);
    assert.ok(await get(50), 'the last change of the old stream was applied');
    assert.equal(await get(51), undefined);
    assert.equal(await get(52), undefined, 'nothing of the new stream is applied over a copy that misses changes');
    assert.match(await runUntilFailed('replaced'), /was replaced.*--resnapshot/);

    await resnapshot('replaced', 53);
    assert.equal((await state.getTable('replaced'))?.streamArn, latest);
  });

  test('the target deleted while replicating: it is created again and copied anew, without stopping', async () => {
    await createSourceTable(env.db, 'dropped');
    await fill(env.db, 'dropped', 300);
    const logged: string[] = [];
    const r = replicator(env, { tables: [{ source: 'dropped', target: 'dropped' }], log: (l) => logged.push(l) });
    const writers = startWriters(env.db, 'dropped', 400, 1);
    await r.start();
    try {
      await waitFor('the tail', async () => (await state.getTable('dropped'))?.phase === 'streaming');
      const first = (await state.getTable('dropped'))!.targetId;
      await env.server.client.send(new DeleteTableCommand({ TableName: 'dropped' }));
      await waitFor(
        'a new target and its snapshot',
        async () => {
          const s = await state.getTable('dropped');
          return s?.phase === 'streaming' && s.targetId !== first;
        },
        90_000,
      );
      assert.ok(logged.some((l) => /target table dropped was deleted while the replicator was writing into it/.test(l)), logged.join('\n'));
      const atCopy = writers.ops();
      await waitFor('writers to change items during the new tail', async () => writers.ops() >= atCopy + 50);
      await writers.stop();
      await waitIdentical(env, 'dropped');
      assert.equal(r.failures.size, 0);
    } finally {
      await writers.stop();
      await r.stop();
    }
  });
});
