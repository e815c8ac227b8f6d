// The operator as the controller's plan source, against a fake Kubernetes API: what is submitted,
// what stays local on Ready and on a denial, and an operator that never answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StaticPlanSource } from '../../engine/plan-source.js';
import type { Plan } from '../../plan/types.js';
import { versionSkew, type ThroughOperator } from './cli-client.js';
import { operatorPlanSource } from './plan-source.js';
import type { ExposureSet, ExposureSetStatus } from '../resource.js';
import type { OperatorReason } from '../../reasons.js';

const plan: Plan = {
  apiVersion: 'envserve/v1', kind: 'Plan', source: '/x/build.envd', warnings: [],
  env: { name: 'demo', services: [{ name: 'web', port: 8080, protocol: 'http' }] } as unknown as Plan['env'],
  exposures: [
    { id: 'port-forward-web-18080', kind: 'k8s-port-forward', envPort: 8080, hostPort: 18080, listenAddress: '127.0.0.1', protocol: 'http', position: 'build.envd:2:5', declaredBy: 'cloud.k8s.bind' },
    { id: 'service-web-8080', kind: 'k8s-service', envPort: 8080, serviceType: 'ClusterIP', servicePort: 8080, protocol: 'http', position: 'build.envd:3:5', declaredBy: 'cloud.k8s.bind' },
  ] as unknown as Plan['exposures'],
};

/** A fake API: the apply returns generation 1; GET returns the status the "operator" wrote (or none). */
function fakeApi(status: ExposureSetStatus | undefined) {
  const applied: ExposureSet[] = [];
  return {
    applied,
    client: {
      request: async <T>(path: string, o?: { method?: string; body?: unknown }): Promise<T> => {
        if (o?.method === 'PATCH') {
          applied.push(o.body as ExposureSet);
          return { ...(o.body as ExposureSet), metadata: { ...(o.body as ExposureSet).metadata, generation: 1, resourceVersion: '1' } } as T;
        }
        const set = { ...applied.at(-1)!, metadata: { ...applied.at(-1)!.metadata, generation: 1, resourceVersion: '1' }, ...(status && { status }) };
        return (path.endsWith('/exposuresets') ? { items: [set], metadata: { resourceVersion: '1' } } : set) as T; // a LIST by name, or a GET
      },
      watch: (_p: string, _q: unknown, _cb: unknown, signal: AbortSignal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true })),
    },
  };
}

const cond = (type: string, s: 'True' | 'False', reason: OperatorReason, message = '') => ({ type, status: s, reason, message, lastTransitionTime: '' });

test('Ready: the cluster exposures are submitted as the ExposureSet, only the admitted port-forward stays local', async () => {
  const api = fakeApi({ observedGeneration: 1, conditions: [cond('Admitted', 'True', 'Admitted'), cond('Ready', 'True', 'Ready'), cond('Denied', 'False', 'Admitted')], exposures: [{ id: 'port-forward-web-18080', kind: 'k8s-port-forward', decision: 'Admitted', reason: 'Admitted' }, { id: 'service-web-8080', kind: 'k8s-service', decision: 'Admitted', reason: 'Ready', ready: true, url: 'http://10.0.0.1:8080/', addresses: ['10.0.0.1:8080'] }] } as ExposureSetStatus);
  const verdicts: ThroughOperator[] = [];
  const src = operatorPlanSource(new StaticPlanSource(plan), api.client as any, 'team-a', { signal: new AbortController().signal, selector: { app: 'web' }, onVerdict: (r) => verdicts.push(r) });
  const local = await src.load();
  assert.deepEqual(local.exposures.map((e) => e.id), ['port-forward-web-18080']);
  assert.equal(api.applied[0]!.metadata.namespace, 'team-a');
  assert.deepEqual(api.applied[0]!.spec.selector, { app: 'web' });
  assert.deepEqual(api.applied[0]!.spec.exposures.map((e) => e.id), ['port-forward-web-18080', 'service-web-8080']);
  assert.equal(verdicts[0]!.verdict.state, 'Ready');
  // The operator's exposures are in the status; what it holds for us is recorded as owned.
  // Its ClusterIP answers only inside the cluster: shown as such, never as a URL (issue 22).
  assert.deepEqual(src.remote!.status().map((r) => [r.id, r.state, r.reason, r.urls, r.inCluster]), [['service-web-8080', 'ready', 'Ready', [], ['http://10.0.0.1:8080/']]]);
  assert.deepEqual(src.remote!.owned(), [{ kind: 'ExposureSet', namespace: 'team-a', name: 'demo' }]);
  // The planned exposures behind those rows, so the status links a ClusterIP to what reaches it.
  assert.deepEqual(src.remote!.exposures!().map((e) => e.id), ['port-forward-web-18080', 'service-web-8080']);
});

