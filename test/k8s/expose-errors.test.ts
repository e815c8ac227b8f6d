// Refusals on the real test cluster, through the real command: the restricted user gets a clear
// permission error naming what is missing and what it may use, and nothing is created; bad input
// (unknown namespace, missing workload, bad target, unknown context, no image, no cluster) gets a
// clear message and exit code 2, an unreachable cluster exit code 1. Also `serve --target` and
// `down` end to end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { envserve, BIN } from '../helpers/cli.js';
import { backedPod, httpRequest, podAnswer, eventually } from './cluster.js';
import { env, rand, writeEnvFile, SEED_CLOUD, createNamespace, deleteNamespace, mustKubectl, ownedObjects, waitReadyPod, freePort } from './expose-lib.js';

let ns: string;
before(() => {
  ns = createNamespace('es-err');
});
after(() => deleteNamespace(ns));

const admin = { KUBECONFIG: env.kubeconfig };

test('the restricted user: a clear permission error before any change, naming what it may use (exit 2)', () => {
  const rns = env.restrictedNamespace;
  const envName = `rs-${rand()}`;
  const file = writeEnvFile(envName, SEED_CLOUD);
  const r = envserve(['up', '--runtime', 'k8s', '-f', file, '--image', 'envserve.test/jupyter:1'], { env: { KUBECONFIG: env.kubeconfigRestricted } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /lacks \d+ Kubernetes permissions?; nothing was changed/);
  assert.match(r.stderr, new RegExp(`create services in namespace ${rns}`));
  assert.match(r.stderr, /create deployments\.apps/);
  assert.match(r.stderr, /this user may use: port-forward \(cloud\.k8s\.bind\(host_port=\.\.\.\)\)/);
  assert.doesNotMatch(r.stderr, /this user may use:.*Services/);
  assert.deepEqual(ownedObjects(rns, envName), [], 'nothing created');
});

test('the restricted user may port-forward to a pod it can see (serve --target)', async () => {
  const rns = env.restrictedNamespace;
  const pod = `rs-pod-${rand()}`;
  mustKubectl(['-n', rns, 'apply', '-f', '-'], JSON.stringify(backedPod(pod, { app: pod })));
  await waitReadyPod(rns, `app=${pod}`);
  const port = await freePort();
  const file = writeEnvFile('rs', `def build():\n    base(image="x")\ndef serve():\n    cloud.k8s.bind(env_port=8080, host_port=${port})\n`);
  const child = spawn(process.execPath, [BIN, 'serve', '-f', file, '--target', `k8s:${rns}/pod/${pod}`], { env: { ...process.env, KUBECONFIG: env.kubeconfigRestricted }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    const a = await eventually(async () => podAnswer(await httpRequest('127.0.0.1', port)), 20_000, 100);
    assert.equal(a.pod, pod);
    await eventually(async () => assert.match(out, /Press Ctrl-C/), 10_000, 50);
    assert.match(out, new RegExp(`http://127\\.0\\.0\\.1:${port}/`));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    mustKubectl(['-n', rns, 'delete', 'pod', pod, '--wait=false']);
  }
});

test('bad input: unknown namespace, missing workload, bad target, bad selector, unknown context, no image (exit 2)', () => {
  const file = writeEnvFile('bad', SEED_CLOUD);
  const cases: [string[], RegExp][] = [
    [['up', '--runtime', 'k8s', '-n', 'no-such-ns', '--image', 'x'], /namespace "no-such-ns" does not exist/],
    [['serve', '--target', `k8s:${ns}/deployment/nope`], new RegExp(`deployment ${ns}/nope does not exist`)],
    [['serve', '--target', `k8s:${ns}/pod/nope`], new RegExp(`pod ${ns}/nope does not exist`)],
    [['serve', '--target', 'k8s:statefulset/x'], /is not a Kubernetes target/],
    [['serve', '--runtime', 'k8s', '-n', ns, '--selector', 'app=nothing-here'], /no pod in namespace .* matches --selector app=nothing-here/],
    [['serve', '--runtime', 'k8s', '--selector', 'app'], /is not key=value/],
    [['up', '--runtime', 'k8s', '--context', 'envserve-test-admn', '--image', 'x'], /context "envserve-test-admn" is not in the kubeconfig[\s\S]*did you mean "envserve-test-admin"/],
    [['up', '--runtime', 'k8s', '-n', ns], /build\(\) names no image[\s\S]*--image/],
    [['up', '--runtime', 'k8s', '--kubeconfig', '/nonexistent/kubeconfig', '--image', 'x'], /kubeconfig file \/nonexistent\/kubeconfig does not exist/],
  ];
  for (const [args, re] of cases) {
    const r = envserve([...args, '-f', file], { env: admin });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.doesNotMatch(r.stderr, /internal error/);
  }
  assert.deepEqual(ownedObjects(ns, 'bad'), []);
});

test('no cluster reachable: a clear message and exit 1', () => {
  const file = writeEnvFile('unreach', SEED_CLOUD);
  const kc = join(dirname(file), 'kubeconfig');
  writeFileSync(kc, `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "https://127.0.0.1:1"}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`);
  const r = envserve(['up', '--runtime', 'k8s', '--image', 'x', '-f', file], { env: { KUBECONFIG: kc } });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:1/);
  assert.match(r.stderr, /is the cluster running/);
});

test('CLI: serve --runtime k8s, status -o json lists addresses and answers, down removes exactly what envserve owns', async () => {
  const envName = `cli-${rand()}`;
  const port = await freePort();
  const file = writeEnvFile(envName, `
def build():
    base(image="envserve.test/web:1")
def serve():
    cloud.k8s.bind(env_port=8080, host_port=${port}, name="pf")
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.nodePort, service_port=80, name="np")
`);
  const foreign = `${envName}-other`;
  mustKubectl(['-n', ns, 'create', 'service', 'clusterip', foreign, '--tcp=80:80']);
  const child = spawn(process.execPath, [BIN, 'up', '--runtime', 'k8s', '-n', ns, '-f', file], { env: { ...process.env, ...admin }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    await eventually(async () => assert.match(out, /Press Ctrl-C/), 20_000, 50);
    // kube-proxy may take a moment to program the NodePort: the status (probed every 2 s) catches up.
    const s = await eventually(async () => {
      const st = envserve(['status', '-f', file, '-o', 'json']);
      assert.equal(st.code, 0, st.stderr);
      const s = JSON.parse(st.stdout);
      const np = s.exposures.find((e: any) => e.name === 'np');
      assert.match(np.message, /node \S+ answers/);
      return s;
    }, 15_000, 250);
    assert.equal(s.runtime, 'k8s');
    const np = s.exposures.find((e: any) => e.name === 'np');
    assert.ok(np.urls.some((u: string) => u.startsWith(`http://${env.nodeIP}:`)), JSON.stringify(np.urls));
    // Its ClusterIP answers only inside the cluster: shown apart, never as a URL (issue 22).
    assert.ok(!np.urls.some((u: string) => /^http:\/\/10\.96\./.test(u)), JSON.stringify(np.urls));
    assert.ok(np.inCluster.some((u: string) => /^http:\/\/10\.96\./.test(u)), JSON.stringify(np.inCluster));
    assert.equal(np.answering, true);
    assert.ok(s.notes.some((n: string) => n.includes(`service ${ns}/${envName}-np `)));
    assert.equal(podAnswer(await httpRequest('127.0.0.1', port)).port, 8080);
  } finally {
    // `down` from another process: asks `up` to stop, then deletes what envserve owns.
    const d = envserve(['down', '-f', file, '--runtime', 'k8s', '-n', ns], { env: admin });
    assert.equal(d.code, 0, d.stderr);
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
  assert.deepEqual(ownedObjects(ns, envName), []);
  mustKubectl(['-n', ns, 'get', 'service', foreign]);
});
