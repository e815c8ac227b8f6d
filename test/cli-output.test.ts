// A closed pipe or a full disk on stdout: the command ends quietly with exit code 1, never with
// a stack trace. The real binary in a real shell pipeline, and /dev/full for a full disk.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, REPO } from './helpers/cli.js';

// Output much larger than a pipe's buffer, so the writer meets the closed pipe.
const dir = mkdtempSync(join(tmpdir(), 'envserve-out-'));
const big = join(dir, 'build.envd');
writeFileSync(big, `def serve():\n${Array.from({ length: 3000 }, (_, i) => `    host.bind(env_port=8888, host_port=${10000 + i})`).join('\n')}\n`);

function sh(script: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-c', script], { cwd: REPO, encoding: 'utf8', env: { ...process.env, ENVSERVE: `${process.execPath} ${BIN}` } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

for (const args of [`plan -f ${big} -o json`, `plan -f ${big} -o yaml`, `plan -f ${big}`]) {
  test(`envserve ${args.replace(big, 'BIG')} | head -c 10: quiet, exit 1`, () => {
    const r = sh(`$ENVSERVE ${args} | head -c 10 >/dev/null; echo "status=\${PIPESTATUS[0]}"`);
    assert.match(r.stdout, /status=1\n/);
    assert.equal(r.stderr, '', 'nothing on stderr, and surely no stack trace');
  });
}

test('a full disk on stdout: one line on stderr, exit 1', () => {
  for (const args of [`plan -f ${big} -o json`, 'render -f testdata/examples/seed-cloud.envd']) {
    const r = sh(`$ENVSERVE ${args} >/dev/full; echo "status=$?"`);
    assert.match(r.stdout, /status=1\n/);
    assert.match(r.stderr, /^(warning: .*\n)*envserve: cannot write the output: no space left on device\n$/);
    assert.doesNotMatch(r.stderr, /\bat \S+ \(|node:internal/);
  }
});
