// The envserve operator makes HTTPRoutes for a user who may not: alice may only create
// ExposureSets (the --user-role rights) and port-forward; an ExposurePolicy chooses Traefik's
// Gateway (envserve-gateway/envserve) for the namespace, so `envserve serve --runtime k8s` as alice
// gets an automatic HTTPRoute, created by the operator under its own ServiceAccount (run here as a
// process with that ServiceAccount's token: its ClusterRole is what is tested), answering through
// the Gateway with its Host. The operator's rights on Gateway API are exactly what it needs; a
// route to a Gateway the policy does not list is denied; `down` removes the route with the set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backedPod, eventually, httpRequest, kubectl, podAnswer } from './cluster.js';
import { env, createNamespace, deleteNamespace, kubectlJson, mustKubectl, rand, writeEnvFile } from './expose-lib.js';
import { runCli, startCli } from '../local/cli-helpers.js';
import { loadKubeClient } from '../../src/apply/k8s/client.js';
import { apply, createToken, manifests, startOperator, tokenKubeconfig, type RunningOperator, ENVSERVE_CLUSTER_OBJECTS } from './operator-lib.js';

const OP_NS = 'envserve-system';
const OP_USER = `system:serviceaccount:${OP_NS}:envserve-operator`;
const GATEWAY = process.env.ENVSERVE_TEST_GATEWAY ?? 'envserve-gateway/envserve';
const DOMAIN = process.env.ENVSERVE_TEST_GATEWAY_DOMAIN ?? 'gw.envserve.test';
const [gwNs, gwName] = GATEWAY.split('/') as [string, string];
const admin = loadKubeClient({ kubeconfig: env.kubeconfig });
const policyName = `gw-routes-${rand()}`;
let ns: string;
let op: RunningOperator | undefined;
const t0 = Date.now();

async function sar(user: string, verb: string, resource: string, group: string, namespace?: string): Promise<boolean> {
  const r = await admin.request<any>('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    method: 'POST',
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, resourceAttributes: { verb, resource, group, ...(namespace && { namespace }) } } },
  });
  return r.status.allowed === true;
}

before(async () => {
  // The operator's CRDs, ClusterRole and ServiceAccount from `envserve operator manifests`; the
  // operator itself runs as a process of this build with that ServiceAccount's token.
  apply(manifests().filter((o) => o.kind !== 'Deployment'));
  mustKubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd/exposuresets.envserve.dev', 'crd/exposurepolicies.envserve.dev']);
  ns = createNamespace('gw-op');
  mustKubectl(['-n', ns, 'create', 'serviceaccount', 'alice']);
  apply(manifests(['--user-role', '--user', `system:serviceaccount:${ns}:alice`, '--user-namespace', ns]));
  apply([
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'port-forward', namespace: ns }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }, { apiGroups: [''], resources: ['pods/portforward'], verbs: ['get', 'create'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'alice-port-forward', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'port-forward' }, subjects: [{ kind: 'ServiceAccount', name: 'alice', namespace: ns }] },
    {
      apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy', metadata: { name: policyName },
      spec: {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
        serviceTypes: ['ClusterIP'],
        automaticExposure: 'HTTPRoute',
        httpRoute: { gateways: [{ namespace: gwNs, name: gwName }], domain: DOMAIN, allowedHostSuffixes: [`.${DOMAIN}`] },
      },
    },
  ]);
  mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify(backedPod('srv-0', { 'envserve.dev/env': 'srv' })));
  op = await startOperator(tokenKubeconfig('gw-operator', createToken(OP_NS, 'envserve-operator')));
});

