// The static diagnosis on object fixtures: one test per reason code it can give.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnose, policyCheck, whyNotReady } from './diagnose.js';
import type { ClusterSnapshot, Obj } from './snapshot.js';
import type { K8sSubject } from './subject.js';
import { parseCheckTarget, subjectFromTarget } from './subject.js';
import type { Check } from './types.js';

const NS = 'dev';

function pod(name: string, labels: Record<string, string>, o: { ready?: boolean; ports?: Obj[]; status?: Obj; readinessProbe?: Obj } = {}): Obj {
  return {
    metadata: { name, namespace: NS, labels },
    spec: { nodeName: 'n1', containers: [{ name: 'app', image: 'img:1', ports: o.ports ?? [{ name: 'http', containerPort: 8888, protocol: 'TCP' }], ...(o.readinessProbe && { readinessProbe: o.readinessProbe }) }] },
    status: o.status ?? {
      phase: 'Running', podIP: '10.244.0.5',
      conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
      containerStatuses: [{ name: 'app', ready: o.ready !== false, state: { running: {} } }],
    },
  };
}

function service(name: string, selector: Record<string, string> | undefined, ports: Obj[], o: { type?: string; status?: Obj; spec?: Obj } = {}): Obj {
  return { metadata: { name, namespace: NS }, spec: { type: o.type ?? 'ClusterIP', clusterIP: '10.96.0.10', ...(selector && { selector }), ports, ...o.spec }, status: o.status ?? {} };
}

function slice(svc: string, ready: boolean | undefined, n = 1): Obj {
  return {
    metadata: { name: `${svc}-x`, labels: { 'kubernetes.io/service-name': svc } },
    ports: [{ port: 8888 }],
    endpoints: Array.from({ length: n }, (_, i) => ({ addresses: [`10.244.0.${5 + i}`], conditions: ready === undefined ? {} : { ready } })),
  };
}

