// Unit tests of the watched view of an environment's objects (fake API, no cluster).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WatchEvent } from './client.js';
import { Informer } from './informer.js';
import { ClusterView, SharedProbes } from './view.js';

/** A fake API: lists from `items`, and hands each watch's event callback to the test. */
function fakeApi(items: Record<string, any[]>) {
  const watchers: { path: string; on: (e: WatchEvent) => void; end: () => void }[] = [];
  return {
    watchers,
    async request<T>(path: string): Promise<T> {
      const key = Object.keys(items).find((k) => path.endsWith(k))!;
      return { items: items[key] ?? [], metadata: { resourceVersion: '1' } } as T;
    },
    watch(path: string, _q: unknown, on: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
      return new Promise((resolve) => {
        const w = { path, on, end: resolve };
        watchers.push(w);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    },
  };
}
const tick = () => new Promise((r) => setImmediate(r));

test('informer: lists, then follows ADDED / MODIFIED / DELETED, telling listeners which object changed', async () => {
  const api = fakeApi({ services: [{ metadata: { name: 'a', resourceVersion: '1' } }] });
  const inf = new Informer<any>(api, '/api/v1/namespaces/ns/services', 'x=y');
  await inf.start();
  await tick();
  assert.equal(inf.get('a')?.metadata.name, 'a');
  const seen: string[] = [];
  inf.on('change', (name: string, o?: any) => seen.push(`${name}:${o ? 'there' : 'gone'}`));
  const w = api.watchers[0]!;
  w.on({ type: 'ADDED', object: { metadata: { name: 'b', resourceVersion: '2' } } });
  w.on({ type: 'DELETED', object: { metadata: { name: 'a', resourceVersion: '3' } } });
  w.on({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '4' } } });
  assert.deepEqual(seen, ['b:there', 'a:gone']);
  assert.deepEqual(inf.all().map((o) => o.metadata.name), ['b']);
  inf.stop();
});

test('view: ready endpoints of a Service from its slices, and changes of the Service or its slices reach its subscribers only', async () => {
  const slice = (name: string, svc: string, ready: boolean[]) => ({
    metadata: { name, resourceVersion: '1', labels: { 'kubernetes.io/service-name': svc } },
    endpoints: ready.map((r, i) => ({ addresses: [`10.0.0.${i + 1}`], conditions: { ready: r } })),
    ports: [{ port: 8080 }],
  });
  const api = fakeApi({ services: [], endpointslices: [slice('s1-x', 's1', [true, false]), slice('s2-x', 's2', [])], ingresses: [] });
  const v = new ClusterView(api, 'ns', 'env');
  await v.start();
  await tick();
  assert.deepEqual(v.readyEndpoints('s1'), { addresses: ['10.0.0.1'], ports: [8080] });
  assert.deepEqual(v.readyEndpoints('s2').addresses, []);
  let s1 = 0;
  let s2 = 0;
  const off = v.onService('s1', () => s1++);
  v.onService('s2', () => s2++);
  const sliceWatch = api.watchers.find((w) => w.path.endsWith('endpointslices'))!;
  sliceWatch.on({ type: 'MODIFIED', object: slice('s1-x', 's1', [false, false]) });
  assert.deepEqual([s1, s2], [1, 0]);
  assert.deepEqual(v.readyEndpoints('s1').addresses, []);
  api.watchers.find((w) => w.path.endsWith('services'))!.on({ type: 'MODIFIED', object: { metadata: { name: 's2', resourceVersion: '5' } } });
  assert.deepEqual([s1, s2], [1, 1]);
  off();
  sliceWatch.on({ type: 'MODIFIED', object: slice('s1-x', 's1', [true]) });
  assert.equal(s1, 1, 'unsubscribed');
  v.stop();
});

test('shared probes: one run for everyone asking with the same key at about the same time', async () => {
  const shared = new SharedProbes(1000);
  let runs = 0;
  const probe = async () => {
    runs++;
    await new Promise((r) => setTimeout(r, 20));
    return runs;
  };
  const results = await Promise.all(Array.from({ length: 40 }, () => shared.run('k', probe)));
  assert.equal(runs, 1);
  assert.ok(results.every((r) => r === 1));
  await shared.run('other', probe);
  assert.equal(runs, 2, 'another key runs its own probe');
  const fresh = new SharedProbes(0);
  await fresh.run('k', probe);
  await new Promise((r) => setTimeout(r, 5));
  await fresh.run('k', probe);
  assert.equal(runs, 4, 'an answer older than maxAge is not reused');
});
