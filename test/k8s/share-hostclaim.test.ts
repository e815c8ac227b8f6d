// Issue 22 item 5 on the real API server: "nobody else can take the host". With the objects of
// `envserve operator manifests` applied (the CRDs, the operator's ServiceAccount and the
// host-claim ValidatingAdmissionPolicy, no operator pod) and an ExposurePolicy naming domains,
// a user of another namespace who may create Ingresses and HTTPRoutes is refused by the API server
// for a host under those domains (or a rule without a host), and admitted for a host outside them;
// the operator's namespace and the operator's ServiceAccount are admitted; an object that held a
// host before the policy existed can still be edited but gains no new one; a malformed policy
// breaks nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, kubectl } from './cluster.js';
import { env, createNamespace, deleteNamespace, mustKubectl } from './expose-lib.js';
import { apply, createToken, ENVSERVE_CLUSTER_OBJECTS, manifests, tokenKubeconfig } from './operator-lib.js';
import { HOST_CLAIM_POLICY } from '../../src/operator/login/host-claim.js';

const OP_NS = 'envserve-system';
const POLICY = 'hostclaim-test';
let ns: string;
let user: string; // a kubeconfig of a ServiceAccount with rights on Ingresses and HTTPRoutes in ns only
let operatorKc: string; // the operator's own ServiceAccount

const ingress = (name: string, hosts: (string | undefined)[], namespace = ns) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name, namespace },
  spec: { rules: hosts.map((host) => ({ ...(host && { host }), http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } })) },
});
const route = (name: string, hostnames: string[] | undefined, namespace = ns) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name, namespace },
  spec: { ...(hostnames && { hostnames }), rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] },
});

function create(kc: string, obj: unknown): { code: number; stderr: string } {
  return kubectl(kc, ['create', '-f', '-'], JSON.stringify(obj));
}
const refused = (r: { code: number; stderr: string }) => r.code !== 0 && r.stderr.includes(`ValidatingAdmissionPolicy '${HOST_CLAIM_POLICY}'`);

before(async () => {
  // The manifests' objects without the operator's pods: the admission policy needs none.
  const objs = manifests().filter((o) => !['Deployment', 'PodDisruptionBudget', 'Service'].includes(o.kind));
  assert.deepEqual(objs.filter((o) => o.metadata.name === HOST_CLAIM_POLICY).map((o) => o.kind), ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
  apply(objs.filter((o) => o.kind === 'CustomResourceDefinition'));
  mustKubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/exposurepolicies.envserve.dev']);
  apply(objs.filter((o) => o.kind !== 'CustomResourceDefinition'));
  ns = createNamespace('hostclaim');
  mustKubectl(['-n', ns, 'create', 'serviceaccount', 'mallory']);
  mustKubectl(['-n', ns, 'create', 'role', 'routes', '--verb=get,create,update,patch,delete', '--resource=ingresses.networking.k8s.io,httproutes.gateway.networking.k8s.io']);
  mustKubectl(['-n', ns, 'create', 'rolebinding', 'routes', '--role=routes', `--serviceaccount=${ns}:mallory`]);
  user = tokenKubeconfig(`mallory-${ns}`, createToken(ns, 'mallory'));
  operatorKc = tokenKubeconfig(`operator-${ns}`, createToken(OP_NS, 'envserve-operator'));
  // Before any policy names a domain nothing is claimed: this Ingress gets the host first.
  await eventually(async () => {
    const r = create(env.kubeconfig, ingress('legacy', ['legacy.apps.claim.test']));
    if (r.code !== 0) throw new Error(r.stderr);
  }, 60_000, 500);
  apply([{
    apiVersion: 'envserve.dev/v1alpha1',
    kind: 'ExposurePolicy',
    metadata: { name: POLICY },
    // Its namespaceSelector does not matter: the host space is every namespace's.
    spec: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'elsewhere' } }, ingress: { domain: 'Apps.Claim.Test' }, httpRoute: { allowedHostSuffixes: ['*.routes.claim.test'] } },
  }]);
  // Policies reach the API server's admission through an informer: wait until this one is in effect.
  await eventually(async () => {
    const r = create(user, ingress('probe', ['probe.apps.claim.test']));
    if (r.code === 0) { kubectl(env.kubeconfig, ['-n', ns, 'delete', 'ingress', 'probe']); throw new Error('the host claim is not in effect yet'); }
    if (!refused(r)) throw new Error(r.stderr);
  }, 60_000, 500);
});

