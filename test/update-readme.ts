// `npm run readme`: rewrites the generated parts of README.md (each command's options table, and the
// benchmark figures from docs/benchmarks.md when present).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMAND_SPECS, readmeBlockName } from '../src/command-specs.js';
import { optionsMarkdown } from '../src/options.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function replaceBlock(text: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${name} block`);
  return text.slice(0, a + begin.length) + '\n' + body.trim() + '\n' + text.slice(b);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readme = join(root, 'README.md');
  let text = readFileSync(readme, 'utf8');
  for (const command of COMMAND_SPECS) text = replaceBlock(text, readmeBlockName(command), optionsMarkdown(command));
  const bench = join(root, 'docs', 'benchmarks.md');
  if (existsSync(bench)) {
    // One heading level down: the report's sections sit under the README's "Benchmarks".
    const report = readFileSync(bench, 'utf8').replace(/^# Benchmarks\s*/, '').replace(/^(#+) /gm, '#$1 ');
    text = replaceBlock(text, 'bench', report);
  }
  writeFileSync(readme, text);
}
