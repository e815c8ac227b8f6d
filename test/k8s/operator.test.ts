// The operator on the real test cluster, installed from `envserve operator manifests --image
// envserve.test/envserve:1 --image-pull-policy Never`: a real pod on the real node with in-cluster
// config and its own ServiceAccount, its HTTP API reached through envserve's port-forward to the pod.
// What its ServiceAccount may and may not do, the HTTP API with users who may only create
// ExposureSets, `envserve serve --runtime k8s` through it, policies that admit and deny, and restarts
// of the operator (its pod deleted) and of the API server.
// One file over 450 lines on purpose: every test uses the one operator install and the four
// namespaces with their policies that before() sets up (installing it again per file would cost more
// than the split gains); shared helpers are in operator-lib.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curlInNetns, httpRequest, podAnswer, eventually, kubectl, backedPod, sleep } from './cluster.js';
import { env, createNamespace, deleteNamespace, freePort, kubectlJson, mustKubectl, restartApiServer, writeEnvFile } from './expose-lib.js';
import { runCli, startCli, stateDirEnv } from '../local/cli-helpers.js';
import { envserve } from '../helpers/cli.js';
import { loadKubeClient } from '../../src/apply/k8s/client.js';
import { api, apiThroughPortForward, apply, condition, createToken, events, manifests, operatorPod, OPERATOR_IMAGE, tokenKubeconfig, type OperatorPod, ENVSERVE_CLUSTER_OBJECTS } from './operator-lib.js';

const OP_NS = 'envserve-system';

/** The Lease and the last lines of every operator pod's log. */
function operatorDiagnostics(): string {
  const lease = kubectl(env.kubeconfig, ['-n', OP_NS, 'get', 'lease', 'envserve-operator', '-o', 'jsonpath={.spec}']).stdout;
  const pods = kubectlJson<{ items: any[] }>(['-n', OP_NS, 'get', 'pods', '-l', 'app.kubernetes.io/name=envserve-operator']).items;
  return [`Lease: ${lease}`, ...pods.map((p) => `--- ${p.metadata.name} ${p.status?.phase} ${JSON.stringify(p.status?.containerStatuses?.[0]?.state)}\n${kubectl(env.kubeconfig, ['-n', OP_NS, 'logs', p.metadata.name, '--tail=40']).stdout}`)].join('\n');
}
const OP_USER = `system:serviceaccount:${OP_NS}:envserve-operator`;
const admin = loadKubeClient({ kubeconfig: env.kubeconfig });
let nsA: string; // a policy gives it a domain: ClusterIP + automatic Ingress
let nsB: string; // "port-forward only"
let nsC: string; // NodePort range, host suffixes, TLS required
let nsD: string; // no policy: `envserve serve --ingress-domain` through the operator
let op: OperatorPod | undefined;
let alice: string; // may only use ExposureSets (the --user-role rights)
let bob: string; // authenticated, no rights
const aliceName = (ns: string) => `system:serviceaccount:${ns}:alice`;

