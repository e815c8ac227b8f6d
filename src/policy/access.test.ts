// Issue 22 in the policy layer: the access ceiling (strictest of several, PolicyDenied naming it),
// the session lifetime, reading `spec.access`, and refusing login levels where nothing checks one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Exposure, K8sIngressExposure, Plan } from '../plan/types.js';
import { loginRefusals, planForCluster } from './cluster-plan.js';
import { DEFAULT_SESSION_LIFETIME_MS, sessionLifetimeMs, strictestCeiling } from './access.js';
import { policyFromObject } from './parse.js';
import type { ExposurePolicy, PolicySpec } from './types.js';

const policy = (name: string, spec: PolicySpec): ExposurePolicy => ({ name, spec });
const common = { envPort: 8888, protocol: 'http' as const, position: 'build.envd:5:5', declaredBy: 'cloud.k8s.bind' };
let port = 8000;
const svc = (id: string, access?: 'namespace' | 'authenticated' | 'public'): Exposure => {
  port++;
  return { ...common, id, envPort: port, kind: 'k8s-service', serviceType: 'ClusterIP', servicePort: port, autoIngress: true, ...(access && { access }) };
};
const planOf = (exposures: Exposure[]): Plan => ({
  apiVersion: 'envserve/v1', kind: 'Plan', source: 'build.envd', warnings: [],
  env: { name: 'demo', base: {}, services: [{ name: 'jupyter', port: 8888, protocol: 'http' }], packages: { python: [], apt: [], r: [], conda: [] }, daemons: [], commands: {}, environment: {}, extraPath: [], copies: [] },
  exposures,
});

test('automatic Ingresses inherit the binding\'s access; absent means namespace', () => {
  const cp = planForCluster(planOf([svc('service-a', 'public'), svc('service-b')]), { namespace: 'team-a', ingressDomain: 'apps.example.test' });
  const ings = cp.plan.exposures.filter((e): e is K8sIngressExposure => e.kind === 'k8s-ingress');
  assert.deepEqual(ings.map((e) => [e.id, e.access]), [['ingress-a', 'public'], ['ingress-b', undefined]]);
  assert.deepEqual(cp.denials, []); // plan without a cluster decides nothing about logins
});

test('ceiling: an exposure above access.max is PolicyDenied naming the policy and its ceiling; the strictest of several wins', () => {
  const p = planOf([svc('service-a', 'public'), svc('service-b', 'authenticated'), svc('service-c')]);
  const loose = policy('loose', { access: { max: 'public' } });
  const mid = policy('mid', { access: { max: 'authenticated' } });
  const strict = policy('strict', { access: { max: 'namespace' } });
  const one = planForCluster(p, { namespace: 'team-a', ingressDomain: 'apps.example.test', policies: [loose, mid] });
  assert.deepEqual(one.denials.map((d) => [d.id, d.reason, d.policies]), [['ingress-a', 'PolicyDenied', ['mid']]]);
  assert.match(one.denials[0]!.message, /access "public" is not allowed in namespace team-a by policy mid \(access\.max: authenticated\)/);
  const two = planForCluster(p, { namespace: 'team-a', ingressDomain: 'apps.example.test', policies: [loose, mid, strict] });
  assert.deepEqual(two.denials.map((d) => [d.id, d.policies]), [['ingress-a', ['strict']], ['ingress-b', ['strict']]]);
  assert.match(two.denials[1]!.message, /access "authenticated" .* \(access\.max: namespace\)/);
  // without a ceiling, public is allowed
  assert.deepEqual(planForCluster(p, { namespace: 'team-a', ingressDomain: 'apps.example.test', policies: [policy('none', {})] }).denials, []);
  assert.deepEqual(strictestCeiling([loose, strict, mid])?.max, 'namespace');
});

test('session lifetime: the shortest of the selecting policies, default 8 h', () => {
  assert.equal(sessionLifetimeMs([]), DEFAULT_SESSION_LIFETIME_MS);
  assert.equal(sessionLifetimeMs([policy('a', { access: { sessionLifetimeMs: 3_600_000 } }), policy('b', { access: { sessionLifetimeMs: 1_800_000 } })]), 1_800_000);
});

test('spec.access is read and checked', () => {
  const obj = (access: unknown) => ({ apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposurePolicy', metadata: { name: 'p' }, spec: { access } });
  assert.deepEqual(policyFromObject(obj({ max: 'namespace', sessionLifetime: '30m' })), { policy: { name: 'p', spec: { access: { max: 'namespace', sessionLifetimeMs: 1_800_000 } } }, errors: [] });
  assert.deepEqual(policyFromObject(obj({ max: 'everyone', sessionLifetime: '9d', extra: 1 })).errors, [
    'spec.access.extra: unknown field (known: max, sessionLifetime)',
    'spec.access.max: must be one of namespace, authenticated, public, got "everyone"',
    'spec.access.sessionLifetime: must be a duration such as "30m" or "8h", from 1m to 168h, got "9d"',
  ]);
});

test('where nothing checks a login, every non-public URL is refused with LoginUnavailable; public ones and Services are not', () => {
  const p = planOf([svc('service-a', 'public'), svc('service-b', 'authenticated'), svc('service-c')]);
  const cp = planForCluster(p, { namespace: 'team-a', ingressDomain: 'apps.example.test', noLogin: 'nothing checks one here' });
  assert.deepEqual(cp.denials.map((d) => [d.id, d.reason]), [['ingress-b', 'LoginUnavailable'], ['ingress-c', 'LoginUnavailable']]);
  assert.equal(cp.denials[1]!.message, 'access "namespace" needs a login, and nothing checks one here');
  // a policy denial is kept as it is (it says more than "no login")
  const denied = planForCluster(p, { namespace: 'team-a', ingressDomain: 'apps.example.test', noLogin: 'x', policies: [policy('strict', { access: { max: 'namespace' } })] });
  assert.deepEqual(denied.denials.map((d) => [d.id, d.reason]), [['ingress-a', 'PolicyDenied'], ['ingress-b', 'PolicyDenied'], ['ingress-c', 'LoginUnavailable']]);
  assert.deepEqual(loginRefusals(cp.plan, 'x').map((d) => d.id), ['ingress-b', 'ingress-c']);
});
