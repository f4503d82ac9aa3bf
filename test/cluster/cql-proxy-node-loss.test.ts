// The CQL dual-write proxy under node loss (issue 14.5): the three-node test cluster is the source,
// a separate one-node cluster on 127.0.0.4 the target. cassandra-driver writes through the proxy
// (--wait, --on-target-failure log) while the target node is SIGKILLed and restarted. No client
// write may fail, every acknowledged write must be on the source, and once `dynamo-cassandra replay`
// has applied the failed-write log the target must hold exactly the source's rows (values and
// write times: the proxy gives both clusters one timestamp).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import cassandra from 'cassandra-driver';
import { startCqlProxy, type CqlProxyHandle } from '../../src/cqlproxy/index.js';
import { readFailedWrites } from '../../src/cqlproxy/failedlog.js';
import { startLocalNode, type LocalNode, type LocalNodeOptions } from '../../src/local-node/index.js';
import { CLUSTER_CQL_PORT, CLUSTER_DC, CLUSTER_STORAGE_PORT, RF3, phaseClock, sigkill, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { CLI } from '../helpers/serve-process.js';

const KS = 'dc_cluster_proxy';
const WORKERS = 6;
const PHASE_MS = Number(process.env.DC_CLUSTER_PHASE_MS ?? 8_000);
const BATCH_OFFSET = 1_000_000; // a batch's second row: (w, n + BATCH_OFFSET)
const { consistencies } = cassandra.types;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PACE_MS = 25;
const quiet = { info() {}, warn() {}, error() {} };

let tmp: string;
let cluster: TestCluster | undefined;
let target: LocalNode | undefined;
let proxy: CqlProxyHandle | undefined;
let client: cassandra.Client | undefined;
let failedLog: string;
const targetOptions = (): LocalNodeOptions => ({
  address: '127.0.0.4',
  port: CLUSTER_CQL_PORT,
  storagePort: CLUSTER_STORAGE_PORT + 1,
  clusterName: 'dynamo-cassandra-test-target',
  datacenter: CLUSTER_DC,
  dataDir: join(tmp, 'target'),
  heapMb: 512,
  // One replica, SIGKILLed: what it acknowledged must survive for the target to match the source.
  commitlogSync: 'batch',
  startTimeoutMs: 300_000,
  log: (l) => process.stderr.write(`[target] ${l}\n`),
});
const targetEndpoint = `127.0.0.4:${CLUSTER_CQL_PORT}`;
const direct = (contact: string) => new cassandra.Client({ contactPoints: [contact], localDataCenter: CLUSTER_DC, socketOptions: { readTimeout: 30_000 } });
const TABLE_DDL = `CREATE TABLE IF NOT EXISTS ${KS}.t (w int, n int, v text, PRIMARY KEY (w, n))`;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'dc-test-proxy-loss-'));
  const started = await Promise.allSettled([startTestCluster(), startLocalNode(targetOptions())]);
  if (started[0].status === 'fulfilled') cluster = started[0].value;
  if (started[1].status === 'fulfilled') target = started[1].value;
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  assert.ok(!target!.reused, `a Cassandra node already answers at ${targetEndpoint}; stop it first`);
  // Each cluster gets the keyspace its size allows: RF=3 on the source, RF=1 on the one target node.
  await cluster!.client.execute(`CREATE KEYSPACE IF NOT EXISTS ${KS} WITH replication = ${RF3}`);
  await cluster!.client.execute(TABLE_DDL);
  const t = direct(targetEndpoint);
  try {
    await t.execute(`CREATE KEYSPACE IF NOT EXISTS ${KS} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await t.execute(TABLE_DDL);
  } finally {
    await t.shutdown();
  }
  failedLog = join(tmp, 'failed-writes.jsonl');
  proxy = await startCqlProxy(
    { listen: '127.0.0.1:0', source: cluster!.contactPoints, target: targetEndpoint, targetTimeoutMs: 3000, failedLog },
    { logger: quiet },
  );
  client = new cassandra.Client({
    contactPoints: [`127.0.0.1:${proxy.port}`],
    localDataCenter: CLUSTER_DC,
    socketOptions: { readTimeout: 30_000 },
    queryOptions: { consistency: consistencies.localQuorum, prepare: true },
  });
  await client.connect();
});

after(async () => {
  await client?.shutdown().catch(() => undefined);
  await proxy?.close().catch(() => undefined);
  if (target) await sigkill(target);
  await cluster?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('the target node SIGKILLed and restarted under proxied writes: no failed write, replay leaves the target equal to the source', async () => {
  const db = client!;
  const clock = phaseClock(['before', 'down', 'restarting', 'after'] as const);
  const failures: string[] = [];
  const acked = new Map<string, string>(); // "w|n" -> v
  const uncertain = new Set<string>(); // keys whose last write failed: either value may be there
  let stop = false;

  const write = async (keys: string[], values: string[], send: () => Promise<unknown>) => {
    try {
      await send();
      clock.done[clock.phase]++;
      keys.forEach((k, i) => {
        acked.set(k, values[i]!);
        uncertain.delete(k);
      });
    } catch (e) {
      failures.push(`${clock.phase}: ${(e as Error).name}: ${(e as Error).message}`);
      for (const k of keys) uncertain.add(k);
    }
  };
  const insert = `INSERT INTO ${KS}.t (w, n, v) VALUES (?, ?, ?)`;
  const worker = async (w: number) => {
    for (let n = 0; !stop; n++) {
      // Paced (at most 40 writes/s per writer): the failed-write log, and with it the replay, grows
      // with the writes made while the target restarts, which on an idle machine would be many.
      if (n > 0) await sleep(PACE_MS);
      const v = `${w}-${n}-${clock.phase}`;
      const pick = n % 10;
      if (pick === 9) {
        // A logged batch of two rows of the partition.
        const v2 = `${v}-b`;
        await write([`${w}|${n}`, `${w}|${n + BATCH_OFFSET}`], [v, v2], () =>
          db.batch([{ query: insert, params: [w, n, v] }, { query: insert, params: [w, n + BATCH_OFFSET, v2] }], { prepare: true }));
      } else if (pick === 4) {
        // An unprepared statement (the proxy fixes its timestamp in the query options).
        await write([`${w}|${n}`], [v], () => db.execute(`INSERT INTO ${KS}.t (w, n, v) VALUES (${w}, ${n}, '${v}')`, [], { prepare: false }));
      } else if (pick === 7) {
        // Overwrites an earlier row of this worker.
        await write([`${w}|${n - 7}`], [v], () => db.execute(`UPDATE ${KS}.t SET v = ? WHERE w = ? AND n = ?`, [v, w, n - 7]));
      } else {
        await write([`${w}|${n}`], [v], () => db.execute(insert, [w, n, v]));
      }
    }
  };

  const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  try {
    await sleep(PHASE_MS);
    clock.next('down');
    await sigkill(target!);
    target = undefined;
    await sleep(PHASE_MS);
    clock.next('restarting');
    target = await startLocalNode(targetOptions());
    clock.next('after');
    // The proxy reconnects to the target in the background; writes go on meanwhile.
    await sleep(PHASE_MS);
    clock.next('after');
  } finally {
    stop = true;
    await load;
  }
  const { rate, done, ms } = clock;
  const logged = readFailedWrites(failedLog).length;
  console.log(
    `[cql-proxy-node-loss] writes/s before ${rate('before')}, target down (${(ms.down / 1000).toFixed(0)} s) ${rate('down')}, ` +
      `restarting (${(ms.restarting / 1000).toFixed(0)} s) ${rate('restarting')}, after ${rate('after')}; ` +
      `acknowledged ${done.before + done.down + done.restarting + done.after}, failed ${failures.length}, in the failed-write log ${logged}`,
  );
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failed client writes`);
  assert.ok(logged > 0, 'writes made while the target was down must be in the failed-write log');

  const source = await rows(cluster!.client, consistencies.localQuorum);
  const targetClient = direct(targetEndpoint);
  try {
    const missingBefore = diff(source, await rows(targetClient, consistencies.one));
    // The command an operator runs, while the proxy still runs.
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'replay', '--target', targetEndpoint, '--failed-log', failedLog]);
    const after = await rows(targetClient, consistencies.one);
    const missingAfter = diff(source, after);
    console.log(
      `[cql-proxy-node-loss] source rows ${source.size}; target rows differing before replay ${missingBefore.length}, after ${missingAfter.length}; ` +
        `replay: ${stdout.trim()}`,
    );
    assert.match(stdout, /^replayed (\d+) of \1 entries$/m);
    assert.deepEqual(missingAfter.slice(0, 10), [], `${missingAfter.length} rows differ between source and target after replay`);
  } finally {
    await targetClient.shutdown();
  }
  const lost = [...acked].filter(([k, v]) => !uncertain.has(k) && source.get(k)?.v !== v).map(([k, v]) => `${k}: acknowledged ${v}, source ${JSON.stringify(source.get(k))}`);
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${acked.size} acknowledged writes not on the source`);
});

interface Row {
  v: string;
  written: string;
}

/** Every row of the table with its write time, by "w|n". */
async function rows(c: cassandra.Client, consistency: number): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  const query = `SELECT w, n, v, writetime(v) AS written FROM ${KS}.t`;
  await new Promise<void>((resolve, reject) =>
    c.eachRow(query, [], { prepare: true, consistency, fetchSize: 1000, autoPage: true }, (_i, r) => {
      out.set(`${r.w}|${r.n}`, { v: r.v, written: String(r.written) });
    }, (err) => (err ? reject(err) : resolve())),
  );
  return out;
}

/** Rows of `source` that `target` lacks or holds differently, and rows only the target has. */
function diff(source: Map<string, Row>, target: Map<string, Row>): string[] {
  const out: string[] = [];
  for (const [k, r] of source) {
    const o = target.get(k);
    if (o?.v !== r.v || o.written !== r.written) out.push(`${k}: source ${JSON.stringify(r)}, target ${JSON.stringify(o)}`);
  }
  for (const k of target.keys()) if (!source.has(k)) out.push(`${k} only on the target`);
  return out;
}
