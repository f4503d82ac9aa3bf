// Storage owns the CQL and the driver: statement text (SELECT … FROM, INSERT INTO, UPDATE … SET,
// DELETE … FROM, CREATE/ALTER/DROP TABLE|KEYSPACE|INDEX|TYPE|ROLE, TRUNCATE, BEGIN BATCH) in a
// string or template literal may appear only under src/storage/, translators/, src/cqlproxy/ (which rewrites its
// clients' CQL) and src/local-node/ (which sets a node up). The literals are read from the syntax
// tree, so comments and prose do not count.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ALLOWED = ['src/storage/', 'translators/', 'src/cqlproxy/', 'src/local-node/'];
const CQL = new RegExp(
  '^\\s*(?:' +
    [
      'SELECT\\s+\\S[\\s\\S]*\\sFROM\\s',
      'INSERT\\s+INTO\\s',
      'UPDATE\\s+\\S+\\s+(?:USING\\s[\\s\\S]*)?SET\\s',
      'DELETE\\s[\\s\\S]*FROM\\s',
      '(?:CREATE|ALTER|DROP)\\s+(?:TABLE|KEYSPACE|INDEX|TYPE|ROLE|MATERIALIZED\\s+VIEW)\\s',
      'TRUNCATE\\s',
      'BEGIN\\s+(?:UNLOGGED\\s+|COUNTER\\s+)?BATCH\\b',
    ].join('|') +
    ')',
);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The string and template literals of a source text that read as CQL statements. */
export function cqlLiterals(fileName: string, text: string): string[] {
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    let literal: string | undefined;
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) literal = node.text;
    // A substitution stands for a name or a value: `SELECT ${cols} FROM ${table}` still reads as CQL.
    else if (ts.isTemplateExpression(node)) literal = node.head.text + node.templateSpans.map((s) => `x${s.literal.text}`).join('');
    if (literal !== undefined && CQL.test(literal)) found.push(literal);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

test('the CQL finder finds statements in strings and templates, not in prose or comments', () => {
  const text = [
    "const a = 'SELECT pk FROM t WHERE pk = ?';",
    'const b = `INSERT INTO ${table} (pk) VALUES (?)`;',
    'const c = `UPDATE ${t} USING TIMESTAMP ? SET v = ? WHERE pk = ?`;',
    "const d = 'DROP TABLE IF EXISTS x';",
    'const e = `TRUNCATE ${name}`;',
    "// SELECT pk FROM t in a comment",
    "const f = 'Select the table to update from the list';",
    "const g = 'the item to delete from the table';",
  ].join('\n');
  assert.equal(cqlLiterals('x.ts', text).length, 5);
});

test('CQL statements only in storage, translators, the CQL proxy and the local node', () => {
  const files = [...sources(join(root, 'src')), ...sources(join(root, 'translators'))];
  assert.ok(files.length > 50, `found only ${files.length} source files under ${root}`);
  const withCql = files
    .filter((f) => cqlLiterals(f, readFileSync(f, 'utf8')).length > 0)
    .map((f) => relative(root, f).split(sep).join('/'))
    .filter((f) => !ALLOWED.some((dir) => f.startsWith(dir)));
  assert.deepEqual(withCql, [], 'CQL outside storage: add a storage service instead (state tables go under src/storage/state/)');
});

test('only storage (and the standalone CQL proxy and local node) import cassandra-driver; actions never do', () => {
  const files = [...sources(join(root, 'src')), ...sources(join(root, 'translators'))];
  const importers = files
    .filter((f) => ts.preProcessFile(readFileSync(f, 'utf8'), true, true).importedFiles.some((i) => i.fileName === 'cassandra-driver' || i.fileName.startsWith('cassandra-driver/')))
    .map((f) => relative(root, f).split(sep).join('/'));
  assert.ok(importers.some((f) => f.startsWith('src/storage/')), 'the finder finds the session module');
  assert.deepEqual(importers.filter((f) => !['src/storage/', 'src/cqlproxy/', 'src/local-node/'].some((dir) => f.startsWith(dir))), []);
});
