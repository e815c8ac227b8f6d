// Unit tests of the policy model: reading policies, and the pure evaluator's combination rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { IssuesError, UserError } from '../errors.js';
import type { Exposure, K8sIngressExposure } from '../plan/types.js';
import { hostFromTemplate } from '../plan/auto-ingress.js';
import { evaluatePolicies, type Decision } from './evaluate.js';
import { parsePolicies, policyFromObject } from './parse.js';
import type { ExposurePolicy, PolicySpec } from './types.js';

const fixture = (name: string) => parsePolicies(readFileSync(`testdata/policy/${name}`, 'utf8'), name);
const policy = (name: string, spec: PolicySpec): ExposurePolicy => ({ name, spec });

// Small builders for exposures, as the planner makes them.
const common = { envPort: 8888, protocol: 'http' as const, position: 'build.envd:5:5', declaredBy: 'cloud.k8s.bind' };
const pf = (id = 'port-forward-jupyter-1234'): Exposure => ({ ...common, id, kind: 'k8s-port-forward', hostPort: 1234, listenAddress: '127.0.0.1' });
const svc = (type: 'ClusterIP' | 'NodePort' | 'LoadBalancer', extra: { nodePort?: number; id?: string; envPort?: number } = {}): Exposure => ({
  ...common,
  id: extra.id ?? `service-jupyter-${type.toLowerCase()}`,
  kind: 'k8s-service',
  serviceType: type,
  servicePort: extra.envPort ?? 8888,
  ...(extra.envPort !== undefined && { envPort: extra.envPort }),
  ...(extra.nodePort !== undefined && { nodePort: extra.nodePort }),
});
const ing = (host: string, extra: Partial<K8sIngressExposure> = {}): K8sIngressExposure => ({
  ...common,
  id: 'ingress-jupyter-8888',
  kind: 'k8s-ingress',
  serviceId: 'service-jupyter-clusterip',
  servicePort: 8888,
  host,
  path: '/',
  ...extra,
});

function run(policies: ExposurePolicy[], exposures: Exposure[], labels: Record<string, string> = {}, others = 0) {
  return evaluatePolicies({
    envName: 'demo',
    namespace: 'team-a',
    namespaceLabels: { 'kubernetes.io/metadata.name': 'team-a', ...labels },
    exposures,
    policies,
    othersInNamespace: others,
  });
}
const denied = (d: Decision | undefined) => {
  assert.ok(d && !d.admitted, `expected a denial, got ${JSON.stringify(d)}`);
  return d as Extract<Decision, { admitted: false }>;
};
const admitted = (d: Decision | undefined) => {
  assert.ok(d && d.admitted, `expected admission, got ${JSON.stringify(d)}`);
  return (d as Extract<Decision, { admitted: true }>).exposure;
};

test('no policy: every exposure is admitted unchanged (the current behaviour)', () => {
  const xs = [pf(), svc('NodePort', { nodePort: 30001 }), ing('x.example.org')];
  const r = run([], xs);
  assert.deepEqual(r.decisions.map((d) => d.admitted), [true, true, true]);
  assert.deepEqual(r.selecting, []);
  assert.equal(admitted(r.decisions[2]), xs[2]);
});

test('port-forward only: Services and Ingresses are denied with the policy and what it allows', () => {
  const ps = fixture('port-forward-only.yaml');
  const r = run(ps, [pf(), svc('ClusterIP'), ing('jupyter.example.org')], { 'envserve.dev/policy': 'restricted' });
  admitted(r.decisions[0]);
  const s = denied(r.decisions[1]);
  assert.equal(s.reason, 'PolicyDenied');
  assert.equal(s.message, 'ClusterIP is not allowed in namespace team-a by policy port-forward-only; allowed: port-forward');
  assert.deepEqual(s.policies, ['port-forward-only']);
  assert.match(denied(r.decisions[2]).message, /^its Service \(service-jupyter-clusterip\) is denied/);
  // A namespace the selector does not match is not governed by it.
  assert.ok(run(ps, [svc('ClusterIP')]).decisions[0]!.admitted);
});

test('the issue\'s example message: NodePort denied, naming the namespace, the policy and what is allowed instead', () => {
  const r = run(fixture('ingress-tls.yaml'), [svc('NodePort', { nodePort: 30080 })]);
  assert.equal(
    denied(r.decisions[0]).message,
    'NodePort is not allowed in namespace team-a by policy ops-default; allowed: port-forward, ClusterIP, Ingress under *.apps.example.com (class traefik) with TLS; never ports 22, 2222',
  );
});

