// The Node.js version: the check bin/envserve.js runs first, the real command under an unsupported
// Node (20, from the npm registry like the test runs' own Nodes), and the Node these tests run on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REPO, ensureBuilt } from '../../test/helpers/cli.js';
import { OLDEST_NODE, nodeVersionProblem } from './node-version.js';

const pkg = JSON.parse(readFileSync(`${REPO}package.json`, 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> };
// The last release of Node.js 20 (end of life 2026-04-30): a machine's system Node may well be it.
const UNSUPPORTED_NODE = '20.20.2';

test('node version: the check accepts 22.12 and newer, and names the version it refuses', () => {
  for (const ok of ['22.12.0', '22.20.1', '23.0.0', '24.21.0', '26.10.0', 'v26.10.0', '100.0.0']) assert.equal(nodeVersionProblem(ok), undefined, ok);
  assert.equal(nodeVersionProblem('20.20.2'), 'envserve needs Node.js 22.12 or newer; this is 20.20.2');
  assert.equal(nodeVersionProblem('v22.11.0'), 'envserve needs Node.js 22.12 or newer; this is 22.11.0');
  for (const old of ['22.9.0', '21.7.3', '18.20.8', '12.22.12', '8.17.0']) assert.match(nodeVersionProblem(old) ?? '', new RegExp(`this is ${old}$`), old);
  assert.match(nodeVersionProblem('garbage') ?? '', /needs Node\.js 22\.12 or newer; this is garbage$/);
});

test('node version: the check and package.json engines name the same oldest Node', () => {
  assert.equal(pkg.engines.node, `>=${OLDEST_NODE.major}.${OLDEST_NODE.minor}`);
});

test(`node version: the tests run on the Node the runner chose (this is ${process.version})`, () => {
  // scripts/run-tests.mjs says which (the oldest supported for the second pass); else the project's
  // own Node, the devDependency `node` that npm run puts first on PATH.
  const want = process.env.ENVSERVE_TEST_NODE_VERSION ?? `v${pkg.devDependencies.node}`;
  console.log(`node version: running on Node.js ${process.version} (${process.execPath}), expected ${want}`);
  assert.equal(process.version, want);
});

test(`node version: the real bin/envserve.js under Node.js ${UNSUPPORTED_NODE} prints one line and exits 2`, () => {
  ensureBuilt();
  const got = spawnSync('bash', [`${REPO}scripts/testenv/node/install.sh`, UNSUPPORTED_NODE], { encoding: 'utf8' });
  assert.equal(got.status, 0, `installing node@${UNSUPPORTED_NODE} failed:\n${got.stderr}`);
  const node = got.stdout.trim();
  for (const args of [['up', '-f', 'examples/local/build.envd'], ['--version'], []]) {
    const r = spawnSync(node, [BIN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.stderr, `envserve needs Node.js 22.12 or newer; this is ${UNSUPPORTED_NODE}\n`, args.join(' '));
    assert.equal(r.stdout, '');
    assert.equal(r.status, 2);
  }
});

test(`node version: a command that loads the Kubernetes client prints no warning on Node.js ${process.version}`, () => {
  // Node 22 warns about the deprecated punycode builtin that whatwg-url (under the client) requires.
  ensureBuilt();
  const env = { ...process.env, KUBECONFIG: '/nonexistent', ENVSERVE_STATE_DIR: mkdtempSync(join(tmpdir(), 'envserve-state-')) };
  const r = spawnSync(process.execPath, [BIN, 'check', '-f', 'examples/local/build.envd', '--runtime', 'k8s'], { cwd: REPO, env, encoding: 'utf8', timeout: 60_000 });
  assert.match(r.stdout, /NotRunning: envserve up is not running/);
  assert.equal(r.status, 1);
  assert.doesNotMatch(r.stderr, /Warning|\(node:\d+\)/);
});
