// The proposal's three example files, verbatim (typos included), and the plans they must give.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envserve } from '../../test/helpers/cli.js';
import { planFromFile } from './from-file.js';

const dir = 'testdata/examples';

test('seed-minimal: Jupyter in build(), and a warning that server() is not serve()', () => {
  const plan = planFromFile(`${dir}/seed-minimal.envd`);
  assert.equal(plan.env.name, 'examples');
  assert.deepEqual(plan.env.base, { os: 'ubuntu20.04', language: 'python' });
  assert.deepEqual(plan.env.services, [{ name: 'jupyter', port: 8888, protocol: 'http', urlPath: '/lab' }]);
  assert.equal(plan.env.jupyter?.port, 8888);
  assert.match(plan.env.jupyter?.passwordHash ?? '', /^sha1:[0-9a-f]{12}:[0-9a-f]{40}$/);
  assert.deepEqual(plan.exposures, []);
  assert.equal(plan.warnings.length, 1);
  assert.match(plan.warnings[0]!.message, /defines server\(\), but envserve calls serve\(\)/);
  assert.match(plan.warnings[0]!.position ?? '', /^testdata\/examples\/seed-minimal\.envd:7:\d+$/);
});

test('seed-host: Jupyter on this machine at 127.0.0.1:1234, with the juypter typo accepted', () => {
  const plan = planFromFile(`${dir}/seed-host.envd`);
  assert.deepEqual(plan.exposures, [
    {
      id: 'host-jupyter-1234',
      kind: 'host',
      envPort: 8888,
      protocol: 'http',
      position: 'testdata/examples/seed-host.envd:7:5',
      declaredBy: 'host.bind',
      hostPort: 1234,
      listenAddress: '127.0.0.1',
    },
  ]);
  assert.equal(plan.warnings.length, 1);
  assert.equal(plan.warnings[0]!.message, 'presets.juypter is a misspelling of presets.jupyter; using presets.jupyter');
  assert.match(plan.warnings[0]!.position ?? '', /^testdata\/examples\/seed-host\.envd:7:\d+$/);
});

test('seed-cloud: a port-forward to 1234 and a ClusterIP Service on 1234', () => {
  const plan = planFromFile(`${dir}/seed-cloud.envd`);
  assert.deepEqual(plan.exposures, [
    {
      id: 'port-forward-jupyter-1234',
      kind: 'k8s-port-forward',
      envPort: 8888,
      protocol: 'http',
      position: 'testdata/examples/seed-cloud.envd:7:5',
      declaredBy: 'cloud.k8s.bind',
      hostPort: 1234,
      listenAddress: '127.0.0.1',
    },
    {
      id: 'service-jupyter',
      kind: 'k8s-service',
      envPort: 8888,
      protocol: 'http',
      position: 'testdata/examples/seed-cloud.envd:8:5',
      declaredBy: 'cloud.k8s.bind',
      serviceType: 'ClusterIP',
      servicePort: 1234,
    },
  ]);
  assert.deepEqual(plan.warnings.map((w) => w.position?.replace(/:\d+$/, '')), [
    'testdata/examples/seed-cloud.envd:7',
    'testdata/examples/seed-cloud.envd:8',
  ]);
});

test('the same file gives the same plan, ids included, in another process (envserve plan -o json)', () => {
  // Not the plan compared with itself: another run (a child process, through the CLI) must give
  // the same plan, so nothing in it may depend on the process (pid, time, a random salt, a counter).
  for (const f of ['seed-minimal', 'seed-host', 'seed-cloud']) {
    const r = envserve(['plan', '-f', `${dir}/${f}.envd`, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), JSON.parse(JSON.stringify(planFromFile(`${dir}/${f}.envd`))), f);
  }
});