after(() => {
  kubectl(env.kubeconfig, ['delete', 'exposurepolicies.envserve.dev', POLICY, 'hostclaim-malformed', '--ignore-not-found']);
  kubectl(env.kubeconfig, ['-n', OP_NS, 'delete', 'ingress,httproute', 'claimed', '--ignore-not-found']);
  if (ns) deleteNamespace(ns);
  // Later files expect no envserve CRDs (nor the policy that reads them) unless they install the operator themselves.
  kubectl(env.kubeconfig, ['delete', ...ENVSERVE_CLUSTER_OBJECTS, '--ignore-not-found', '--wait=true']);
});

test('another namespace cannot route a host under the policy\'s domains: Ingress and HTTPRoute, exact, wildcard, or no host at all', () => {
  const cases: [string, unknown, RegExp][] = [
    ['exact', ingress('steal', ['tb-demo-team.apps.claim.test']), /host tb-demo-team\.apps\.claim\.test lies under apps\.claim\.test, the domain ExposurePolicy hostclaim-test reserves for envserve exposures/],
    ['wildcard', ingress('steal-all', ['*.apps.claim.test']), /host \*\.apps\.claim\.test lies under apps\.claim\.test/],
    ['second rule', ingress('steal-2', ['free.example.test', 'x.apps.claim.test']), /host x\.apps\.claim\.test lies under/],
    ['no host', ingress('catch-all', [undefined]), /a rule without a host matches every host, including those under apps\.claim\.test/],
    ['route', route('steal', ['a.routes.claim.test']), /host a\.routes\.claim\.test lies under routes\.claim\.test, the domain ExposurePolicy hostclaim-test reserves/],
    ['route no host', route('catch-all', undefined), /a rule without a host matches every host/],
  ];
  for (const [what, obj, message] of cases) {
    const r = create(user, obj);
    assert.ok(refused(r), `${what}: ${r.code} ${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.match(r.stderr, /forbidden/i, what);
  }
  assert.equal(kubectl(env.kubeconfig, ['-n', ns, 'get', 'ingress,httproute', '-o', 'name']).stdout.trim(), 'ingress.networking.k8s.io/legacy', 'nothing refused was stored');
});

test('a host outside the domains is admitted; so is a look-alike that only ends with the same letters', () => {
  for (const [what, obj] of [
    ['ingress', ingress('free', ['web.example.test'])],
    ['look-alike', ingress('lookalike', ['notapps.claim.test'])],
    ['route', route('free', ['web.example.test'])],
  ] as const) {
    const r = create(user, obj);
    assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  }
});

test('the operator\'s namespace, and the operator\'s ServiceAccount anywhere, may route the claimed hosts', () => {
  let r = create(env.kubeconfig, ingress('claimed', ['tb-demo-team.apps.claim.test'], OP_NS));
  assert.equal(r.code, 0, r.stderr);
  r = create(env.kubeconfig, route('claimed', ['a.routes.claim.test'], OP_NS));
  assert.equal(r.code, 0, r.stderr);
  // The same host in a user's namespace, made by a cluster admin, is still refused: only the operator routes it.
  assert.ok(refused(create(env.kubeconfig, ingress('admin', ['tb-demo-team.apps.claim.test']))));
  r = create(operatorKc, ingress('by-operator', ['web-srv-team.apps.claim.test']));
  assert.equal(r.code, 0, r.stderr);
});

test('an object that held a host before the policy can still be edited and deleted, but gains no new claimed host', () => {
  assert.equal(kubectl(user, ['-n', ns, 'label', 'ingress', 'legacy', 'touched=yes']).code, 0);
  const add = kubectl(user, ['-n', ns, 'patch', 'ingress', 'legacy', '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/rules/-', value: { host: 'more.apps.claim.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } } }])]);
  assert.ok(refused(add), add.stderr);
  assert.match(add.stderr, /host more\.apps\.claim\.test lies under/);
  assert.equal(kubectl(user, ['-n', ns, 'delete', 'ingress', 'legacy']).code, 0);
});

test('a malformed policy (wrong types where domains go) claims only its well-formed domains and breaks no admission', async () => {
  apply([{ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy', metadata: { name: 'hostclaim-malformed' }, spec: { ingress: { domain: 5, allowedHostSuffixes: ['.marker.test', 7] }, httpRoute: 'no' } }]);
  // In effect once its one well-formed suffix is claimed.
  await eventually(async () => {
    const r = create(user, ingress(`m-${Date.now()}`, ['m.marker.test']));
    if (!refused(r)) throw new Error(`not in effect yet: ${r.code} ${r.stderr}`);
  }, 60_000, 500);
  let r = create(user, ingress('outside', ['web.x.test']));
  assert.equal(r.code, 0, r.stderr);
  r = create(user, route('outside', ['web.x.test']));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(refused(create(user, ingress('still', ['z.apps.claim.test']))), 'the good policy still claims its domain');
});
