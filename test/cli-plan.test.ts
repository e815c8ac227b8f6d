// The plan, render and presets commands end to end: the real binary, real files, exit codes.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { envserve } from './helpers/cli.js';

function tempEnvFile(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-cli-'));
  const file = join(dir, 'build.envd');
  writeFileSync(file, source);
  return file;
}

test('plan -o json on the proposal host example is the JSON contract', () => {
  const r = envserve(['plan', '-f', 'testdata/examples/seed-host.envd', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout);
  assert.equal(plan.apiVersion, 'envserve/v1');
  assert.equal(plan.kind, 'Plan');
  assert.equal(plan.source, 'testdata/examples/seed-host.envd');
  assert.deepEqual(plan.exposures.map((e: { kind: string; envPort: number; hostPort: number }) => [e.kind, e.envPort, e.hostPort]), [['host', 8888, 1234]]);
  assert.match(r.stderr, /warning: testdata\/examples\/seed-host\.envd:7:\d+: presets\.juypter is a misspelling of presets\.jupyter/);
  // The seed's password is the word "password": only its hash may appear.
  assert.doesNotMatch(r.stdout + r.stderr, /:\s*"password"|=password\b/, 'the Jupyter password is never printed');
  assert.match(plan.env.jupyter.passwordHash, /^sha1:[0-9a-f]{12}:[0-9a-f]{40}$/);
});

test('plan -o yaml parses to the same plan as -o json', () => {
  const json = JSON.parse(envserve(['plan', '-f', 'testdata/examples/seed-cloud.envd', '-o', 'json']).stdout);
  const yaml = parseYaml(envserve(['plan', '-f', 'testdata/examples/seed-cloud.envd', '-o', 'yaml']).stdout);
  assert.deepEqual(yaml, json);
});

test('plan prints a readable table by default', () => {
  const r = envserve(['plan', '-f', 'testdata/examples/seed-cloud.envd']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /port-forward-jupyter-1234\s+k8s-port-forward\s+8888\s+127\.0\.0\.1:1234 \(port-forward\)/);
  assert.match(r.stdout, /service-jupyter\s+k8s-service\s+8888\s+ClusterIP port 1234/);
});

test('a missing file exits 2 naming the path', () => {
  const r = envserve(['plan', '-f', 'no/such/build.envd']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no\/such\/build\.envd: no such file/);
  assert.equal(r.stdout, '');
});

test('the default file is ./build.envd', () => {
  const file = tempEnvFile('def serve():\n    host.bind(env_port=8888, host_port=1234)\n');
  const r = envserve(['plan', '-o', 'json'], { cwd: join(file, '..') });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).source, 'build.envd');
});

test('a syntax error exits 2 with file:line:col and a caret', () => {
  const file = tempEnvFile('def serve():\n    host.bind(env_port=8888,, host_port=1)\n');
  const r = envserve(['plan', '-f', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`^${file.replace(/[.]/g, '\\.')}:2:\\d+: `));
  assert.match(r.stderr, /\n\s+host\.bind\(env_port=8888,, host_port=1\)\n\s+\^/);
  assert.equal(r.stdout, '');
});

test('a wrong argument type exits 2 naming the function and the argument', () => {
  const file = tempEnvFile('def serve():\n    host.bind(env_port="8888")\n');
  const r = envserve(['plan', '-f', file, '-o', 'json']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /:2:5: host\.bind: env_port must be an int between 1 and 65535, got string "8888"/);
  assert.equal(r.stdout, '', 'no partial output on stdout');
});

test('an invalid plan reports every problem, exits 2 and prints nothing on stdout', () => {
  const file = tempEnvFile(
    'def serve():\n' +
      '    host.bind(env_port=8888, host_port=1234)\n' +
      '    host.bind(env_port=9999, host_port=1234)\n' +
      '    cloud.k8s.bind(env_port=8888, type=cloud.k8s.nodePort, node_port=99)\n',
  );
  const r = envserve(['plan', '-f', file, '-o', 'json']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /:3:5: host\.bind: host port 1234 on 127\.0\.0\.1 is already used by host\.bind at .*:2:5/);
  assert.match(r.stderr, /:4:5: cloud\.k8s\.bind: node_port must be in the NodePort range 30000-32767, got 99/);
  assert.match(r.stderr, /the plan has 2 problems; nothing was applied/);
});

