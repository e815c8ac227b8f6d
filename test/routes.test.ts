// Unit tests of HTTPRoute exposures: the env-file keywords (cloud.k8s.route, route=), the plan and
// its validation, automatic routes (flags, policies, which of Ingress and HTTPRoute a cluster
// gets), the policy's decisions about Gateways, listeners and hosts, the rendered HTTPRoute, the
// route's status from its parent status, and `check`'s rules on object fixtures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IssuesError, UserError } from '../src/errors.js';
import { planFromFile } from '../src/envfile/from-file.js';
import { renderManifests } from '../src/apply/k8s/manifests.js';
import { routeState } from '../src/apply/k8s/route-watch.js';
import { planForCluster } from '../src/policy/cluster-plan.js';
import { policyFromObject } from '../src/policy/parse.js';
import { routeFlags } from '../src/policy/route.js';
import type { ExposurePolicy } from '../src/policy/types.js';
import type { K8sRouteExposure, Plan } from '../src/plan/types.js';
import { diagnose } from '../src/check/diagnose.js';
import { hostnameCovers } from '../src/check/route-rules.js';
import type { ClusterSnapshot } from '../src/check/snapshot.js';

function plan(serve: string, name = 'demo'): Plan {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-routes-'));
  const file = join(dir, 'build.envd');
  writeFileSync(file, `def build():\n    base(image="img:1")\n    config.jupyter(password="")\ndef serve():\n${serve}\n`);
  return planFromFile(file, { envName: name });
}
const routesOf = (p: Plan) => p.exposures.filter((e): e is K8sRouteExposure => e.kind === 'k8s-route');
const policy = (spec: object, name = 'p'): ExposurePolicy => {
  const { policy: p, errors } = policyFromObject({ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy', metadata: { name }, spec });
  assert.deepEqual(errors, []);
  return p;
};
const GW = { namespace: 'gw-system', name: 'public' };

test('cloud.k8s.route: a k8s-route beside its (implied ClusterIP) Service, with its Gateway and listener', () => {
  const p = plan('    cloud.k8s.bind(env_port=8888, name="lab", route=cloud.k8s.route(host="lab.apps.example.com", path="/x", gateway="gw-system/public/https", https=True))');
  const svc = p.exposures.find((e) => e.kind === 'k8s-service')!;
  assert.equal(svc.kind === 'k8s-service' && svc.serviceType, 'ClusterIP');
  const [r] = routesOf(p);
  assert.deepEqual(
    { id: r!.id, serviceId: r!.serviceId, host: r!.host, path: r!.path, gateway: r!.gateway, https: r!.https, protocol: r!.protocol },
    { id: 'route-lab', serviceId: 'service-lab', host: 'lab.apps.example.com', path: '/x', gateway: { ...GW, sectionName: 'https' }, https: true, protocol: 'http' },
  );
});

test('cloud.k8s.route: bad values are refused at the call, with what is expected', () => {
  assert.throws(() => plan('    cloud.k8s.bind(env_port=8888, route=cloud.k8s.route(host="x.example.com", gateway="public"))'), /gateway must be "namespace\/name" or "namespace\/name\/listener", got "public"/);
  assert.throws(() => plan('    cloud.k8s.bind(env_port=8888, route="x")'), /route must be made by cloud.k8s.route/);
  assert.throws(() => plan('    cloud.k8s.bind(env_port=8888, route=cloud.k8s.route(host="not a host", gateway="a/b"))'), (e: unknown) => e instanceof IssuesError && /cloud\.k8s\.route: host must be a DNS name/.test(e.message + JSON.stringify(e.issues)));
  assert.throws(() => plan('    cloud.k8s.bind(env_port=8888, route=cloud.k8s.route(host="x.example.com", path="a", gateway="a/b"))'), (e: unknown) => e instanceof IssuesError && /path must start with/.test(JSON.stringify(e.issues)));
});

test('render: the HTTPRoute names the Gateway, host, PathPrefix and the Service port, with envserve\'s labels; no Gateway → a clear error', () => {
  const p = plan('    cloud.k8s.bind(env_port=8888, service_port=80, name="lab", route=cloud.k8s.route(host="lab.apps.example.com", gateway="gw-system/public"))');
  const route = renderManifests(p, { namespace: 'team-a' }).find((o) => o.kind === 'HTTPRoute') as any;
  assert.deepEqual(route, {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute',
    metadata: { name: 'demo-lab', namespace: 'team-a', labels: { 'app.kubernetes.io/managed-by': 'envserve', 'envserve.dev/env': 'demo', 'envserve.dev/exposure': 'route-lab' }, annotations: { 'envserve.dev/source': p.source } },
    spec: {
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gw-system', name: 'public' }],
      hostnames: ['lab.apps.example.com'],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ group: '', kind: 'Service', name: 'demo-lab', port: 80 }] }],
    },
  });
  const bare = plan('    cloud.k8s.bind(env_port=8888, route=cloud.k8s.route(host="lab.apps.example.com"))');
  assert.throws(() => renderManifests(bare, { namespace: 'team-a' }), (e: unknown) => e instanceof UserError && /names no Gateway/.test(e.message) && /--gateway/.test(e.hint ?? ''));
});

