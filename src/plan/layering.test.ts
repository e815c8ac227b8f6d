// The direction of dependencies, checked over the real import graph of src/ (the import/export-from
// lines of every .ts file):
//
//   base (errors, reasons, version)
//     ← lang, plan                        the language; the model
//     ← envfile, policy, status, probe    file → plan; ops' policies; status/record types; the prober
//     ← apply                             the runtimes (never the engine)
//     ← engine                            the run loop, the state record, the control socket
//     ← check, operator                   `check` as a library; the operator's controller and client half
//     ← ui, the operator's HTTP server    front ends
//     ← cli                               the front end that hosts the others
//     ← index.ts                          the public API
//
// A file may import its own group and the groups below it, never one at its level or above. And
// no import cycle outside src/lang (the evaluator's modules refer to each other on purpose).
// Test files are not part of the layers (they may reach across to drive what they test).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const planDir = dirname(fileURLToPath(import.meta.url));
const srcDir = resolve(planDir, '..');
const envfileDir = resolve(planDir, '../envfile');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative module specifiers of static imports, `export … from` and dynamic `import(…)`. */
function importedSpecifiers(source: string): string[] {
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;
  return [...source.matchAll(re)].map((m) => m[1]!);
}

/** src-relative file → the src-relative .ts files it imports (relative specifiers inside src only). */
type Graph = Map<string, string[]>;

function importGraph(files: string[]): Graph {
  const graph: Graph = new Map();
  for (const file of files) {
    const targets = importedSpecifiers(readFileSync(file, 'utf8'))
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => resolve(dirname(file), spec).replace(/\.js$/, '.ts'))
      .filter((target) => target.startsWith(srcDir + '/'))
      .map((target) => relative(srcDir, target));
    graph.set(relative(srcDir, file), targets);
  }
  return graph;
}

const RANKS: Record<string, number> = {
  base: 0,
  lang: 1, plan: 1,
  envfile: 2, policy: 2, status: 2, probe: 2,
  apply: 3,
  engine: 4,
  check: 5, operator: 5,
  ui: 6, 'operator-server': 6,
  cli: 7,
  index: 8,
};

/** The group of a src-relative file. */
function groupOf(file: string): string {
  if (file === 'index.ts') return 'index';
  if (['errors.ts', 'reasons.ts', 'version.ts'].includes(file)) return 'base';
  if (file === 'operator/api.ts') return 'operator-server';
  const top = file.split('/')[0]!;
  if (!(top in RANKS) || !file.includes('/')) throw new Error(`src/${file} is in no layer: add it to RANKS in src/plan/layering.test.ts`);
  return top;
}

/** Imports that run sideways or upward, as "from → to (group → group)". */
function layerViolations(graph: Graph): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    if (from.endsWith('.test.ts')) continue;
    const g = groupOf(from);
    for (const to of targets) {
      const h = groupOf(to);
      if (h !== g && RANKS[h]! >= RANKS[g]!) out.push(`src/${from} imports src/${to} (${g} → ${h})`);
    }
  }
  return out;
}

/** Strongly connected components with more than one file (or a file importing itself): Tarjan. */
function cycles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)!.includes(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out.sort((x, y) => x[0]!.localeCompare(y[0]!));
}

test('the import scan sees every form of import', () => {
  const src = [
    "import { a } from '../other/a.js';",
    "import type { B } from \"../other/b.js\";",
    "export { c } from '../other/c.js';",
    "import '../other/d.js';",
    "const e = await import('../other/e.js');",
  ].join('\n');
  assert.deepEqual(importedSpecifiers(src), ['../other/a.js', '../other/b.js', '../other/c.js', '../other/d.js', '../other/e.js']);
});

test('no file under src/plan imports from src/envfile', () => {
  const files = tsFiles(planDir);
  assert.ok(files.length > 5, `expected the planner's files under ${planDir}`);
  const offenders: string[] = [];
  for (const file of files) {
    for (const spec of importedSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      if (target === envfileDir || target.startsWith(envfileDir + '/')) offenders.push(`${relative(planDir, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(offenders, [], 'plan is the model: move what it needs into src/plan, or compose in src/envfile');
});

test('the layer and cycle checks catch an upward import, a sideways one and a cycle', () => {
  const graph: Graph = new Map([
    ['apply/types.ts', ['engine/state.ts', 'plan/types.ts']],
    ['probe/index.ts', ['ui/server.ts']],
    ['engine/state.ts', ['status/records.ts']],
    ['check/run.ts', ['operator/cli-client.ts', 'engine/state.ts']],
    ['status/records.ts', []],
    ['plan/types.ts', []],
    ['ui/server.ts', []],
    ['operator/cli-client.ts', ['operator/api.ts']],
    ['operator/api.ts', ['operator/resource.ts']],
    ['operator/resource.ts', ['operator/cli-client.ts']],
    ['lang/a.ts', ['lang/b.ts']],
    ['lang/b.ts', ['lang/a.ts']],
    ['apply/x.test.ts', ['cli/main.ts']],
  ]);
  assert.deepEqual(layerViolations(graph), [
    'src/apply/types.ts imports src/engine/state.ts (apply → engine)',
    'src/probe/index.ts imports src/ui/server.ts (probe → ui)',
    'src/check/run.ts imports src/operator/cli-client.ts (check → operator)',
    'src/operator/cli-client.ts imports src/operator/api.ts (operator → operator-server)',
  ]);
  assert.deepEqual(cycles(graph), [
    ['lang/a.ts', 'lang/b.ts'],
    ['operator/api.ts', 'operator/cli-client.ts', 'operator/resource.ts'],
  ]);
});

const graph = importGraph(tsFiles(srcDir));

test('no import runs from a lower layer to a higher one (plan ← envfile ← engine ← front ends; apply and probe never import the engine)', () => {
  assert.ok(graph.size > 100, `expected envserve's sources under ${srcDir}`);
  assert.deepEqual(layerViolations(graph), [], 'move what the lower layer needs down to it (see the layers at the top of src/plan/layering.test.ts)');
});

test('no import cycle outside src/lang', () => {
  const outside = cycles(graph).filter((scc) => scc.some((f) => !f.startsWith('lang/')));
  assert.deepEqual(outside, [], 'break the cycle: move what both need into a module both import');
});
