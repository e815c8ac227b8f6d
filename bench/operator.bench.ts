// The operator at scale: 100 ExposureSets (one ClusterIP Service each, all in front of one shared
// backed Deployment) in one namespace. Measures the time until every one is Ready and the
// operator's memory, and as the peer, in the same run, `kubectl apply` of the same 100 Services
// until each has a Ready endpoint. Prints figures and the ratio.
//
//   npm run build && npm run bench:operator   (uses a running test cluster, else starts one and stops it after;
//                                              ENVSERVE_TESTENV_SLOT=N: the cluster of that slot; BENCH_N=100)
//   BENCH_NODE=path/to/node   the Node binary the operator runs on (default: this one); its RSS counts
//                             the binary's file pages, which depend on the page-cache state (a binary
//                             as npm wrote it sits in 2 MB folios: ≈ +30 MB), so anonymous and
//                             file-backed parts are printed too.
//   BENCH_OPERATOR_FLAGS      Node flags of the operator (default: the image's, --max-semi-space-size=1)
import { readFileSync } from 'node:fs';
import { ensureCluster, stopClusterIfStarted } from './cluster.js';

ensureCluster();
const N = Number(process.env.BENCH_N ?? 100);

const { apply, createToken, manifests, startOperator, tokenKubeconfig, condition } = await import('../test/k8s/operator-lib.js');
const { backedDeployment, createNamespace, deleteNamespace, kubectlJson, mustKubectl } = await import('../test/k8s/expose-lib.js');
const { sleep } = await import('../test/k8s/cluster.js');

const rssOf = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) / 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
};

async function until(what: string, check: () => boolean, timeoutMs = 300_000): Promise<number> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not done after ${timeoutMs / 1000} s`);
    await sleep(200);
  }
  return Date.now() - t0;
}

const svc = (name: string) => ({ id: `service-web-8080`, kind: 'k8s-service', envPort: 8080, protocol: 'tcp', position: `${name}:1:1`, declaredBy: 'cloud.k8s.bind', serviceType: 'ClusterIP', servicePort: 8080 });
const ns = createNamespace('bench-op');
const peerNs = createNamespace('bench-peer');
let op: Awaited<ReturnType<typeof startOperator>> | undefined;
try {
  apply(manifests().filter((o) => o.kind !== 'Deployment'));
  mustKubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd/exposuresets.envserve.dev']);
  backedDeployment(ns, 'shared', { app: 'shared' });
  backedDeployment(peerNs, 'shared', { app: 'shared' });
  const node = process.env.BENCH_NODE || process.execPath;
  const flags = (process.env.BENCH_OPERATOR_FLAGS ?? '--max-semi-space-size=1').split(' ').filter(Boolean);
  op = await startOperator(tokenKubeconfig('bench-operator', createToken('envserve-system', 'envserve-operator')), '127.0.0.1:0', node, flags);
  console.log(`operator: ${node} ${flags.join(' ')}`);
  const pid = op.child.pid!;
  await sleep(3000); // past start-up: the Lease taken, the informers listed
  const idle = rssOf(pid);

  // The peer: the same Services, applied directly, until each has a Ready endpoint.
  const services = Array.from({ length: N }, (_, i) => ({
    apiVersion: 'v1', kind: 'Service', metadata: { name: `e${i}-web-8080`, namespace: peerNs },
    spec: { type: 'ClusterIP', selector: { app: 'shared' }, ports: [{ name: 'tcp', port: 8080, targetPort: 8080 }] },
  }));
  const readyEndpoints = (n: string) => kubectlJson<{ items: any[] }>(['-n', n, 'get', 'endpointslices']).items.filter((s) => (s.endpoints ?? []).some((e: any) => e.conditions?.ready)).length;
  const p0 = Date.now();
  mustKubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: services }));
  await until('peer', () => readyEndpoints(peerNs) >= N);
  const peerMs = Date.now() - p0;

  // envserve: N ExposureSets through the operator.
  const sets = Array.from({ length: N }, (_, i) => ({
    apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposureSet', metadata: { name: `e${i}`, namespace: ns },
    spec: { env: `e${i}`, selector: { app: 'shared' }, exposures: [svc(`e${i}`)] },
  }));
  let peak = idle.peak;
  mustKubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: sets }));
  const ms = await until('operator', () => {
    peak = Math.max(peak, rssOf(pid).rss);
    return kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'exposuresets']).items.filter((s) => condition(s.status, 'Ready')?.status === 'True').length >= N;
  });
  const after = rssOf(pid);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`\noperator bench: ${N} ExposureSets (one ClusterIP Service each) in one namespace; load average ${load}`);
  console.log(`  envserve operator: every ExposureSet Ready after ${(ms / 1000).toFixed(1)} s (${(ms / N).toFixed(0)} ms per set)`);
  console.log(`  peer, kubectl apply of the same ${N} Services until each has a Ready endpoint: ${(peerMs / 1000).toFixed(1)} s`);
  console.log(`  ratio operator / kubectl apply: ${(ms / peerMs).toFixed(2)}x`);
  console.log(`  operator memory: RSS idle ${idle.rss.toFixed(0)} MB (anonymous ${idle.anon.toFixed(0)}, file ${idle.file.toFixed(0)}), after ${after.rss.toFixed(0)} MB, peak ${Math.max(peak, after.peak).toFixed(0)} MB`);
  console.log('  (both include the API server, controller-manager and kube-proxy working on the same 2 cores)');
} finally {
  await op?.stop();
  // What the bench installed goes too: CRDs left behind make `serve` hand exposures to an operator.
  mustKubectl(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifests().filter((o) => o.kind !== 'Deployment') }));
  deleteNamespace(ns);
  deleteNamespace(peerNs);
  stopClusterIfStarted();
}
