// One-way data flow (file → language → plan): envfile may import plan (the model), plan never
// imports envfile. A scan of the import/export-from lines of every file under src/plan.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const planDir = dirname(fileURLToPath(import.meta.url));
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
