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
import { randomBytes } from 'node:crypto';
import { httpRequest, podAnswer, tcpEcho } from './cluster.js';
import { env, rand, writeEnvFile, createNamespace, deleteNamespace, backedDeployment, waitReadyPod, eventually } from './expose-lib.js';
import { cli, run, type Cli } from './cli-proc.js';

let ns: string;
let vars: Record<string, string>;
let serve: Cli | undefined;
const envName = `link-${rand()}`;

interface Row { kind: string; envPort: number; state: string; reason: string; message?: string; listen?: { port: number } }
async function rows(): Promise<Row[]> {
  const r = await run(['status', '--env', envName, '-o', 'json'], vars);
  assert.equal(r.code, 0, r.out);
  return (JSON.parse(r.out) as { exposures: Row[] }).exposures;
}

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
  if (serve && serve.proc.exitCode === null) {
    serve.proc.kill('SIGTERM');
    await serve.exited;
  }
  await run(['down', '--env', envName], vars);
  deleteNamespace(ns);
});

test('the link to the cluster cut: status says ClusterUnreachable on every forward (never ready); back, both answer and are Ready within 5 s', async () => {
  const file = writeEnvFile(envName, [
    'def serve():',
    '    cloud.k8s.bind(env_port=8080, host_port=0, name="web")',
    '    cloud.k8s.bind(env_port=9000, host_port=0, name="echo", protocol="tcp")',
    '',
  ].join('\n'));
  serve = cli(['serve', '-f', file, '-n', ns, '--selector', 'app=app', '--probe-interval', '300'], vars);
  await serve.waitFor(/Press Ctrl-C/, 60_000);
  const start = await rows();
  const web = start.find((r) => r.envPort === 8080)!.listen!.port;
  const echo = start.find((r) => r.envPort === 9000)!.listen!.port;
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
  const t0 = Date.now();
  await eventually(async () => {
    assert.equal(podAnswer(await httpRequest('127.0.0.1', web, { timeoutMs: 2000 })).pod, pod);
    const payload = randomBytes(1024);
    assert.ok((await tcpEcho('127.0.0.1', echo, payload, 2000)).equals(payload));
    for (const r of await rows()) assert.equal(r.reason, 'Ready', JSON.stringify(r));
  }, 5000, 200);
  console.log(`# fault: link to the cluster back: both forwards answering and Ready ${Date.now() - t0} ms later`);
});
