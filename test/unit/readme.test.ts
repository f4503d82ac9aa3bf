// The README's configuration table is generated from the option table; this keeps it true.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { optionsMarkdown } from '../../src/config.js';

test('README lists every option exactly as the server defines it (run `npm run readme` after changing options)', () => {
  const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'README.md'), 'utf8');
  const block = readme.slice(readme.indexOf('<!-- options:begin -->') + '<!-- options:begin -->'.length, readme.indexOf('<!-- options:end -->'));
  assert.equal(block.trim(), optionsMarkdown().trim());
});
