// The layering (http → actions → storage ← translators, CLIs above the services they start) has
// no import circle; this walks the sources' imports (type-only ones too: a circle of types is a
// circle of design) and names any circle it finds.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative imports of each file, as absolute .ts paths. */
export function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((f) => f.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => resolve(dirname(file), name).replace(/\.js$/, '.ts'));
    graph.set(file, targets);
  }
  return graph;
}

/** Every elementary circle found by a depth-first walk (one per back edge). */
export function findCircles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const circles: string[][] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'open') circles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return circles;
}

test('the circle finder finds a circle and passes a tree', () => {
  const circle = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
  assert.deepEqual(findCircles(circle), [['a', 'b', 'c', 'a']]);
  const tree = new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]);
  assert.deepEqual(findCircles(tree), []);
});

test('no import circle in src/ and translators/', () => {
  const files = [...sources(join(root, 'src')), ...sources(join(root, 'translators'))];
  assert.ok(files.length > 50, `found only ${files.length} source files under ${root}`);
  const circles = findCircles(importGraph(files)).map((c) => c.map((f) => relative(root, f)).join(' → '));
  assert.deepEqual(circles, []);
});

test('only the command dispatcher imports the server (CLIs reach Cassandra through src/cluster.ts)', () => {
  const graph = importGraph([...sources(join(root, 'src')), ...sources(join(root, 'translators'))]);
  const server = join(root, 'src', 'server.ts');
  const importers = [...graph].filter(([, targets]) => targets.includes(server)).map(([file]) => relative(root, file));
  assert.deepEqual(importers, ['src/cli.ts']);
});
