// The controller's loop against a fake API (lists, watches that stay open, Services applied and
// read back): a set that is not Ready yet is looked at again after requeueAfter and stops being
// looked at once Ready; a failing reconcile is retried with a growing delay; with a leader that
// may not write, nothing is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError } from '../apply/k8s/client.js';
import { Operator } from './controller.js';
import type { LeaderElector } from './leader.js';

const SET = {
  apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposureSet',
  metadata: { name: 's1', namespace: 'ns', uid: 'u1', generation: 1, resourceVersion: '5', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { env: 's1', exposures: [{ id: 'service-web', kind: 'k8s-service', envPort: 8080, protocol: 'tcp', position: 's1:1:1', declaredBy: 'cloud.k8s.bind', serviceType: 'ClusterIP', servicePort: 8080 }] },
};

function fakeApi(o: { failApplies?: number } = {}) {
  const writes: { at: number; method: string; path: string }[] = [];
  const state = { endpointsReady: false, failApplies: o.failApplies ?? 0, applyAttempts: [] as number[] };
  const applied = new Map<string, any>();
  const t0 = Date.now();
  const api = {
    async request<T>(path: string, opts: { method?: string; body?: any } = {}): Promise<T> {
      const method = opts.method ?? 'GET';
      if (method !== 'GET') writes.push({ at: Date.now() - t0, method, path });
      if (method === 'GET') {
        if (path.endsWith('/exposuresets')) return { items: [structuredClone(SET)], metadata: { resourceVersion: '10' } } as T;
        if (path === '/api/v1/namespaces') return { items: [{ metadata: { name: 'ns', labels: { 'kubernetes.io/metadata.name': 'ns' } } }], metadata: { resourceVersion: '10' } } as T;
        if (path.includes('/namespaces/ns/endpointslices')) return { items: [{ endpoints: state.endpointsReady ? [{ conditions: { ready: true } }] : [] }] } as T;
        if (/\/namespaces\/ns\/(services|ingresses)\/[^/]+$/.test(path)) {
          const got = applied.get(path);
          if (!got) throw new KubeApiError(404, 'NotFound', 'not found', method, path);
          return got as T;
        }
        return { items: [], metadata: { resourceVersion: '10' } } as T; // every other list
      }
      if (path.endsWith('/status')) return { ...structuredClone(SET), status: opts.body.status, metadata: { ...SET.metadata, resourceVersion: String(20 + writes.length) } } as T;
      if (method === 'PATCH') {
        state.applyAttempts.push(Date.now() - t0);
        if (state.failApplies > 0) {
          state.failApplies--;
          throw new KubeApiError(500, 'InternalError', 'etcd is having a bad day', method, path);
        }
        const obj = { ...opts.body, spec: { ...opts.body.spec, clusterIP: '10.96.0.9' } };
        applied.set(path, obj);
        return obj as T;
      }
      return {} as T;
    },
    watch(_path: string, _q: unknown, _on: unknown, signal: AbortSignal): Promise<void> {
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    },
  };
  return { api, writes, state };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quiet = () => undefined;

test('controller: a set not Ready yet comes back after requeueAfter (never sooner), and no more once Ready', async () => {
  const { api, state } = fakeApi();
  const op = new Operator(api, { requeueMs: 150, log: quiet });
  const ac = new AbortController();
  const run = op.run(ac.signal);
  await sleep(500);
  const whileNotReady = op.stats.reconciles;
  // 500 ms at one look per 150 ms (plus the first): at most 4 (no busy loop), and more than one.
  assert.ok(whileNotReady >= 2 && whileNotReady <= 4, `reconciles while not Ready: ${whileNotReady}`);
  state.endpointsReady = true;
  await sleep(300);
  const atReady = op.stats.reconciles;
  assert.equal(op.sets.get('ns/s1')?.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
  await sleep(500);
  assert.equal(op.stats.reconciles, atReady, 'a Ready set is not looked at again without an event');
  ac.abort();
  await run;
});

test('controller: a failing reconcile is retried after a delay that doubles, then succeeds', async () => {
  const { api, state } = fakeApi({ failApplies: 3 });
  const op = new Operator(api, { requeueMs: 10_000, baseBackoffMs: 80, log: quiet });
  const ac = new AbortController();
  const run = op.run(ac.signal);
  await sleep(1000);
  ac.abort();
  await run;
  assert.equal(op.stats.errors, 3);
  const a = state.applyAttempts;
  assert.equal(a.length, 4, `apply attempts at ${a.join(', ')} ms`);
  const gaps = a.slice(1).map((t, i) => t - a[i]!);
  assert.ok(gaps[0]! >= 75 && gaps[1]! >= 155 && gaps[2]! >= 315, `gaps ${gaps.join(', ')} ms: at least 80, 160, 320`);
  assert.ok(gaps[2]! < 1000, `capped growth, not stuck: ${gaps.join(', ')}`);
});

test('controller: with a leader that may not write, the workers run but nothing is sent (each write is refused)', async () => {
  const { api, writes } = fakeApi();
  let may = false;
  const leader = {
    canWrite: () => may,
    run: async (signal: AbortSignal, lead: (s: AbortSignal) => void) => {
      lead(signal);
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    },
  } as unknown as LeaderElector;
  const op = new Operator(api, { requeueMs: 100, log: quiet, leader });
  const ac = new AbortController();
  const run = op.run(ac.signal);
  await sleep(400);
  assert.equal(writes.length, 0, `sent: ${JSON.stringify(writes)}`);
  assert.ok(op.stats.refusedWrites >= 1, 'the workers tried');
  may = true;
  await sleep(1500);
  assert.ok(writes.some((w) => w.method === 'PATCH' && w.path.endsWith('/status')), 'once it may, it writes');
  ac.abort();
  await run;
});
