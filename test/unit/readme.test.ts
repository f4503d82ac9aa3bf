// The README's configuration table is generated from the option table; this keeps it true.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMAND_SPECS, readmeBlockName } from '../../src/command-specs.js';
import { optionsMarkdown } from '../../src/options.js';

const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'README.md'), 'utf8');

for (const command of COMMAND_SPECS) {
  test(`README lists every option of ${command.name} exactly as its table defines it (run \`npm run readme\` after changing options)`, () => {
    const begin = `<!-- ${readmeBlockName(command)}:begin -->`;
    const end = `<!-- ${readmeBlockName(command)}:end -->`;
    assert.ok(readme.includes(begin) && readme.includes(end), `README.md has no ${begin} block`);
    const block = readme.slice(readme.indexOf(begin) + begin.length, readme.indexOf(end));
    assert.equal(block.trim(), optionsMarkdown(command).trim());
  });
}
