#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node's test runner (through tsx).
// Node 20's runner takes no globs, so the files are listed here.
//
// Tests that need real infrastructure live in their own folders, and the infrastructure is
// started for them here (and stopped afterwards). If it cannot start, the run fails: no test
// ever skips itself into green.
//   test/docker/  → a Podman engine with the Docker API  (scripts/testenv/podman/up.sh)
//   test/k8s/     → a real Kubernetes cluster             (scripts/testenv/k8s/up.sh)
//   test/jupyter/ → a real Jupyter in a cached venv + an unprivileged user (scripts/testenv/jupyter/up.sh)
//   test/ui/      → a real browser, Debian's chromium      (scripts/testenv/chromium/up.sh)
//   test/ui/k8s/  → the browser and the cluster
// Each up.sh writes .testenv/<name>/env.json: environment variables for the tests.
//
// The tests of the command run bin/envserve.js → dist/, so the runner builds first and fails when
// the build fails: no run tests stale code (`npm run test:unit` included).
// Every test has a time limit (10 min; ENVSERVE_TEST_TIMEOUT_MS): a test that hangs fails, and the run goes on.
//
// Usage: node scripts/run-tests.mjs [--unit] [file-or-folder ...]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const SUITES = [
  { name: 'podman', folder: 'test/docker' },
  { name: 'k8s', folder: 'test/k8s' },
  { name: 'jupyter', folder: 'test/jupyter' },
  { name: 'chromium', folder: 'test/ui' },
  { name: 'k8s', folder: 'test/ui/k8s' },
];

function find(dir, out = []) {
  let entries;
  try {
    if (statSync(dir).isFile()) return dir.endsWith('.test.ts') ? [...out, dir] : out;
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    // Links are not followed: test fixtures hold /proc-like trees with dangling fd links.
    if (e.isDirectory()) find(p, out);
    else if (e.isFile() && p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const roots = args.filter((a) => !a.startsWith('--'));
let files = (roots.length ? roots : ['src', 'test']).flatMap((r) => find(r)).sort();
const suitesOf = (f) => SUITES.filter((s) => f.startsWith(s.folder + '/'));
if (unitOnly) files = files.filter((f) => suitesOf(f).length === 0);
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}

// The k8s scripts can run several clusters side by side (ENVSERVE_TESTENV_SLOT=N → .testenv/k8s-N).
function envFileOf(suite) {
  const slot = suite.name === 'k8s' ? process.env.ENVSERVE_TESTENV_SLOT : undefined;
  return `.testenv/${suite.name}${slot && slot !== '0' ? `-${slot}` : ''}/env.json`;
}

function sh(script) {
  console.log(`run-tests: bash ${script}`);
  return spawnSync('bash', [script], { stdio: 'inherit' }).status ?? 1;
}

// Generous: the longest tests (the fault suite's 5-minute idle connection, a 75 s freeze) fit.
const TEST_TIMEOUT_MS = Number(process.env.ENVSERVE_TEST_TIMEOUT_MS) || 10 * 60_000;

console.log('run-tests: npm run build');
if (spawnSync('npm', ['run', 'build'], { stdio: 'inherit' }).status !== 0) {
  console.error('run-tests: the build failed, so the run fails (the tests would run a stale dist/)');
  process.exit(1);
}

const needed = [...new Set(files.flatMap(suitesOf).map((s) => s.name))].map((name) => SUITES.find((s) => s.name === name));
const env = { ...process.env };
const started = [];
let status = 1;
try {
  for (const s of needed) {
    const up = `scripts/testenv/${s.name}/up.sh`;
    started.push(s); // down.sh also cleans up after a half-started up.sh
    if (sh(up) !== 0) throw new Error(`${up} failed: the ${s.folder} tests need it, so the run fails`);
    Object.assign(env, JSON.parse(readFileSync(envFileOf(s), 'utf8')));
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files], { stdio: 'inherit', env });
  status = r.status ?? 1;
} catch (e) {
  console.error(`run-tests: ${e.message}`);
  status = 1;
} finally {
  for (const s of started.reverse()) sh(`scripts/testenv/${s.name}/down.sh`);
}
process.exit(status);
