// Unit tests of the operator's login-level exposures (issue 22): with its login gateway, a
// `namespace`/`authenticated` Ingress is made in the operator's namespace pointing at the gateway
// (labels naming the set, no ownerReference), and so is an HTTPRoute of that level; the
// gateway's routes come from those Ingresses only while their set exists with the same UID.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Exposure } from '../../plan/types.js';
import type { ExposurePolicy } from '../../policy/types.js';
import type { Obj } from '../../apply/k8s/owned.js';
import { desiredFor } from '../desired.js';
import type { ExposureSet } from '../resource.js';
import { owns } from '../children.js';
import { accessGeneration, A, checkName, LOGIN_SERVICE, LOGIN_SERVICE_PORT } from './ingress.js';
import { operatorManifests } from '../manifests.js';
import { routesFrom } from './routes.js';
import { Operator } from '../controller.js';

const gateway = { namespace: 'envserve-system', service: LOGIN_SERVICE, port: LOGIN_SERVICE_PORT };
const svc = (extra: Record<string, unknown> = {}): Exposure =>
  ({ id: 'service-web', kind: 'k8s-service', envPort: 8080, protocol: 'http', position: 'build.envd:7:5', declaredBy: 'cloud.k8s.bind', serviceType: 'ClusterIP', servicePort: 80, ...extra }) as Exposure;
const ing = (extra: Record<string, unknown> = {}): Exposure =>
  ({ id: 'ingress-web', kind: 'k8s-ingress', envPort: 8080, protocol: 'http', position: 'build.envd:8:5', declaredBy: 'cloud.k8s.bind', serviceId: 'service-web', servicePort: 80, host: 'web.apps.example.com', path: '/lab', className: 'traefik', ...extra }) as Exposure;