test('usage errors exit 2', () => {
  assert.equal(envserve(['plan', '-o', 'xml', '-f', 'testdata/examples/seed-host.envd']).code, 2);
  assert.equal(envserve(['no-such-command']).code, 2);
  assert.equal(envserve(['--version']).code, 0);
});

test('render prints Service YAML carrying ownership labels', () => {
  const r = envserve(['render', '-f', 'testdata/examples/seed-cloud.envd', '-n', 'team-a', '--name', 'nb']);
  assert.equal(r.code, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
  assert.equal(docs.length, 1, 'a port-forward has no object; the ClusterIP binding is one Service');
  const svc = docs[0];
  assert.equal(svc.kind, 'Service');
  assert.equal(svc.metadata.namespace, 'team-a');
  assert.equal(svc.metadata.labels['app.kubernetes.io/managed-by'], 'envserve');
  assert.equal(svc.metadata.labels['envserve.dev/env'], 'nb');
  assert.equal(svc.metadata.labels['envserve.dev/exposure'], 'service-jupyter');
  assert.deepEqual(svc.spec.ports, [{ name: 'http', protocol: 'TCP', port: 1234, targetPort: 8888 }]);
  assert.deepEqual(svc.spec.selector, { 'envserve.dev/env': 'nb' });
});

test('render adds a Deployment when build() names an image, and an Ingress in front of its Service', () => {
  const file = tempEnvFile(
    'def build():\n' +
      '    base(image="jupyter/base-notebook:latest")\n' +
      '    config.jupyter(password="pw")\n' +
      'def serve():\n' +
      '    cloud.k8s.bind(env_port=presets.jupyter.port, type=cloud.k8s.clusterIP, service_port=80, access="public",\n' +
      '                   ingress=cloud.k8s.ingress(host="nb.example.com", class_name="traefik", annotations={"a": "b"}))\n',
  );
  const r = envserve(['render', '-f', file, '--name', 'nb']);
  assert.equal(r.code, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
  assert.deepEqual(docs.map((d) => d.kind), ['Deployment', 'Service', 'Ingress']);
  const [deploy, svc, ing] = docs;
  assert.equal(deploy.spec.template.spec.containers[0].image, 'jupyter/base-notebook:latest');
  assert.deepEqual(deploy.spec.template.spec.containers[0].ports, [{ containerPort: 8888, protocol: 'TCP' }]);
  assert.doesNotMatch(r.stdout, /\bpw\b/, 'only the hash of the password reaches the Deployment');
  assert.match(JSON.stringify(deploy), /hashed_password=sha1:[0-9a-f]{12}:[0-9a-f]{40}/);
  assert.equal(ing.spec.ingressClassName, 'traefik');
  assert.equal(ing.metadata.annotations.a, 'b');
  assert.equal(ing.spec.rules[0].host, 'nb.example.com');
  assert.deepEqual(ing.spec.rules[0].http.paths[0].backend.service, { name: svc.metadata.name, port: { number: 80 } });
});

test('presets lists the well-known services', () => {
  const r = envserve(['presets', '-o', 'json']);
  assert.equal(r.code, 0);
  const byName = Object.fromEntries(JSON.parse(r.stdout).map((p: { name: string; port: number }) => [p.name, p.port]));
  assert.deepEqual(
    { jupyter: 8888, rstudio: 8787, tensorboard: 6006, vscode: 8080, ssh: 2222, mlflow: 5000, streamlit: 8501, gradio: 7860, ray: 8265 },
    Object.fromEntries(Object.keys({ jupyter: 0, rstudio: 0, tensorboard: 0, vscode: 0, ssh: 0, mlflow: 0, streamlit: 0, gradio: 0, ray: 0 }).map((k) => [k, byName[k]])),
  );
  assert.match(envserve(['presets']).stdout, /^NAME\s+PORT\s+PROTOCOL\s+DESCRIPTION\njupyter\s+8888\s+http/);
});