function planJson(name: string, body: string): any {
  const file = writeEnvFile(name, body);
  const r = envserve(['plan', '-f', file, '-o', 'json', '--name', name], { env: { ENVSERVE_INGRESS_DOMAIN: '' } });
  if (r.code !== 0) throw new Error(`envserve plan: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
const WEB = `def serve():
    cloud.k8s.bind(env_port=8080, host_port=18080, protocol="http", name="web")
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, protocol="http", name="web", access="public")
`;

async function sar(user: string, verb: string, resource: string, o: { group?: string; namespace?: string; subresource?: string; name?: string } = {}): Promise<boolean> {
  const r = await admin.request('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    method: 'POST',
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, resourceAttributes: { verb, resource, group: o.group ?? '', ...(o.namespace && { namespace: o.namespace }), ...(o.subresource && { subresource: o.subresource }), ...(o.name && { name: o.name }) } } },
  });
  return r.status.allowed === true;
}

before(async () => {
  // A clean slate: the CRDs of an earlier run would hide the "CRDs missing" check.
  kubectl(env.kubeconfig, ['delete', ...ENVSERVE_CLUSTER_OBJECTS, '--ignore-not-found', '--wait=true']);
  kubectl(env.kubeconfig, ['delete', 'exposurepolicies.envserve.dev', '--all', '--ignore-not-found']);
  nsA = createNamespace('exs-a');
  nsB = createNamespace('exs-b');
  nsC = createNamespace('exs-c');
  nsD = createNamespace('exs-d');
  mustKubectl(['label', 'namespace', nsB, 'envserve.dev/policy=restricted']);
  for (const ns of [nsA, nsB, nsC, nsD]) mustKubectl(['-n', ns, 'create', 'serviceaccount', 'alice']);
  mustKubectl(['-n', nsA, 'create', 'serviceaccount', 'bob']);
});

after(async () => {
  await op?.stop();
  // No operator pods left holding the Lease for a later file's operator.
  kubectl(env.kubeconfig, ['-n', OP_NS, 'delete', 'deployment', 'envserve-operator', '--ignore-not-found', '--wait=false']);
  for (const ns of [nsA, nsB, nsC, nsD]) if (ns) deleteNamespace(ns);
  kubectl(env.kubeconfig, ['delete', 'exposurepolicies.envserve.dev', '--all', '--ignore-not-found']);
  // Later test files share the cluster: with the CRDs left behind, their `serve` would find an
  // operator that no longer runs and hand it their exposures.
  kubectl(env.kubeconfig, ['delete', ...ENVSERVE_CLUSTER_OBJECTS, '--ignore-not-found', '--wait=true']);
  admin.close();
});

test('without the CRDs the operator says so and exits 2', () => {
  const r = envserve(['operator', '--kubeconfig', env.kubeconfigRestricted, '--listen', '127.0.0.1:0']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /the envserve CRDs are not installed in this cluster \(the API envserve\.dev\/v1alpha1 does not exist\)/);
  assert.match(r.stderr, /envserve operator manifests \| kubectl apply -f -/);
});

test('installed from `envserve operator manifests`: its ServiceAccount can do what it needs and nothing more', async () => {
  // The operator as users run it: its image on the real node (never pulled), in-cluster config.
  const objs = manifests(['--image', OPERATOR_IMAGE, '--image-pull-policy', 'Never']);
  assert.ok(objs.some((o) => o.kind === 'Deployment' && o.spec.replicas === 2 && o.spec.strategy.type === 'RollingUpdate'));
  apply(objs);
  mustKubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd/exposuresets.envserve.dev', 'crd/exposurepolicies.envserve.dev']);
  for (const ns of [nsA, nsB, nsC, nsD]) apply(manifests(['--user-role', '--user', aliceName(ns), '--user-namespace', ns]));

  const table: [string, string, string, { group?: string; namespace?: string; subresource?: string; name?: string }, boolean][] = [
    [OP_USER, 'watch', 'exposuresets', { group: 'envserve.dev' }, true],
    [OP_USER, 'patch', 'exposuresets', { group: 'envserve.dev', namespace: nsA, subresource: 'status' }, true],
    [OP_USER, 'list', 'exposurepolicies', { group: 'envserve.dev' }, true],
    [OP_USER, 'create', 'exposurepolicies', { group: 'envserve.dev' }, false],
    [OP_USER, 'delete', 'exposurepolicies', { group: 'envserve.dev' }, false],
    [OP_USER, 'create', 'services', { namespace: nsA }, true],
    [OP_USER, 'delete', 'ingresses', { group: 'networking.k8s.io', namespace: nsA }, true],
    [OP_USER, 'create', 'tokenreviews', { group: 'authentication.k8s.io' }, true],
    [OP_USER, 'create', 'subjectaccessreviews', { group: 'authorization.k8s.io' }, true],
    [OP_USER, 'get', 'customresourcedefinitions', { group: 'apiextensions.k8s.io', name: 'exposuresets.envserve.dev' }, true],
    [OP_USER, 'get', 'customresourcedefinitions', { group: 'apiextensions.k8s.io', name: 'portforwards.kwok.x-k8s.io' }, false],
    [OP_USER, 'get', 'secrets', { namespace: nsA }, false],
    [OP_USER, 'list', 'secrets', {}, false],
    [OP_USER, 'create', 'pods', { namespace: nsA, subresource: 'exec' }, false],
    [OP_USER, 'create', 'pods', { namespace: nsA }, false],
    [OP_USER, 'create', 'deployments', { group: 'apps', namespace: nsA }, false],
    [OP_USER, 'create', 'clusterrolebindings', { group: 'rbac.authorization.k8s.io' }, false],
    [OP_USER, 'update', 'services', { namespace: nsA }, false],
    // Leader election: its one Lease in its own namespace, nothing else.
    [OP_USER, 'get', 'leases', { group: 'coordination.k8s.io', namespace: OP_NS, name: 'envserve-operator' }, true],
    [OP_USER, 'update', 'leases', { group: 'coordination.k8s.io', namespace: OP_NS, name: 'envserve-operator' }, true],
    [OP_USER, 'create', 'leases', { group: 'coordination.k8s.io', namespace: OP_NS }, true],
    [OP_USER, 'update', 'leases', { group: 'coordination.k8s.io', namespace: OP_NS, name: 'kube-scheduler' }, false],
    [OP_USER, 'delete', 'leases', { group: 'coordination.k8s.io', namespace: OP_NS, name: 'envserve-operator' }, false],
    [OP_USER, 'update', 'leases', { group: 'coordination.k8s.io', namespace: 'kube-system', name: 'envserve-operator' }, false],
    [OP_USER, 'create', 'leases', { group: 'coordination.k8s.io', namespace: nsA }, false],
    // A user with the --user-role rights: ExposureSets and a port-forward to the operator, nothing else.
    [aliceName(nsA), 'create', 'exposuresets', { group: 'envserve.dev', namespace: nsA }, true],
    [aliceName(nsA), 'watch', 'exposuresets', { group: 'envserve.dev', namespace: nsA }, true],
    [aliceName(nsA), 'create', 'pods', { namespace: OP_NS, subresource: 'portforward' }, true],
    [aliceName(nsA), 'create', 'services', { namespace: nsA }, false],
    [aliceName(nsA), 'create', 'ingresses', { group: 'networking.k8s.io', namespace: nsA }, false],
    [aliceName(nsA), 'create', 'exposurepolicies', { group: 'envserve.dev' }, false],
    [aliceName(nsA), 'patch', 'exposuresets', { group: 'envserve.dev', namespace: nsA, subresource: 'status' }, false],
    [aliceName(nsA), 'create', 'exposuresets', { group: 'envserve.dev', namespace: 'default' }, false],
  ];
  const wrong: string[] = [];
  for (const [user, verb, resource, attrs, want] of table) {
    const got = await sar(user, verb, resource, attrs);
    if (got !== want) wrong.push(`${user} ${verb} ${resource}${attrs.subresource ? `/${attrs.subresource}` : ''} ${JSON.stringify(attrs)}: ${got}, want ${want}`);
  }
  assert.deepEqual(wrong, []);

  alice = createToken(nsA, 'alice');
  bob = createToken(nsA, 'bob');
  // The tests reach its HTTP API as users do: envserve's port-forward to the operator's pod.
  op = await operatorPod(env.kubeconfig, OP_NS);
});

test("HTTP API through envserve's port-forward to the operator's pod, with alice's rights (pods/portforward in envserve-system)", async () => {
  const fwd = await apiThroughPortForward(tokenKubeconfig('alice-pf', alice), OP_NS);
  try {
    const v = await eventually(async () => {
      const r = await api(fwd.url, 'GET', '/v1/version', alice);
      if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      return r.body;
    }, 15_000, 200);
    assert.equal(v.apiVersion, 'envserve.dev/v1alpha1');
    const r = await api(fwd.url, 'POST', `/v1/namespaces/${nsA}/exposuresets`, alice, { plan: planJson('viapf', WEB), selector: { 'envserve.dev/env': 'web' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.metadata.annotations['envserve.dev/submitted-by'], aliceName(nsA));
    assert.equal((await api(fwd.url, 'GET', `/v1/namespaces/${nsA}/exposuresets/viapf`, bob)).status, 403);
  } finally {
    await fwd.stop();
  }
});

test('HTTP API: alice (only --user-role rights) submits a Plan and sees Admitted → Ready; the Service and the automatic Ingress answer', async () => {
  assert.ok(op, 'the operator runs');
  apply([{ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy', metadata: { name: 'test-domain' }, spec: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': nsA } }, ingress: { domain: 'apps.test', className: 'traefik' } } }]);
  mustKubectl(['-n', nsA, 'apply', '-f', '-'], JSON.stringify(backedPod('web-0', { 'envserve.dev/env': 'web' })));

  const version = await api(op!.url, 'GET', '/v1/version', alice);
  assert.equal(version.status, 200);
  assert.equal(version.body.crdVersion, version.body.version);
  assert.equal(version.body.skew, undefined);

  const watching = events(op!.url, nsA, alice, (e) => e.data.name === 'web' && condition(e.data.status, 'Ready')?.status === 'True', 40_000);
  await sleep(200);
  const t0 = Date.now();
  const r = await api(op!.url, 'POST', `/v1/namespaces/${nsA}/exposuresets`, alice, planJson('web', WEB));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.metadata.annotations['envserve.dev/submitted-by'], aliceName(nsA));
  const seen = await watching;
  const readyMs = Date.now() - t0;
  const statuses = seen.filter((e) => e.data.name === 'web').map((e) => e.data.status);
  assert.ok(statuses.some((s) => condition(s, 'Admitted')?.status === 'True'), 'Admitted came on the stream');
  const last = statuses.at(-1);
  assert.equal(condition(last, 'Denied').status, 'False');
  assert.equal(last.observedGeneration, 1);
  const ing = last.exposures.find((e: any) => e.kind === 'k8s-ingress');
  assert.equal(ing.automatic, true);
  assert.equal(ing.url, `http://web-web-${nsA}.apps.test/`);

  const svc = kubectlJson(['-n', nsA, 'get', 'service', 'web-web']);
  assert.equal(svc.metadata.labels['app.kubernetes.io/managed-by'], 'envserve');
  assert.equal(svc.metadata.ownerReferences[0].kind, 'ExposureSet');
  const viaSvc = await eventually(async () => JSON.parse(curlInNetns(env.netns, `http://${svc.spec.clusterIP}:8080/x`)), 10_000);
  assert.equal(viaSvc.pod, 'web-0');
  const [host, port] = env.ingressAddress.split(':');
  const viaIngress = await eventually(async () => podAnswer(await httpRequest(host!, Number(port), { path: '/lab', hostHeader: `web-web-${nsA}.apps.test` })), 15_000);
  assert.equal(viaIngress.pod, 'web-0');
  assert.equal(viaIngress.path, '/lab');
  console.log(`# operator: submit -> Ready on the event stream in ${readyMs} ms`);

  // alice cannot make the Service herself: only through the operator.
  const direct = kubectl(tokenKubeconfig('alice', alice), ['-n', nsA, 'create', 'service', 'clusterip', 'x', '--tcp=80:80']);
  assert.notEqual(direct.code, 0);
  assert.match(direct.stderr, /forbidden/);
});

