// `envserve render` output accepted by a real API server: kubectl apply --dry-run=client and
// --dry-run=server (admission and validation of the real kube-apiserver), nothing persisted.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { envserve } from '../helpers/cli.js';
import { clusterEnv, kubectl } from './cluster.js';

const FULL = `
def build():
    base(image="localhost/envserve-test:1")
    config.jupyter(password="pw")
    runtime.daemon(commands=[["python3", "-m", "http.server", "8000"]])
    runtime.environ(env={"MODE": "dev"})
def serve():
    cloud.k8s.bind(env_port=presets.jupyter.port, host_port=1234)
    cloud.k8s.bind(env_port=presets.jupyter.port, type=cloud.k8s.clusterIP, service_port=1234,
                   access="public", ingress=cloud.k8s.ingress(host="nb.example.com", path="/", class_name="traefik", annotations={"x": "y"}))
    cloud.k8s.bind(env_port=8000, type=cloud.k8s.nodePort, service_port=8000, node_port=30080)
    cloud.k8s.bind(env_port=6006, type=cloud.k8s.loadBalancer)
`;

function rendered(source: string, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-render-'));
  writeFileSync(join(dir, 'build.envd'), source);
  const r = envserve(['render', '-f', join(dir, 'build.envd'), '-n', 'default', '--name', name]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

for (const dryRun of ['client', 'server']) {
  test(`the proposal's cloud example renders to YAML that kubectl apply --dry-run=${dryRun} accepts`, () => {
    const { kubeconfig } = clusterEnv();
    const yaml = envserve(['render', '-f', 'testdata/examples/seed-cloud.envd', '-n', 'default']).stdout;
    const r = kubectl(kubeconfig, ['apply', `--dry-run=${dryRun}`, '-f', '-'], yaml);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /service\/examples-jupyter created \((server )?dry run\)/);
  });

  test(`a Deployment, three Service types and an Ingress render to YAML that kubectl apply --dry-run=${dryRun} accepts`, () => {
    const { kubeconfig } = clusterEnv();
    const r = kubectl(kubeconfig, ['apply', `--dry-run=${dryRun}`, '-f', '-'], rendered(FULL, 'render-check'));
    assert.equal(r.code, 0, r.stderr);
    for (const obj of [
      'deployment.apps/render-check',
      'service/render-check-jupyter',
      'ingress.networking.k8s.io/render-check-jupyter',
      'service/render-check-8000',
      'service/render-check-6006',
    ]) {
      assert.match(r.stdout, new RegExp(`${obj.replace(/[./]/g, '\\$&')} created`), r.stdout);
    }
  });
}

test('nothing was persisted by the dry runs', () => {
  const { kubeconfig } = clusterEnv();
  const r = kubectl(kubeconfig, ['get', 'services,deployments,ingresses', '-A', '-l', 'app.kubernetes.io/managed-by=envserve', '-o', 'name']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /render-check|examples-jupyter/);
});
