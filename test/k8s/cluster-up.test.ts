// `npm run cluster:up` (scripts/testenv/k8s/up.sh) on the slot's running cluster: a whole one of the
// version asked for is left running with its state (same component processes, objects kept, in
// seconds); a half-running one (a component dead) or a stale one (another version asked for) is
// what up.sh would clean and start afresh (--check says so without doing it, so the other tests'
// cluster stays up). The clean-and-start path itself runs at the start of every test run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { clusterVersion, eventually } from './cluster.js';
import { env, mustKubectl, rand } from './expose-lib.js';

const STATE = dirname(env.kubeconfig); // .testenv/k8s[-N]
const RUN = join(STATE, 'run');
const v = clusterVersion();

/** up.sh as `npm run cluster:up` runs it: as the cluster's owner (the test run), no FRESH. */
function up(args: string[] = [], extra: Record<string, string> = {}): { code: number; out: string; ms: number } {
  const owner = readFileSync(`/run/envserve-testenv-${env.netns}.owner`, 'utf8').split(' ')[0]!;
  const e: Record<string, string | undefined> = {
    ...process.env, ENVSERVE_TESTENV_OWNER_PID: owner, ENVSERVE_TESTENV_FRESH: undefined,
    ENVSERVE_TESTENV_SLOT: process.env.ENVSERVE_TESTENV_SLOT ?? '0',
    ENVSERVE_TESTENV_K8S_VERSION: v.version, ENVSERVE_TESTENV_APISERVER_FEATURE_GATES: v.gates, ...extra,
  };
  const t0 = Date.now();
  const r = spawnSync('bash', ['scripts/testenv/k8s/up.sh', ...args], { encoding: 'utf8', env: e as NodeJS.ProcessEnv, timeout: 120_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, ms: Date.now() - t0 };
}

const pids = () => Object.fromEntries(readdirSync(RUN).filter((f) => f.endsWith('.pid')).map((f) => [f, readFileSync(join(RUN, f), 'utf8').trim()]));

test('cluster:up on a whole cluster says so and leaves it running, its state kept', () => {
  const marker = `cluster-up-${rand()}`;
  mustKubectl(['-n', 'default', 'create', 'configmap', marker, `--from-literal=k=${marker}`]);
  try {
    const before = pids();
    const envJson = readFileSync(join(STATE, 'env.json'), 'utf8');
    const r = up();
    console.log(`cluster-up: ${v.label}: up.sh on the running cluster took ${r.ms} ms`);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /is up and every component answers: left running, its state kept/);
    assert.doesNotMatch(r.out, /phase: clean previous run|phase: etcd/);
    assert.deepEqual(pids(), before, 'no component was restarted');
    assert.equal(readFileSync(join(STATE, 'env.json'), 'utf8'), envJson);
    assert.match(mustKubectl(['-n', 'default', 'get', 'configmap', marker, '-o', 'jsonpath={.data.k}']), new RegExp(marker));
    assert.ok(r.ms < 30_000, `took ${r.ms} ms`);
  } finally {
    mustKubectl(['-n', 'default', 'delete', 'configmap', marker, '--wait=false']);
  }
});

test('a half-running or stale cluster is one up.sh would clean and start again', async () => {
  assert.equal(up(['--check']).code, 0, 'the whole cluster first');
  // Another version asked for: stale.
  const other = v.minor === 30 ? '1.37.2' : '1.30.14';
  const stale = up(['--check'], { ENVSERVE_TESTENV_K8S_VERSION: other });
  assert.equal(stale.code, 3, stale.out);
  assert.match(stale.out, new RegExp(`runs Kubernetes ${v.version.replace(/\./g, '\\.')}, v${other.replace(/\./g, '\\.')} was asked for`));
  // Other API server feature gates asked for: stale too.
  const gates = up(['--check'], { ENVSERVE_TESTENV_APISERVER_FEATURE_GATES: v.gates ? '' : 'ExtendWebSocketsToKubelet=false' });
  assert.equal(gates.code, 3, gates.out);
  assert.match(gates.out, /feature gates/);
  // A component dead: half-running. The test LoadBalancer controller is brought back at once.
  const pid = Number(readFileSync(join(RUN, 'test-lb-controller.pid'), 'utf8'));
  process.kill(pid, 'SIGTERM');
  try {
    await eventually(async () => {
      const half = up(['--check']);
      assert.equal(half.code, 3, half.out);
      assert.match(half.out, /test-lb-controller \(pid \d+\) is not running/);
    }, 15_000, 200);
  } finally {
    const r = spawnSync('bash', ['scripts/testenv/k8s/restart.sh', 'test-lb-controller'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
  }
  assert.equal(up(['--check']).code, 0, 'whole again after the restart');
});