test('HTTP API: no token → 401; a user without rights on ExposureSets → 403 naming the verb; env-file source → 400', async () => {
  const plan = planJson('web', WEB);
  const none = await api(op!.url, 'POST', `/v1/namespaces/${nsA}/exposuresets`, undefined, plan);
  assert.equal(none.status, 401);
  assert.equal(none.body.reason, 'Unauthorized');
  const bad = await api(op!.url, 'GET', '/v1/version', 'not-a-token');
  assert.equal(bad.status, 401);
  const denied = await api(op!.url, 'POST', `/v1/namespaces/${nsA}/exposuresets`, bob, plan);
  assert.equal(denied.status, 403);
  assert.equal(denied.body.reason, 'Forbidden');
  assert.match(denied.body.message, new RegExp(`user "system:serviceaccount:${nsA}:bob" cannot create exposuresets\\.envserve\\.dev "web" in namespace "${nsA}"`));
  const other = await api(op!.url, 'GET', `/v1/namespaces/${nsB}/exposuresets/web`, alice);
  assert.equal(other.status, 403, 'alice of namespace A has no rights in B through her A binding');
  const starlark = await api(op!.url, 'POST', `/v1/namespaces/${nsA}/exposuresets`, alice, { source: WEB });
  assert.equal(starlark.status, 400);
  assert.match(starlark.body.message, /must be an envserve\/v1 Plan/);
});

