// The host's link to the cluster cut while `envserve serve` holds an HTTP and a TCP forward (a
// laptop off the network; link.sh makes the cluster's addresses unreachable): `status` must say
// ClusterUnreachable on both meanwhile — the TCP one too, whose probe cannot tell a forward that
// reaches nothing from an app that waits for the client to speak — and both must answer again,
// with status Ready, within 5 s of the link coming back. The real CLI, the real node.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env, rand, createNamespace, deleteNamespace, backedDeployment, waitReadyPod, eventually } from './expose-lib.js';
import { serveTwoForwards, type TwoForwards } from './two-forwards.js';

let ns: string;
let vars: Record<string, string>;
let forwards: TwoForwards | undefined;
const envName = `link-${rand()}`;

function link(dir: 'up' | 'down'): void {
  const r = spawnSync('bash', ['scripts/testenv/k8s/link.sh', dir], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`link.sh ${dir}: ${r.stderr}`);
}

before(async () => {
  ns = createNamespace('es-link');
  backedDeployment(ns, 'app', { app: 'app' });
  vars = { HOME: mkdtempSync(join(tmpdir(), 'envserve-home-')), KUBECONFIG: env.kubeconfig };
  await waitReadyPod(ns, 'app=app', undefined, 60_000);
});

after(async () => {
  link('up');
  await forwards?.stop();
  deleteNamespace(ns);
});

test('the link to the cluster cut: status says ClusterUnreachable on every forward (never ready); back, both answer and are Ready within 5 s', async () => {
  forwards = await serveTwoForwards(envName, ns, vars);
  const { rows } = forwards;
  const pod = await waitReadyPod(ns, 'app=app');

  link('down');
  try {
    await eventually(async () => {
      for (const r of await rows()) {
        assert.equal(r.reason, 'ClusterUnreachable', JSON.stringify(r));
        assert.notEqual(r.state, 'ready', JSON.stringify(r));
      }
    }, 15_000, 300);
  } finally {
    link('up');
  }
  const ms = await forwards.answerFrom(pod, 5000);
  console.log(`# fault: link to the cluster back: both forwards answering and Ready ${ms} ms later`);
});
