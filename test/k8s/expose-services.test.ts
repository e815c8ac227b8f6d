// The Kubernetes runtime on the real test cluster: the proposal's cloud example end to end
// (a port-forward on 127.0.0.1 and a ClusterIP Service on 1234), NodePort, LoadBalancer and
// Ingress (by Host header, with a WebSocket through it), idempotent apply, and `down` removing
// exactly what envserve owns.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { curlInNetns, httpRequest, inCidr, podAnswer, eventually, wsEcho } from './cluster.js';
import {
  env, rand, serve, writeEnvFile, SEED_CLOUD, probeHandle, createNamespace, deleteNamespace, freeNodePorts, kubectlJson, mustKubectl, ownedObjects, waitReadyPod,
} from './expose-lib.js';
import { removeOwned } from '../../src/apply/k8s/remove.js';
import { UserError } from '../../src/errors.js';

let ns: string;
before(() => {
  ns = createNamespace('es-svc');
});
after(() => deleteNamespace(ns));

test("the proposal's cloud example: the port-forward (on a port envserve picks) and the ClusterIP Service on 1234 answer with the backend's body", async () => {
  const envName = `seed-${rand()}`;
  // host_port=0: 1234 on this machine may be held by another run (the default ports are tested once, test/local).
  const file = writeEnvFile('seed', SEED_CLOUD.replace('host_port=1234', 'host_port=0'));
  const t0 = Date.now();
  const s = await serve(file, { envName, namespace: ns, image: 'envserve.test/jupyter:1' });
  try {
    const ready = Date.now() - t0;
    const [pf] = s.byKind('k8s-port-forward');
    const [svc] = s.byKind('k8s-service');
    const { port } = pf!.listen;
    assert.equal(pf!.listen.address, '127.0.0.1');
    assert.ok(port > 0, 'the port envserve picked');
    assert.deepEqual(pf!.urls(), [`http://127.0.0.1:${port}/`, `http://127.0.0.1:${port}/lab`]);

    const viaPf = podAnswer(await httpRequest('127.0.0.1', port, { path: '/lab' }));
    assert.equal(viaPf.namespace, ns);
    assert.equal(viaPf.port, 8888, 'the port-forward reaches the env port (Jupyter 8888)');
    assert.equal(viaPf.path, '/lab');
    // The answer came from the container of the Deployment's pod (its hostname is the pod's name).
    const pod = await waitReadyPod(ns, `envserve.dev/env=${envName}`);
    assert.match(pod, new RegExp(`^${envName}-`));
    assert.equal(viaPf.pod, pod, 'the pod of the Deployment envserve created answered');

    const cluster = svc!.addresses().find((a) => a.scope === 'cluster')!;
    assert.ok(inCidr(cluster.address, env.serviceCIDR), `ClusterIP ${cluster.address} in ${env.serviceCIDR}`);
    assert.equal(cluster.port, 1234);
    // kube-proxy programs the ClusterIP's rules shortly after the Service has endpoints.
    const viaSvc = await eventually(async () => JSON.parse(curlInNetns(env.netns, `http://${cluster.address}:1234/tree`)), 10_000, 100);
    assert.equal(viaSvc.port, 8888);
    assert.equal(viaSvc.pod, viaPf.pod);
    assert.equal((await probeHandle(s.rt, svc!)).ok, true);
    assert.equal((await probeHandle(s.rt, pf!)).ok, true);

    // The Deployment is the one `envserve render` prints: image, ports, labels.
    const d = kubectlJson(['-n', ns, 'get', 'deployment', envName]);
    assert.equal(d.spec.template.spec.containers[0].image, 'envserve.test/jupyter:1');
    assert.deepEqual(d.spec.template.spec.containers[0].ports.map((p: any) => p.containerPort), [8888]);
    assert.equal(d.metadata.labels['app.kubernetes.io/managed-by'], 'envserve');
    assert.deepEqual(ownedObjects(ns, envName).sort(), [`deployment.apps/${envName}`, `service/${envName}-jupyter`]);
    console.log(`# seed-cloud: serve -> both URLs answer in ${ready} ms`);
  } finally {
    await s.stop();
  }
  // `up` ended: what it created is gone.
  assert.deepEqual(ownedObjects(ns, envName), []);
});

