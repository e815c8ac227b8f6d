// `envserve check`: time to verdict for the proposal's cloud example (port-forward + ClusterIP
// Service, served for real on the test cluster) and for an environment with 20 exposures
// (ClusterIP, NodePort, LoadBalancer, Ingress), against the tutorials' manual checklist done
// with kubectl in the same run (get pods -o wide, get/describe service, get endpoints, get
// ingress: one kubectl per step, as the seeds teach). Prints medians and the ratio.
//
//   npm run bench:check     (uses a running test cluster, else starts one and stops it after;
//                            ENVSERVE_TESTENV_SLOT=N: the cluster of that slot)
//
// Each environment is timed twice: with the debug pod (the inside-the-cluster probes: a pod of
// envserve.test/envserve:1 on the real node runs `envserve probe`, check reads its log and deletes
// it; this is `envserve check`'s default) and without it (--no-debug-pod). The load average is
// printed with the figures: the machine is shared.
import { readFileSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ensureCluster, stopClusterIfStarted } from './cluster.js';

const KC = ensureCluster();

const { planFromFile } = await import('../src/envfile/from-file.js');
const { K8sRuntime } = await import('../src/apply/k8s/runtime.js');
const { loadKubeClient } = await import('../src/apply/k8s/client.js');
const { runCheck } = await import('../src/check/run.js');

const kubectl = (...args: string[]) => {
  const r = spawnSync('kubectl', ['--kubeconfig', KC, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const DEBUG_IMAGE = 'envserve.test/envserve:1';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ns = `es-bench-check-${randomBytes(2).toString('hex')}`;
kubectl('create', 'namespace', ns);

function envFile(name: string, body: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'envserve-bench-')), name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'build.envd'), body);
  return join(dir, 'build.envd');
}

const SEED = readFileSync('testdata/examples/seed-cloud.envd', 'utf8').replace('host_port=1234', 'host_port=0');
const TWENTY = `def build():\n    base(image="envserve.test/web:1")\ndef serve():\n    cloud.k8s.bind(env_port=8080, host_port=0, name="pf")\n${
  Array.from({ length: 19 }, (_, i) => {
    const port = 9100 + i;
    if (i < 8) return `    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=${port}, name="c${i}")`;
    if (i < 12) return `    cloud.k8s.bind(env_port=8080, type=cloud.k8s.nodePort, service_port=${port}, name="n${i}")`;
    if (i < 14) return `    cloud.k8s.bind(env_port=8080, type=cloud.k8s.loadBalancer, service_port=${port}, name="l${i}")`;
    return `    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=${port}, name="i${i}", ingress=cloud.k8s.ingress(host="i${i}-${ns}.envserve.test", path="/", class_name="traefik"))`;
  }).join('\n')}\n`;

async function measure(label: string, body: string, envName: string, image?: string, rounds = 9) {
  const file = envFile(envName, body);
  const plan = planFromFile(file, { envName });
  const rt = new K8sRuntime({ kubeconfig: KC, namespace: ns, ...(image && { image }) });
  await rt.preflight(plan, plan.exposures, { mode: 'up' });
  await rt.startEnvironment(plan, plan.exposures, { mode: 'up' });
  const handles = [];
  for (const e of plan.exposures) handles.push(await rt.expose(e));
  const local = new Map(handles.filter((h: any) => h.spec.kind === 'k8s-port-forward' && h.listen).map((h: any) => [h.spec.id as string, h.listen]));
  const client = loadKubeClient({ kubeconfig: KC, namespace: ns });
  try {
    // Until the first check is all green (Ingress admission, kube-proxy), then time it.
    for (let i = 0; i < 60; i++) {
      const r = await runCheck({ file, name: envName, namespace: ns, client, debugPod: false, localListeners: local });
      if (r.ok && r.exposures.every((e) => e.verdict === 'answers')) break;
      if (i === 59) throw new Error(`${label}: not all green: ${JSON.stringify(r.checks.filter((c) => c.status === 'fail'))}`);
      await new Promise((res) => setTimeout(res, 500));
    }
    const withPod: number[] = [];
    let checksWithPod = 0;
    for (let i = 0; i < Math.min(rounds, 5); i++) {
      const t0 = performance.now();
      const r = await runCheck({ file, name: envName, namespace: ns, client, debugImage: DEBUG_IMAGE, localListeners: local });
      withPod.push(performance.now() - t0);
      checksWithPod = r.checks.length;
      if (!r.ok || r.checks.some((c) => c.vantage === 'cluster' && c.status !== 'pass')) {
        throw new Error(`${label}: a check failed during the bench (with the debug pod): ${JSON.stringify(r.checks.filter((c) => c.status !== 'pass'))}`);
      }
    }
    const ours: number[] = [];
    let checks = 0;
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      const r = await runCheck({ file, name: envName, namespace: ns, client, debugPod: false, localListeners: local });
      ours.push(performance.now() - t0);
      checks = r.checks.length;
      if (!r.ok) throw new Error(`${label}: a check failed during the bench`);
    }
    // The peer: the tutorial's manual checklist, one kubectl per step, for the same objects.
    const svcNames = kubectl('-n', ns, 'get', 'services', '-l', `envserve.dev/env=${envName}`, '-o', 'jsonpath={.items[*].metadata.name}').split(' ').filter(Boolean);
    const peer: number[] = [];
    for (let i = 0; i < Math.min(rounds, 3); i++) {
      const t0 = performance.now();
      kubectl('-n', ns, 'get', 'pods', '-o', 'wide');
      for (const s of svcNames) {
        kubectl('-n', ns, 'describe', 'service', s);
        kubectl('-n', ns, 'get', 'endpoints', s);
      }
      kubectl('-n', ns, 'get', 'ingress');
      peer.push(performance.now() - t0);
    }
    const m = median(ours);
    const mp = median(withPod);
    console.log(`${label.padEnd(34)} check with the debug pod: median ${mp.toFixed(0)} ms (min ${Math.min(...withPod).toFixed(0)}, max ${Math.max(...withPod).toFixed(0)}; ${checksWithPod} checks)   ratio to the kubectl checklist ${(mp / median(peer)).toFixed(2)}x`);
    console.log(`${label.padEnd(34)} check --no-debug-pod: median ${m.toFixed(0)} ms (min ${Math.min(...ours).toFixed(0)}, max ${Math.max(...ours).toFixed(0)}; ${checks} checks, ${plan.exposures.length} exposures)   kubectl checklist (${1 + svcNames.length * 2 + 1} commands, no probes): median ${median(peer).toFixed(0)} ms   ratio check/kubectl ${(m / median(peer)).toFixed(2)}x`);
    return mp;
  } finally {
    for (const h of handles) await h.stop();
    await rt.stopEnvironment();
    client.close();
  }
}

try {
  const seed = await measure('seed cloud example', SEED, `seed-${randomBytes(2).toString('hex')}`, 'envserve.test/jupyter:1');
  const twenty = await measure('20 binds (5 with an Ingress)', TWENTY, `twenty-${randomBytes(2).toString('hex')}`);
  console.log(`growth (debug pod included): 20 binds take ${(twenty / seed).toFixed(2)}x the seed example's time (target for the seed example: <= 3000 ms with the debug pod: ${seed <= 3000 ? 'met' : 'MISSED'})`);
  console.log(`load average (1, 5, 15 min): ${loadavg().map((l) => l.toFixed(1)).join(', ')} on ${(await import('node:os')).cpus().length} cores`);
} finally {
  spawnSync('kubectl', ['--kubeconfig', KC, 'delete', 'namespace', ns, '--wait=false']);
  stopClusterIfStarted();
}