function ingress(name: string, o: { host?: string; cls?: string; tls?: string; backend?: { name: string; port: number | string }; address?: string; annotations?: Record<string, string> } = {}): Obj {
  const b = o.backend ?? { name: 'web', port: 80 };
  return {
    metadata: { name, namespace: NS, ...(o.annotations && { annotations: o.annotations }) },
    spec: {
      ...(o.cls && { ingressClassName: o.cls }),
      ...(o.tls && { tls: [{ hosts: [o.host ?? 'lab.example.com'], secretName: o.tls }] }),
      rules: [{ host: o.host ?? 'lab.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: b.name, port: typeof b.port === 'number' ? { number: b.port } : { name: b.port } } } }] } }],
    },
    status: { loadBalancer: { ingress: o.address ? [{ ip: o.address }] : [] } },
  };
}

const traefik = { metadata: { name: 'traefik', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } }, spec: { controller: 'traefik.io/ingress-controller' } };

function snap(p: Partial<ClusterSnapshot>): ClusterSnapshot {
  return {
    namespace: NS, pods: [], services: [], endpointSlices: [], ingresses: [], ingressClasses: [traefik], networkPolicies: [],
    secrets: {}, clusterDNS: true, nodeAddresses: ['10.0.0.2'], ...p,
  };
}

const svcSubject = (port?: number): K8sSubject => ({
  namespace: NS,
  workload: { kind: 'selector', labels: { app: 'jupyter' } },
  exposures: [{ id: 'svc', kind: 'k8s-service', protocol: 'http', service: 'web', ...(port !== undefined && { port }) }],
});

const ingSubject = (host?: string): K8sSubject => ({
  namespace: NS,
  exposures: [{ id: 'ing', kind: 'k8s-ingress', protocol: 'http', ingress: 'lab', ...(host && { host }) }],
});

const firstFail = (cs: Check[]) => cs.find((c) => c.status === 'fail');
const byId = (cs: Check[], id: string) => cs.find((c) => c.id === id)!;

const healthy = () => snap({
  pods: [pod('jup-1', { app: 'jupyter' })],
  services: [service('web', { app: 'jupyter' }, [{ port: 80, targetPort: 8888, protocol: 'TCP' }]), service('other', { app: 'x' }, [{ port: 1 }])],
  endpointSlices: [slice('web', true)],
  ingresses: [ingress('lab', { cls: 'traefik', address: '10.0.0.2' })],
});

test('a healthy Service and Ingress: every static check passes (or is skipped for DNS)', () => {
  const cs = [...diagnose(svcSubject(80), healthy()), ...diagnose(ingSubject('lab.example.com'), healthy())];
  assert.equal(firstFail(cs), undefined, JSON.stringify(firstFail(cs)));
  assert.deepEqual(cs.filter((c) => c.exposure === 'svc').map((c) => c.id), ['workload.pods', 'service.exists', 'service.selector', 'service.targetPort', 'service.endpoints', 'network.policy', 'cluster.dns']);
  assert.ok(cs.every((c) => c.vantage === 'static'));
});

test('selector mismatch: names the selector next to the nearest pods\' labels and the patch', () => {
  const s = healthy();
  s.services = [service('web', { app: 'lab' }, [{ port: 80, targetPort: 8888 }])];
  s.endpointSlices = [];
  const f = firstFail(diagnose(svcSubject(), s))!;
  assert.equal(f.reason, 'SelectorMismatch');
  assert.match(f.message, /selects app=lab but no pod has these labels; nearest: jup-1 has app=jupyter/);
  assert.match(f.fix!, /app=jupyter/);
  assert.equal(byId(diagnose(svcSubject(), s), 'service.endpoints').reason, 'NoEndpoints');
});

test('targetPort: a number no container declares, a name no container has, a protocol that differs', () => {
  const s = healthy();
  s.services = [service('web', { app: 'jupyter' }, [{ port: 80, targetPort: 8081, protocol: 'TCP' }])];
  let f = firstFail(diagnose(svcSubject(), s))!;
  assert.equal(f.reason, 'TargetPortMismatch');
  assert.match(f.message, /targetPort 8081, but the pods declare 8888\/TCP "http"/);
  assert.match(f.fix!, /set targetPort to 8888/);

  s.services = [service('web', { app: 'jupyter' }, [{ port: 80, targetPort: 'web', protocol: 'TCP' }])];
  f = firstFail(diagnose(svcSubject(), s))!;
  assert.equal(f.reason, 'NamedPortMissing');
  assert.match(f.message, /named port "web", but no container of the pods has a port named "web"/);

  s.services = [service('web', { app: 'jupyter' }, [{ port: 80, targetPort: 8888, protocol: 'UDP' }])];
  assert.equal(firstFail(diagnose(svcSubject(), s))!.reason, 'ProtocolMismatch');

  // Pods that declare no ports: the number is used as it is, a warning.
  s.pods = [pod('jup-1', { app: 'jupyter' }, { ports: [] })];
  s.services = [service('web', { app: 'jupyter' }, [{ port: 80, targetPort: 8081 }])];
  assert.equal(byId(diagnose(svcSubject(), s), 'service.targetPort').status, 'warn');
});

test('a Service port that is not there', () => {
  assert.equal(firstFail(diagnose(svcSubject(81), healthy()))!.reason, 'ServicePortMissing');
});

test('pods not Ready: readiness probe, crash loop, image pull, unschedulable; endpoints not ready', () => {
  const s = healthy();
  s.pods = [pod('jup-1', { app: 'jupyter' }, { ready: false, readinessProbe: { tcpSocket: { port: 8888 } } })];
  s.endpointSlices = [slice('web', false)];
  let cs = diagnose(svcSubject(), s);
  assert.equal(firstFail(cs)!.id, 'workload.pods');
  assert.equal(firstFail(cs)!.reason, 'ReadinessProbeFailing');
  assert.match(firstFail(cs)!.message, /readiness probe \(TCP :8888\) fails/);
  assert.equal(byId(cs, 'service.endpoints').reason, 'ReadinessProbeFailing');

  const st = (cs: Obj) => ({ phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [cs] });
  const crash = pod('a', {}, { status: st({ name: 'app', restartCount: 7, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, reason: 'Error' } } }) });
  assert.equal(whyNotReady(crash, NS).reason, 'CrashLoop');
  assert.match(whyNotReady(crash, NS).message, /7 restarts, last exit code 1 Error/);
  assert.match(whyNotReady(crash, NS).fix, /logs a -c app --previous/);
  const pull = pod('b', {}, { status: st({ name: 'app', image: 'nope:1', state: { waiting: { reason: 'ImagePullBackOff', message: 'not found' } } }) });
  assert.equal(whyNotReady(pull, NS).reason, 'ImagePullFailed');
  const unsched = pod('c', {}, { status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' }] } });
  assert.equal(whyNotReady(unsched, NS).reason, 'Unschedulable');

  s.pods = [pod('jup-1', { app: 'jupyter' }, { ready: false })];
  s.endpointSlices = [slice('web', false)];
  cs = diagnose({ ...svcSubject(), workload: undefined } as K8sSubject, s);
  assert.equal(byId(cs, 'service.endpoints').reason, 'PodNotReady');
});

test('no pods / no workload', () => {
  const s = healthy();
  s.pods = [];
  assert.equal(firstFail(diagnose(svcSubject(), s))!.reason, 'NoPods');
  const d = diagnose({ namespace: NS, workload: { kind: 'deployment', name: 'lab', labels: { x: 'y' } }, exposures: [{ id: 'pf', kind: 'k8s-port-forward', protocol: 'http', port: 8888 }] }, { ...s, deployment: null });
  assert.equal(firstFail(d)!.reason, 'WorkloadNotFound');
  assert.match(firstFail(d)!.fix!, /envserve up --runtime k8s/);
});

test('NodePort not allocated; LoadBalancer pending (with and without a class)', () => {
  const s = healthy();
  s.services = [service('web', { app: 'jupyter' }, [{ port: 80, targetPort: 8888, nodePort: 31000 }], { type: 'LoadBalancer' })];
  let cs = diagnose(svcSubject(), s);
  assert.equal(byId(cs, 'service.nodePort').status, 'pass');
  assert.equal(firstFail(cs)!.reason, 'LoadBalancerPending');
  assert.match(firstFail(cs)!.fix!, /NodePort \(node:31000\)/);
  s.services = [service('web', { app: 'jupyter' }, [{ port: 80, targetPort: 8888, nodePort: 31000 }], { type: 'LoadBalancer', spec: { loadBalancerClass: 'example.com/none' } })];
  assert.match(firstFail(diagnose(svcSubject(), s))!.message, /for class "example.com\/none"/);
  s.services = [service('web', { app: 'jupyter' }, [{ port: 80, targetPort: 8888 }], { type: 'NodePort' })];
  assert.equal(firstFail(diagnose(svcSubject(), s))!.reason, 'NodePortNotAllocated');
  s.services = [service('web', { app: 'jupyter' }, [{ port: 80, targetPort: 8888, nodePort: 3 }], { type: 'LoadBalancer', status: { loadBalancer: { ingress: [{ ip: '10.0.1.1' }] } } })];
  cs = diagnose(svcSubject(), s);
  assert.equal(firstFail(cs), undefined);
});

test('NetworkPolicy: deny-all fails, a rule for the port passes, a rule with peers warns', () => {
  const p = pod('jup-1', { app: 'jupyter' });
  const np = (name: string, ingressRules?: Obj[], sel: Obj = {}) => ({ metadata: { name }, spec: { podSelector: sel, policyTypes: ['Ingress'], ...(ingressRules && { ingress: ingressRules }) } });
  const s = healthy();
  s.networkPolicies = [np('deny-all')];
  let c = policyCheck(s, p, [8888], NS);
  assert.equal(c.reason, 'NetworkPolicyDenies');
  assert.match(c.message, /NetworkPolicy deny-all selects pod jup-1 and admits no traffic to port 8888/);
  assert.equal(firstFail(diagnose(svcSubject(), s))!.reason, 'NetworkPolicyDenies');
  s.networkPolicies = [np('deny-all'), np('allow-http', [{ ports: [{ port: 'http' }] }])];
  assert.equal(policyCheck(s, p, [8888], NS).status, 'pass');
  s.networkPolicies = [np('deny-all'), np('allow-range', [{ ports: [{ port: 8000, endPort: 9000 }] }])];
  assert.equal(policyCheck(s, p, [8888], NS).status, 'pass');
  s.networkPolicies = [np('from-ns', [{ from: [{ namespaceSelector: { matchLabels: { team: 'a' } } }], ports: [{ port: 8888 }] }])];
  c = policyCheck(s, p, [8888], NS);
  assert.equal(c.status, 'warn');
  assert.equal(c.reason, 'NetworkPolicyRestricts');
  s.networkPolicies = [np('other-pods', [], { matchLabels: { app: 'db' } })];
  assert.equal(policyCheck(s, p, [8888], NS).status, 'pass');
  s.networkPolicies = [{ metadata: { name: 'egress-only' }, spec: { podSelector: {}, policyTypes: ['Egress'] } }];
  assert.equal(policyCheck(s, p, [8888], NS).status, 'pass');
});

test('no kube-dns: the DNS check is skipped with NoClusterDNS', () => {
  const s = healthy();
  s.clusterDNS = false;
  const c = byId(diagnose(svcSubject(), s), 'cluster.dns');
  assert.equal(c.status, 'skipped');
  assert.equal(c.reason, 'NoClusterDNS');
});

test('Ingress class: a class that does not exist, no class and no default, the default class', () => {
  const s = healthy();
  s.ingresses = [ingress('lab', { cls: 'nginx' })];
  let cs = diagnose(ingSubject(), s);
  assert.equal(firstFail(cs)!.reason, 'IngressClassNotFound');
  assert.match(firstFail(cs)!.message, /"nginx", which does not exist \(this cluster has: traefik\)/);
  assert.equal(byId(cs, 'ingress.admitted').reason, 'IngressNotAdmitted');
  s.ingresses = [ingress('lab')];
  s.ingressClasses = [{ metadata: { name: 'traefik' }, spec: {} }];
  cs = diagnose(ingSubject(), s);
  assert.equal(firstFail(cs)!.reason, 'NoIngressClass');
  s.ingressClasses = [traefik];
  s.ingresses = [ingress('lab', { address: '10.0.0.2' })];
  assert.equal(firstFail(diagnose(ingSubject(), s)), undefined);
  assert.match(byId(diagnose(ingSubject(), s), 'ingress.class').message, /default class traefik/);
  s.ingresses = [ingress('lab', { annotations: { 'kubernetes.io/ingress.class': 'traefik' }, address: '10.0.0.2' })];
  assert.equal(firstFail(diagnose(ingSubject(), s)), undefined);
});

test('Ingress: Host header mismatch, backend Service/port missing, backend without endpoints, TLS secret missing, not admitted', () => {
  const s = healthy();
  let f = firstFail(diagnose(ingSubject('other.example.com'), s))!;
  assert.equal(f.reason, 'HostHeaderMismatch');
  assert.match(f.fix!, /curl -H 'Host: lab.example.com' http:\/\/10.0.0.2\//);
  s.ingresses = [ingress('lab', { cls: 'traefik', address: '10.0.0.2', backend: { name: 'gone', port: 80 } })];
  assert.equal(firstFail(diagnose(ingSubject(), s))!.reason, 'BackendServiceMissing');
  s.ingresses = [ingress('lab', { cls: 'traefik', address: '10.0.0.2', backend: { name: 'web', port: 81 } })];
  assert.equal(firstFail(diagnose(ingSubject(), s))!.reason, 'BackendPortMissing');
  s.ingresses = [ingress('lab', { cls: 'traefik', address: '10.0.0.2' })];
  s.endpointSlices = [];
  assert.equal(firstFail(diagnose(ingSubject(), s))!.reason, 'NoEndpoints');
  s.endpointSlices = [slice('web', undefined)];
  s.ingresses = [ingress('lab', { cls: 'traefik', address: '10.0.0.2', tls: 'lab-tls' })];
  s.secrets = { 'lab-tls': false };
  f = firstFail(diagnose(ingSubject(), s))!;
  assert.equal(f.reason, 'TlsSecretMissing');
  assert.match(f.fix!, /create secret tls lab-tls/);
  s.secrets = { 'lab-tls': true };
  assert.equal(firstFail(diagnose(ingSubject(), s)), undefined);
  s.ingresses = [ingress('lab', { cls: 'traefik' })];
  assert.equal(firstFail(diagnose(ingSubject(), s))!.reason, 'IngressNotAdmitted');
  assert.equal(firstFail(diagnose({ ...ingSubject(), exposures: [{ id: 'ing', kind: 'k8s-ingress', protocol: 'http', ingress: 'nope' }] }, s))!.reason, 'IngressNotFound');
});

test('reads that RBAC forbids are skipped with Forbidden, not failed', () => {
  const denied = { unavailable: 'Forbidden' as const, message: 'this user may not read services' };
  const s = healthy();
  s.services = denied;
  s.endpointSlices = denied;
  const cs = diagnose(svcSubject(), s);
  assert.equal(firstFail(cs), undefined);
  assert.equal(byId(cs, 'service.exists').status, 'skipped');
  assert.equal(byId(cs, 'service.exists').reason, 'Forbidden');
});

test('--target: a deployment finds the Services selecting its pods on the port and the Ingresses in front', () => {
  const s = healthy();
  s.deployment = { metadata: { name: 'jup' }, spec: { selector: { matchLabels: { app: 'jupyter' } } } };
  s.ingresses = [ingress('lab', { cls: 'traefik', address: '10.0.0.2', backend: { name: 'web', port: 80 } })];
  const t = parseCheckTarget('k8s:dev/deploy/jup');
  assert.deepEqual(t, { kind: 'deployment', namespace: 'dev', name: 'jup' });
  const subj = subjectFromTarget(t, NS, s, 8888);
  assert.deepEqual(subj.exposures.map((x) => `${x.kind}:${x.id}`), ['k8s-port-forward:pod-8888', 'k8s-service:service-web-80', 'k8s-ingress:ingress-lab']);
  assert.deepEqual(subjectFromTarget(t, NS, s, 9999).exposures.map((x) => x.id), ['pod-9999']);
  assert.deepEqual(subjectFromTarget(parseCheckTarget('k8s:ing/lab'), NS, s).exposures.map((x) => x.id), ['ingress-lab', 'service-web']);
  assert.throws(() => parseCheckTarget('k8s:dev/statefulset/x'), /not a Kubernetes target/);
});
