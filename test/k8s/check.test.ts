// `envserve check` on the real test cluster (pods run on its real node): each failure is injected
// with kubectl and diagnosed with its reason code; the restricted user (no pod create) falls back
// with "skipped: forbidden to create pods". These run without the debug pod (--no-debug-pod); the debug pod running `envserve
// probe` inside the cluster, the app bound to 127.0.0.1, and the proposal's cloud example served
// for real passing every check, are in check-real-node.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCheck, type CheckOptions } from '../../src/check/run.js';
import type { CheckReport } from '../../src/check/types.js';
import { envserve } from '../helpers/cli.js';
import { eventually, kubectl } from './cluster.js';
import {
  env, rand, createNamespace, deleteNamespace, kubectlJson, mustKubectl, backedDeployment, waitReadyPod, waitReadyEndpoint, ingressRouted, nodePortAnswers,
} from './expose-lib.js';

let ns: string;
before(async () => {
  ns = createNamespace('es-check');
  backedDeployment(ns, 'web', { app: 'web' });
  await waitReadyPod(ns, 'app=web');
  apply(service('web', { app: 'web' }, [{ name: 'http', port: 80, targetPort: 'http' }]));
  await waitReadyEndpoint(ns, 'web'); // else check rightly says EndpointsNotReady for a moment
});
after(() => deleteNamespace(ns));

function apply(obj: object): void {
  mustKubectl(['apply', '-f', '-'], JSON.stringify(obj));
}

function service(name: string, selector: Record<string, string>, ports: object[], spec: object = {}): object {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector, ports, ...spec } };
}

function ingress(name: string, o: { host: string; cls?: string; tls?: string; backend?: string }): object {
  return {
    apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: ns },
    spec: {
      ...(o.cls && { ingressClassName: o.cls }),
      ...(o.tls && { tls: [{ hosts: [o.host], secretName: o.tls }] }),
      rules: [{ host: o.host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: o.backend ?? 'web', port: { number: 80 } } } }] } }],
    },
  };
}

const check = (o: CheckOptions) => runCheck({ kubeconfig: env.kubeconfig, namespace: ns, debugPod: false, ...o });
const cause = (r: CheckReport, exposure?: string) => (exposure ? r.exposures.find((e) => e.exposure === exposure) : r.exposures.find((e) => e.cause))?.cause;
const find = (r: CheckReport, id: string, exposure?: string) => r.checks.find((c) => c.id === id && (!exposure || c.exposure === exposure));
const show = (r: CheckReport) => JSON.stringify(r.checks.filter((c) => c.status !== 'pass').map((c) => `${c.exposure} ${c.id} ${c.status} ${c.reason}: ${c.message}`), null, 1);

test('selector mismatch: the selector is shown next to the nearest pods\' labels', async () => {
  apply(service('web-sel', { app: 'lab' }, [{ port: 80, targetPort: 'http' }]));
  const r = await check({ target: `k8s:${ns}/service/web-sel` });
  assert.equal(r.ok, false);
  const c = cause(r)!;
  assert.equal(c.reason, 'SelectorMismatch', show(r));
  assert.match(c.message, /selects app=lab but no pod has these labels; nearest: (.*; )?web-\S+ has [^;]*app=web/);
  assert.equal(find(r, 'service.endpoints')?.reason, 'NoEndpoints');
  assert.equal(find(r, 'probe.apiserver.service')?.reason, 'NoEndpoints', 'the API server proxy says the same');
});

test('wrong targetPort: nothing listens there, and the fix names the container port', async () => {
  apply(service('web-tp', { app: 'web' }, [{ port: 80, targetPort: 8081 }]));
  const r = await check({ target: `k8s:${ns}/service/web-tp` });
  const c = cause(r)!;
  assert.equal(c.reason, 'TargetPortMismatch', show(r));
  assert.match(c.message, /targetPort 8081, but the pods declare 8080\/TCP "http", 9000\/TCP "echo"/);
  assert.match(c.fix!, /set targetPort to 8080/);
  assert.equal(find(r, 'probe.apiserver.service')?.status, 'fail', 'and indeed the Service does not answer');
});