test('automatic routes: --gateway makes one per HTTP Service instead of an Ingress; route=False and ingress=False keep a binding private', () => {
  const p = plan([
    '    cloud.k8s.bind(env_port=8888, type=cloud.k8s.clusterIP)',
    '    cloud.k8s.bind(env_port=9000, type=cloud.k8s.clusterIP, name="tcp")',
    '    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, protocol="http", name="off", route=False)',
    '    cloud.k8s.bind(env_port=8081, type=cloud.k8s.clusterIP, protocol="http", name="old", ingress=False)',
  ].join('\n'));
  const cp = planForCluster(p, { namespace: 'team-a', ingressDomain: 'apps.example.com', ...routeFlags({ gateway: 'gw-system/public' }, {}) });
  assert.deepEqual(cp.plan.exposures.filter((e) => e.kind === 'k8s-ingress'), [], 'no automatic Ingress');
  const routes = routesOf(cp.plan);
  assert.deepEqual(routes.map((r) => [r.id, r.host, r.automatic, r.gateway]), [['route-jupyter', 'jupyter-demo-team-a.apps.example.com', true, GW]]);
  // Without a Gateway (flag or policy), Ingress stays the default.
  const plain = planForCluster(p, { namespace: 'team-a', ingressDomain: 'apps.example.com' });
  assert.deepEqual(routesOf(plain.plan), []);
  assert.deepEqual(plain.plan.exposures.filter((e) => e.kind === 'k8s-ingress').map((e) => e.id), ['ingress-jupyter', 'ingress-off']);
  // Both known: --auto-expose chooses.
  const both = planForCluster(p, { namespace: 'team-a', ingressDomain: 'apps.example.com', ...routeFlags({ gateway: 'gw-system/public', autoExpose: 'ingress' }, {}) });
  assert.deepEqual(routesOf(both.plan), []);
  assert.throws(() => routeFlags({ gateway: 'nope' }, {}), /--gateway must be namespace\/name/);
  assert.throws(() => routeFlags({ autoExpose: 'both' }, {}), /--auto-expose must be ingress or route/);
  assert.deepEqual(routeFlags({}, { ENVSERVE_GATEWAY: 'a/b/c', ENVSERVE_ROUTE_DOMAIN: 'x.test' }), { gateway: { namespace: 'a', name: 'b', sectionName: 'c' }, routeDomain: 'x.test' });
});

test('policy: httpRoute fills in the Gateway, domain and https of automatic routes; automaticExposure chooses; without a policy Ingress stays', () => {
  const p = plan('    cloud.k8s.bind(env_port=8888, type=cloud.k8s.clusterIP)');
  const routesPolicy = policy({ automaticExposure: 'HTTPRoute', ingress: { domain: 'ing.example.com' }, httpRoute: { gateways: [{ ...GW, sectionNames: ['https'] }], domain: 'apps.example.com', https: true } });
  const cp = planForCluster(p, { namespace: 'team-a', policies: [routesPolicy] });
  assert.deepEqual(cp.denials, []);
  const [r] = routesOf(cp.plan);
  assert.deepEqual([r!.host, r!.gateway, r!.https], ['jupyter-demo-team-a.apps.example.com', { ...GW, sectionName: 'https' }, true]);
  assert.deepEqual(cp.plan.exposures.filter((e) => e.kind === 'k8s-ingress'), []);
  // The same policy saying Ingress: the Ingress domain wins.
  const ingressFirst = planForCluster(p, { namespace: 'team-a', policies: [policy({ ...routesPolicy.spec, automaticExposure: 'Ingress' })] });
  assert.deepEqual(routesOf(ingressFirst.plan), []);
  assert.equal(ingressFirst.plan.exposures.find((e) => e.kind === 'k8s-ingress')?.kind === 'k8s-ingress' && (ingressFirst.plan.exposures.find((e) => e.kind === 'k8s-ingress') as any).host, 'jupyter-demo-team-a.ing.example.com');
  // Only a route domain configured: routes, no choice needed.
  const onlyRoutes = planForCluster(p, { namespace: 'team-a', policies: [policy({ httpRoute: { gateways: [GW], domain: 'apps.example.com' } })] });
  assert.equal(routesOf(onlyRoutes.plan).length, 1);
});

