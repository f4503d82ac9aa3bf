// `npm run bench [-- --seconds N --concurrency N --workers N --items N]`: runs the benchmarks,
// prints their tables and writes them to docs/benchmarks.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runCore } from './core.js';
import { runReads } from './reads.js';
import { runCqlProxyBench } from './cqlproxy.js';
import { runAuthBench } from './auth.js';
import { runReplicationBench } from './replication.js';
import { runStreamsBench } from './streams.js';
import { runTransactionBench } from './transactions.js';
import { runPeers } from './peers.js';
import { runMemory } from './memory.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '32' },
    workers: { type: 'string', default: '1' },
    items: { type: 'string', default: '2000' },
    sizes: { type: 'string', default: '10000,100000,1000000' },
    rounds: { type: 'string', default: '3' },
    'soak-seconds': { type: 'string', default: '600' },
    'scan-rows': { type: 'string', default: '1000000' },
    only: { type: 'string' },
    warmup: { type: 'string', default: '3' },
  },
});

async function main() {
  const started = new Date().toISOString();
  const wanted = (name: string) => !values.only || values.only.split(',').includes(name);
  const sections: string[] = [];
  // The benchmarks of the API through a `serve` process share these settings.
  const serveOptions = {
    seconds: Number(values.seconds),
    concurrency: Number(values.concurrency),
    workers: Number(values.workers),
    items: Number(values.items),
  };
  if (wanted('core')) {
    const core = await runCore(serveOptions);
    sections.push('## Core item operations', '', core, '');
  }
  if (wanted('peers')) {
    const peers = await runPeers({ seconds: Number(values.seconds), concurrency: Number(values.concurrency), rounds: Number(values.rounds), warmup: Number(values.warmup) });
    sections.push('## Against the peers: DynamoDB Local and dynalite', '', peers, '');
  }
  if (wanted('reads')) {
    const reads = await runReads({
      seconds: Number(values.seconds),
      concurrency: Number(values.concurrency),
      sizes: values.sizes!.split(',').map(Number),
      rounds: Number(values.rounds),
      warmup: Number(values.warmup),
    });
    sections.push('## Reads at scale', '', reads, '');
  }
  if (wanted('auth')) {
    const auth = await runAuthBench(serveOptions);
    sections.push('## Cost of SigV4 verification', '', auth, '');
  }
  if (wanted('replication')) {
    // More than about 50k items makes DynamoDB Local (the source, 512 MB heap) thrash.
    const replication = await runReplicationBench({ items: 30000, writeRate: 1000, seconds: 20 });
    sections.push('## Replication from DynamoDB Streams', '', replication, '');
  }
  if (wanted('streams')) {
    const streams = await runStreamsBench({ seconds: Number(values.seconds), concurrency: Number(values.concurrency), items: Number(values.items) });
    sections.push('## Streams', '', streams, '');
  }
  if (wanted('transactions')) {
    const tx = await runTransactionBench({ seconds: Number(values.seconds), concurrency: Number(values.concurrency), rounds: Number(values.rounds), warmup: Number(values.warmup) });
    sections.push('## Transactions', '', tx, '');
  }
  if (wanted('memory')) {
    const memory = await runMemory({ soakSeconds: Number(values['soak-seconds']), concurrency: 16, scanRows: Number(values['scan-rows']) });
    sections.push('## Memory', '', memory, '');
  }
  if (wanted('cqlproxy')) {
    const proxy = await runCqlProxyBench({ seconds: Number(values.seconds), concurrency: Number(values.concurrency) });
    sections.push('## CQL dual-write proxy', '', proxy, '');
  }
  const report = [`# Benchmarks`, '', `Run at ${started} on ${process.platform}/${process.arch}, Node ${process.version}, 2 cores shared by Cassandra, the server and the load generator.`, '', ...sections].join('\n');
  process.stdout.write(report + '\n');
  const docs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');
  mkdirSync(docs, { recursive: true });
  // A partial run (--only) gets its own file, so it does not replace the full report.
  writeFileSync(join(docs, values.only ? `benchmarks-${values.only.replace(/,/g, '-')}.md` : 'benchmarks.md'), report);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