test('named targetPort missing', async () => {
  apply(service('web-named', { app: 'web' }, [{ port: 80, targetPort: 'web' }]));
  const r = await check({ target: `k8s:${ns}/service/web-named` });
  assert.equal(cause(r)!.reason, 'NamedPortMissing', show(r));
  assert.match(cause(r)!.message, /named port "web"/);
});

test('a pod port nothing listens on: a one-shot port-forward and the pod proxy both refuse', async () => {
  const pod = await waitReadyPod(ns, 'app=web');
  const r = await check({ target: `k8s:${ns}/pod/${pod}`, port: 7777 });
  assert.equal(r.ok, false);
  assert.equal(find(r, 'pod.port')?.status, 'warn', 'no container declares 7777');
  const f = find(r, 'probe.apiserver.forward')!;
  assert.equal(f.reason, 'ConnectionRefused', show(r));
  assert.match(f.fix!, /nothing listens on that port inside the pod, not even on 127\.0\.0\.1/);
  assert.equal(find(r, 'probe.apiserver.pod')?.reason, 'ConnectionRefused');
});

test('pod not Ready (its readiness probe fails): the workload check says why, the Service has no ready endpoint', async () => {
  // A real pod on the real node whose readiness probe really fails: it asks :8080/healthz, but the
  // app listens on 8081. The kubelet keeps the pod Running and not Ready.
  const pod = {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unready', namespace: ns, labels: { app: 'unready' } },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [{
        name: 'app', image: 'envserve.test/testsrv:1', imagePullPolicy: 'Never', command: ['testsrv', 'pod', '--http', '8081', '--echo', '9000'],
        ports: [{ name: 'http', containerPort: 8080 }], readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
      }],
    },
  };
  apply(pod);
  apply(service('unready', { app: 'unready' }, [{ port: 80, targetPort: 'http' }]));
  await eventually(async () => {
    const p = kubectlJson(['-n', ns, 'get', 'pod', 'unready']);
    if (p.status?.phase !== 'Running' || !p.status?.containerStatuses?.[0]?.started) throw new Error('not started yet');
  }, 60_000, 250);
  // The settle point: the kubelet has reported the readiness probe failing (an Unhealthy event).
  await eventually(async () => {
    const events = kubectlJson<{ items: unknown[] }>(['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.name=unready,reason=Unhealthy']).items;
    if (events.length === 0) throw new Error('no failed readiness probe reported yet');
  }, 60_000, 250);
  const r = await check({ target: `k8s:${ns}/pod/unready`, port: 8080 });
  assert.equal(find(r, 'workload.pods')?.reason, 'ReadinessProbeFailing', show(r));
  assert.equal(find(r, 'service.endpoints')?.reason, 'ReadinessProbeFailing', show(r));
  assert.match(find(r, 'workload.pods')!.message, /readiness probe \(HTTP GET :8080\/healthz\) fails/);
  assert.equal(kubectlJson(['-n', ns, 'get', 'pod', 'unready']).status.containerStatuses[0].ready, false, 'the kubelet says so, nothing was patched');
  assert.equal(r.ok, false);
});

test('Ingress: a class that does not exist, and no class with no default class', async () => {
  apply(ingress('wrong-class', { host: `wc-${rand()}.example.com`, cls: 'nginx' }));
  let r = await check({ target: `k8s:${ns}/ingress/wrong-class` });
  assert.equal(cause(r, 'ingress-wrong-class')!.reason, 'IngressClassNotFound', show(r));
  assert.match(cause(r, 'ingress-wrong-class')!.message, /"nginx", which does not exist \(this cluster has: traefik\)/);
  assert.equal(find(r, 'ingress.admitted')?.reason, 'IngressNotAdmitted');

  // No default class: take the default annotation off the test cluster's class for a moment
  // (before the Ingress is created: the API server's DefaultIngressClass admission would fill
  // the default class in).
  const cls = process.env.ENVSERVE_TEST_INGRESS_CLASS ?? 'traefik';
  mustKubectl(['annotate', 'ingressclass', cls, 'ingressclass.kubernetes.io/is-default-class=false', '--overwrite']);
  try {
    apply(ingress('no-class', { host: `nc-${rand()}.example.com` }));
    assert.equal(kubectlJson(['-n', ns, 'get', 'ingress', 'no-class']).spec.ingressClassName, undefined);
    r = await check({ target: `k8s:${ns}/ingress/no-class` });
    assert.equal(find(r, 'ingress.class')?.reason, 'NoIngressClass', show(r));
    assert.match(find(r, 'ingress.class')!.fix!, /ingressClassName: traefik/);
  } finally {
    mustKubectl(['annotate', 'ingressclass', cls, 'ingressclass.kubernetes.io/is-default-class=true', '--overwrite']);
  }
});

