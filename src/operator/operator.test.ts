// Unit tests of the operator's pure parts: ExposureSet → objects and decisions; the manifests' RBAC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Exposure } from '../plan/types.js';
import type { ExposurePolicy } from '../policy/types.js';
import { exposureSetFromPlan } from './exposure-set.js';
import { canonical } from './controller.js';
import { desiredFor } from './desired.js';
import { LABEL_EXPOSURE_SET } from '../apply/k8s/manifests.js';
import { operatorManifests, operatorRules, userRoleManifests } from './manifests.js';
import type { ExposureSet } from './resource.js';

const svc = (id: string, type: 'ClusterIP' | 'NodePort', port: number, extra: Record<string, unknown> = {}): Exposure =>
  ({ id, kind: 'k8s-service', envPort: port, protocol: 'http', position: 'build.envd:7:5', declaredBy: 'cloud.k8s.bind', serviceType: type, servicePort: port, ...extra }) as Exposure;

function set(exposures: unknown[], extra: Partial<ExposureSet['spec']> = {}): ExposureSet {
  return {
    apiVersion: 'envserve.dev/v1alpha1',
    kind: 'ExposureSet',
    metadata: { name: 'demo', namespace: 'team-a', uid: 'uid-1', generation: 3 },
    spec: { env: 'demo', services: [{ name: 'jupyter', port: 8888, protocol: 'http' }], exposures: exposures as Exposure[], ...extra },
  };
}
const run = (s: ExposureSet, policies: ExposurePolicy[] = [], others = 0, defaultIngressClass?: string) =>
  desiredFor({ set: s, policies, namespaceLabels: { 'kubernetes.io/metadata.name': 'team-a' }, othersInNamespace: others, ...(defaultIngressClass && { defaultIngressClass }) });