test('"port-forward only": the same plan is Denied with the policy\'s reason, nothing is created', async () => {
  apply([{ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy', metadata: { name: 'port-forward-only' }, spec: { namespaceSelector: { matchLabels: { 'envserve.dev/policy': 'restricted' } }, serviceTypes: [], ingress: { allowed: false } } }]);
  const aliceB = createToken(nsB, 'alice');
  const watching = events(op!.url, nsB, aliceB, (e) => e.data.name === 'web' && condition(e.data.status, 'Denied')?.status === 'True');
  await sleep(200);
  const r = await api(op!.url, 'POST', `/v1/namespaces/${nsB}/exposuresets`, aliceB, planJson('web', WEB));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const last = (await watching).at(-1)!.data.status;
  assert.equal(condition(last, 'Admitted').status, 'False');
  assert.equal(condition(last, 'Denied').reason, 'PolicyDenied');
  assert.match(condition(last, 'Denied').message, new RegExp(`ClusterIP is not allowed in namespace ${nsB} by policy port-forward-only; allowed: port-forward`));
  assert.deepEqual(last.exposures.map((e: any) => [e.kind, e.decision]), [['k8s-port-forward', 'Admitted'], ['k8s-service', 'Denied']]);
  assert.equal(kubectlJson(['-n', nsB, 'get', 'services']).items.length, 0);
});

test('the CLI with the operator present: `envserve operator submit` as alice is Ready in A and denied with the policy\'s words in B; direct mode warns', async () => {
  const file = writeEnvFile('cli', WEB);
  const kcA = tokenKubeconfig('alice-a', alice);
  const ok = envserve(['operator', 'submit', '-f', file, '--name', 'cli', '-n', nsA, '--selector', 'envserve.dev/env=web', '--kubeconfig', kcA, '--timeout', '40']);
  assert.equal(ok.code, 0, ok.stderr);
  // The ClusterIP is no URL (it answers only inside the cluster): the address, marked so.
  assert.match(ok.stdout, /service-web\s+k8s-service\s+Ready\s+10\.\d+\.\d+\.\d+:8080\s+\(in-cluster only\)\n/);
  assert.match(ok.stdout, new RegExp(`ingress-web\\s+k8s-ingress\\s+Ready\\s+http://web-cli-${nsA}\\.apps\\.test/`));
  const kcB = tokenKubeconfig('alice-b', createToken(nsB, 'alice'));
  const denied = envserve(['operator', 'submit', '-f', file, '--name', 'cli', '-n', nsB, '--kubeconfig', kcB, '--timeout', '40']);
  assert.equal(denied.code, 2, denied.stderr);
  assert.match(denied.stderr, new RegExp(`service-web: \\S*build\\.envd:3:5: ClusterIP is not allowed in namespace ${nsB} by policy port-forward-only; allowed: port-forward \\[PolicyDenied\\]`));
  assert.match(denied.stderr, /nothing was created/);
  assert.match(denied.stderr, /the policy allows these port-forwards from your machine \(envserve serve\): port-forward-web-18080/);
  // bob may not create ExposureSets: a clear 403 from the CLI, exit 2, nothing submitted.
  const forbidden = envserve(['operator', 'submit', '-f', file, '--name', 'bobs', '-n', nsA, '--kubeconfig', tokenKubeconfig('bob', bob), '--timeout', '20']);
  assert.equal(forbidden.code, 2, forbidden.stderr);
  assert.match(forbidden.stderr, /forbidden/i);
  assert.match(forbidden.stderr, /exposuresets/);
  assert.equal(kubectl(env.kubeconfig, ['-n', nsA, 'get', 'exposureset', 'bobs']).code, 1, 'nothing was submitted');
  // Direct mode (no operator in the way): a user who may read the policies is warned before anything is created.
  const { directModePolicyWarnings } = await import('../../src/operator/client/cli-client.js');
  const warnings = await directModePolicyWarnings(admin, planJson('direct', WEB), nsB);
  assert.deepEqual(warnings.map((w) => [w.id, w.reason]), [['service-web', 'PolicyDenied']]);
  assert.deepEqual(await directModePolicyWarnings(loadKubeClient({ kubeconfig: kcA }), planJson('direct', WEB), nsB), [], 'alice may not read policies: no warning, no error');
});

// What a data scientist typically may do in her namespace besides the ExposureSets: reach her pods.
const portForwardRights = (ns: string) => [
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'port-forward', namespace: ns }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }, { apiGroups: [''], resources: ['pods/portforward'], verbs: ['get', 'create'] }] },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'alice-port-forward', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'port-forward' }, subjects: [{ kind: 'ServiceAccount', name: 'alice', namespace: ns }] },
];
const SERVED = (port: number) => `def serve():
    cloud.k8s.bind(env_port=8080, host_port=${port}, protocol="http", name="web")
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, protocol="http", name="web", access="public")
`;