function set(exposures: Exposure[], uid = 'uid-1'): ExposureSet {
  return { apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposureSet', metadata: { name: 'demo', namespace: 'team-a', uid, generation: 4 }, spec: { env: 'demo', services: [], exposures } };
}
const policy: ExposurePolicy = { name: 'ops', spec: { access: { sessionLifetimeMs: 1_800_000 } } };
const run = (s: ExposureSet, withGateway = true) =>
  desiredFor({ set: s, policies: [policy], namespaceLabels: { 'kubernetes.io/metadata.name': 'team-a' }, othersInNamespace: 0, ...(withGateway && { loginGateway: gateway }) });

test('with the login gateway, a namespace-level Ingress is made in the operator\'s namespace and points at the gateway; the Service stays in the user\'s', () => {
  const d = run(set([svc(), ing({ tlsSecret: 'web-tls' })]));
  assert.equal(d.outcome, 'Admitted', d.message);
  assert.deepEqual(d.objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`), ['Service/team-a/demo-web', 'Ingress/envserve-system/team-a.demo-web']);
  const i = d.objects[1]!;
  assert.deepEqual(i.spec.rules[0].http.paths.map((p: any) => [p.path, p.backend.service.name, p.backend.service.port.number]), [['/lab', 'envserve-login', 80], ['/.envserve', 'envserve-login', 80]]);
  assert.deepEqual(i.spec.tls, [{ hosts: ['web.apps.example.com'], secretName: 'web-tls' }]);
  assert.equal((i.metadata as any).ownerReferences, undefined, 'owner references cannot cross namespaces');
  assert.deepEqual([i.metadata.labels!['envserve.dev/exposure-set'], i.metadata.labels!['envserve.dev/exposure-set-namespace'], i.metadata.labels!['envserve.dev/login']], ['demo', 'team-a', 'true']);
  const a = i.metadata.annotations!;
  assert.deepEqual([a[A.upstream], a[A.setUid], a[A.access], a[A.lifetime]], ['demo-web.team-a.svc:80', 'uid-1', 'namespace', '1800000']);
  assert.equal(d.exposures.find((e) => e.id === 'ingress-web')!.object, 'ingress/team-a.demo-web');
  assert.ok(owns(set([]), i), 'the set owns its login Ingress (labels)');
  assert.ok(!owns({ ...set([]), metadata: { ...set([]).metadata, namespace: 'team-b' } }, i), 'a set of the same name in another namespace does not');
  // path "/" covers the login path already
  const root = run(set([svc(), ing({ path: '/', access: 'authenticated' })])).objects[1]!;
  assert.deepEqual(root.spec.rules[0].http.paths.map((p: any) => p.path), ['/']);
  assert.equal(root.metadata.annotations![A.access], 'authenticated');
});

test('--login-check traefik: the login Ingress (marked for passes), the check\'s Middleware beside it, and the fast route in the user\'s namespace (owned, behind the check, no TLS Secret of its own)', () => {
  const traefik = { ...gateway, traefik: { gatewayUrl: 'http://10.96.0.9:80' } };
  const d = desiredFor({ set: set([svc(), ing({ tlsSecret: 'web-tls' })]), policies: [policy], namespaceLabels: { 'kubernetes.io/metadata.name': 'team-a' }, othersInNamespace: 0, loginGateway: traefik });
  assert.equal(d.outcome, 'Admitted', d.message);
  const name = checkName('team-a.demo-web');
  assert.match(name, /^envserve-login-[0-9a-f]{24}$/, 'no dot: Traefik would make it a dash, where another set\'s name could meet it');
  assert.deepEqual(d.objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`), ['Service/team-a/demo-web', 'Ingress/envserve-system/team-a.demo-web', `Middleware/envserve-system/${name}`, 'Ingress/team-a/demo-web']);
  const [, login, mw, fast] = d.objects as [Obj, Obj, Obj, Obj];
  assert.equal(login.metadata.annotations![A.pass], 'true');
  assert.deepEqual(mw.spec.plugin['envserve-login'], { host: 'web.apps.example.com', setUid: 'uid-1', generation: '4', tls: true, gateway: 'http://10.96.0.9:80', key: 'urn:k8s:secret:envserve-login-pass:key' });
  assert.ok(owns(set([]), mw), 'the set owns its Middleware (labels)');
  assert.equal(fast.metadata.annotations!['traefik.ingress.kubernetes.io/router.middlewares'], `envserve-system-${name}@kubernetescrd`);
  assert.equal(fast.spec.rules[0].http.paths[0].backend.service.name, 'demo-web');
  assert.deepEqual(fast.spec.tls, [{ hosts: ['web.apps.example.com'] }]);
  assert.equal((fast.metadata as any).ownerReferences[0].uid, 'uid-1');
  assert.equal(d.exposures.find((e) => e.id === 'ingress-web')!.object, 'ingress/team-a.demo-web');
  // the manifests: the pass key's Secret and the Middleware rights only in this mode
  const objs = operatorManifests({ namespace: 'ops', loginCheck: 'traefik' }) as any[];
  assert.deepEqual(objs.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name), ['envserve-session-keys', 'envserve-login-pass']);
  assert.deepEqual(objs.find((o) => o.kind === 'Role' && o.metadata.name.endsWith('session-keys')).rules[0].resourceNames, ['envserve-session-keys', 'envserve-login-pass']);
  assert.deepEqual(objs.find((o) => o.kind === 'Role' && o.metadata.name.endsWith('login-gateway')).rules[1], { apiGroups: ['traefik.io'], resources: ['middlewares'], verbs: ['get', 'list', 'create', 'patch', 'delete'] });
  assert.ok(objs.find((o) => o.kind === 'Deployment').spec.template.spec.containers[0].args.join(' ').endsWith('--login-check traefik'));
  assert.ok(!(operatorManifests({ namespace: 'ops' }) as any[]).some((o) => o.kind === 'Secret' && o.metadata.name === 'envserve-login-pass'));
});

test('public stays a plain Ingress in the user\'s namespace; without the gateway a login level is refused', () => {
  const pub = run(set([svc(), ing({ access: 'public' })]));
  assert.equal(pub.objects[1]!.metadata.namespace, 'team-a');
  assert.equal(pub.objects[1]!.spec.rules[0].http.paths[0].backend.service.name, 'demo-web');
  const without = run(set([svc(), ing()]), false);
  assert.equal(without.reason, 'LoginUnavailable');
});

test('a login-level HTTPRoute is made in the operator\'s namespace on the same Gateway, its backend the gateway; https from the listener', () => {
  const route = { id: 'route-web', kind: 'k8s-route', envPort: 8080, protocol: 'http', position: 'build.envd:9:5', declaredBy: 'cloud.k8s.bind', serviceId: 'service-web', servicePort: 80, host: 'web.gw.example.com', path: '/app', gateway: { namespace: 'gw', name: 'g' }, https: true } as unknown as Exposure;
  const d = run(set([svc(), route]));
  assert.equal(d.outcome, 'Admitted', d.message);
  const r = d.objects[1]!;
  assert.deepEqual([r.kind, r.metadata.namespace, r.metadata.name], ['HTTPRoute', 'envserve-system', 'team-a.demo-web']);
  assert.deepEqual(r.spec.parentRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'gw', name: 'g' }]);
  assert.deepEqual(r.spec.rules, [{ matches: [{ path: { type: 'PathPrefix', value: '/app' } }, { path: { type: 'PathPrefix', value: '/.envserve' } }], backendRefs: [{ group: '', kind: 'Service', name: 'envserve-login', port: 80 }] }]);
  assert.equal(d.exposures.find((e) => e.id === 'route-web')!.object, 'httproute/team-a.demo-web');
  const routes = routesFrom([r], () => 'uid-1');
  assert.deepEqual([routes.get('web.gw.example.com')!.upstream, routes.get('web.gw.example.com')!.tls], [{ host: 'demo-web.team-a.svc', port: 80 }, true]);
  assert.equal(run(set([svc(), route]), false).reason, 'LoginUnavailable');
});

