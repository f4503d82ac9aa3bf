// `verify` finds planted differences (missing, extra, different items) and exits 0 only when the
// source and its replica are identical.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { handleOf, type ActionContext } from '../../src/actions/context.js';
import { verify } from '../../src/replication/verify.js';
import { createSourceTable, replicator, richItem, runCli, startEnv, waitIdentical, type Env } from './helpers.js';

describe('verify', () => {
  let env: Env;
  before(async () => {
    env = await startEnv('test_repl_verify');
    await createSourceTable(env.db, 'accounts');
    for (let i = 0; i < 300; i += 25) {
      const items = Array.from({ length: 25 }, (_, j) => ({ PutRequest: { Item: richItem(i + j) } }));
      await env.db.send(new BatchWriteItemCommand({ RequestItems: { accounts: items } }));
    }
    const r = replicator(env, { tables: [{ source: 'accounts', target: 'accounts' }] });
    await r.start();
    try {
      await waitIdentical(env, 'accounts');
    } finally {
      await r.stop();
    }
  });
  after(async () => {
    await env?.close();
  });

  test('identical tables: verify says so and the command exits 0', async () => {
    const report = await verify({ ctx: env.ctx, source: env.source, sourceTable: 'accounts', target: 'accounts' });
    assert.equal(report.identical, true);
    assert.equal(report.sourceItems, 300);
    assert.equal(report.targetItems, 300);
    const cli = runCli(['verify', '--source-endpoint', env.local.endpoint, '--table', 'accounts'], env);
    assert.equal(await cli.exited, 0, cli.output());
    assert.match(cli.output(), /identical/);
  });

  test('planted differences are each found and named; the command exits 1', async () => {
    const entry = (await env.ctx.catalog.get('accounts'))!;
    const handle = handleOf(env.ctx as ActionContext, entry);
    const changed = { ...(await env.ctx.store.read(handle, { pk: richItem(7).pk as never }, true))!.item, s: { S: 'tampered' } };
    await env.ctx.store.putBlind(handle, changed);
    await env.ctx.store.deleteBlind(handle, { pk: richItem(8).pk as never });
    await env.ctx.store.putBlind(handle, { pk: { S: 'intruder' }, x: { N: '1' } });
    // Few buckets, so that differing buckets also hold equal items that must not be reported.
    const report = await verify({ ctx: env.ctx, source: env.source, sourceTable: 'accounts', target: 'accounts', buckets: 8, maxKeysInMemory: 50 });
    assert.equal(report.identical, false);
    assert.deepEqual([report.missing, report.extra, report.different], [1, 1, 1]);
    const byKind = Object.fromEntries(report.samples.map((d) => [d.kind, d]));
    assert.deepEqual(byKind.missing?.key, { pk: richItem(8).pk });
    assert.deepEqual(byKind.extra?.key, { pk: { S: 'intruder' } });
    assert.deepEqual(byKind.different?.key, { pk: richItem(7).pk });
    assert.deepEqual(byKind.different?.target?.s, { S: 'tampered' });
    const cli = runCli(['verify', '--source-endpoint', env.local.endpoint, '--table', 'accounts'], env);
    assert.equal(await cli.exited, 1, cli.output());
    assert.match(cli.output(), /1 missing from the target, 1 extra in the target, 1 with different attributes/);
    assert.match(cli.output(), /intruder/);
  });
});