test('`envserve serve --runtime k8s` with the operator: alice (ExposureSets + port-forward, no Services/Ingresses) gets a ClusterIP Service and an automatic Ingress answering through Traefik, and her port-forward; "port-forward only" → Denied, printed, the port-forward still answers', async () => {
  assert.ok(op, 'the operator runs');
  apply([...portForwardRights(nsD), ...portForwardRights(nsB)]);
  for (const ns of [nsD, nsB]) mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify(backedPod('srv-0', { 'envserve.dev/env': 'srv' })));
  const [ingHost, ingPort] = env.ingressAddress.split(':');

  // nsD has no policy: the domain comes from --ingress-domain, the class from the cluster's default IngressClass.
  const portD = await freePort();
  const kcD = tokenKubeconfig('alice-d', createToken(nsD, 'alice'));
  const fileD = writeEnvFile('srv-d', SERVED(portD));
  const stateD = { ENVSERVE_STATE_DIR: mkdtempSync(join(tmpdir(), 'envserve-state-')) };
  const statusD = async () => JSON.parse((await runCli(['status', '-f', fileD, '-o', 'json'], stateD)).stdout) as { exposures: { id: string; state: string; reason: string; urls: string[]; inCluster?: string[]; reach?: { id?: string }; target?: string }[] };
  const rowD = async (id: string, reason: string) => eventually(async () => {
    const row = (await statusD()).exposures.find((e) => e.id === id);
    if (row?.reason !== reason) throw new Error(`${id}: ${JSON.stringify(row)}`);
    return row;
  }, 60_000);
  const runD = startCli(['serve', '--runtime', 'k8s', '-f', fileD, '--name', 'srv', '-n', nsD, '--kubeconfig', kcD, '--ingress-domain', 'apps.test'], { ENVSERVE_INGRESS_DOMAIN: '', ...stateD });
  try {
    await runD.waitFor(/Press Ctrl-C to stop/, 90_000);
    assert.match(runD.err(), new RegExp(`envserve operator found in this cluster: the cluster exposures go to it as exposureset ${nsD}/`));
    // Ready, or admitted and Ready a moment later (serve goes on after a 5 s grace): the status follows.
    assert.match(runD.out(), new RegExp(`exposureset ${nsD}/srv \\(generation 1\\): (Ready through|admitted by) the envserve operator`));
    // The ClusterIP answers only inside the cluster: not a URL, shown as in-cluster only (issue 22).
    const svcReady = await rowD('service-web', 'Ready');
    assert.deepEqual(svcReady.urls, []);
    assert.match(svcReady.inCluster?.[0] ?? '', /^http:\/\/10\.\d+\.\d+\.\d+:8080\/$/);
    assert.match((await rowD('ingress-web', 'Ready')).urls[0]!, new RegExp(`^http://web-srv-${nsD}\\.apps\\.test/`));
    const svc = kubectlJson(['-n', nsD, 'get', 'service', 'srv-web']);
    assert.equal(svc.spec.type, 'ClusterIP');
    assert.equal(svc.metadata.ownerReferences[0].kind, 'ExposureSet', 'made by the operator, not by alice');
    const ings = kubectlJson<{ items: any[] }>(['-n', nsD, 'get', 'ingresses']).items;
    assert.equal(ings.length, 1);
    assert.equal(ings[0].spec.ingressClassName, 'traefik', "the cluster's default IngressClass");
    const viaIngress = await eventually(async () => podAnswer(await httpRequest(ingHost!, Number(ingPort), { path: '/lab', hostHeader: `web-srv-${nsD}.apps.test` })), 15_000);
    assert.equal(viaIngress.pod, 'srv-0');
    const viaForward = await eventually(async () => podAnswer(await httpRequest('127.0.0.1', portD, { path: '/pf' })), 15_000);
    assert.equal(viaForward.pod, 'srv-0');
    assert.doesNotMatch(runD.err(), /version skew/, 'the operator runs this envserve version');

    // `envserve status` shows the operator's exposures next to the port-forward, and follows them:
    // the pod goes → the operator reports NoEndpoints; it comes back → Ready again.
    const st = await statusD();
    assert.deepEqual(st.exposures.map((e) => e.id).sort(), ['ingress-web', `port-forward-web-${portD}`, 'service-web']);
    const svcRow = st.exposures.find((e) => e.id === 'service-web')!;
    assert.deepEqual([svcRow.state, svcRow.reason, svcRow.target], ['ready', 'Ready', 'service/srv-web (applied by the envserve operator)']);
    assert.match(svcRow.inCluster?.[0] ?? '', /^http:\/\/10\.\d+\.\d+\.\d+:8080\/$/);
    assert.equal(svcRow.reach?.id, 'ingress-web', 'reached from here through its Ingress');
    mustKubectl(['-n', nsD, 'delete', 'pod', 'srv-0', '--wait=false']);
    assert.equal((await rowD('service-web', 'NoEndpoints')).state, 'waiting');
    mustKubectl(['-n', nsD, 'wait', '--for=delete', 'pod/srv-0', '--timeout=60s']); // else the apply patches the terminating pod
    mustKubectl(['-n', nsD, 'apply', '-f', '-'], JSON.stringify(backedPod('srv-0', { 'envserve.dev/env': 'srv' })));
    assert.equal((await rowD('service-web', 'Ready')).state, 'ready');
  } finally {
    runD.proc.kill('SIGINT');
    assert.equal(await runD.exited, 0, runD.err());
  }
  // serve leaves the ExposureSet (as it leaves its Services in direct mode); `down` with nothing
  // but the file (the record has alice's kubeconfig) deletes it, and the operator's objects go with it.
  assert.equal(kubectlJson(['-n', nsD, 'get', 'exposureset', 'srv']).metadata.name, 'srv');
  const downD = await runCli(['down', '-f', fileD], stateD);
  assert.equal(downD.code, 0, downD.stderr);
  assert.match(downD.stdout + downD.stderr, new RegExp(`deleted exposureset ${nsD}/srv`));
  await eventually(async () => {
    const left = kubectlJson<{ items: { metadata: { name: string } }[] }>(['-n', nsD, 'get', 'services,ingresses,exposuresets', '-l', 'app.kubernetes.io/managed-by=envserve']).items.map((o) => o.metadata.name);
    if (left.length) throw new Error(`left: ${left.join(' ')}`);
  }, 30_000);

  // nsB: "port-forward only". Denied with the policy's words; the port-forward runs all the same.
  const portB = await freePort();
  const kcB = tokenKubeconfig('alice-b2', createToken(nsB, 'alice'));
  const runB = startCli(['serve', '--runtime', 'k8s', '-f', writeEnvFile('srv-b', SERVED(portB)), '--name', 'srv', '-n', nsB, '--kubeconfig', kcB, '--ingress-domain', 'apps.test'], { ENVSERVE_INGRESS_DOMAIN: '', ...stateDirEnv() });
  try {
    await runB.waitFor(/Press Ctrl-C to stop/, 90_000);
    assert.match(runB.err(), new RegExp(`the operator denied exposureset ${nsB}/srv; nothing was created in the cluster`));
    assert.match(runB.err(), new RegExp(`service-web: \\S*build\\.envd:3:5: ClusterIP is not allowed in namespace ${nsB} by policy port-forward-only; allowed: port-forward \\[PolicyDenied\\]`));
    assert.match(runB.err(), new RegExp(`the port-forwards the policy allows run from this machine: port-forward-web-${portB}`));
    const viaForward = await eventually(async () => podAnswer(await httpRequest('127.0.0.1', portB, { path: '/pf' })), 15_000);
    assert.equal(viaForward.pod, 'srv-0');
    assert.equal(kubectlJson(['-n', nsB, 'get', 'services']).items.length, 0);
    assert.equal(kubectlJson(['-n', nsB, 'get', 'ingresses']).items.length, 0);
  } finally {
    runB.proc.kill('SIGINT');
    assert.equal(await runB.exited, 0, runB.err());
  }
});