test('Ingress under our domain with TLS: class, TLS via cert-manager and the auth annotation are filled in', () => {
  const r = run(fixture('ingress-tls.yaml'), [svc('ClusterIP'), ing('jupyter-demo-team-a.apps.example.com', { annotations: { a: 'b' } })]);
  const e = admitted(r.decisions[1]) as K8sIngressExposure;
  assert.equal(e.className, 'traefik');
  assert.equal(e.tlsSecret, 'demo-jupyter-8888-tls');
  assert.deepEqual(e.annotations, {
    a: 'b',
    'traefik.ingress.kubernetes.io/router.middlewares': 'auth-oauth2@kubernetescrd',
    'cert-manager.io/cluster-issuer': 'letsencrypt',
  });
});

test('a host outside the allowed suffixes, another class, missing TLS → PolicyDenied', () => {
  const ps = [policy('p', { ingress: { allowedHostSuffixes: ['apps.example.com'], className: 'traefik', tls: { required: true } } })];
  const host = denied(run(ps, [svc('ClusterIP'), ing('evil.example.org', { tlsSecret: 's' })]).decisions[1]);
  assert.equal(host.message, 'host evil.example.org is not allowed in namespace team-a by policy p; allowed: hosts under *.apps.example.com');
  // The bare suffix is not a host under it.
  assert.ok(!run(ps, [svc('ClusterIP'), ing('apps.example.com', { tlsSecret: 's' })]).decisions[1]!.admitted);
  const cls = denied(run(ps, [svc('ClusterIP'), ing('a.apps.example.com', { tlsSecret: 's', className: 'nginx' })]).decisions[1]);
  assert.match(cls.message, /Ingress class nginx is not allowed .* allowed: class traefik/);
  const tls = denied(run(ps, [svc('ClusterIP'), ing('a.apps.example.com')]).decisions[1]);
  assert.match(tls.message, /without TLS is not allowed in namespace team-a by policy p: set tls_secret=/);
  // A default secret satisfies it.
  const ok = run([policy('p', { ingress: { tls: { required: true, defaultSecretName: 'wildcard' } } })], [svc('ClusterIP'), ing('a.b.c')]);
  assert.equal((admitted(ok.decisions[1]) as K8sIngressExposure).tlsSecret, 'wildcard');
});

test('every selecting policy must admit: one denier is enough, and both are named when both deny', () => {
  const a = policy('a', { serviceTypes: ['ClusterIP', 'NodePort'] });
  const b = policy('b', { serviceTypes: ['ClusterIP'] });
  const c = policy('c', { serviceTypes: ['ClusterIP'], namespaceSelector: { matchLabels: { tier: 'prod' } } });
  const r = run([a, b, c], [svc('NodePort', { nodePort: 30001 }), svc('ClusterIP', { id: 's2', envPort: 80 })]);
  assert.deepEqual(denied(r.decisions[0]).policies, ['b']);
  admitted(r.decisions[1]);
  assert.deepEqual(r.selecting, ['a', 'b']);
  const lb = denied(run([a, b], [svc('LoadBalancer', { nodePort: 30001 })]).decisions[0]);
  assert.match(lb.message, /by policies a, b;/);
});

test('node-port ranges intersect; outside the intersection, or no node_port, is denied; disjoint ranges conflict', () => {
  const a = policy('a', { nodePortRange: { min: 30000, max: 30100 } });
  const b = policy('b', { nodePortRange: { min: 30050, max: 30200 } });
  assert.ok(run([a, b], [svc('NodePort', { nodePort: 30060 })]).decisions[0]!.admitted);
  const low = denied(run([a, b], [svc('NodePort', { nodePort: 30010 })]).decisions[0]);
  assert.equal(low.message, 'node port 30010 is not allowed in namespace team-a by policy b; allowed: node ports 30050-30100');
  assert.match(denied(run([a], [svc('NodePort')]).decisions[0]).message, /without node_port .* set node_port in 30000-30100/);
  const c = policy('c', { nodePortRange: { min: 31000, max: 31100 } });
  assert.equal(denied(run([a, c], [svc('NodePort', { nodePort: 30060 })]).decisions[0]).reason, 'PolicyConflict');
  // ClusterIP has no node port: the range does not apply.
  assert.ok(run([a], [svc('ClusterIP')]).decisions[0]!.admitted);
});