test('Denied: no error; the port-forwards the policy admitted still run, the verdict goes to the front end', async () => {
  const api = fakeApi({ observedGeneration: 1, conditions: [cond('Admitted', 'False', 'PolicyDenied'), cond('Denied', 'True', 'PolicyDenied', 'ClusterIP is not allowed')], exposures: [{ id: 'port-forward-web-18080', kind: 'k8s-port-forward', decision: 'Admitted', reason: 'Admitted' }, { id: 'service-web-8080', kind: 'k8s-service', decision: 'Denied', reason: 'PolicyDenied', message: 'ClusterIP is not allowed' }] } as ExposureSetStatus);
  let verdict: ThroughOperator | undefined;
  const src = operatorPlanSource(new StaticPlanSource(plan), api.client as any, 'team-a', { signal: new AbortController().signal, onVerdict: (r) => (verdict = r) });
  assert.deepEqual((await src.load()).exposures.map((e) => e.id), ['port-forward-web-18080']);
  assert.equal(verdict!.verdict.state, 'Denied');
  assert.deepEqual(src.remote!.status().map((r) => [r.id, r.state, r.reason, r.message]), [['service-web-8080', 'failed', 'PolicyDenied', 'ClusterIP is not allowed']]);
});

test('admitted but not Ready (no pod behind the Service yet): after the grace, the admitted port-forward runs and the status shows why', async () => {
  const api = fakeApi({ observedGeneration: 1, conditions: [cond('Admitted', 'True', 'Admitted'), cond('Ready', 'False', 'NoEndpoints'), cond('Denied', 'False', 'Admitted')], exposures: [{ id: 'port-forward-web-18080', kind: 'k8s-port-forward', decision: 'Admitted', reason: 'Admitted' }, { id: 'service-web-8080', kind: 'k8s-service', decision: 'Admitted', reason: 'NoEndpoints', ready: false, message: 'no Ready pod' }] } as ExposureSetStatus);
  let verdict: ThroughOperator | undefined;
  const src = operatorPlanSource(new StaticPlanSource(plan), api.client as any, 'team-a', { signal: new AbortController().signal, readyGraceMs: 20, onVerdict: (r) => (verdict = r) });
  assert.deepEqual((await src.load()).exposures.map((e) => e.id), ['port-forward-web-18080']);
  assert.equal(verdict!.verdict.state, 'Admitted');
  assert.deepEqual(src.remote!.status().map((r) => [r.id, r.state, r.reason]), [['service-web-8080', 'waiting', 'NoEndpoints']]);
});

test('version skew: an operator of another minor version is named; same minor is fine', () => {
  assert.equal(versionSkew({ operatorVersion: '0.1.7' }, '0.1.0'), undefined);
  assert.equal(versionSkew({}, '0.1.0'), undefined);
  assert.equal(versionSkew({ operatorVersion: '0.2.0' }, '0.1.0'), "version skew: the envserve operator in this cluster is 0.2.0, this envserve is 0.1.0; use the CLI of the operator's minor version (or ask ops to upgrade the operator)");
});

test('no operator answers: a RuntimeFailure that names --no-operator; stopped while waiting: no error', async () => {
  const src = operatorPlanSource(new StaticPlanSource(plan), fakeApi(undefined).client as any, 'team-a', { signal: new AbortController().signal, noOperatorMs: 50, onVerdict: () => assert.fail('no verdict') });
  await assert.rejects(src.load(), (e: Error & { hint?: string }) => /no envserve operator answered/.test(e.message) && /--no-operator/.test(e.hint ?? ''));
  const ac = new AbortController();
  const stopped = operatorPlanSource(new StaticPlanSource(plan), fakeApi(undefined).client as any, 'team-a', { signal: ac.signal, onVerdict: () => assert.fail('no verdict') });
  setTimeout(() => ac.abort(), 20);
  assert.deepEqual((await stopped.load()).exposures, []);
});