test('`envserve serve --runtime k8s --no-operator` (direct mode): a user who may read the policies is warned before the Service a policy would deny is created with her own rights', async () => {
  const port = await freePort();
  const run = startCli(['serve', '--runtime', 'k8s', '--no-operator', '-f', writeEnvFile('srv-b-direct', SERVED(port)), '--name', 'srv', '-n', nsB, '--kubeconfig', env.kubeconfig], { ENVSERVE_INGRESS_DOMAIN: '', ...stateDirEnv() });
  try {
    await run.waitFor(/Press Ctrl-C to stop/, 90_000);
    assert.doesNotMatch(run.err(), /envserve operator found/);
    assert.match(run.err(), new RegExp(`warning: \\S*build\\.envd:3:5: service-web: ClusterIP is not allowed in namespace ${nsB} by policy port-forward-only; allowed: port-forward \\[PolicyDenied\\] \\(a cluster policy would deny this; applying it with your own rights\\)`));
    const svc = kubectlJson(['-n', nsB, 'get', 'service', 'srv-web']);
    assert.equal(svc.metadata.ownerReferences, undefined, 'applied by the user, not the operator');
    const viaForward = await eventually(async () => podAnswer(await httpRequest('127.0.0.1', port, { path: '/pf' })), 15_000);
    assert.equal(viaForward.pod, 'srv-0');
  } finally {
    run.proc.kill('SIGINT');
    assert.equal(await run.exited, 0, run.err());
  }
});

