// `npm test`: starts one Cassandra node for the whole run (unless DC_TEST_CONTACT_POINTS names a
// cluster, or every selected file is a unit test, which needs none), runs every compiled test file
// with node's test runner, and stops the node.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalNode, type LocalNode } from '../src/local-node/index.js';

const here = dirname(fileURLToPath(import.meta.url));

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...testFiles(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out.sort();
}

const under = (dir: string) => (f: string) => relative(here, f).startsWith(dir + sep);
/** Unit tests (test/unit/) run on pure logic and need no Cassandra node. */
const needsCassandra = (files: string[]): boolean => files.some((f) => !under('unit')(f));

/** node --test over `files`; resolves to its exit code. */
function runTests(files: string[], env: NodeJS.ProcessEnv, concurrency: string, timeoutMs: number): Promise<number> {
  // --test-force-exit: a file whose tests are done exits even if a handle was left open;
  // --test-timeout: a file that hangs fails after `timeoutMs` instead of stalling the run.
  const child = spawn(process.execPath, ['--test', '--test-force-exit', `--test-timeout=${timeoutMs}`, `--test-concurrency=${concurrency}`, ...files], {
    stdio: 'inherit',
    env,
  });
  return new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  // Filters match paths from the build directory on (test/api/items...), not the checkout's own path.
  const selected = testFiles(here).filter((f) => filters.length === 0 || filters.some((x) => relative(join(here, '..'), f).includes(x)));
  // Cluster tests (test/cluster/) start their own three nodes: they run after the others, once the
  // test node is stopped, one file at a time, with more time each (node starts take minutes on a
  // loaded machine).
  const clusterFiles = selected.filter(under('cluster'));
  const files = selected.filter((f) => !under('cluster')(f));
  let node: LocalNode | undefined;
  let dataDir: string | undefined;
  const env = { ...process.env };
  if (selected.length === 0) {
    process.stderr.write(`no test file matches ${filters.join(' ')}\n`);
    return 1;
  }
  if (!env.DC_TEST_CONTACT_POINTS && needsCassandra(files)) {
    dataDir = mkdtempSync(join(tmpdir(), 'dc-test-node-'));
    const started = Date.now();
    node = await startLocalNode({
      // DC_TEST_NODE_ADDRESS: another loopback address lets several checkouts test side by side.
      address: env.DC_TEST_NODE_ADDRESS ?? '127.0.0.1',
      port: 19042,
      clusterName: 'dynamo-cassandra-test',
      datacenter: 'datacenter1',
      dataDir,
      heapMb: 1024,
      log: (line) => process.stderr.write(`[test-node] ${line}\n`),
    });
    process.stderr.write(`[test-node] Cassandra ready at ${node.address}:${node.port} in ${Date.now() - started} ms\n`);
    env.DC_TEST_CONTACT_POINTS = `${node.address}:${node.port}`;
    env.DC_TEST_LOCAL_DC = node.datacenter;
  }
  let code = 0;
  try {
    if (files.length > 0) code = await runTests(files, env, env.DC_TEST_CONCURRENCY ?? '2', 600_000);
  } finally {
    if (node && !node.reused) await node.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
  if (clusterFiles.length > 0) code = Math.max(code, await runTests(clusterFiles, process.env, '1', 1_500_000));
  return code;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`test run failed: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
