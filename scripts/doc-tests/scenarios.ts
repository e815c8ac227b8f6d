// The docs' scenario blocks (```console scenario=local|k8s): one node:test test per block, each in
// a fresh workspace holding the files the page's earlier blocks define.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kindOf, readBlocks, where } from './blocks.js';
import { checkConsole, newWorkspace, writeBlockFile } from './run.js';

export function scenarioTests(scenario: 'local' | 'k8s', env: () => NodeJS.ProcessEnv, before?: () => void): void {
  const blocks = readBlocks();
  const mine = blocks.filter((b) => kindOf(b) === 'console' && b.tags.scenario === scenario);
  test(`the docs have ${scenario} scenarios`, () => assert.ok(mine.length > 0));
  for (const b of mine) {
    test(`${where(b)}: ${b.body.split('\n').find((l) => l.startsWith('$ '))}`, async () => {
      before?.();
      const ws = newWorkspace(env());
      for (const f of blocks.filter((x) => x.page === b.page && x.line < b.line && ['envd', 'lib', 'file', 'policy'].includes(kindOf(x)))) writeBlockFile(ws, f);
      assert.deepEqual(await checkConsole(ws, b), []);
    });
  }
}