test('the access generation stays while the level does, and moves to the set\'s generation when it changes', () => {
  const cur = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'x', annotations: { [A.access]: 'namespace', [A.generation]: '2' } } } as Obj;
  assert.equal(accessGeneration(cur, 'namespace', 7), 2);
  assert.equal(accessGeneration(cur, 'authenticated', 7), 7);
  assert.equal(accessGeneration(undefined, 'namespace', 7), 7);
});

test('the gateway\'s routes: only login Ingresses whose set exists with the same UID; a host claimed twice goes to the older Ingress', () => {
  const d = run(set([svc(), ing({ tlsSecret: 't' })]));
  const i = { ...d.objects[1]!, metadata: { ...d.objects[1]!.metadata, creationTimestamp: '2026-01-01T00:00:00Z' } } as Obj;
  i.metadata.annotations![A.generation] = '4';
  const live = routesFrom([i], (ns, name) => (ns === 'team-a' && name === 'demo' ? 'uid-1' : undefined));
  assert.deepEqual(live.get('web.apps.example.com'), {
    host: 'web.apps.example.com', setUid: 'uid-1', namespace: 'team-a', setName: 'demo', access: 'namespace', accessGeneration: 4,
    upstream: { host: 'demo-web.team-a.svc', port: 80 }, tls: true, sessionLifetimeMs: 1_800_000,
  });
  assert.equal(routesFrom([i], () => undefined).size, 0, 'set gone');
  assert.equal(routesFrom([i], () => 'uid-2').size, 0, 'set re-created');
  const later = { ...i, metadata: { ...i.metadata, name: 'team-b.x', creationTimestamp: '2026-02-01T00:00:00Z', labels: { ...i.metadata.labels, 'envserve.dev/exposure-set-namespace': 'team-b' }, annotations: { ...i.metadata.annotations, [A.upstream]: 'evil.team-b.svc:80' } } } as Obj;
  const both = routesFrom([later, i], () => 'uid-1');
  assert.equal(both.get('web.apps.example.com')!.upstream.host, 'demo-web.team-a.svc');
  const pub = { ...i, metadata: { ...i.metadata, annotations: { ...i.metadata.annotations, [A.access]: 'public' } } } as Obj;
  assert.equal(routesFrom([pub], () => 'uid-1').size, 0, 'the gateway guards login levels only');
});

test('the leader removes login objects whose set is gone or was re-created, and keeps those of live sets', async () => {
  const mk = (name: string, setNs: string, setName: string, uid: string) => ({ kind: 'Ingress', metadata: { name, namespace: 'envserve-system', uid: `obj-${name}`, labels: { 'app.kubernetes.io/managed-by': 'envserve', 'envserve.dev/login': 'true', 'envserve.dev/exposure-set': setName, 'envserve.dev/exposure-set-namespace': setNs }, annotations: { [A.setUid]: uid } } });
  const deleted: string[] = [];
  const api = {
    async request<T>(path: string, o: { method?: string; query?: Record<string, string> } = {}): Promise<T> {
      if (o.method === 'DELETE') return void deleted.push(path) as T;
      if (path.endsWith('/namespaces/envserve-system/ingresses')) {
        assert.equal(o.query?.labelSelector, 'app.kubernetes.io/managed-by=envserve,envserve.dev/login=true');
        return { items: [mk('team-a.live', 'team-a', 'demo', 'uid-1'), mk('team-a.recreated', 'team-a', 'demo', 'uid-0'), mk('team-b.gone', 'team-b', 'old', 'uid-9')] } as T;
      }
      return { items: [] } as T;
    },
    watch: () => Promise.resolve(),
  };
  const op = new Operator(api, { loginGateway: gateway, log: () => undefined });
  op.sets.set('team-a/demo', set([]));
  assert.equal(await op.sweepLoginOrphans(), 2);
  assert.deepEqual(deleted, ['/apis/networking.k8s.io/v1/namespaces/envserve-system/ingresses/team-a.recreated', '/apis/networking.k8s.io/v1/namespaces/envserve-system/ingresses/team-b.gone']);
});