test('serve twice changes nothing: server-side apply keeps every resourceVersion', async () => {
  const envName = `idem-${rand()}`;
  const file = writeEnvFile('idem', SEED_CLOUD.replace('host_port=1234', 'host_port=0'));
  const first = await serve(file, { envName, namespace: ns, image: 'envserve.test/jupyter:1', mode: 'up' });
  try {
    const rv = () => Object.fromEntries(
      kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'deployments,services', '-l', `envserve.dev/env=${envName}`]).items.map((o) => [`${o.kind}/${o.metadata.name}`, o.metadata.resourceVersion]),
    );
    const before = rv();
    assert.equal(Object.keys(before).length, 2);
    const second = await serve(file, { envName, namespace: ns, image: 'envserve.test/jupyter:1', mode: 'serve' });
    await second.stop();
    const third = await serve(file, { envName, namespace: ns, image: 'envserve.test/jupyter:1', mode: 'serve' });
    await third.stop();
    assert.deepEqual(rv(), before, 'no object changed');
    const managers = kubectlJson(['-n', ns, 'get', 'service', `${envName}-jupyter`, '--show-managed-fields']).metadata.managedFields.map((m: any) => `${m.manager}/${m.operation}`);
    assert.ok(managers.includes('envserve/Apply'), `field manager envserve applied it: ${managers}`);
  } finally {
    await first.stop();
  }
});

test('NodePort, LoadBalancer and Ingress (Host header, class, annotations, WebSocket) each answer', async () => {
  const envName = `web-${rand()}`;
  const [nodePort] = freeNodePorts(1);
  const host = `${envName}.envserve.test`;
  const file = writeEnvFile('web', `
def build():
    base(image="envserve.test/web:1")
def serve():
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.nodePort, service_port=80, node_port=${nodePort}, name="np")
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.loadBalancer, service_port=8081, name="lb")
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=8082, name="web",
                   access="public", ingress=cloud.k8s.ingress(host="${host}", path="/", class_name="traefik", annotations={"envserve.test/note": "hello"}))
`);
  const s = await serve(file, { envName, namespace: ns });
  try {
    const svcs = s.byKind('k8s-service');
    const np = svcs.find((h) => h.spec.name === 'np')!;
    const lb = svcs.find((h) => h.spec.name === 'lb')!;
    const [ing] = s.byKind('k8s-ingress');
    // Every answer below must come from this pod's container (it reports its hostname).
    const pod = await waitReadyPod(ns, `envserve.dev/env=${envName}`);

    // NodePort: node:nodePort from this machine (the node's address is in the test namespace).
    const nodeAddr = np.addresses().find((a) => a.scope === 'node')!;
    assert.deepEqual({ address: nodeAddr.address, port: nodeAddr.port }, { address: env.nodeIP, port: nodePort });
    const viaNp = await eventually(async () => podAnswer(await httpRequest(env.nodeIP, nodePort)), 10_000, 100);
    assert.deepEqual([viaNp.pod, viaNp.port], [pod, 8080]);
    assert.ok(np.addresses().some((a) => a.scope === 'cluster' && a.port === 80), 'ClusterIP:80 is listed too');

    // LoadBalancer: an address from the pool, answering on the service port.
    const lbAddr = lb.addresses().find((a) => a.scope === 'load-balancer');
    assert.ok(lbAddr, `a load-balancer address: ${JSON.stringify(lb.addresses())}`);
    assert.ok(inCidr(lbAddr.address, env.lbPool));
    const viaLb = await eventually(async () => podAnswer(await httpRequest(lbAddr.address, 8081)), 10_000, 100);
    assert.deepEqual([viaLb.pod, viaLb.port], [pod, 8080]);
    assert.ok(lb.addresses().some((a) => a.scope === 'node'), 'a LoadBalancer also has node ports');
    assert.equal(lb.condition?.(), undefined);
    const lbProbe = await probeHandle(s.rt, lb);
    assert.equal(lbProbe.ok, true, lbProbe.detail);

    // Ingress: admitted (address in status), routed by Host header, URL printed.
    assert.deepEqual(ing!.urls()[0], `http://${host}/`);
    const [ip, port] = env.ingressAddress.split(':');
    const viaIng = await eventually(async () => podAnswer(await httpRequest(ip!, Number(port), { hostHeader: host, path: '/x' })), 10_000, 100);
    assert.deepEqual([viaIng.pod, viaIng.port], [pod, 8080]);
    assert.equal(viaIng.path, '/x');
    const other = await httpRequest(ip!, Number(port), { hostHeader: `other-${host}` });
    assert.equal(other.status, 404, 'another Host is not routed to it');
    const obj = kubectlJson(['-n', ns, 'get', 'ingress', `${envName}-web`]);
    assert.equal(obj.spec.ingressClassName, 'traefik');
    assert.equal(obj.metadata.annotations['envserve.test/note'], 'hello');
    assert.equal((await probeHandle(s.rt, ing!)).ok, true);
    const payload = randomBytes(100);
    assert.deepEqual(await eventually(() => wsEcho(ip!, Number(port), payload, { hostHeader: host, timeoutMs: 5000 })), payload, 'a WebSocket upgrade passes through the Ingress');
  } finally {
    await s.stop();
  }
  assert.deepEqual(ownedObjects(ns, envName), []);
});

