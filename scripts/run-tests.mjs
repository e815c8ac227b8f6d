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
// Kubernetes versions: the k8s suites run on the default release (scripts/testenv/k8s/versions.sh;
// ENVSERVE_TESTENV_K8S_VERSION picks another for a run of named files). A run of the whole suite then
// runs the version matrix (MATRIX below): a few suites again on clusters that take the other
// port-forward paths. The older release's components are built in the background while the main
// suites run (they are cached per version, so only the first run builds them).
//
// Usage: node scripts/run-tests.mjs [--unit] [--oldest | --this-node | --matrix] [file-or-folder ...]
//   --oldest      only the second pass: the unit files (all, or those named) on the oldest supported Node
//   --this-node   one pass on the Node that runs this script (CI's matrix of Node lines), no second
//   --matrix      only the Kubernetes version matrix's passes
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
const matrixOnly = args.includes('--matrix');
const unitOnly = args.includes('--unit') || oldestOnly;
const roots = args.filter((a) => !a.startsWith('--'));
let files = matrixOnly ? [] : (roots.length ? roots : ['src', 'test']).flatMap((r) => find(r)).sort();
const suitesOf = (f) => SUITES.filter((s) => f.startsWith(s.folder + '/'));
if (unitOnly) files = files.filter((f) => suitesOf(f).length === 0);
if (files.length === 0 && !matrixOnly) {
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
// The test runner always starts a fresh cluster (up.sh would otherwise keep a whole one running).
const env = { ...process.env, PATH: `${dirname(projectNode)}${delimiter}${process.env.PATH ?? ''}`, ENVSERVE_TESTENV_FRESH: '1' };

function sh(script, ...params) {
  const extra = typeof params.at(-1) === 'object' ? params.pop() : {};
  const vars = Object.entries(extra).map(([k, v]) => `${k}=${v} `).join('');
  console.log(`run-tests: ${vars}bash ${[script, ...params].join(' ')}`);
  return spawnSync('bash', [script, ...params], { stdio: 'inherit', env: { ...env, ...extra } }).status ?? 1;
}

// The variables of an up.sh's env.json for the tests; the cluster's own kubectl first on PATH, so
// `kubectl` in tests is the cluster's version.
function infraEnv(file, base) {
  const vars = JSON.parse(readFileSync(file, 'utf8'));
  const out = { ...base, ...vars };
  if (vars.ENVSERVE_TEST_KUBECTL) out.PATH = `${dirname(vars.ENVSERVE_TEST_KUBECTL)}${delimiter}${base.PATH}`;
  if (vars.ENVSERVE_TEST_K8S_VERSION) {
    const gates = vars.ENVSERVE_TEST_APISERVER_FEATURE_GATES;
    console.log(`run-tests: the k8s tests run on Kubernetes ${vars.ENVSERVE_TEST_K8S_VERSION}${gates ? ` (API server feature gates ${gates})` : ''}, kubectl ${vars.ENVSERVE_TEST_KUBECTL}`);
  }
  return out;
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

// Each pass also writes its failed tests, a line each, to a file of its own (failures-reporter.mjs):
// the run ends by repeating them, so the tail of a long log says what failed.
const failureFiles = [];
function failuresFile(label, version) {
  const file = resolve(`.testenv/failures/${failureFiles.length}.txt`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, '');
  const pass = { label, version, file, code: undefined };
  failureFiles.push(pass);
  return pass;
}
function failureSummary() {
  for (const { label, version, file, code } of failureFiles) {
    if (code === 0 || code === undefined) continue;
    const lines = readFileSync(file, 'utf8').trim();
    console.log(`run-tests: FAILED: ${label} on Node.js v${version}:${lines ? `\n${lines.replace(/^/gm, '  ')}` : ' no test failed by name (a crash or a file that did not load: see its output above)'}`);
  }
}
const testArgs = (list, failures) => [
  '--import', 'tsx', '--test', `--test-timeout=${TEST_TIMEOUT_MS}`,
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  `--test-reporter=${resolve('scripts/failures-reporter.mjs')}`, `--test-reporter-destination=${failures}`,
  ...list,
];
const passEnv = (runEnv, version) => ({ ...runEnv, ENVSERVE_TEST_NODE_VERSION: `v${version}` });
const passResult = (label, version, code, t0) =>
  console.log(`run-tests: ${label} on Node.js v${version}: ${code === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - t0) / 1000)} s`);

// One pass of node's test runner over `list` on the given Node binary; its exit status.
function runTests(node, version, list, label, runEnv) {
  console.log(`run-tests: ${label}: ${list.length} files on Node.js v${version} (${node})`);
  const t0 = Date.now();
  const failures = failuresFile(label, version);
  const code = spawnSync(node, testArgs(list, failures.file), { stdio: 'inherit', env: passEnv(runEnv, version) }).status ?? 1;
  failures.code = code;
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
  const failures = failuresFile(label, oldest.version);
  const child = spawn(oldest.node, testArgs(list, failures.file), { stdio: ['ignore', fd, fd], env: passEnv(env, oldest.version) });
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
      failures.code = code;
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
      Object.assign(testEnv, infraEnv(envFileOf(s), testEnv));
    }
    if (needed.some((s) => s.name === 'k8s') && !roots.length && !unitOnly) matrixPrebuild();
    await before?.();
    return runTests(projectNode, projectVersion, files, label, testEnv);
  } catch (e) {
    console.error(`run-tests: ${e.message}`);
    return 1;
  } finally {
    for (const s of started.reverse()) sh(`scripts/testenv/${s.name}/down.sh`);
  }
}