test('`envserve up --runtime k8s` with the operator: the Deployment with the user\'s rights, the Service through the operator, both in status; Ctrl-C removes the Deployment and the ExposureSet', async () => {
  assert.ok(op, 'the operator runs');
  const port = await freePort();
  const file = writeEnvFile('up-op', `def build():
    base(image="envserve.test/web:1")
def serve():
    cloud.k8s.bind(env_port=8080, host_port=${port}, protocol="http", name="web")
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, protocol="http", name="web", access="public")
`);
  const state = { ENVSERVE_STATE_DIR: mkdtempSync(join(tmpdir(), 'envserve-state-')) };
  const run = startCli(['up', '--runtime', 'k8s', '-f', file, '--name', 'upop', '-n', nsD, '--kubeconfig', env.kubeconfig], { ENVSERVE_INGRESS_DOMAIN: '', ...state });
  try {
    await run.waitFor(/Press Ctrl-C to stop/, 120_000);
    // The Service has no pod behind it until up has made the Deployment: admitted, not Ready yet.
    assert.match(run.out(), new RegExp(`exposureset ${nsD}/upop \\(generation 1\\): (admitted by|Ready through) the envserve operator`));
    const dep = kubectlJson(['-n', nsD, 'get', 'deployment', 'upop']);
    assert.equal(dep.metadata.ownerReferences, undefined, 'the Deployment is the user\'s');
    assert.equal(kubectlJson(['-n', nsD, 'get', 'service', 'upop-web']).metadata.ownerReferences[0].kind, 'ExposureSet', 'the Service is the operator\'s');
    const viaForward = await eventually(async () => podAnswer(await httpRequest('127.0.0.1', port, { path: '/up' })), 30_000);
    assert.match(viaForward.pod, /^upop-/);
    await eventually(async () => {
      const st = JSON.parse((await runCli(['status', '-f', file, '-o', 'json'], state)).stdout);
      const rows = st.exposures.map((e: { id: string; reason: string }) => `${e.id}:${e.reason}`).sort();
      assert.deepEqual(rows, [`port-forward-web-${port}:Ready`, 'service-web:Ready']);
    }, 60_000);
  } finally {
    run.proc.kill('SIGINT');
    assert.equal(await run.exited, 0, run.err());
  }
  // up's Ctrl-C stops everything: its Deployment, and the ExposureSet with the operator's Service.
  assert.match(run.out() + run.err(), /stopped; nothing left running/);
  await eventually(async () => {
    const left = kubectlJson<{ items: { kind: string; metadata: { name: string } }[] }>(['-n', nsD, 'get', 'deployments,services,exposuresets', '-l', 'envserve.dev/env=upop']).items.map((o) => `${o.kind}/${o.metadata.name}`);
    if (left.length) throw new Error(`left: ${left.join(' ')}`);
  }, 30_000);
  const d = await runCli(['down', '-f', file], state);
  assert.equal(d.code, 0, d.stderr);
  assert.doesNotMatch(d.stdout + d.stderr, /deleted/, 'nothing was left for down');
});

