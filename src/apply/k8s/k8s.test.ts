// Unit tests of the Kubernetes runtime's pieces, with fakes of the API client (no cluster).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../errors.js';
import { Backoff } from '../backoff.js';
import { checkAccess, NEEDS } from './access.js';
import { KubeApiError, type WatchEvent } from './client.js';
import { checkOwnership, type Obj } from './owned.js';
import { PodTracker, type PodLike } from './pod-tracker.js';
import { parseSelector, parseTarget } from './target.js';

test('backoff: 50 ms doubling up to 15 s, reset after a healthy run', () => {
  const b = new Backoff();
  const seq = Array.from({ length: 12 }, () => b.next(0));
  assert.deepEqual(seq.slice(0, 5), [50, 100, 200, 400, 800]);
  assert.equal(seq.at(-1), 15_000);
  b.healthy(1000);
  assert.equal(b.next(1000 + 10_000), 50, 'a run healthy for 10 s resets the delay');
});

test('targets and selectors parse, and bad ones say how to write them', () => {
  assert.deepEqual(parseTarget('k8s:team-a/deployment/web'), { kind: 'deployment', namespace: 'team-a', name: 'web' });
  assert.deepEqual(parseTarget('k8s:pod/web-0'), { kind: 'pod', name: 'web-0' });
  assert.throws(() => parseTarget('k8s:team/statefulset/x'), (e: unknown) => e instanceof UserError && /k8s:<namespace>\/deployment\/<name>/.test(e.hint ?? ''));
  assert.deepEqual(parseSelector('app=web,tier=front'), { app: 'web', tier: 'front' });
  assert.throws(() => parseSelector('app'), UserError);
});

/** A fake API: SelfSubjectAccessReview answers from a set of allowed "verb resource" strings. */
function accessApi(allowed: Set<string>) {
  return {
    async request<T>(_path: string, o: { body?: any } = {}): Promise<T> {
      const a = o.body.spec.resourceAttributes;
      const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
      return { status: { allowed: allowed.has(`${a.verb} ${res}`) } } as T;
    },
  };
}

test('access: a missing verb fails before any change, naming it and the kinds this user may use', async () => {
  const pf = new Set(['get pods', 'list pods', 'watch pods', 'get pods/portforward', 'create pods/portforward']);
  await checkAccess(accessApi(pf), 'ns', ['attach', 'k8s-port-forward']);
  await assert.rejects(checkAccess(accessApi(pf), 'ns', ['attach', 'k8s-port-forward', 'k8s-service']), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /create services in namespace ns \(needed for Services/);
    assert.match(e.message, /this user may use: port-forward/);
    assert.match(e.message, /nothing was changed/);
    return true;
  });
  const all = new Set(Object.values(NEEDS).flat().map((n) => `${n.verb} ${n.subresource ? `${n.resource}/${n.subresource}` : n.resource}`));
  await checkAccess(accessApi(all), 'ns', ['environment', 'k8s-port-forward', 'k8s-service', 'k8s-ingress']);
});

test('ownership: an existing object without our labels is a clash; ours is fine; absent is fine', async () => {
  const objects: Record<string, Obj> = {
    '/api/v1/namespaces/ns/services/mine': { apiVersion: 'v1', kind: 'Service', metadata: { name: 'mine', labels: { 'app.kubernetes.io/managed-by': 'envserve', 'envserve.dev/env': 'e' } } },
    '/api/v1/namespaces/ns/services/theirs': { apiVersion: 'v1', kind: 'Service', metadata: { name: 'theirs', labels: { app: 'x' } } },
    '/api/v1/namespaces/ns/services/operators': { apiVersion: 'v1', kind: 'Service', metadata: { name: 'operators', labels: { 'app.kubernetes.io/managed-by': 'envserve', 'envserve.dev/env': 'e', 'envserve.dev/exposure-set': 'e' } } },
  };
  const api = {
    async request<T>(path: string): Promise<T> {
      const o = objects[path];
      if (!o) throw new KubeApiError(404, 'NotFound', 'not found', 'GET', path);
      return o as T;
    },
  };
  const svc = (name: string): Obj => ({ apiVersion: 'v1', kind: 'Service', metadata: { name } });
  const existing = await checkOwnership(api, 'ns', 'e', [svc('mine'), svc('new')]);
  assert.deepEqual([...existing.keys()], ['Service/mine']);
  await assert.rejects(checkOwnership(api, 'ns', 'e', [svc('mine'), svc('theirs')]), /service ns\/theirs already exists and envserve does not own it/);
  await assert.rejects(checkOwnership(api, 'ns', 'other-env', [svc('mine')]), /belongs to envserve environment "e"/);
  // What the operator made for the environment's ExposureSet is not the CLI's to change.
  await assert.rejects(checkOwnership(api, 'ns', 'e', [svc('operators')]), /the envserve operator created it for ExposureSet "e"/);
});

const pod = (name: string, ready: boolean, extra: Partial<PodLike['metadata']> = {}, t = '2026-01-01T00:00:00Z'): PodLike => ({
  metadata: { name, resourceVersion: '1', ...extra },
  status: { phase: ready ? 'Running' : 'Pending', podIP: '10.0.0.1', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: t }] },
});

test('pod tracker: follows the Ready pod through watch events, says why none is Ready, wakes waiters', async () => {
  let push: (e: WatchEvent) => void = () => {};
  let endWatch: () => void = () => {};
  const api = {
    async request<T>(): Promise<T> {
      return { items: [pod('a', true)], metadata: { resourceVersion: '5' } } as T;
    },
    watch(_p: string, _q: unknown, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
      push = onEvent;
      return new Promise((resolve) => {
        endWatch = resolve;
        signal.addEventListener('abort', () => resolve());
      });
    },
  };
  const t = new PodTracker(api as never, { namespace: 'ns', labelSelector: 'app=x', description: 'deployment/x' });
  await t.start();
  assert.equal(t.current()?.metadata?.name, 'a');
  push({ type: 'MODIFIED', object: pod('a', true, { deletionTimestamp: '2026-01-01T00:00:01Z' }) });
  assert.equal(t.current(), undefined);
  assert.match(t.reason(), /pod a is terminating/);
  const waiting = t.waitReady(5000);
  push({ type: 'ADDED', object: pod('b', false) });
  assert.match(t.reason(), /pod b is Pending/);
  push({ type: 'MODIFIED', object: pod('b', true) });
  assert.equal((await waiting).metadata?.name, 'b');
  push({ type: 'DELETED', object: pod('a', false) });
  push({ type: 'DELETED', object: pod('b', false) });
  assert.equal(t.reason(), 'no pod of deployment/x exists');
  await assert.rejects(t.waitReady(50), /no Ready pod after 0 s: no pod of deployment\/x exists/);
  // A rollout: the newest Ready pod wins.
  push({ type: 'ADDED', object: pod('old', true, {}, '2026-01-01T00:00:00Z') });
  push({ type: 'ADDED', object: pod('new', true, {}, '2026-01-01T00:01:00Z') });
  assert.equal(t.current()?.metadata?.name, 'old', 'keeps the current pod while it stays Ready');
  push({ type: 'MODIFIED', object: pod('old', false) });
  assert.equal(t.current()?.metadata?.name, 'new');
  endWatch();
  t.stop();
});