test('the smallest per-namespace limit wins, counting what other environments hold', () => {
  const a = policy('a', { maxExposuresPerNamespace: 5 });
  const b = policy('b', { maxExposuresPerNamespace: 2 });
  const xs = [pf('p1'), pf('p2'), pf('p3')];
  const r = run([a, b], xs);
  assert.deepEqual(r.decisions.map((d) => d.admitted), [true, true, false]);
  assert.match(denied(r.decisions[2]).message, /port-forward \(exposure 3; the limit is 2 per namespace\) is not allowed in namespace team-a by policy b/);
  assert.deepEqual(run([a, b], xs, {}, 1).decisions.map((d) => d.admitted), [true, false, false]);
});

test('ports never exposed: by env port or service port, whatever the kind', () => {
  const r = run([policy('nossh', { deniedPorts: [2222] })], [{ ...pf(), envPort: 2222 }, svc('ClusterIP', { envPort: 2222 }), svc('ClusterIP', { id: 'ok', envPort: 80 })]);
  assert.equal(denied(r.decisions[0]).message.split(';')[0], 'exposing port 2222 is not allowed in namespace team-a by policy nossh');
  denied(r.decisions[1]);
  admitted(r.decisions[2]);
});

test('conflicting generated values → PolicyConflict naming both policies', () => {
  const a = policy('a', { ingress: { className: 'traefik' } });
  const b = policy('b', { ingress: { className: 'nginx' } });
  const d = denied(run([a, b], [svc('ClusterIP'), ing('x.example.com')]).decisions[1]);
  assert.equal(d.reason, 'PolicyConflict');
  assert.match(d.message, /different Ingress classes \(a: "traefik", b: "nginx"\).* policies a, b conflict/);
  const t1 = policy('t1', { ingress: { hostTemplate: '{service}.{domain}' } });
  const t2 = policy('t2', { ingress: { hostTemplate: '{env}.{domain}' } });
  assert.equal(denied(run([t1, t2], [svc('ClusterIP'), ing('x.example.com')]).decisions[1]).reason, 'PolicyConflict');
  const n1 = policy('n1', { ingress: { annotations: { k: '1' } } });
  const n2 = policy('n2', { ingress: { annotations: { k: '2' } } });
  assert.equal(denied(run([n1, n2], [svc('ClusterIP'), ing('x.example.com')]).decisions[1]).reason, 'PolicyConflict');
  // The Service itself needs none of those values.
  admitted(run([a, b], [svc('ClusterIP')]).decisions[0]);
});

test('an invalid policy in the cluster denies everything in the namespaces it selects (fail closed)', () => {
  const { policy: p, errors } = policyFromObject({ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy', metadata: { name: 'broken' }, spec: { serviceTypes: ['Cluster'] } });
  assert.deepEqual(errors, ['spec.serviceTypes[0]: must be one of ClusterIP, NodePort, LoadBalancer, got "Cluster"']);
  const d = denied(run([{ ...p, errors }], [pf()]).decisions[0]);
  assert.match(d.message, /policy broken is invalid \(spec.serviceTypes\[0\].*nothing is exposed in namespace team-a/);
});

test('matchExpressions select namespaces as the API server does', () => {
  const p = policy('p', { portForward: false, namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['a', 'b'] }, { key: 'sandbox', operator: 'DoesNotExist' }] } });
  assert.equal(run([p], [pf()], { team: 'a' }).decisions[0]!.admitted, false);
  assert.equal(run([p], [pf()], { team: 'c' }).decisions[0]!.admitted, true);
  assert.equal(run([p], [pf()], { team: 'a', sandbox: '' }).decisions[0]!.admitted, true);
});

test('host exposures are this machine\'s business: never governed by a cluster policy', () => {
  const host: Exposure = { ...common, id: 'h', kind: 'host', hostPort: 1, listenAddress: '127.0.0.1', declaredBy: 'host.bind' };
  assert.ok(run(fixture('port-forward-only.yaml'), [host], { 'envserve.dev/policy': 'restricted' }).decisions[0]!.admitted);
});

