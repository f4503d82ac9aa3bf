// `replicate` as its own process, the way users run it: killed with SIGKILL mid-snapshot and
// mid-stream and restarted; two processes sharing the shards, one of them killed. Every scenario
// ends with the source and the target identical. Also /metrics and `replicate status`.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { ReplicationState, type UnitRow } from '../../src/storage/state/replication-state.js';
import { createSourceTable, fill, runCli, startEnv, startWriters, waitFor, waitIdentical, type CliProcess, type Env } from './helpers.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });

const ownerOf = (p: CliProcess) => `${hostname()}:${p.child.pid}:`;

describe('replicator processes', () => {
  let env: Env;
  let state: ReplicationState;
  const running: CliProcess[] = [];
  const replicate = (args: string[]) => {
    const p = runCli(['replicate', '--source-endpoint', env.local.endpoint, '--lease-seconds', '3', '--metrics-port', '0', ...args], env);
    running.push(p);
    return p;
  };
  const shards = async (table: string): Promise<UnitRow[]> =>
    (await state.listUnits(table)).filter((u) => u.unit.startsWith('shard:'));

  before(async () => {
    env = await startEnv('test_repl_procs');
    state = new ReplicationState(env.ctx.session);
    await state.init();
  });
  after(async () => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await env?.close();
  });

  test('killed with SIGKILL mid-snapshot and mid-stream, restarted: nothing lost or reordered', async () => {
    await createSourceTable(env.db, 'events');
    // Enough items that a snapshot at one write in flight (a small batch) outlasts its first checkpoint.
    await fill(env.db, 'events', 20000);
    const writers = startWriters(env.db, 'events', 5300);
    try {
      // A slow snapshot (one segment, one write at a time), killed once it has checkpointed a position
      // (every 2 s), so the restart resumes mid-table.
      const first = replicate(['--table', 'events', '--segments', '1', '--concurrency', '1']);
      await waitFor('a snapshot checkpoint', async () => ((await state.listUnits('events')).find((u) => u.unit === 'snapshot')?.applied ?? 0) > 0);
      assert.equal((await state.getTable('events'))?.phase, 'snapshot');
      first.child.kill('SIGKILL');
      await first.exited;
      const snapshotAt = (await state.listUnits('events')).find((u) => u.unit === 'snapshot')!.applied;
      const port = await freePort();
      const second = runCli(['replicate', '--source-endpoint', env.local.endpoint, '--lease-seconds', '3', '--metrics-port', String(port), '--table', 'events'], env);
      running.push(second);
      await waitFor('the stream tail', async () => (await state.getTable('events'))?.phase === 'streaming', 90_000);
      assert.match(second.output(), /resuming the snapshot/);
      const snapshot = (await state.getTable('events'))!.snapshot;
      assert.ok((snapshot.items ?? 0) >= snapshotAt, 'the resumed snapshot counts the items written before the kill');
      // Mid-stream: killed after applying records, while the writers go on.
      await waitFor('records applied', async () => ((await shards('events'))[0]?.applied ?? 0) > 20);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(metrics, /dynamodb_replication_records_applied_total\{table="events",event="(INSERT|MODIFY|REMOVE)"\} \d+/);
      assert.match(metrics, /dynamodb_replication_shard_lag_seconds\{table="events",shard="[^"]+"\}/);
      assert.match(metrics, /dynamodb_replication_snapshot_items_total\{table="events"\} \d+/);
      second.child.kill('SIGKILL');
      await second.exited;
      const before = (await shards('events'))[0]!;
      assert.ok(before.position, 'a checkpoint was written');
      const third = replicate(['--table', 'events']);
      await waitFor('the restarted replicator to take the shard over', async () => {
        const s = (await shards('events'))[0]!;
        return s.owner?.startsWith(ownerOf(third)) && s.applied > before.applied;
      });
      await new Promise((r) => setTimeout(r, 1000));
      await writers.stop();
      await waitIdentical(env, 'events');
      const status = runCli(['replicate', 'status', '--table', 'events'], env);
      assert.equal(await status.exited, 0, status.output());
      assert.match(status.output(), /events\s+←\s+events\s+phase: streaming/);
      assert.match(status.output(), /reading\s+\S+:\d+:\w+\s+\d{21}/);
      third.child.kill('SIGTERM');
      assert.equal(await third.exited, 0, third.output());
      // A clean stop hands the lease back at once.
      assert.equal((await shards('events'))[0]!.owner, undefined);
    } finally {
      await writers.stop();
    }
  });

  test('two replicators share the shards; when one is killed the other takes its shards over', async () => {
    const tables = ['left', 'right', 'middle'];
    for (const t of tables) {
      await createSourceTable(env.db, t);
      await fill(env.db, t, 100);
    }
    const writers = tables.map((t) => startWriters(env.db, t, 150, 1));
    try {
      const args = tables.flatMap((t) => ['--table', t]);
      const a = replicate(args);
      const b = replicate(args);
      const owners = async () => (await Promise.all(tables.map(async (t) => (await shards(t))[0]?.owner))).map((o) => o ?? '');
      await waitFor(
        'both replicators to hold shards',
        async () => {
          const o = await owners();
          return o.some((x) => x.startsWith(ownerOf(a))) && o.some((x) => x.startsWith(ownerOf(b)));
        },
        60_000,
      );
      const victim = (await owners()).filter((x) => x.startsWith(ownerOf(a))).length >= 1 ? a : b;
      const survivor = victim === a ? b : a;
      victim.child.kill('SIGKILL');
      await victim.exited;
      await waitFor('the survivor to hold every shard', async () => (await owners()).every((x) => x.startsWith(ownerOf(survivor))), 60_000);
      await new Promise((r) => setTimeout(r, 1000));
      await Promise.all(writers.map((w) => w.stop()));
      for (const t of tables) await waitIdentical(env, t);
      survivor.child.kill('SIGTERM');
      assert.equal(await survivor.exited, 0, survivor.output());
    } finally {
      await Promise.all(writers.map((w) => w.stop()));
    }
  });
});