test('Ingress: the right Host header answers (and a WebSocket passes); another host is a Host header mismatch', async () => {
  const host = `lab-${rand()}.example.com`;
  apply(ingress('lab', { host, cls: 'traefik' }));
  await ingressRouted(ns, 'lab', host);
  const ok = await check({ target: `k8s:${ns}/ingress/lab` });
  assert.equal(ok.ok, true, show(ok));
  assert.equal(find(ok, 'probe.local.ingress')?.status, 'pass', show(ok));
  assert.equal(find(ok, 'probe.local.ingress.websocket')?.status, 'pass');
  assert.match(find(ok, 'ingress.rule')!.message, new RegExp(`curl -H 'Host: ${host}' http://${env.nodeIP}/`));

  const r = await check({ target: `k8s:${ns}/ingress/lab`, host: 'other.example.com' });
  assert.equal(cause(r, 'ingress-lab')!.reason, 'HostHeaderMismatch', show(r));
  assert.match(cause(r, 'ingress-lab')!.fix!, new RegExp(`Host header must be ${host.replace(/\./g, '\\.')}: curl -H 'Host: ${host.replace(/\./g, '\\.')}' http://${env.nodeIP.replace(/\./g, '\\.')}/`));
  const probe = find(r, 'probe.local.ingress')!;
  assert.equal(probe.status, 'fail', 'Traefik answers 404 for the other host');
  assert.equal(probe.reason, 'HostHeaderMismatch');
});

test('Ingress: missing TLS secret', async () => {
  const host = `tls-${rand()}.example.com`;
  apply(ingress('tls', { host, cls: 'traefik', tls: 'no-such-secret' }));
  const r = await check({ target: `k8s:${ns}/ingress/tls` });
  const c = find(r, 'ingress.tls')!;
  assert.equal(c.reason, 'TlsSecretMissing', show(r));
  assert.match(c.fix!, /kubectl -n \S+ create secret tls no-such-secret/);
  assert.equal(r.ok, false);
});

test('LoadBalancer pending: a class no controller serves (the test LB controller serves only class-less Services)', async () => {
  apply(service('web-lb', { app: 'web' }, [{ port: 80, targetPort: 'http' }], { type: 'LoadBalancer', loadBalancerClass: 'example.com/none' }));
  const r = await check({ target: `k8s:${ns}/service/web-lb` });
  const c = cause(r)!;
  assert.equal(c.reason, 'LoadBalancerPending', show(r));
  assert.match(c.message, /no load-balancer controller for class "example.com\/none"/);
  assert.equal(find(r, 'service.nodePort')?.status, 'pass');
  // kube-proxy programs a new node port within its sync period: once it answers, check says so.
  await nodePortAnswers(ns, 'web-lb');
  const again = await check({ target: `k8s:${ns}/service/web-lb` });
  assert.equal(find(again, 'probe.local.nodePort')?.status, 'pass', 'the node port answers meanwhile');
});

