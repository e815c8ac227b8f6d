// No secret value (a Jupyter password or token) appears in anything envserve prints, even for
// inputs built to provoke errors on the very line that holds the secret. The real binary.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { envserve } from './helpers/cli.js';

const PW = 'Pw-9f3kQz-Secret';
const TOKEN = 'tok-77aa-Secret';

const CASES: [string, string][] = [
  ['valid file, every output format', `def build():\n    config.jupyter(password="${PW}", token="${TOKEN}")\ndef serve():\n    cloud.k8s.bind(env_port=8888, type=cloud.k8s.clusterIP)\n`],
  ['error on the line of the password', `def build():\n    config.jupyter(password="${PW}", port="8888")\n`],
  ['error on the line of the token', `def build():\n    config.jupyter(token='${TOKEN}', password=r"${PW}", prot=1)\n`],
  ['password of the wrong type', `def build():\n    config.jupyter(password=${PW.length}123456789)\n`],
  ['token of the wrong type', `def build():\n    config.jupyter(token=["${TOKEN}"])\n`],
  ['syntax error after the secret', `def build():\n    config.jupyter(password="${PW}" token="${TOKEN}")\n`],
  ['plan-validation error in a file with a secret', `def build():\n    config.jupyter(password="${PW}")\ndef serve():\n    host.bind(env_port=8888, host_port=70000)\n`],
  ['runtime error in a comprehension beside the secret', `PW = "${PW}"\ndef build():\n    config.jupyter(password=PW); x = [1][5]\n`],
];

test('no password or token appears in any output of plan or render, for valid and provoking inputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-secrets-'));
  for (const [what, source] of CASES) {
    const file = join(dir, 'build.envd');
    writeFileSync(file, source);
    const valid = what.startsWith('valid');
    const runs = [
      envserve(['plan', '-f', file]),
      envserve(['render', '-f', file]),
      ...(valid ? [envserve(['plan', '-f', file, '-o', 'json']), envserve(['plan', '-f', file, '-o', 'yaml'])] : []),
    ];
    for (const r of runs) {
      const out = r.stdout + r.stderr;
      for (const secret of [PW, TOKEN, `${PW.length}123456789`]) {
        assert.ok(!out.includes(secret), `${what}: the output shows a secret:\n${out}`);
      }
    }
    if (!valid) {
      assert.ok(runs.every((r) => r.code === 2), `${what}: every command exits 2`);
      assert.match(runs[0]!.stderr, /build\.envd:\d+:\d+: /, `${what}: the error is positioned`);
    }
  }
});
