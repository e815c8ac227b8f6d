#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node's test runner (through tsx).
// The files are listed here (the same list for every Node a run uses).
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
// Node.js: the tests run on the project's own Node (the devDependency `node`, the Active LTS:
// node_modules/.bin/node, put first on the children's PATH as npm run does), whatever Node runs this
// script. A run of the whole suite (no files named; `npm test`, `npm run test:unit`) also runs the
// unit suite on the oldest supported Node (package.json's engines), installed from the npm registry
// by scripts/testenv/node/install.sh into a cache folder: while the infrastructure comes up (see
// oldestPass), else after the first pass. Each pass tells the tests which version it meant
// (ENVSERVE_TEST_NODE_VERSION); src/cli/node-version.test.ts fails on any other.
//
// Usage: node scripts/run-tests.mjs [--unit] [--oldest | --this-node] [file-or-folder ...]
//   --oldest      only the second pass: the unit files (all, or those named) on the oldest supported Node
//   --this-node   one pass on the Node that runs this script (CI's matrix of Node lines), no second
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

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
const oldestOnly = args.includes('--oldest');
const thisNode = args.includes('--this-node');
const unitOnly = args.includes('--unit') || oldestOnly;
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

// The project's Node (or with --this-node the one running this) first on PATH: npm, tsx and `node`
// in the tests and scripts resolve to it.
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const projectNode = thisNode ? process.execPath : resolve('node_modules/.bin/node');
const projectVersion = thisNode ? process.versions.node : pkg.devDependencies.node;
if (!existsSync(projectNode)) {
  console.error('run-tests: node_modules/.bin/node is missing (the devDependency `node`): run npm ci');
  process.exit(1);
}
const env = { ...process.env, PATH: `${dirname(projectNode)}${delimiter}${process.env.PATH ?? ''}` };

function sh(script, ...params) {
  console.log(`run-tests: bash ${[script, ...params].join(' ')}`);
  return spawnSync('bash', [script, ...params], { stdio: 'inherit', env }).status ?? 1;
}

// The oldest supported Node, from engines (">=22.12" → 22.12.0).
function oldestNode() {
  const m = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(pkg.engines?.node ?? '');
  if (!m) throw new Error(`package.json engines.node is ${JSON.stringify(pkg.engines?.node)}, not ">=X.Y"`);
  const version = `${m[1]}.${m[2]}.${m[3] ?? 0}`;
  console.log(`run-tests: bash scripts/testenv/node/install.sh ${version}`);
  const r = spawnSync('bash', ['scripts/testenv/node/install.sh', version], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`installing Node.js ${version} failed: the unit suite must also pass on it`);
  return { version, node: r.stdout.trim() };
}

const testArgs = (list) => ['--import', 'tsx', '--test', `--test-timeout=${TEST_TIMEOUT_MS}`, ...list];
const passEnv = (runEnv, version) => ({ ...runEnv, ENVSERVE_TEST_NODE_VERSION: `v${version}` });
const passResult = (label, version, code, t0) =>
  console.log(`run-tests: ${label} on Node.js v${version}: ${code === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - t0) / 1000)} s`);

// One pass of node's test runner over `list` on the given Node binary; its exit status.
function runTests(node, version, list, label, runEnv) {
  console.log(`run-tests: ${label}: ${list.length} files on Node.js v${version} (${node})`);
  const t0 = Date.now();
  const code = spawnSync(node, testArgs(list), { stdio: 'inherit', env: passEnv(runEnv, version) }).status ?? 1;
  passResult(label, version, code, t0);
  return code;
}

// Generous: the longest tests (the fault suite's 5-minute idle connection, a 75 s freeze) fit.
const TEST_TIMEOUT_MS = Number(process.env.ENVSERVE_TEST_TIMEOUT_MS) || 10 * 60_000;

console.log('run-tests: npm run build');
if (spawnSync('npm', ['run', 'build'], { stdio: 'inherit', env }).status !== 0) {
  console.error('run-tests: the build failed, so the run fails (the tests would run a stale dist/)');
  process.exit(1);
}

const needed = oldestOnly ? [] : [...new Set(files.flatMap(suitesOf).map((s) => s.name))].map((name) => SUITES.find((s) => s.name === name));

// The unit files on the oldest supported Node. When infrastructure must come up first, the pass
// starts at once and runs while it does (its output goes to a log, printed when it ends): on a cold
// machine the cluster's build hides it. The other suite starts only after it ended, so the two
// never share the machine. Else it runs when waited for. wait() gives its exit status (once).
function oldestPass(label, inBackground) {
  const list = files.filter((f) => suitesOf(f).length === 0);
  let oldest;
  try {
    oldest = oldestNode();
  } catch (e) {
    console.error(`run-tests: ${e.message}`);
    return { wait: async () => 1 };
  }
  if (!inBackground) {
    let code;
    return { wait: async () => (code ??= runTests(oldest.node, oldest.version, list, label, env)) };
  }
  const log = resolve('.testenv/oldest-node.log');
  mkdirSync(dirname(log), { recursive: true });
  const fd = openSync(log, 'w');
  console.log(`run-tests: ${label}: ${list.length} files on Node.js v${oldest.version} (${oldest.node}), while the infrastructure comes up; output: ${log}`);
  const t0 = Date.now();
  const child = spawn(oldest.node, testArgs(list), { stdio: ['ignore', fd, fd], env: passEnv(env, oldest.version) });
  closeSync(fd);
  const exited = new Promise((done) => {
    child.on('error', (e) => { console.error(`run-tests: ${e.message}`); done(1); });
    child.on('exit', (code) => done(code ?? 1));
  });
  let result;
  return {
    wait: () => (result ??= exited.then((code) => {
      console.log(`run-tests: ${label} on Node.js v${oldest.version}, its output:`);
      process.stdout.write(readFileSync(log, 'utf8'));
      passResult(label, oldest.version, code, t0);
      return code;
    })),
  };
}

// The whole run (or the named files) on the project's Node, with the infrastructure it needs;
// `before` is awaited once the infrastructure is up, before the tests start.
async function runWithInfra(label, before) {
  const testEnv = { ...env };
  const started = [];
  try {
    for (const s of needed) {
      const up = `scripts/testenv/${s.name}/up.sh`;
      started.push(s); // down.sh also cleans up after a half-started up.sh
      if (sh(up) !== 0) throw new Error(`${up} failed: the ${s.folder} tests need it, so the run fails`);
      Object.assign(testEnv, JSON.parse(readFileSync(envFileOf(s), 'utf8')));
    }
    await before?.();
    return runTests(projectNode, projectVersion, files, label, testEnv);
  } catch (e) {
    console.error(`run-tests: ${e.message}`);
    return 1;
  } finally {
    for (const s of started.reverse()) sh(`scripts/testenv/${s.name}/down.sh`);
  }
}

let status = 0;
if (oldestOnly) {
  status = await oldestPass('the unit files', false).wait();
} else {
  // A run of everything (no files named) also passes the unit suite on the oldest supported Node.
  const second = roots.length || thisNode ? undefined : oldestPass('the unit suite on the oldest supported Node', needed.length > 0);
  status = await runWithInfra(roots.length ? 'the named files' : unitOnly ? 'the unit suite' : 'the whole suite', second?.wait);
  const secondStatus = (await second?.wait()) ?? 0; // runs (or is reported) even after a failure
  status ||= secondStatus;
}
process.exit(status);