// ---------------------------------------------------------------- the Kubernetes version matrix
// After the main run (on the default release), a few suites again on clusters that take the other
// port-forward paths; test/k8s/pf-path.test.ts proves in each pass which path was taken. Kept small
// and explicit: each pass costs a cluster start (≈ 1–2 min) plus its suites.
const K8S_MATRIX_VERSIONS = /^K8S_MATRIX_VERSIONS="([^"]*)"/m.exec(readFileSync('scripts/testenv/k8s/versions.sh', 'utf8'))?.[1].split(/\s+/) ?? [];
const [DEFAULT_K8S, OLDER_K8S] = K8S_MATRIX_VERSIONS;
const MATRIX = [
  {
    label: 'the port-forward suite with ExtendWebSocketsToKubelet off (WebSocket tunnelled at the API server)',
    vars: { ENVSERVE_TESTENV_K8S_VERSION: DEFAULT_K8S, ENVSERVE_TESTENV_APISERVER_FEATURE_GATES: 'ExtendWebSocketsToKubelet=false' },
    files: ['test/k8s/pf-path.test.ts', 'test/k8s/expose-portforward.test.ts'],
  },
  {
    label: `the port-forward, Services and operator suites on Kubernetes ${OLDER_K8S} (no WebSocket tunnel: SPDY upgrade)`,
    vars: { ENVSERVE_TESTENV_K8S_VERSION: OLDER_K8S, ENVSERVE_TESTENV_APISERVER_FEATURE_GATES: '' },
    files: ['test/k8s/pf-path.test.ts', 'test/k8s/expose-portforward.test.ts', 'test/k8s/expose-services.test.ts', 'test/k8s/operator.test.ts'],
  },
];
const K8S = SUITES.find((s) => s.name === 'k8s');

// The older release's components, built in the background while the main suites run (the
// cluster is up by then; the build runs at low priority, build.sh). ENVSERVE_TEST_MATRIX_PREBUILD=0:
// build them only when their pass starts. up.sh's own build waits for this one (a lock per component).
let prebuild;
function matrixPrebuild() {
  if (prebuild || !OLDER_K8S || process.env.ENVSERVE_TEST_MATRIX_PREBUILD === '0') return;
  const log = resolve('.testenv/matrix-build.log');
  mkdirSync(dirname(log), { recursive: true });
  const fd = openSync(log, 'w');
  console.log(`run-tests: building Kubernetes ${OLDER_K8S}'s components in the background (cached after the first run); output: ${log}`);
  const t0 = Date.now();
  const child = spawn('bash', ['scripts/testenv/k8s/build.sh', 'kubernetes', 'kubelet', 'kubectl'], { stdio: ['ignore', fd, fd], env: { ...env, ENVSERVE_TESTENV_K8S_VERSION: OLDER_K8S } });
  closeSync(fd);
  prebuild = new Promise((done) => {
    child.on('error', () => done(1));
    child.on('exit', (code) => {
      console.log(`run-tests: the background build of Kubernetes ${OLDER_K8S} ${code === 0 ? 'ended' : 'FAILED'} after ${Math.round((Date.now() - t0) / 1000)} s`);
      done(code ?? 1);
    });
  });
}

async function runMatrix() {
  let status = 0;
  const t0 = Date.now();
  for (const m of MATRIX) {
    const t1 = Date.now();
    let code = 1;
    if (m.vars.ENVSERVE_TESTENV_K8S_VERSION === OLDER_K8S) await prebuild; // a failed one: up.sh builds again, and says why
    try {
      if (sh(`scripts/testenv/k8s/up.sh`, m.vars) !== 0) throw new Error('scripts/testenv/k8s/up.sh failed');
      code = runTests(projectNode, projectVersion, m.files, `matrix: ${m.label}`, infraEnv(envFileOf(K8S), { ...env, ...m.vars }));
    } catch (e) {
      console.error(`run-tests: matrix: ${m.label}: ${e.message}`);
    } finally {
      sh('scripts/testenv/k8s/down.sh');
    }
    console.log(`run-tests: matrix: ${m.label}: ${code === 0 ? 'passed' : 'FAILED'}, ${Math.round((Date.now() - t1) / 1000)} s with the cluster's start and stop`);
    status ||= code;
  }
  console.log(`run-tests: the Kubernetes version matrix took ${Math.round((Date.now() - t0) / 1000)} s`);
  return status;
}

let status = 0;
if (matrixOnly) {
  matrixPrebuild();
  status = await runMatrix();
} else if (oldestOnly) {
  status = await oldestPass('the unit files', false).wait();
} else {
  // A run of everything (no files named) also passes the unit suite on the oldest supported Node.
  const second = roots.length || thisNode ? undefined : oldestPass('the unit suite on the oldest supported Node', needed.length > 0);
  status = await runWithInfra(roots.length ? 'the named files' : unitOnly ? 'the unit suite' : 'the whole suite', second?.wait);
  const secondStatus = (await second?.wait()) ?? 0; // runs (or is reported) even after a failure
  status ||= secondStatus;
  // The whole suite: the version matrix too (even after a failure: it says which releases fail).
  if (!roots.length && !unitOnly && needed.some((s) => s.name === 'k8s')) status = (await runMatrix()) || status;
}
failureSummary();
process.exit(status);
