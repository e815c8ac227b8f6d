// The engine on the real cluster through the real CLI: editing the env file while `serve` runs
// (a NodePort and an Ingress added → created and answering; a node_port changed → the same Service
// updated in place; removed → deleted from the cluster and from status), and `down` from a clean
// environment (no KUBECONFIG, no ~/.kube/config, another directory, only -f) after a `serve` with
// a non-default namespace and a non-current context was SIGKILLed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { httpRequest, podAnswer, eventually } from './cluster.js';
import { cli, run } from './cli-proc.js';
import { env, rand, writeEnvFile, createNamespace, deleteNamespace, kubectlJson, ownedObjects, backedDeployment, waitReadyPod, freePort, freeNodePorts } from './expose-lib.js';

let ns: string;

before(() => {
  ns = createNamespace('lifecycle');
  backedDeployment(ns, 'web', { app: 'web' });
});
after(() => deleteNamespace(ns));

const uidOf = (kind: string, name: string) => kubectlJson(['-n', ns, 'get', kind, name]).metadata.uid as string;

test('serve --runtime k8s: NodePort and Ingress added, changed in place, removed — in the cluster and in status', async () => {
  const envName = `reload-${rand()}`;
  const home = mkdtempSync(join(tmpdir(), 'envserve-home-'));
  const vars = { HOME: home, KUBECONFIG: env.kubeconfig };
  await waitReadyPod(ns, 'app=web');
  const pf = await freePort();
  const [np1, np2] = freeNodePorts(2);
  const host = `${envName}.reload.test`;
  const base = `    cloud.k8s.bind(env_port=8080, host_port=${pf}, name="web")\n    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=8081, name="web")\n`;
  const withMore = (nodePort: number, servicePort: number) =>
    `def serve():\n${base}    cloud.k8s.bind(env_port=8080, type=cloud.k8s.nodePort, service_port=${servicePort}, node_port=${nodePort}, name="np", access="public", ingress=cloud.k8s.ingress(host="${host}"))\n`;
  const file = writeEnvFile(envName, `def serve():\n${base}`);
  const serve = cli(['serve', '-f', file, '-n', ns, '--selector', 'app=web', '--probe-interval', '300'], vars);
  try {
    await serve.waitFor(/Press Ctrl-C/);
    assert.deepEqual(ownedObjects(ns, envName).sort(), [`service/${envName}-web`]);

    // 1. added: a NodePort Service with an Ingress in front
    const t0 = Date.now();
    writeFileSync(file, withMore(np1, 9090));
    await serve.waitFor(/changed: 2 exposure\(s\) started, 0 stopped, 2 unchanged/);
    const applied = Date.now() - t0;
    assert.deepEqual(ownedObjects(ns, envName).sort(), [`ingress.networking.k8s.io/${envName}-np`, `service/${envName}-np`, `service/${envName}-web`]);
    assert.equal(podAnswer(await eventually(() => httpRequest(env.nodeIP, np1))).port, 8080);
    const [ip, port] = env.ingressAddress.split(':');
    assert.equal(podAnswer(await eventually(() => httpRequest(ip!, Number(port), { hostHeader: host, path: '/r' }))).path, '/r');
    const answered = Date.now() - t0;
    console.log(`# reload: env file saved → NodePort + Ingress applied ${applied} ms, both answering ${answered} ms`);
    const st = await eventually(async () => {
      const s = JSON.parse((await run(['status', '-f', file, '-o', 'json'], vars)).out);
      const np = s.exposures.find((e: { id: string }) => e.id === 'service-np');
      const ing = s.exposures.find((e: { id: string }) => e.id === 'ingress-np');
      if (np?.reason !== 'Ready' || ing?.reason !== 'Ready') throw new Error(JSON.stringify(s.exposures));
      return s;
    }, 30_000);
    for (const e of st.exposures) assert.ok(e.reason, `reason on ${e.id}`);
    const uid = uidOf('service', `${envName}-np`);

    const ingUid = uidOf('ingress', `${envName}-np`);

    // 2. changed (same exposure ids: a new service_port and node_port): the Service and the
    // Ingress in front of it are updated in place, not replaced
    writeFileSync(file, withMore(np2, 9091));
    await serve.waitFor(/changed: 2 exposure\(s\) started, 2 stopped, 2 unchanged/);
    const svc = kubectlJson(['-n', ns, 'get', 'service', `${envName}-np`]);
    assert.equal(svc.metadata.uid, uid, 'the same Service object');
    assert.deepEqual([svc.spec.ports.length, svc.spec.ports[0].port, svc.spec.ports[0].nodePort], [1, 9091, np2]);
    const ing = kubectlJson(['-n', ns, 'get', 'ingress', `${envName}-np`]);
    assert.equal(ing.metadata.uid, ingUid, 'the same Ingress object');
    assert.equal(ing.spec.rules[0].http.paths[0].backend.service.port.number, 9091);
    assert.equal(podAnswer(await eventually(() => httpRequest(env.nodeIP, np2))).port, 8080);
    assert.equal(podAnswer(await eventually(() => httpRequest(ip!, Number(port), { hostHeader: host, path: '/r2' }))).path, '/r2');

    // 3. removed: deleted from the cluster and gone from status
    writeFileSync(file, `def serve():\n${base}`);
    await serve.waitFor(/changed: 0 exposure\(s\) started, 2 stopped, 2 unchanged/);
    assert.deepEqual(ownedObjects(ns, envName).sort(), [`service/${envName}-web`]);
    const after = JSON.parse((await run(['status', '-f', file, '-o', 'json'], vars)).out);
    assert.deepEqual(after.exposures.map((e: { id: string }) => e.id).sort(), ['port-forward-web-' + pf, 'service-web'].sort());
    // the record lists what envserve owns now
    const rec = JSON.parse(readFileSync(join(home, '.local/state/envserve', `${after.envId}.json`), 'utf8'));
    assert.deepEqual(rec.owned, [{ kind: 'Service', namespace: ns, name: `${envName}-web` }]);
    // down of the running serve, with nothing but the file: it stops itself (asked on its
    // control socket, not killed) and down removes the Services it leaves
    const d = await run(['down', '-f', file], { HOME: home });
    assert.equal(d.code, 0, d.out);
    assert.doesNotMatch(d.out, /killing it/);
    assert.match(d.out, new RegExp(`deleted service ${ns}/${envName}-web`));
    assert.equal(await serve.exited, 0, serve.out());
    assert.deepEqual(ownedObjects(ns, envName), []);
  } finally {
    serve.proc.kill('SIGTERM');
  }
});

