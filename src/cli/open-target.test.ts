import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTarget } from './open-target.js';
import { RuntimeFailure, UserError } from '../errors.js';
import type { EnvStatus, ExposureStatus } from '../status/types.js';

const row = (id: string, kind: ExposureStatus['kind'], extra: Partial<ExposureStatus> = {}): ExposureStatus =>
  ({ id, name: 'web', kind, protocol: 'http', envPort: 8080, state: 'ready', reason: 'Ready', since: '', urls: [], ...extra }) as ExposureStatus;
const status = (...exposures: ExposureStatus[]) => ({ envName: 'demo', exposures }) as EnvStatus;
const svc = row('service-web', 'k8s-service', { inCluster: ['http://10.96.0.7:8080/'], reach: { command: 'kubectl -n team port-forward service/demo-web 8080:8080' } });
const pf = row('port-forward-web-18080', 'k8s-port-forward', { urls: ['http://127.0.0.1:18080/'] });
const ing = (access: 'namespace' | 'authenticated' | 'public') => row('ingress-web', 'k8s-ingress', { urls: ['https://web-demo-team.apps.example.com/'], access });

function fails(s: EnvStatus, which: string, reason: string, message: RegExp) {
  assert.throws(() => openTarget(s, which), (e: unknown) => e instanceof UserError && e.reason === reason && message.test(e.message), `${which}: ${reason}`);
}

test('an Ingress that needs a login resolves to its URL with the login; a public one without', () => {
  assert.deepEqual(openTarget(status(svc, pf, ing('namespace')), 'ingress-web'), { id: 'ingress-web', url: 'https://web-demo-team.apps.example.com/', login: true });
  assert.deepEqual(openTarget(status(svc, pf, ing('authenticated')), 'ingress-web').login, true);
  assert.deepEqual(openTarget(status(svc, pf, ing('public')), 'ingress-web').login, false);
});

test('a name shared by a Service, its Ingress and a port-forward picks the Ingress, then the port-forward', () => {
  assert.equal(openTarget(status(svc, pf, ing('namespace')), 'web').id, 'ingress-web');
  assert.deepEqual(openTarget(status(svc, pf), 'web'), { id: 'port-forward-web-18080', url: 'http://127.0.0.1:18080/', login: false });
});

test('a ClusterIP Service opens what reaches it from here, with the login its Ingress needs', () => {
  const viaIngress = { ...svc, reach: { id: 'ingress-web', url: 'https://web-demo-team.apps.example.com/', command: 'envserve open https://web-demo-team.apps.example.com/' } };
  assert.deepEqual(openTarget(status(viaIngress, ing('namespace')), 'service-web'), { id: 'ingress-web', url: 'https://web-demo-team.apps.example.com/', login: true });
  const viaForward = { ...svc, reach: { id: pf.id, url: pf.urls[0]! } };
  assert.deepEqual(openTarget(status(viaForward, pf), 'service-web'), { id: pf.id, url: 'http://127.0.0.1:18080/', login: false });
});

test('no URL to open: [NoUrl] (exit 2) saying why — in-cluster only (with the way in), not a web URL, or not set up', () => {
  fails(status(svc), 'service-web', 'NoUrl', /^exposure service-web has no URL to open: it answers only inside the cluster \(http:\/\/10\.96\.0\.7:8080\/\); from here: kubectl -n team port-forward service\/demo-web 8080:8080 \[NoUrl\]$/);
  fails(status(row('port-forward-db', 'k8s-port-forward', { urls: ['tcp://127.0.0.1:5432'] })), 'port-forward-db', 'NoUrl', /its address is not a web URL \(tcp:\/\/127\.0\.0\.1:5432\)/);
  fails(status(row('ingress-web', 'k8s-ingress', { state: 'failed', reason: 'PolicyDenied', message: 'denied by policy strict' })), 'ingress-web', 'NoUrl', /it is failed \(PolicyDenied\): denied by policy strict/);
  fails(status(svc), 'nope', 'NotFound', /no exposure "nope" in environment demo \[NotFound\]/);
  assert.throws(() => openTarget(status(svc), 'web.apps.example.com/lab'), (e: unknown) => e instanceof UserError && /a URL needs its scheme/.test(e.hint ?? ''));
});

test('a stale environment (envserve gone or frozen): what its own process serves is refused (NotRunning), cluster objects still open', () => {
  const stale = { ...status(svc, pf, ing('public')), stale: 'envserve (pid 42) does not answer on its control socket: stopped (SIGSTOP, Ctrl-Z) or hung; its last recorded status follows' };
  assert.throws(() => openTarget(stale, 'port-forward-web-18080'), (e: RuntimeFailure) => e.reason === 'NotRunning' && /served by envserve itself, and it does not run now: envserve \(pid 42\) does not answer/.test(e.message));
  assert.throws(() => openTarget({ ...stale, exposures: [{ ...svc, reach: { id: pf.id, url: 'http://127.0.0.1:18080/' } }, pf] }, 'service-web'), (e: RuntimeFailure) => e.reason === 'NotRunning', 'reached through the port-forward');
  assert.equal(openTarget(stale, 'ingress-web').url, 'https://web-demo-team.apps.example.com/');
});