test('an admitted set becomes a Service and an automatic Ingress, owned by the set (labels + ownerReference)', () => {
  const policy: ExposurePolicy = { name: 'ops', spec: { ingress: { domain: 'apps.example.com' } } };
  const d = run(set([svc('service-jupyter-8888', 'ClusterIP', 8888, { access: 'public' })]), [policy], 0, 'traefik');
  assert.equal(d.outcome, 'Admitted');
  assert.deepEqual(d.objects.map((o) => [o.kind, o.metadata.name]), [['Service', 'demo-jupyter-8888'], ['Ingress', 'demo-jupyter-8888']]);
  const ing = d.objects[1]!;
  assert.equal(ing.spec.ingressClassName, 'traefik', 'the cluster default class fills an automatic Ingress');
  assert.equal(ing.spec.rules[0].host, 'jupyter-demo-team-a.apps.example.com');
  for (const o of d.objects) {
    assert.equal(o.metadata.labels![LABEL_EXPOSURE_SET], 'demo');
    assert.equal(o.metadata.labels!['app.kubernetes.io/managed-by'], 'envserve');
    assert.deepEqual((o.metadata as any).ownerReferences, [{ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposureSet', name: 'demo', uid: 'uid-1', controller: true, blockOwnerDeletion: false }]);
  }
  assert.deepEqual(d.exposures.map((e) => [e.id, e.decision, e.object, e.automatic ?? false]), [
    ['service-jupyter-8888', 'Admitted', 'service/demo-jupyter-8888', false],
    ['ingress-jupyter-8888', 'Admitted', 'ingress/demo-jupyter-8888', true],
  ]);
  assert.equal(d.exposures[1]!.url, 'http://jupyter-demo-team-a.apps.example.com/');
  // The same input gives the same objects: a restarted operator applies exactly these again.
  assert.equal(canonical(run(set([svc('service-jupyter-8888', 'ClusterIP', 8888, { access: 'public' })]), [policy], 0, 'traefik').objects), canonical(d.objects));
});

test('issue 22: an operator run without its login gateway makes no URL that needs a login (default access: namespace)', () => {
  const policy: ExposurePolicy = { name: 'ops', spec: { ingress: { domain: 'apps.example.com' } } };
  for (const access of [undefined, 'namespace', 'authenticated']) {
    const d = run(set([svc('service-jupyter-8888', 'ClusterIP', 8888, access ? { access } : {})]), [policy], 0, 'traefik');
    assert.equal(d.outcome, 'Denied');
    assert.equal(d.reason, 'LoginUnavailable');
    assert.deepEqual(d.objects, []);
    assert.match(d.message, new RegExp(`ingress-jupyter-8888: access "${access ?? 'namespace'}" needs a login, and this envserve operator runs without its login gateway .*access="public"`));
  }
});

test('one denied exposure: the set is Denied, nothing is created, the reason is positioned', () => {
  const policy: ExposurePolicy = { name: 'pf-only', spec: { serviceTypes: [], ingress: { allowed: false } } };
  const pf = { id: 'port-forward-jupyter-1234', kind: 'k8s-port-forward', envPort: 8888, protocol: 'http', position: 'build.envd:6:5', declaredBy: 'cloud.k8s.bind', hostPort: 1234, listenAddress: '127.0.0.1' };
  const d = run(set([pf, svc('service-jupyter-8888', 'ClusterIP', 8888)]), [policy]);
  assert.equal(d.outcome, 'Denied');
  assert.equal(d.reason, 'PolicyDenied');
  assert.deepEqual(d.objects, []);
  assert.match(d.message, /1 of 2 exposures denied, so nothing is created; build\.envd:7:5: service-jupyter-8888: ClusterIP is not allowed in namespace team-a by policy pf-only; allowed: port-forward/);
  assert.deepEqual(d.exposures.map((e) => e.decision), ['Admitted', 'Denied']);
});

test('an invalid resource is Denied with reason Invalid and the field, never an exception', () => {
  for (const [exposures, want] of [
    [[{ id: 'x', kind: 'k8s-service', envPort: 8888, serviceType: 'Headless', servicePort: 1 }], /spec\.exposures\[0\]\.serviceType: must be ClusterIP/],
    [[{ id: 'x', kind: 'k8s-teleport', envPort: 1 }], /spec\.exposures\[0\]\.kind: must be one of/],
    [[svc('s', 'ClusterIP', 70000)], /build\.envd:7:5: cloud\.k8s\.bind: env_port must be an int between 1 and 65535, got 70000/],
    [[svc('s', 'ClusterIP', 80), { id: 'i', kind: 'k8s-ingress', envPort: 80, serviceId: 's', servicePort: 80, host: 'not a host', path: '/' }], /host must be a DNS name/],
    ['nope', /spec\.exposures: must be a list/],
  ] as const) {
    const d = run(set(exposures as unknown as unknown[]));
    assert.equal(d.outcome, 'Invalid', JSON.stringify(exposures));
    assert.equal(d.reason, 'Invalid');
    assert.match(d.message, want);
    assert.deepEqual(d.objects, []);
  }
});

test('the per-namespace limit counts what older sets hold', () => {
  const policy: ExposurePolicy = { name: 'cap', spec: { maxExposuresPerNamespace: 2 } };
  const s = set([svc('a', 'ClusterIP', 80), svc('b', 'ClusterIP', 81)]);
  assert.equal(run(s, [policy], 0).outcome, 'Admitted');
  const d = run(s, [policy], 1);
  assert.equal(d.outcome, 'Denied');
  assert.match(d.message, /limit is 2 per namespace/);
});

test('a Plan becomes an ExposureSet with its cluster exposures only', () => {
  const plan = {
    apiVersion: 'envserve/v1' as const, kind: 'Plan' as const, source: 'build.envd', warnings: [],
    env: { name: 'demo', base: {}, services: [], packages: { python: [], apt: [], r: [], conda: [] }, daemons: [], commands: {}, environment: {}, extraPath: [], copies: [] },
    exposures: [{ id: 'h', kind: 'host', envPort: 1, protocol: 'tcp', position: 'p', declaredBy: 'host.bind', hostPort: 1, listenAddress: '127.0.0.1' }, svc('s', 'ClusterIP', 80)] as Exposure[],
  };
  const s = exposureSetFromPlan(plan, 'team-a', { user: 'alice', selector: { app: 'x' } });
  assert.deepEqual(s.spec.exposures.map((e) => e.id), ['s']);
  assert.deepEqual(s.spec.selector, { app: 'x' });
  assert.equal(s.metadata.annotations!['envserve.dev/submitted-by'], 'alice');
});

test('the operator\'s RBAC: no secrets but its session keys, no pods or pods/exec, no policy writes; Leases only in its namespace; two replicas (RollingUpdate, a PodDisruptionBudget, preferred anti-affinity), the login gateway\'s port and Services', () => {
  const rules = operatorRules() as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  const resources = rules.flatMap((r) => r.resources);
  for (const r of ['secrets', 'pods', 'pods/exec', 'deployments', 'roles', 'clusterroles']) assert.ok(!resources.includes(r), r);
  assert.deepEqual(rules.find((r) => r.resources.includes('exposurepolicies'))!.verbs, ['get', 'list', 'watch']);
  assert.ok(!rules.some((r) => r.verbs.includes('*') || r.resources.includes('*')));
  const objs = operatorManifests({ namespace: 'ops', image: 'registry.example.com/envserve:1' }) as any[];
  assert.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`), [
    'CustomResourceDefinition//exposuresets.envserve.dev', 'CustomResourceDefinition//exposurepolicies.envserve.dev',
    'ValidatingAdmissionPolicy//envserve-host-claim', 'ValidatingAdmissionPolicyBinding//envserve-host-claim',
    'CustomResourceDefinition//logins.envserve.dev', 'ValidatingAdmissionPolicy//envserve-login-identity', 'ValidatingAdmissionPolicyBinding//envserve-login-identity',
    'ClusterRole//envserve-login-creator', 'ClusterRoleBinding//envserve-login-creator',
    'Namespace//ops', 'ServiceAccount/ops/envserve-operator', 'ClusterRole//envserve-operator', 'ClusterRoleBinding//envserve-operator',
    'Role/ops/envserve-operator-leader-election', 'RoleBinding/ops/envserve-operator-leader-election',
    'Secret/ops/envserve-session-keys', 'Role/ops/envserve-operator-session-keys', 'RoleBinding/ops/envserve-operator-session-keys',
    'Role/ops/envserve-operator-login-gateway', 'RoleBinding/ops/envserve-operator-login-gateway',
    'Deployment/ops/envserve-operator', 'PodDisruptionBudget/ops/envserve-operator', 'Service/ops/envserve-operator', 'Service/ops/envserve-login',
  ]);
  assert.ok(!resources.includes('leases'), 'no cluster-wide right on Leases');
  // Logins: read and delete to redeem, list to sweep; never create, update or watch.
  assert.deepEqual(rules.find((r) => r.resources.includes('logins'))!.verbs, ['get', 'list', 'delete']);
  const keys = objs.find((o) => o.kind === 'Role' && o.metadata.name.endsWith('session-keys'));
  assert.deepEqual(keys.rules, [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['envserve-session-keys'], verbs: ['get', 'update'] }]);
  assert.equal(objs.find((o) => o.kind === 'Secret').data, undefined, 'created empty: the operator writes the keys');
  const loginSvc = objs.find((o) => o.kind === 'Service' && o.metadata.name === 'envserve-login');
  assert.deepEqual(loginSvc.spec.ports, [{ name: 'login', port: 80, targetPort: 'login', protocol: 'TCP' }]);
  const role = objs.find((o) => o.kind === 'Role');
  assert.equal(role.metadata.namespace, 'ops');
  assert.deepEqual(role.rules, [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['envserve-operator'], verbs: ['get', 'update'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
  ]);
  const binding = objs.find((o) => o.kind === 'RoleBinding');
  assert.deepEqual([binding.metadata.namespace, binding.roleRef.name, binding.subjects[0].name], ['ops', role.metadata.name, 'envserve-operator']);
  const dep = objs.find((o) => o.kind === 'Deployment');
  assert.equal(dep.spec.replicas, 2);
  assert.deepEqual(dep.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  assert.ok(dep.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution, 'preferred: a one-node cluster runs both');
  assert.equal(dep.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution, undefined);
  assert.deepEqual(dep.spec.template.spec.containers[0].env.map((e: any) => e.name), ['POD_NAME', 'POD_NAMESPACE']);
  // The gateway on its own port, apart from the HTTP API.
  assert.deepEqual(dep.spec.template.spec.containers[0].args, ['operator', '--listen', '0.0.0.0:8080', '--login-listen', '0.0.0.0:8081']);
  assert.deepEqual(dep.spec.template.spec.containers[0].ports.map((p: any) => [p.name, p.containerPort]), [['http', 8080], ['login', 8081]]);
  const pdb = objs.find((o) => o.kind === 'PodDisruptionBudget');
  assert.deepEqual([pdb.metadata.namespace, pdb.spec.minAvailable, pdb.spec.selector.matchLabels], ['ops', 1, dep.spec.selector.matchLabels]);
  assert.equal(dep.spec.template.spec.containers[0].image, 'registry.example.com/envserve:1');
  assert.equal(dep.metadata.namespace, 'ops');
  const user = userRoleManifests({ namespace: 'ops', user: 'system:serviceaccount:team-a:alice', userNamespace: 'team-a' }) as any[];
  assert.deepEqual(user.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`), [
    'ClusterRole//envserve-user', 'Role/ops/envserve-api-client', 'RoleBinding/team-a/envserve-user-system-serviceaccount-team-a-alice', 'RoleBinding/ops/envserve-user-system-serviceaccount-team-a-alice',
  ]);
  assert.ok(!user[0].rules.some((r: { resources: string[] }) => r.resources.some((x) => ['exposurepolicies', 'services', 'ingresses'].includes(x))));
});

test('version skew: CRDs from another minor version are named; missing CRDs are a clear error', async () => {
  const { checkCrds, CrdsMissingError } = await import('./controller.js');
  const { KubeApiError } = await import('../apply/k8s/client.js');
  const fake = (crdVersion: string | undefined, apiMissing = false) => ({
    async request<T>(path: string): Promise<T> {
      if (apiMissing) throw new KubeApiError(404, 'NotFound', 'not found', 'GET', path);
      if (path.includes('customresourcedefinitions')) return { metadata: { name: 'x', annotations: crdVersion ? { 'envserve.dev/version': crdVersion } : {} } } as T;
      return {} as T;
    },
  });
  assert.deepEqual(await checkCrds(fake('0.1.3'), '0.1.0'), { version: '0.1.0', apiVersion: 'envserve.dev/v1alpha1', crdVersion: '0.1.3' });
  const skew = await checkCrds(fake('0.2.0'), '0.1.0');
  assert.equal(skew.skew, 'the CRDs were installed by envserve 0.2.0, this is envserve 0.1.0: re-apply `envserve operator manifests` of the version you run');
  await assert.rejects(checkCrds(fake(undefined, true)), (e: unknown) => e instanceof CrdsMissingError && /not installed/.test((e as Error).message));
});

test('at start the operator waits out an API server that is away or still refusing, and gives up on a definite answer', async () => {
  const { waitForCrds, CrdsMissingError } = await import('./controller.js');
  const { KubeApiError, KubeUnreachableError } = await import('../apply/k8s/client.js');
  let clock = 0;
  const timing = { sleep: async (ms: number) => { clock += ms; }, now: () => clock };
  // Answers in turn: each entry is thrown, or (undefined) the real answer.
  const flaky = (errors: (Error | undefined)[]) => ({
    calls: 0,
    async request<T>(path: string): Promise<T> {
      const e = errors[Math.min(this.calls++, errors.length - 1)];
      if (e) throw e;
      return (path.includes('customresourcedefinitions') ? { metadata: { name: 'x' } } : {}) as T;
    },
  });
  const refused = new KubeUnreachableError('https://k:6443', new Error('connect ECONNREFUSED'));
  const forbidden = new KubeApiError(403, 'Forbidden', 'forbidden', 'GET', '/apis/envserve.dev/v1alpha1');
  const logs: string[] = [];
  const c = flaky([refused, new KubeApiError(503, 'ServiceUnavailable', 'unavailable', 'GET', '/x'), forbidden, undefined]);
  const info = await waitForCrds(c, { ...timing, log: (_l, m) => logs.push(m) });
  assert.equal(info.apiVersion, 'envserve.dev/v1alpha1');
  assert.equal(logs.length, 3, 'each wait is logged');
  assert.match(logs[0]!, /^waiting for the API server: cannot reach .* \(retrying in 500 ms\)$/);
  // A definite answer: no waiting at all.
  clock = 0;
  const missing = flaky([new KubeApiError(404, 'NotFound', 'not found', 'GET', '/apis/envserve.dev/v1alpha1')]);
  await assert.rejects(waitForCrds(missing, timing), (e: unknown) => e instanceof CrdsMissingError);
  assert.equal(missing.calls, 1);
  // A refusal that lasts is the answer after 30 s; an outage after 2 minutes.
  clock = 0;
  await assert.rejects(waitForCrds(flaky([forbidden]), timing), (e: unknown) => e === forbidden);
  assert.ok(clock >= 30_000 && clock < 40_000, `gave up on the refusal after ${clock} ms`);
  clock = 0;
  await assert.rejects(waitForCrds(flaky([refused]), timing), (e: unknown) => e === refused);
  assert.ok(clock >= 120_000 && clock < 130_000, `gave up on the outage after ${clock} ms`);
});