test('policy files: every problem at once, with field paths; wrong kinds and duplicates refused', () => {
  const bad = `apiVersion: envserve.dev/v1alpha1
kind: ExposurePolicy
metadata: {name: p}
spec:
  serviceTypes: [ClusterIp]
  nodePortRange: {min: 31000, max: 30000}
  ingress: {hostTemplate: "{svc}.{domain}", tls: {required: yes}}
  colour: blue
`;
  assert.throws(
    () => parsePolicies(bad, 'p.yaml'),
    (e: unknown) => {
      assert.ok(e instanceof IssuesError);
      const text = e.format();
      for (const want of ['spec.serviceTypes[0]: must be one of', 'spec.nodePortRange: must be', 'spec.ingress.hostTemplate: unknown field {svc}', 'spec.colour: unknown field']) {
        assert.ok(text.includes(want), `${want} in\n${text}`);
      }
      return true;
    },
  );
  assert.throws(() => parsePolicies('a: [', 'x.yaml'), (e: unknown) => e instanceof IssuesError && /x\.yaml:1:/.test(e.format()));
  assert.throws(() => parsePolicies('', 'empty.yaml'), UserError);
  const two = readFileSync('testdata/policy/ingress-tls.yaml', 'utf8');
  assert.throws(() => parsePolicies(`${two}\n---\n${two}`, 'd.yaml'), /two policies named ops-default/);
  // A kubectl-style List works.
  const list = parsePolicies(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy', metadata: { name: 'x' } }] }), 'l.json');
  assert.deepEqual(list, [{ name: 'x', spec: {} }]);
});

test('host templates fill {service} {env} {namespace} {port} {domain}', () => {
  assert.equal(hostFromTemplate(undefined, { service: 'Jupyter', env: 'demo', namespace: 'team-a', port: 8888, domain: 'apps.example.com' }), 'jupyter-demo-team-a.apps.example.com');
  assert.equal(hostFromTemplate('{env}-{port}.{domain}', { service: 's', env: 'e', namespace: 'n', port: 1, domain: 'd.io' }), 'e-1.d.io');
});

test('planForCluster: automatic Ingresses (ingress=True for TCP, never with ingress=False), nginx gets WebSocket timeouts, conflicting templates deny', async () => {
  const { planForCluster } = await import('./cluster-plan.js');
  const plan = {
    apiVersion: 'envserve/v1' as const, kind: 'Plan' as const, source: 'build.envd', warnings: [],
    env: { name: 'demo', base: {}, services: [{ name: 'jupyter', port: 8888, protocol: 'http' as const }], packages: { python: [], apt: [], r: [], conda: [] }, daemons: [], commands: {}, environment: {}, extraPath: [], copies: [] },
    exposures: [
      svc('ClusterIP', { id: 'service-jupyter-8888' }),
      { ...svc('ClusterIP', { id: 'service-db-5432', envPort: 5432 }), protocol: 'tcp' as const },
      { ...svc('ClusterIP', { id: 'service-raw-9000', envPort: 9000 }), protocol: 'tcp' as const, autoIngress: true },
      { ...svc('ClusterIP', { id: 'service-off-8080', envPort: 8080 }), autoIngress: false },
    ] as Exposure[],
  };
  const cp = planForCluster(plan, { namespace: 'team-a', ingressDomain: 'apps.example.com', ingressClass: 'nginx' });
  const ings = cp.plan.exposures.filter((e): e is K8sIngressExposure => e.kind === 'k8s-ingress');
  assert.deepEqual(ings.map((e) => [e.id, e.host]), [['ingress-jupyter-8888', 'jupyter-demo-team-a.apps.example.com'], ['ingress-raw-9000', '9000-demo-team-a.apps.example.com']]);
  assert.equal(ings[0]!.annotations?.['nginx.ingress.kubernetes.io/proxy-read-timeout'], '3600');
  assert.deepEqual(cp.denials, []);
  const t1 = policy('t1', { ingress: { domain: 'a.example.com' } });
  const t2 = policy('t2', { ingress: { domain: 'b.example.com' } });
  const conflict = planForCluster(plan, { namespace: 'team-a', policies: [t1, t2] });
  assert.deepEqual(conflict.denials.map((d) => [d.id, d.reason]), [['ingress-jupyter-8888', 'PolicyConflict'], ['ingress-raw-9000', 'PolicyConflict']]);
  assert.match(conflict.denials[0]!.message, /different domains \(t1: "a.example.com", t2: "b.example.com"\)/);
});
