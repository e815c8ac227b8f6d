// Leader election against a fake Lease API (resourceVersion checked like the API server's: a stale
// update is 409 Conflict) and fake monotonic clocks: one candidate leads; a frozen leader loses
// the Lease to the other after the lease duration, refuses its own writes the moment it wakes,
// and steps down; a released Lease is taken at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError } from '../apply/k8s/client.js';
import { guardWrites, LeaderElector, NotLeaderError } from './leader.js';
import type { Clock } from './workqueue.js';

const time = { t: 0 };
/** A clock on the shared time whose timers do not fire while it is frozen (the process is stopped). */
class ProcessClock implements Clock {
  frozen = false;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return time.t;
  }
  setTimer(fn: () => void, ms: number): () => void {
    const x = { at: time.t + ms, fn, live: true };
    this.timers.push(x);
    return () => { x.live = false; };
  }
  fire(): void {
    if (this.frozen) return;
    for (const x of this.timers.filter((y) => y.live && y.at <= time.t)) {
      x.live = false;
      x.fn();
    }
    this.timers = this.timers.filter((y) => y.live);
  }
}

function fakeLeaseApi() {
  let lease: any;
  let rv = 0;
  const writes: string[] = [];
  const path = '/apis/coordination.k8s.io/v1/namespaces/ops/leases/op';
  return {
    writes,
    get lease() { return lease; },
    async request<T>(p: string, o: { method?: string; body?: any } = {}): Promise<T> {
      const method = o.method ?? 'GET';
      if (method === 'GET') {
        if (!lease) throw new KubeApiError(404, 'NotFound', 'not found', method, p);
        return structuredClone(lease);
      }
      writes.push(`${method} ${o.body?.spec?.holderIdentity ?? ''}`);
      if (method === 'POST') {
        if (lease) throw new KubeApiError(409, 'AlreadyExists', 'exists', method, p);
        lease = { ...o.body, metadata: { ...o.body.metadata, resourceVersion: String(++rv) } };
        return structuredClone(lease);
      }
      assert.equal(p, path);
      if (o.body.metadata.resourceVersion !== lease.metadata.resourceVersion) throw new KubeApiError(409, 'Conflict', 'the object has been modified', method, p);
      lease = { ...o.body, metadata: { ...o.body.metadata, resourceVersion: String(++rv) } };
      return structuredClone(lease);
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));
async function advance(ms: number, clocks: ProcessClock[]): Promise<void> {
  for (let i = 0; i < ms; i += 100) {
    time.t += 100;
    for (const c of clocks) c.fire();
    for (let j = 0; j < 5; j++) await flush();
  }
}

test('leader election: one leads; frozen past the lease it refuses its writes on waking and steps down; the other took over in time; release hands over at once', async () => {
  time.t = 0;
  const api = fakeLeaseApi();
  const ca = new ProcessClock();
  const cb = new ProcessClock();
  const opts = { namespace: 'ops', name: 'op', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, marginMs: 2_000 };
  const a = new LeaderElector(api, { ...opts, identity: 'a', clock: ca });
  const b = new LeaderElector(api, { ...opts, identity: 'b', clock: cb });
  const stopA = new AbortController();
  const stopB = new AbortController();
  const leads: string[] = [];
  const lost: string[] = [];
  const runA = a.run(stopA.signal, (s) => { leads.push('a'); s.addEventListener('abort', () => lost.push('a')); });
  await flush();
  const runB = b.run(stopB.signal, (s) => { leads.push('b'); s.addEventListener('abort', () => lost.push('b')); });
  await advance(10_000, [ca, cb]);
  assert.deepEqual(leads, ['a'], 'one leader');
  assert.equal(api.lease.spec.holderIdentity, 'a');
  assert.ok(a.canWrite() && !b.canWrite());

  // a is frozen (SIGSTOP): its timers stop, time goes on.
  ca.frozen = true;
  const frozenAt = time.t;
  await advance(13_000, [ca, cb]);
  assert.ok(!a.canWrite(), 'a would refuse its writes already: its last renew is more than lease − margin ago');
  assert.equal(api.lease.spec.holderIdentity, 'a', 'not yet expired for b');
  await advance(7_000, [ca, cb]);
  assert.equal(api.lease.spec.holderIdentity, 'b', 'b took the Lease');
  assert.deepEqual(leads, ['a', 'b']);
  assert.ok(time.t - frozenAt <= 20_000);
  assert.equal(api.lease.spec.leaseTransitions, 1);

  // a wakes: before any of its code runs it already refuses writes, then it notices and steps down.
  ca.frozen = false;
  const writesBefore = api.writes.length;
  assert.equal(a.isLeading, true, 'a has not noticed yet');
  assert.equal(a.canWrite(), false);
  const guarded = guardWrites({ request: async () => assert.fail('a write was sent'), watch: async () => undefined } as any, () => a.canWrite());
  await assert.rejects(guarded.request('/api/v1/namespaces/x/services/y', { method: 'PATCH' }), NotLeaderError);
  await advance(3_000, [ca, cb]);
  assert.equal(a.isLeading, false);
  assert.deepEqual(lost, ['a']);
  assert.ok(api.writes.slice(writesBefore).every((w) => !w.endsWith(' a')), `a wrote nothing to the Lease after waking: ${api.writes.slice(writesBefore)}`);
  assert.equal(api.lease.spec.holderIdentity, 'b');
  assert.ok(b.canWrite());

  // b stops (SIGTERM): it releases the Lease, and a takes it within one retry period.
  stopB.abort();
  await advance(300, [ca, cb]);
  await runB;
  assert.equal(api.lease.spec.holderIdentity, '');
  await advance(2_100, [ca, cb]);
  assert.equal(api.lease.spec.holderIdentity, 'a');
  assert.deepEqual(leads, ['a', 'b', 'a']);
  stopA.abort();
  await advance(300, [ca, cb]);
  await runA;
});

test('leader election: of two candidates updating the same expired Lease, the stale resourceVersion gets 409 and only one leads', async () => {
  time.t = 0;
  const api = fakeLeaseApi();
  await api.request('/apis/coordination.k8s.io/v1/namespaces/ops/leases', { method: 'POST', body: { metadata: { name: 'op', namespace: 'ops' }, spec: { holderIdentity: 'gone', leaseDurationSeconds: 15 } } });
  const clock = new ProcessClock();
  const opts = { namespace: 'ops', name: 'op', retryPeriodMs: 2_000, clock };
  const a = new LeaderElector(api, { ...opts, identity: 'a' });
  const b = new LeaderElector(api, { ...opts, identity: 'b' });
  const ac = new AbortController();
  const leads: string[] = [];
  const runs = [a.run(ac.signal, () => leads.push('a')), b.run(ac.signal, () => leads.push('b'))];
  await advance(20_000, [clock]);
  assert.equal(leads.length, 1, `leaders: ${leads}`);
  assert.equal(api.lease.spec.holderIdentity, leads[0]);
  ac.abort();
  await advance(300, [clock]);
  await Promise.all(runs);
});

test('guardWrites: reads always pass; a write is sent only while canWrite() says yes', async () => {
  const sent: string[] = [];
  const client = { request: async (p: string, o: { method?: string } = {}) => { sent.push(`${o.method ?? 'GET'} ${p}`); return {}; }, watch: async () => undefined } as any;
  let ok = true;
  const refused: string[] = [];
  const g = guardWrites(client, () => ok, (m, p) => refused.push(`${m} ${p}`));
  await g.request('/a', { method: 'PATCH' });
  ok = false;
  await g.request('/b');
  await assert.rejects(g.request('/c', { method: 'DELETE' }), NotLeaderError);
  await assert.rejects(g.request('/d', { method: 'post' }), NotLeaderError);
  assert.deepEqual(sent, ['PATCH /a', 'GET /b']);
  assert.deepEqual(refused, ['DELETE /c', 'POST /d']);
});