test('down from a clean shell (no KUBECONFIG, no flags, another directory) after serve -n NS --context CTX was SIGKILLed', async () => {
  const envName = `killed-${rand()}`;
  const home = mkdtempSync(join(tmpdir(), 'envserve-home-'));
  // a kubeconfig whose current context points nowhere: only --context reaches the cluster
  const kc = YAML.parse(readFileSync(env.kubeconfig, 'utf8'));
  kc.clusters.push({ name: 'nowhere', cluster: { server: 'https://127.0.0.1:1' } });
  kc.contexts.push({ name: 'decoy', context: { cluster: 'nowhere', user: kc.users[0].name } });
  kc['current-context'] = 'decoy';
  const kcPath = join(home, 'other.kubeconfig');
  writeFileSync(kcPath, YAML.stringify(kc), { mode: 0o600 });
  const pf = await freePort();
  const file = writeEnvFile(envName, `def serve():
    cloud.k8s.bind(env_port=8080, host_port=${pf}, name="web")
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=8081, name="web", access="public", ingress=cloud.k8s.ingress(host="${envName}.killed.test"))
`);
  const serve = cli(['serve', '-f', file, '-n', ns, '--context', 'envserve-test-admin', '--selector', 'app=web'], { HOME: home, KUBECONFIG: kcPath });
  await serve.waitFor(/Press Ctrl-C/);
  assert.deepEqual(ownedObjects(ns, envName).sort(), [`ingress.networking.k8s.io/${envName}-web`, `service/${envName}-web`]);
  serve.proc.kill('SIGKILL');
  await serve.exited;
  const elsewhere = mkdtempSync(join(tmpdir(), 'envserve-cwd-'));
  mkdirSync(join(elsewhere, 'sub'));
  const st = await run(['status', '-f', file], { HOME: home }, elsewhere);
  assert.equal(st.code, 1);
  assert.match(st.out, /STALE/);
  const d = await run(['down', '-f', file], { HOME: home }, join(elsewhere, 'sub'));
  assert.equal(d.code, 0, d.out);
  assert.match(d.out, new RegExp(`deleted ingress ${ns}/${envName}-web`));
  assert.match(d.out, new RegExp(`deleted service ${ns}/${envName}-web`));
  assert.deepEqual(ownedObjects(ns, envName), [], 'nothing owned is left');
  const again = await run(['status', '-f', file], { HOME: home }, elsewhere);
  assert.match(again.out, /nothing is running/);
});