test('policy: a Gateway or listener not listed, a host outside the suffixes, routes turned off → PolicyDenied with the allowed values; two first Gateways → PolicyConflict', () => {
  const p = plan([
    '    cloud.k8s.bind(env_port=8888, name="a", route=cloud.k8s.route(host="a.apps.example.com", gateway="team/own"))',
    '    cloud.k8s.bind(env_port=8889, name="b", route=cloud.k8s.route(host="b.apps.example.com", gateway="gw-system/public/http"))',
    '    cloud.k8s.bind(env_port=8890, name="c", route=cloud.k8s.route(host="c.evil.test", gateway="gw-system/public/https"))',
    '    cloud.k8s.bind(env_port=8891, name="d", route=cloud.k8s.route(host="d.apps.example.com"))',
  ].join('\n'));
  const pol = policy({ httpRoute: { gateways: [{ ...GW, sectionNames: ['https'] }], allowedHostSuffixes: ['.apps.example.com'] } }, 'ops');
  const cp = planForCluster(p, { namespace: 'team-a', policies: [pol] });
  const msg = Object.fromEntries(cp.denials.map((d) => [d.id, `${d.reason}: ${d.message}`]));
  assert.equal(msg['route-a'], 'PolicyDenied: Gateway team/own is not allowed in namespace team-a by policy ops; allowed: gw-system/public (listeners https)');
  assert.equal(msg['route-b'], 'PolicyDenied: Gateway gw-system/public/http is not allowed in namespace team-a by policy ops; allowed: gw-system/public (listeners https)');
  assert.equal(msg['route-c'], 'PolicyDenied: host c.evil.test is not allowed in namespace team-a by policy ops; allowed: hosts under *.apps.example.com');
  assert.equal(msg['route-d'], undefined, 'a route without a Gateway takes the policy\'s');
  assert.deepEqual(routesOf(cp.plan).find((r) => r.id === 'route-d')!.gateway, { ...GW, sectionName: 'https' });
  assert.match(cp.evaluation.allowed, /HTTPRoute via gw-system\/public \(listeners https\) under \*\.apps\.example\.com/);

  const off = planForCluster(p, { namespace: 'team-a', policies: [policy({ httpRoute: { allowed: false } }, 'no-routes')] });
  assert.equal(off.denials.filter((d) => d.id.startsWith('route-')).length, 4);
  assert.match(off.denials[0]!.message, /HTTPRoute is not allowed in namespace team-a by policy no-routes/);

  const conflict = planForCluster(p, { namespace: 'team-a', policies: [policy({ httpRoute: { gateways: [GW] } }, 'one'), policy({ httpRoute: { gateways: [{ namespace: 'x', name: 'y' }] } }, 'two')] });
  assert.ok(conflict.denials.every((d) => d.reason === 'PolicyConflict' && /different first Gateways/.test(d.message)), JSON.stringify(conflict.denials));

  const bad = policyFromObject({ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy', metadata: { name: 'bad' }, spec: { automaticExposure: 'Both', httpRoute: { gateways: [{ name: 'x' }], https: 'yes', zz: 1 } } });
  assert.deepEqual(bad.errors, [
    'spec.automaticExposure: must be Ingress or HTTPRoute, got "Both"',
    'spec.httpRoute.zz: unknown field (known: allowed, gateways, domain, hostTemplate, allowedHostSuffixes, https)',
    'spec.httpRoute.https: must be true or false',
    'spec.httpRoute.gateways[0]: must be {namespace: NS, name: NAME, sectionNames: [LISTENER, ...]}',
  ]);
});

test('route status from its parent status: ours only (same Gateway and listener), Accepted then ResolvedRefs', () => {
  const ref = { namespace: 'gw', name: 'public' };
  const parent = (pr: object, acc: string, res = 'True') => ({ parentRef: pr, conditions: [{ type: 'Accepted', status: acc, reason: acc === 'True' ? 'Accepted' : 'NoMatchingListenerHostname' }, { type: 'ResolvedRefs', status: res, reason: res === 'True' ? 'ResolvedRefs' : 'BackendNotFound' }] });
  assert.equal(routeState({ status: {} } as any, ref, 'ns').state, 'no-parent');
  assert.equal(routeState({ status: { parents: [parent({ namespace: 'gw', name: 'other' }, 'True')] } } as any, ref, 'ns').state, 'no-parent');
  assert.equal(routeState({ status: { parents: [parent({ namespace: 'gw', name: 'public', sectionName: 'https' }, 'True')] } } as any, ref, 'ns').state, 'no-parent', 'another listener is another parent');
  assert.equal(routeState({ status: { parents: [parent({ namespace: 'gw', name: 'public' }, 'False')] } } as any, ref, 'ns').state, 'not-accepted');
  assert.equal(routeState({ status: { parents: [parent({ namespace: 'gw', name: 'public' }, 'True', 'False')] } } as any, ref, 'ns').state, 'unresolved');
  assert.equal(routeState({ status: { parents: [parent({ name: 'public' }, 'True')] } } as any, { namespace: 'ns', name: 'public' }, 'ns').state, 'accepted', 'no namespace: the route\'s own');
});

test('check rules on fixtures: listener hostnames, missing Gateway API, wrong listener, namespaces the listener does not allow', () => {
  assert.ok(hostnameCovers('*.apps.test', 'a.apps.test'));
  assert.ok(!hostnameCovers('*.apps.test', 'apps.test'));
  assert.ok(!hostnameCovers('*.apps.test', 'a.other.test'));
  assert.ok(hostnameCovers(undefined, 'anything.test'));
  assert.ok(hostnameCovers('a.apps.test', 'a.apps.test') && !hostnameCovers('a.apps.test', 'b.apps.test'));
  const base: ClusterSnapshot = { namespace: 'ns', pods: [], services: [{ metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } }], endpointSlices: [], ingresses: [], ingressClasses: [], networkPolicies: [], secrets: {}, clusterDNS: true, nodeAddresses: [] };
  const subject = { namespace: 'ns', exposures: [{ id: 'route-r', kind: 'k8s-route' as const, protocol: 'http' as const, route: 'r', host: 'r.apps.test' }] };
  const route = (parent: object) => ({ metadata: { name: 'r' }, spec: { parentRefs: [{ name: 'g', namespace: 'gw', ...parent }], hostnames: ['r.apps.test'], rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] } });
  const gw = (listeners: object[]) => ({ metadata: { name: 'g' }, spec: { gatewayClassName: 'c', listeners } });
  const cause = (snap: ClusterSnapshot) => diagnose(subject, snap).find((c) => c.status === 'fail')?.reason;
  assert.equal(cause({ ...base, httpRoutes: null }), 'GatewayApiMissing');
  assert.equal(cause({ ...base, httpRoutes: [] }), 'HTTPRouteNotFound');
  assert.equal(cause({ ...base, httpRoutes: [route({})], gateways: { 'gw/g': null } }), 'GatewayNotFound');
  const l = { name: 'http', port: 80, protocol: 'HTTP', hostname: '*.apps.test', allowedRoutes: { namespaces: { from: 'All' } } };
  assert.equal(cause({ ...base, httpRoutes: [route({ sectionName: 'https' })], gateways: { 'gw/g': gw([l]) } }), 'RouteSectionNotFound');
  assert.equal(cause({ ...base, httpRoutes: [route({})], gateways: { 'gw/g': gw([{ ...l, hostname: '*.other.test' }]) } }), 'RouteHostnameNotAllowed');
  assert.equal(cause({ ...base, httpRoutes: [route({})], gateways: { 'gw/g': gw([{ ...l, allowedRoutes: { namespaces: { from: 'Same' } } }]) } }), 'RouteNotAllowedByListener');
  assert.equal(cause({ ...base, services: [{ metadata: { name: 'web' }, spec: { ports: [{ port: 8080 }] } }], httpRoutes: [route({})], gateways: { 'gw/g': gw([l]) } }), 'RouteBackendPortMismatch');
  // Everything right, and no controller has written a status yet.
  assert.equal(cause({ ...base, httpRoutes: [route({})], gateways: { 'gw/g': gw([l]) } }), 'RouteNoParent');
});

