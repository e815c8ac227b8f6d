// The user's right to port-forward taken away while `envserve serve` runs (the RoleBinding for
// pods/portforward deleted): connections the API server now refuses must fail visibly (a reset,
// as a refused port does, not a clean close that reads like the app's answer), `status` must say
// Forbidden on every forward — the TCP one included, never `ready` — and both answer again once
// the right is given back. The real CLI, a ServiceAccount's token, the real node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpRequest, podAnswer } from './cluster.js';
import { rand, createNamespace, deleteNamespace, backedDeployment, mustKubectl, waitReadyPod, eventually } from './expose-lib.js';
import { createToken, tokenKubeconfig } from './operator-lib.js';
import { serveTwoForwards, type TwoForwards } from './two-forwards.js';

let ns: string;
let vars: Record<string, string>;
let forwards: TwoForwards | undefined;
const envName = `rbac-${rand()}`;

const binding = (ns: string) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'pf', namespace: ns },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pf' },
  subjects: [{ kind: 'ServiceAccount', name: 'dev', namespace: ns }],
});

/** How a connection to `port` that sends a request ends: 'ECONNRESET', 'closed' (a FIN), 'data'. */
function outcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.on('end', () => resolve('closed'));
    s.on('data', () => resolve('data'));
    setTimeout(() => resolve('hang'), 10_000).unref();
  });
}

before(async () => {
  ns = createNamespace('es-rbac');
  backedDeployment(ns, 'app', { app: 'app' });
  mustKubectl(['-n', ns, 'create', 'serviceaccount', 'dev']);
  mustKubectl(['-n', ns, 'create', 'role', 'pods', '--verb=get,list,watch', '--resource=pods']);
  mustKubectl(['-n', ns, 'create', 'rolebinding', 'pods', '--role=pods', `--serviceaccount=${ns}:dev`]);
  mustKubectl(['-n', ns, 'create', 'role', 'pf', '--verb=get,create', '--resource=pods/portforward']);
  mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify(binding(ns)));
  vars = { HOME: mkdtempSync(join(tmpdir(), 'envserve-home-')), KUBECONFIG: tokenKubeconfig(`dev-${ns}`, createToken(ns, 'dev')) };
  await waitReadyPod(ns, 'app=app', undefined, 60_000);
});

after(async () => {
  await forwards?.stop();
  deleteNamespace(ns);
});

test('the right to port-forward revoked mid-session: connections reset, status Forbidden on every forward (never ready); given back, both answer', async () => {
  forwards = await serveTwoForwards(envName, ns, vars);
  const { web, echo, rows } = forwards;
  const old = await waitReadyPod(ns, 'app=app');
  assert.equal(podAnswer(await httpRequest('127.0.0.1', web, { timeoutMs: 3000 })).pod, old);

  // Revoked; the pod replaced, so the next connection needs a new port-forward session (an open
  // one stays authorized, as kubectl's does).
  mustKubectl(['-n', ns, 'delete', 'rolebinding', 'pf']);
  mustKubectl(['-n', ns, 'delete', 'pod', old, '--wait=false']);
  const pod = await waitReadyPod(ns, 'app=app', old, 60_000);
  await assert.rejects(httpRequest('127.0.0.1', web, { timeoutMs: 5000 }), 'no answer without the right to port-forward');
  for (const port of [web, echo]) assert.equal(await outcome(port), 'ECONNRESET', `port ${port}: a refused port-forward resets its client`);
  await eventually(async () => {
    for (const r of await rows()) {
      assert.equal(r.reason, 'Forbidden', JSON.stringify(r));
      assert.notEqual(r.state, 'ready', JSON.stringify(r));
      assert.match(r.message ?? '', /pods\/portforward/);
    }
  }, 10_000, 300);

  // Given back: both forwards answer from the new pod, and status says so.
  mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify(binding(ns)));
  const ms = await forwards.answerFrom(pod, 15_000);
  console.log(`# fault: the right to port-forward given back: both forwards answering and Ready ${ms} ms later`);
});
