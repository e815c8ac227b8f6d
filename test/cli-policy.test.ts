// `plan`/`render` with automatic Ingresses and a policy file: the real binary, no cluster.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { envserve } from './helpers/cli.js';

function envFile(source: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'envserve-policy-')), 'demo');
  mkdirSync(dir);
  writeFileSync(join(dir, 'build.envd'), source);
  return join(dir, 'build.envd');
}

const FILE = envFile(`def build():
    base(os="ubuntu20.04", language="python")
    config.jupyter(password="")

def serve():
    cloud.k8s.bind(env_port=presets.jupyter.port, host_port=1234)
    cloud.k8s.bind(env_port=presets.jupyter.port, type=cloud.k8s.clusterIP, service_port=1234)
    cloud.k8s.bind(env_port=presets.tensorboard.port, type=cloud.k8s.nodePort, node_port=30080)
    cloud.k8s.bind(env_port=presets.mlflow.port, type=cloud.k8s.clusterIP, ingress=False)
`);
const NO_DOMAIN = { ENVSERVE_INGRESS_DOMAIN: '' };

test('no domain known: no automatic Ingress (today\'s plan, unchanged)', () => {
  const r = envserve(['plan', '-f', FILE, '-o', 'json'], { env: NO_DOMAIN });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).exposures.map((e: { kind: string }) => e.kind), ['k8s-port-forward', 'k8s-service', 'k8s-service', 'k8s-service']);
});

test('a domain from ENVSERVE_INGRESS_DOMAIN or --ingress-domain: each HTTP Service gets an automatic Ingress; ingress=False opts out', () => {
  for (const [args, env] of [[['--ingress-domain', 'apps.example.com'], NO_DOMAIN], [[], { ENVSERVE_INGRESS_DOMAIN: 'apps.example.com' }]] as const) {
    const r = envserve(['plan', '-f', FILE, '-o', 'json', '-n', 'team-a', '--ingress-class', 'traefik', ...args], { env });
    assert.equal(r.code, 0, r.stderr);
    const ings = JSON.parse(r.stdout).exposures.filter((e: { kind: string }) => e.kind === 'k8s-ingress');
    assert.deepEqual(
      ings.map((e: Record<string, unknown>) => [e.id, e.host, e.serviceId, e.className, e.automatic, e.declaredBy]),
      [
        ['ingress-jupyter', 'jupyter-demo-team-a.apps.example.com', 'service-jupyter', 'traefik', true, 'auto-ingress'],
        ['ingress-6006', '6006-demo-team-a.apps.example.com', 'service-6006', 'traefik', true, 'auto-ingress'],
      ],
    );
  }
  const bad = envserve(['plan', '-f', FILE, '--ingress-domain', 'not a domain'], { env: NO_DOMAIN });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Ingress domain must be a DNS name/);
});

test('render --policy: "Ingress under our domain with TLS" fills class, TLS and annotations; denials exit 2 with nothing on stdout', () => {
  const ok = envFile(`def serve():
    cloud.k8s.bind(env_port=presets.jupyter.port, type=cloud.k8s.clusterIP, access="public")
`);
  const r = envserve(['render', '-f', ok, '-n', 'team-a', '--policy', 'testdata/policy/ingress-tls.yaml'], { env: NO_DOMAIN });
  assert.equal(r.code, 0, r.stderr);
  const objs = parseAllDocuments(r.stdout).map((d) => d.toJS());
  const ing = objs.find((o) => o.kind === 'Ingress');
  assert.equal(ing.spec.ingressClassName, 'traefik');
  assert.equal(ing.spec.rules[0].host, '8888-demo-team-a.apps.example.com');
  assert.deepEqual(ing.spec.tls, [{ hosts: ['8888-demo-team-a.apps.example.com'], secretName: 'demo-8888-tls' }]);
  assert.equal(ing.metadata.annotations['cert-manager.io/cluster-issuer'], 'letsencrypt');
  assert.equal(ing.metadata.annotations['traefik.ingress.kubernetes.io/router.middlewares'], 'auth-oauth2@kubernetescrd');

  const denied = envserve(['render', '-f', FILE, '-n', 'team-a', '--policy', 'testdata/policy/ingress-tls.yaml'], { env: NO_DOMAIN });
  assert.equal(denied.code, 2);
  assert.equal(denied.stdout, '');
  assert.match(denied.stderr, /build\.envd:8:5: service-6006: NodePort is not allowed in namespace team-a by policy ops-default; allowed: port-forward, ClusterIP, Ingress under \*\.apps\.example\.com \(class traefik\) with TLS; never ports 22, 2222 \[PolicyDenied\]/);
  assert.match(denied.stderr, /denied by policy ops-default; nothing was applied/);
});

test('plan --policy "port-forward only": the table shows each decision, JSON carries them, exit 2', () => {
  const args = ['plan', '-f', FILE, '--policy', 'testdata/policy/port-forward-only.yaml', '--namespace-label', 'envserve.dev/policy=restricted'];
  const t = envserve(args, { env: NO_DOMAIN });
  assert.equal(t.code, 2);
  assert.match(t.stdout, /Policies:\s+port-forward-only \(allowed: port-forward\)/);
  assert.match(t.stdout, /port-forward-jupyter-1234 .* admitted/);
  assert.match(t.stdout, /service-jupyter .* DENIED \(PolicyDenied\)/);
  const j = envserve([...args, '-o', 'json'], { env: NO_DOMAIN });
  const plan = JSON.parse(j.stdout);
  assert.deepEqual(plan.policy.decisions.map((d: { decision: string }) => d.decision), ['Admitted', 'Denied', 'Denied', 'Denied']);
  // Another namespace is not selected by it: everything is admitted, exit 0.
  const other = envserve(['plan', '-f', FILE, '--policy', 'testdata/policy/port-forward-only.yaml'], { env: NO_DOMAIN });
  assert.equal(other.code, 0, other.stderr);
  assert.match(other.stdout, /none selects this namespace/);
});

test('a bad policy file: every problem with its field path, exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-policy-'));
  writeFileSync(join(dir, 'p.yaml'), 'apiVersion: envserve.dev/v1alpha1\nkind: ExposurePolicy\nmetadata: {name: p}\nspec: {serviceTypes: [Nodeport], portForward: "no"}\n');
  const r = envserve(['plan', '-f', FILE, '--policy', join(dir, 'p.yaml')], { env: NO_DOMAIN });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /spec\.serviceTypes\[0\]: must be one of ClusterIP, NodePort, LoadBalancer, got "Nodeport"/);
  assert.match(r.stderr, /spec\.portForward: must be true or false/);
  assert.equal(envserve(['plan', '-f', FILE, '--policy', join(dir, 'missing.yaml')]).code, 2);
});