test('a LoadBalancer that stays pending is reported plainly, with what works instead', async () => {
  // The test LB controller ignores Services with a loadBalancerClass: one nobody implements is
  // what a cluster without a load-balancer provider looks like.
  const name = `lbp-${rand()}`;
  mustKubectl(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns },
    spec: { type: 'LoadBalancer', loadBalancerClass: 'none.envserve.test/none', selector: { app: name }, ports: [{ port: 8090, targetPort: 8080 }] },
  }));
  const { ServiceWatcher } = await import('../../src/apply/k8s/service-watch.js');
  const { loadKubeClient } = await import('../../src/apply/k8s/client.js');
  const client = loadKubeClient({ kubeconfig: env.kubeconfig, namespace: ns });
  const exposure = { id: 'service-x', kind: 'k8s-service', envPort: 8080, protocol: 'http', position: 'x:1:1', declaredBy: 'cloud.k8s.bind', serviceType: 'LoadBalancer', servicePort: 8090 } as const;
  const w = new ServiceWatcher(client, ns, name, exposure, 800);
  const t0 = Date.now();
  await w.settle();
  client.close();
  assert.ok(Date.now() - t0 >= 700, 'it waited for the address');
  assert.equal(w.lbPending, true);
  assert.match(w.lbMessage!, /no load-balancer provider/);
  assert.match(w.lbMessage!, /nodePort/);
  assert.match(w.lbMessage!, /port-forward/);
  assert.ok(w.addresses().some((a) => a.scope === 'node'), 'the node ports are still reported');
  assert.ok(!w.addresses().some((a) => a.scope === 'load-balancer'));
  mustKubectl(['-n', ns, 'delete', 'service', name]);
});

test('an object with a clashing name that envserve does not own is refused before any change, and down leaves it alone', async () => {
  const envName = `clash-${rand()}`;
  const file = writeEnvFile('clash', SEED_CLOUD.replace('host_port=1234', 'host_port=0'));
  const foreign = `${envName}-jupyter`;
  mustKubectl(['-n', ns, 'create', 'service', 'clusterip', foreign, '--tcp=5678:5678']);
  const rvBefore = kubectlJson(['-n', ns, 'get', 'service', foreign]).metadata.resourceVersion;
  await assert.rejects(
    serve(file, { envName, namespace: ns, image: 'envserve.test/jupyter:1' }),
    (e: unknown) => e instanceof UserError && /service .*-jupyter already exists and envserve does not own it/.test(e.message) && /nothing was changed/.test(e.message),
  );
  assert.deepEqual(ownedObjects(ns, envName), [], 'no Deployment, no Service created');
  // down: removes what envserve owns (here: something it made under another name), never the foreign one.
  const other = await serve(writeEnvFile('clash2', `
def build():
    base(image="envserve.test/web:1")
def serve():
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=80, name="other")
`), { envName, namespace: ns, mode: 'up' });
  assert.equal(ownedObjects(ns, envName).length, 2);
  const { loadKubeClient } = await import('../../src/apply/k8s/client.js');
  const client = loadKubeClient({ kubeconfig: env.kubeconfig, namespace: ns });
  const removed = await removeOwned(client, ns, envName);
  client.close();
  assert.deepEqual(removed.map((o) => o.kind).sort(), ['Deployment', 'Service']);
  assert.deepEqual(ownedObjects(ns, envName), [], 'nothing envserve owns is left');
  assert.equal(kubectlJson(['-n', ns, 'get', 'service', foreign]).metadata.resourceVersion, rvBefore, 'the foreign Service is untouched');
  await other.stop();
});

test('serve prunes a Service of the environment that the env file no longer declares', async () => {
  const envName = `prune-${rand()}`;
  const two = writeEnvFile('prune', `
def build():
    base(image="envserve.test/web:1")
def serve():
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=80, name="a")
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=81, name="b")
`);
  const s1 = await serve(two, { envName, namespace: ns, mode: 'serve' });
  await s1.stop();
  assert.equal(ownedObjects(ns, envName).length, 2);
  const one = writeEnvFile('prune', `
def build():
    base(image="envserve.test/web:1")
def serve():
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=80, name="a")
`);
  const s2 = await serve(one, { envName, namespace: ns, mode: 'serve' });
  await s2.stop();
  assert.deepEqual(ownedObjects(ns, envName).map((n) => n.replace(/^service\//, '')), [`${envName}-a`]);
  mustKubectl(['-n', ns, 'delete', 'services', '-l', `envserve.dev/env=${envName}`]);
});