test('NodePort outside the range, a host outside the suffixes, TLS required but missing → Denied, nothing created; an invalid resource → Invalid', async () => {
  const [lo] = env.nodePortRange;
  apply([{ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy', metadata: { name: 'strict' }, spec: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': nsC } }, nodePortRange: { min: lo, max: lo + 10 }, ingress: { allowedHostSuffixes: ['.apps.test'], tls: { required: true } } } }]);
  const aliceC = createToken(nsC, 'alice');
  const cases: [string, string, RegExp][] = [
    ['np', `def serve():\n    cloud.k8s.bind(env_port=8080, type=cloud.k8s.nodePort, node_port=${lo + 20})\n`, new RegExp(`node port ${lo + 20} is not allowed in namespace ${nsC} by policy strict; allowed: node ports ${lo}-${lo + 10}`)],
    ['host', `def serve():\n    cloud.k8s.bind(env_port=8080, ingress=cloud.k8s.ingress(host="web.example.org", tls_secret="t"))\n`, /host web\.example\.org is not allowed .* allowed: hosts under \*\.apps\.test/],
    ['tls', `def serve():\n    cloud.k8s.bind(env_port=8080, ingress=cloud.k8s.ingress(host="web.apps.test"))\n`, /an Ingress without TLS is not allowed in namespace .* by policy strict: set tls_secret=/],
  ];
  const names = new Set(cases.map((c) => c[0]));
  const done = new Map<string, any>();
  const watching = events(op!.url, nsC, aliceC, (e) => {
    if (names.has(e.data.name) && condition(e.data.status, 'Denied')?.status === 'True') done.set(e.data.name, e.data.status);
    return done.size === names.size;
  });
  await sleep(200);
  for (const [name, body] of cases) assert.equal((await api(op!.url, 'POST', `/v1/namespaces/${nsC}/exposuresets`, aliceC, planJson(name, body))).status, 201);
  await watching;
  for (const [name, , want] of cases) {
    const denied = condition(done.get(name), 'Denied');
    assert.equal(denied.reason, 'PolicyDenied', name);
    assert.match(denied.message, want, name);
    assert.match(denied.message, /build\.envd:2:\d+: /, 'the reason says where in the env file');
  }
  assert.equal(kubectlJson(['-n', nsC, 'get', 'services']).items.length, 0);
  assert.equal(kubectlJson(['-n', nsC, 'get', 'ingresses']).items.length, 0);

  // Straight through the Kubernetes API (as admin), an invalid resource: Denied/Invalid with the field, no crash loop.
  apply([{ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposureSet', metadata: { name: 'broken', namespace: nsC }, spec: { env: 'broken', exposures: [{ id: 's', kind: 'k8s-service', envPort: 99999, serviceType: 'ClusterIP', servicePort: 80 }] } }]);
  const st = await eventually(async () => {
    const s = kubectlJson(['-n', nsC, 'get', 'exposureset', 'broken']).status;
    if (condition(s, 'Denied')?.status !== 'True') throw new Error('not decided yet');
    return s;
  });
  assert.equal(condition(st, 'Denied').reason, 'Invalid');
  assert.match(condition(st, 'Denied').message, /spec\.exposures\[0\]: cloud\.k8s\.bind: env_port must be an int between 1 and 65535, got 99999/);
  const now = await op!.pod();
  assert.equal(now.restarts, 0, `the operator still runs, never restarted; it ended with:\n${now.previous}`);
});

test('operator killed mid-reconcile and the API server restarted: nothing lost, nothing duplicated, status converges', async () => {
  const N = 6;
  const sets = Array.from({ length: N }, (_, i) => `r${i}`);
  for (const name of sets) {
    const plan = planJson(name, `def serve():\n    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, protocol="http", name="web", access="public")\n`);
    const r = await api(op!.url, 'POST', `/v1/namespaces/${nsA}/exposuresets`, alice, { plan, selector: { 'envserve.dev/env': 'web' } });
    assert.equal(r.status, 201);
  }
  const before = await op!.leader();
  await op!.kill(); // the leader, whatever it was doing
  // While it is down someone deletes one of its Services (if it got that far).
  kubectl(env.kubeconfig, ['-n', nsA, 'delete', 'service', 'r0-web', '--ignore-not-found']);
  await eventually(async () => assert.notEqual(await op!.leader(), before, 'the other replica leads'), 30_000, 250);
  const allReady = async () => {
    const items = kubectlJson<{ items: any[] }>(['-n', nsA, 'get', 'exposuresets']).items.filter((s) => sets.includes(s.metadata.name));
    const notReady = items.filter((s) => condition(s.status, 'Ready')?.status !== 'True');
    if (items.length !== N || notReady.length) throw new Error(`not Ready: ${notReady.map((s) => `${s.metadata.name} ${JSON.stringify(condition(s.status, 'Ready'))}`).join(', ')}`);
  };
  await eventually(allReady, 40_000, 250);
  const services = kubectlJson<{ items: any[] }>(['-n', nsA, 'get', 'services', '-l', 'app.kubernetes.io/managed-by=envserve']).items.map((s) => s.metadata.name).sort();
  assert.deepEqual(services, [...sets.map((s) => `${s}-web`), 'cli-web', 'viapf-web', 'web-web'].sort(), 'one Service per exposure, none duplicated, none lost');

  // The API server goes away and comes back, and the Deployment's new pod for a killed leader
  // starts while it is away (it waits for the API server, never crash-loops): the operator's
  // watches resume and new work is done.
  const leading = await op!.leader();
  await op!.kill();
  await eventually(async () => {
    const fresh = kubectlJson<{ items: any[] }>(['-n', OP_NS, 'get', 'pods', '-l', 'app.kubernetes.io/name=envserve-operator']).items.filter((p) => p.metadata.name !== leading && !p.metadata.deletionTimestamp && p.spec.nodeName && !(p.status?.containerStatuses ?? []).some((c: any) => c.state?.running));
    if (!fresh.length) throw new Error('the new operator pod is not on the node yet');
  }, 30_000, 50);
  await restartApiServer();
  const plan = planJson('after', `def serve():\n    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, protocol="http", name="web", access="public")\n`);
  // Right after the restart the operator's own calls to the API server can still fail (an error
  // answer, not a crash). The settle point is a read through the operator that takes the same
  // path as a submission (token review, access review, a GET from the API server); after it, the
  // one submission must create the set: 201, nothing else.
  await eventually(async () => {
    const r = await api(op!.url, 'GET', `/v1/namespaces/${nsA}/exposuresets/r0`, alice);
    assert.equal(r.status, 200, `read through the operator after the API server restart: ${r.status}`);
  }, 30_000, 500);
  const submitted = await api(op!.url, 'POST', `/v1/namespaces/${nsA}/exposuresets`, alice, { plan, selector: { 'envserve.dev/env': 'web' } });
  assert.equal(submitted.status, 201, `submit after the API server restart: ${submitted.status}`);
  await eventually(async () => {
    const s = kubectlJson(['-n', nsA, 'get', 'exposureset', 'after']).status;
    if (condition(s, 'Ready')?.status !== 'True') throw new Error(`after: ${JSON.stringify(s?.conditions)}`);
  }, 60_000, 250).catch((e: Error) => {
    // Seen once in CI (no status at all after 40 s): what the replicas were doing, for the next look.
    throw new Error(`${e.message}\n${operatorDiagnostics()}`);
  });
  // Deleting an ExposureSet removes its objects (the operator at once; the garbage collector through the ownerReference).
  mustKubectl(['-n', nsA, 'delete', 'exposureset', 'r1', '--wait=true']);
  await eventually(async () => {
    if (kubectl(env.kubeconfig, ['-n', nsA, 'get', 'service', 'r1-web']).code === 0) throw new Error('r1-web still there');
  }, 30_000, 250);
  // Ops tighten the policy: what it now denies is taken down, and the status says why.
  apply([{ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy', metadata: { name: 'no-services-in-a' }, spec: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': nsA } }, serviceTypes: [] } }]);
  await eventually(async () => {
    const s = kubectlJson(['-n', nsA, 'get', 'exposureset', 'r2']).status;
    if (condition(s, 'Denied')?.status !== 'True') throw new Error(`r2 not denied yet: ${JSON.stringify(s?.conditions)}`);
    if (kubectl(env.kubeconfig, ['-n', nsA, 'get', 'service', 'r2-web']).code === 0) throw new Error('r2-web still there');
  }, 30_000, 250);
  const now = await op!.pod();
  assert.equal(now.restarts, 0, `no operator pod restarted, not even one started while the API server was away; it ended with:\n${now.previous}`);
});