test('a cluster without Gateway API: listing what envserve owns (status, down, prune) skips HTTPRoutes; the operator owns none there', async () => {
  const { listOwned } = await import('../src/apply/k8s/owned.js');
  const { listChildren } = await import('../src/operator/children.js');
  const { KubeApiError } = await import('../src/apply/k8s/client.js');
  const seen: string[] = [];
  const api = {
    request: async (path: string) => {
      seen.push(path);
      if (path.includes('/gateway.networking.k8s.io/')) throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource', 'GET', path);
      return { items: [{ metadata: { name: 'demo-web', labels: { 'app.kubernetes.io/managed-by': 'envserve', 'envserve.dev/env': 'demo' } } }] } as never;
    },
  };
  const owned = await listOwned(api, 'team-a', 'demo', ['HTTPRoute', 'Service']);
  assert.deepEqual(owned.map((o) => `${o.kind}/${o.metadata.name}`), ['Service/demo-web']);
  assert.ok(seen.includes('/apis/gateway.networking.k8s.io/v1/namespaces/team-a/httproutes'), 'it asked');
  const set = { metadata: { name: 'demo', namespace: 'team-a', uid: 'u1' } } as never;
  assert.deepEqual(await listChildren(api, set, 'HTTPRoute'), []);
  // Any other error still fails loudly.
  const broken = { request: async (path: string) => { throw new KubeApiError(500, 'InternalError', 'boom', 'GET', path); } };
  await assert.rejects(listOwned(broken, 'team-a', 'demo', ['HTTPRoute']), /boom/);
});
