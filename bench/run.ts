// `npm run bench [-- --seconds N --concurrency N --workers N --items N]`: runs the benchmarks,
// prints their tables and writes them to docs/benchmarks.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runCore } from './core.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '32' },
    workers: { type: 'string', default: '2' },
    items: { type: 'string', default: '2000' },
  },
});

async function main() {
  const started = new Date().toISOString();
  const core = await runCore({
    seconds: Number(values.seconds),
    concurrency: Number(values.concurrency),
    workers: Number(values.workers),
    items: Number(values.items),
  });
  const report = [`# Benchmarks`, '', `Run at ${started} on ${process.platform}/${process.arch}, Node ${process.version}.`, '', '## Core item operations', '', core, ''].join('\n');
  process.stdout.write(report + '\n');
  const docs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');
  mkdirSync(docs, { recursive: true });
  writeFileSync(join(docs, 'benchmarks.md'), report);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
