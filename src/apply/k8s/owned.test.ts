// Unit tests of bounded parallel apply/delete (fake API, no cluster).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError } from './client.js';
import { mapLimit } from '../limit.js';
import { deleteAndWait, type Obj } from './owned.js';

test('mapLimit: every item once, results in order, never more than the limit in flight', async () => {
  let inFlight = 0;
  let most = 0;
  const out = await mapLimit(Array.from({ length: 50 }, (_, i) => i), 16, async (i) => {
    most = Math.max(most, ++inFlight);
    await new Promise((r) => setTimeout(r, 1 + (i % 3)));
    inFlight--;
    return i * 2;
  });
  assert.deepEqual(out, Array.from({ length: 50 }, (_, i) => i * 2));
  assert.equal(most, 16);
  await assert.rejects(mapLimit([1, 2, 3], 2, async (i) => { if (i === 2) throw new Error('two'); return i; }), /two/);
  assert.deepEqual(await mapLimit([], 16, async (x) => x), []);
});

const svc = (name: string, uid: string): Obj => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'ns', uid, labels: { 'app.kubernetes.io/managed-by': 'envserve' } } });

test('deleteAndWait: 40 Services deleted 16 at a time, Background; the wait lists once per round, not once per object', async () => {
  const live = new Map<string, string>(Array.from({ length: 40 }, (_, i) => [`s${i}`, `u${i}`]));
  let inFlight = 0;
  let most = 0;
  const calls: string[] = [];
  const api = {
    async request<T>(path: string, o: { method?: string; body?: any } = {}): Promise<T> {
      calls.push(`${o.method ?? 'GET'} ${path}`);
      if (o.method === 'DELETE') {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        assert.equal(o.body.propagationPolicy, 'Background');
        const name = path.split('/').at(-1)!;
        // The API server removes the object a little later (as the garbage collector would).
        setTimeout(() => live.delete(name), 150);
        return {} as T;
      }
      return { items: [...live].map(([name, uid]) => ({ metadata: { name, uid } })) } as T;
    },
  };
  const objs = Array.from({ length: 40 }, (_, i) => svc(`s${i}`, `u${i}`));
  await deleteAndWait(api, objs);
  assert.equal(live.size, 0);
  assert.equal(most, 16);
  const lists = calls.filter((c) => c.startsWith('GET'));
  assert.ok(lists.length <= 6, `a few LISTs while waiting, got ${lists.length}`);
  assert.ok(lists.every((c) => c === 'GET /api/v1/namespaces/ns/services'));
});

test('deleteAndWait: a Deployment is deleted in the foreground; gone (404) or replaced (409, another uid) counts as done', async () => {
  const policies: string[] = [];
  const api = {
    async request<T>(path: string, o: { method?: string; body?: any } = {}): Promise<T> {
      if (o.method === 'DELETE') {
        policies.push(`${path.split('/').at(-2)} ${o.body.propagationPolicy}`);
        if (path.endsWith('/gone')) throw new KubeApiError(404, 'NotFound', 'not found', 'DELETE', path);
        if (path.endsWith('/replaced')) throw new KubeApiError(409, 'Conflict', 'uid precondition', 'DELETE', path);
        return {} as T;
      }
      return { items: path.includes('services') ? [{ metadata: { name: 'replaced', uid: 'other' } }] : [] } as T;
    },
  };
  const dep: Obj = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'ns', uid: 'd' } };
  await deleteAndWait(api, [dep, svc('gone', 'g'), svc('replaced', 'r')]);
  assert.deepEqual(policies.sort(), ['deployments Foreground', 'services Background', 'services Background']);
});
