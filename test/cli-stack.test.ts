// A JS stack that runs out anyway (here: a tiny --stack-size) still gives a positioned error, from
// the parser, the resolver or the evaluator: never "<unknown>:1:1".
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN } from './helpers/cli.js';

test('a stack overflow is reported at its place in the env file, with exit code 2', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'envserve-stack-')), 'build.envd');
  writeFileSync(file, ['x = 1', `y = ${'('.repeat(90)}x${')'.repeat(90)}`, `z = ${Array(900).fill('x').join('+')}`, ''].join('\n'));
  const seen = new Set<number>();
  for (const size of [100, 200]) {
    const r = spawnSync(process.execPath, [`--stack-size=${size}`, BIN, 'plan', '-f', file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.ok(!r.stderr.includes('<unknown>'), r.stderr);
    const m = new RegExp(`^${file.replace(/[.\\\\/]/g, '\\$&')}:(\\d+):\\d+: .*(stack overflow|nested too deeply)`).exec(r.stderr);
    assert.ok(m, r.stderr);
    seen.add(Number(m[1]));
  }
  assert.ok([...seen].every((l) => l === 2 || l === 3), `lines ${[...seen]}`);
});