test('a deny-all NetworkPolicy: found statically (the test cluster\'s network does not enforce NetworkPolicy)', async () => {
  apply(service('web-np', { app: 'web-np' }, [{ port: 80, targetPort: 'http' }]));
  backedDeployment(ns, 'web-np', { app: 'web-np' });
  await waitReadyPod(ns, 'app=web-np');
  await waitReadyEndpoint(ns, 'web-np'); // else check may see the endpoint not ready yet (EndpointsNotReady)
  apply({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-all', namespace: ns }, spec: { podSelector: { matchLabels: { app: 'web-np' } }, policyTypes: ['Ingress'] } });
  const r = await check({ target: `k8s:${ns}/service/web-np` });
  const c = cause(r)!;
  assert.equal(c.reason, 'NetworkPolicyDenies', show(r));
  assert.match(c.message, /NetworkPolicy deny-all selects pod web-np-\S+ and admits no traffic to port 8080/);
  assert.match(c.fix!, /add an ingress rule for TCP 8080 to NetworkPolicy deny-all/);
});

test('the restricted user (no pod create): "skipped: forbidden to create pods", the rest still checked, exit 0', async () => {
  const rns = env.restrictedNamespace;
  const name = `web-${rand()}`;
  mustKubectl(['-n', rns, 'apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: name } },
    spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image: 'envserve.test/backed:1', ports: [{ name: 'http', containerPort: 8080 }] }] },
  }));
  try {
    await waitReadyPod(rns, `app=${name}`);
    const cli = envserve(['check', '--target', `k8s:${rns}/pod/${name}`, '--port', '8080', '--kubeconfig', env.kubeconfigRestricted, '--debug-image', 'envserve.test/envserve:1', '-o', 'json']);
    assert.equal(cli.code, 0, cli.stderr + cli.stdout);
    const r = JSON.parse(cli.stdout) as CheckReport;
    const debug = find(r, 'probe.cluster')!;
    assert.equal(debug.status, 'skipped');
    assert.equal(debug.reason, 'ForbiddenToCreatePods');
    assert.match(debug.message, /^skipped: forbidden to create pods in namespace envserve-test/);
    assert.equal(find(r, 'workload.pods')?.status, 'pass', 'pods are readable');
    assert.equal(find(r, 'probe.apiserver.pod')?.reason, 'Forbidden', 'pods/proxy is not granted: skipped');
    assert.equal(find(r, 'probe.apiserver.pod')?.status, 'skipped');
    assert.equal(find(r, 'probe.apiserver.forward')?.status, 'pass', 'pods/portforward is granted: a one-shot forward reaches the app');
    assert.deepEqual(r.exposures.map((e) => e.verdict), ['answers']);
    const table = envserve(['check', '--target', `k8s:${rns}/pod/${name}`, '--port', '8080', '--kubeconfig', env.kubeconfigRestricted, '--debug-image', 'envserve.test/envserve:1']);
    assert.equal(table.code, 0);
    assert.match(table.stdout, /skip\s+cluster\s+probe\.cluster\s+ForbiddenToCreatePods\s+skipped: forbidden to create pods/);
  } finally {
    kubectl(env.kubeconfig, ['-n', rns, 'delete', 'pod', name, '--wait=false']);
  }
});

test('the command: exit 1 and JSON with every check when a problem is found; exit 2 on bad input', () => {
  apply(service('web-sel', { app: 'lab' }, [{ port: 80, targetPort: 'http' }]));
  const bad = envserve(['check', '--target', `k8s:${ns}/service/web-sel`, '--kubeconfig', env.kubeconfig, '--no-debug-pod', '-o', 'json']);
  assert.equal(bad.code, 1, bad.stderr);
  const r = JSON.parse(bad.stdout) as CheckReport;
  assert.equal(r.kind, 'CheckReport');
  assert.ok(r.checks.every((c) => c.id && c.reason && c.status && c.vantage));
  assert.equal(r.exposures[0]!.cause!.reason, 'SelectorMismatch');
  const usage = envserve(['check', '--target', 'k8s:x/statefulset/y', '--kubeconfig', env.kubeconfig]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /not a Kubernetes target/);
  assert.equal(envserve(['check', '--target', `k8s:${ns}/deployment/web`, '--kubeconfig', env.kubeconfig]).code, 2, '--port is needed');
});