after(async () => {
  await op?.stop();
  if (ns) deleteNamespace(ns);
  kubectl(env.kubeconfig, ['delete', 'exposurepolicy', policyName, '--ignore-not-found']);
  // Later files share the cluster: with the CRDs left, their `serve` would hand exposures to an operator that no longer runs.
  kubectl(env.kubeconfig, ['delete', ...ENVSERVE_CLUSTER_OBJECTS, '--ignore-not-found', '--wait=true']);
  admin.close();
  console.log(`gateway-operator.test.ts: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test("the operator's rights on Gateway API are what it needs and no more; alice has none", async () => {
  const table: [string, string, string, string, string | undefined, boolean][] = [
    [OP_USER, 'create', 'httproutes', 'gateway.networking.k8s.io', ns, true],
    [OP_USER, 'patch', 'httproutes', 'gateway.networking.k8s.io', ns, true],
    [OP_USER, 'delete', 'httproutes', 'gateway.networking.k8s.io', ns, true],
    [OP_USER, 'list', 'httproutes', 'gateway.networking.k8s.io', ns, true],
    [OP_USER, 'get', 'gateways', 'gateway.networking.k8s.io', gwNs, true],
    [OP_USER, 'update', 'httproutes', 'gateway.networking.k8s.io', ns, false],
    [OP_USER, 'watch', 'httproutes', 'gateway.networking.k8s.io', ns, false],
    [OP_USER, 'patch', 'gateways', 'gateway.networking.k8s.io', gwNs, false],
    [OP_USER, 'create', 'gateways', 'gateway.networking.k8s.io', ns, false],
    [OP_USER, 'list', 'gateways', 'gateway.networking.k8s.io', undefined, false],
    [OP_USER, 'create', 'gatewayclasses', 'gateway.networking.k8s.io', undefined, false],
    [OP_USER, 'create', 'referencegrants', 'gateway.networking.k8s.io', ns, false],
    [OP_USER, 'create', 'grpcroutes', 'gateway.networking.k8s.io', ns, false],
    [`system:serviceaccount:${ns}:alice`, 'create', 'httproutes', 'gateway.networking.k8s.io', ns, false],
    [`system:serviceaccount:${ns}:alice`, 'create', 'services', '', ns, false],
    [`system:serviceaccount:${ns}:alice`, 'create', 'exposuresets', 'envserve.dev', ns, true],
  ];
  const wrong: string[] = [];
  for (const [user, verb, resource, group, namespace, want] of table) {
    const got = await sar(user, verb, resource, group, namespace);
    if (got !== want) wrong.push(`${user} ${verb} ${resource}.${group} in ${namespace ?? 'the cluster'}: ${got}, want ${want}`);
  }
  assert.deepEqual(wrong, []);
});

test('serve --runtime k8s as alice: the operator creates the automatic HTTPRoute on the policy\'s Gateway, it answers with its Host; down removes it', async () => {
  assert.ok(op, 'the operator runs');
  const kc = tokenKubeconfig('alice-gw', createToken(ns, 'alice'));
  const state = { ENVSERVE_STATE_DIR: mkdtempSync(join(tmpdir(), 'envserve-state-')), ENVSERVE_INGRESS_DOMAIN: '' };
  const file = writeEnvFile('srv-gw', `def serve():
    cloud.k8s.bind(env_port=8080, access="public", type=cloud.k8s.clusterIP, service_port=80, protocol="http", name="web")
`);
  const host = `web-srv-${ns}.${DOMAIN}`;
  const run = startCli(['serve', '--runtime', 'k8s', '-f', file, '--name', 'srv', '-n', ns, '--kubeconfig', kc], state);
  try {
    await run.waitFor(/Press Ctrl-C to stop/, 90_000);
    assert.match(run.err(), new RegExp(`envserve operator found in this cluster: the cluster exposures go to it as exposureset ${ns}/`));
    const route = await eventually(async () => kubectlJson(['-n', ns, 'get', 'httproute', 'srv-web']), 30_000, 250);
    assert.equal(route.metadata.ownerReferences[0].kind, 'ExposureSet', 'made by the operator, not by alice');
    assert.deepEqual(route.spec.hostnames, [host]);
    assert.deepEqual(route.spec.parentRefs.map((p: any) => `${p.namespace}/${p.name}`), [GATEWAY]);
    const [ip, port] = env.ingressAddress.split(':');
    const answer = await eventually(async () => podAnswer(await httpRequest(ip!, Number(port), { hostHeader: host, path: '/op' })), 20_000, 200);
    assert.deepEqual([answer.pod, answer.path, answer.host], ['srv-0', '/op', host]);
    // The set's status: the route Ready, with the Gateway's verdict and address.
    const set = await eventually(async () => {
      const s = kubectlJson(['-n', ns, 'get', 'exposureset', 'srv']);
      const r = s.status?.exposures?.find((e: any) => e.kind === 'k8s-route');
      assert.equal(r?.reason, 'Ready', JSON.stringify(s.status));
      return r;
    }, 30_000, 250);
    assert.equal(set.url, `http://${host}/`);
    assert.deepEqual(set.addresses, [ip]);
    assert.match(set.message, new RegExp(`accepted by Gateway ${GATEWAY} \\(Accepted=True, ResolvedRefs=True\\)`));
    assert.equal(set.automatic, true);
  } finally {
    run.proc.kill('SIGINT');
    assert.equal(await run.exited, 0, run.err());
  }
  const down = await runCli(['down', '-f', file], state);
  assert.equal(down.code, 0, down.stderr);
  await eventually(async () => {
    const left = kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'httproutes,services,exposuresets', '-l', 'app.kubernetes.io/managed-by=envserve']).items.map((o) => o.metadata.name);
    if (left.length) throw new Error(`left: ${left.join(' ')}`);
  }, 30_000);
});

test('a route to a Gateway the policy does not list is denied with its words; nothing is created', async () => {
  const kc = tokenKubeconfig('alice-gw2', createToken(ns, 'alice'));
  const state = { ENVSERVE_STATE_DIR: mkdtempSync(join(tmpdir(), 'envserve-state-')), ENVSERVE_INGRESS_DOMAIN: '' };
  const file = writeEnvFile('srv-gw-denied', `def serve():
    cloud.k8s.bind(env_port=8080, access="public", protocol="http", name="web",
                   route=cloud.k8s.route(host="web.${DOMAIN}", gateway="${gwNs}/other"))
`);
  const run = startCli(['serve', '--runtime', 'k8s', '-f', file, '--name', 'srvd', '-n', ns, '--kubeconfig', kc], state);
  try {
    await run.waitFor(/Press Ctrl-C to stop/, 90_000);
    assert.match(run.err(), new RegExp(`route-web: \\S*build\\.envd:3:\\d+: Gateway ${gwNs}/other is not allowed in namespace ${ns} by policy ${policyName}; allowed: ${GATEWAY} \\[PolicyDenied\\]`));
    assert.equal(kubectlJson(['-n', ns, 'get', 'httproutes', '-l', 'envserve.dev/env=srvd']).items.length, 0);
  } finally {
    run.proc.kill('SIGINT');
    assert.equal(await run.exited, 0, run.err());
  }
  assert.equal((await runCli(['down', '-f', file], state)).code, 0);
});
