// What the operator writes on an ExposureSet's status for a Ready Service: its addresses always, a
// URL only where one answers from outside the cluster (the load balancer's), never the ClusterIP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Obj } from '../apply/k8s/owned.js';
import type { Desired } from './desired.js';
import { observe } from './observe.js';
import type { ExposureSet } from './resource.js';

const SET = { metadata: { name: 's1', namespace: 'ns', uid: 'u1', generation: 1 }, spec: { env: 's1', exposures: [] } } as unknown as ExposureSet;
const client = { request: async <T>() => ({ items: [{ endpoints: [{ conditions: { ready: true } }] }] }) as T };

function service(name: string, type: string, o: { nodePort?: number; lb?: string } = {}): Obj {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'ns' },
    spec: { type, clusterIP: '10.96.0.9', ports: [{ port: 8080, ...(o.nodePort && { nodePort: o.nodePort }) }] },
    ...(o.lb && { status: { loadBalancer: { ingress: [{ ip: o.lb }] } } }),
  } as Obj;
}

async function rowFor(protocol: 'http' | 'tcp', svc: Obj) {
  const id = `service-${svc.metadata.name}`;
  const d = {
    exposures: [{ id, kind: 'k8s-service', decision: 'Admitted', reason: 'Admitted', object: `service/${svc.metadata.name}` }],
    plan: { exposures: [{ id, kind: 'k8s-service', protocol }] },
  } as unknown as Desired;
  const [row] = await observe(client, SET, d, new Map([[`Service/${svc.metadata.name}`, svc]]));
  return row!;
}

test('a Ready ClusterIP Service: its ClusterIP among the addresses, no URL (it answers only inside the cluster)', async () => {
  const r = await rowFor('http', service('web', 'ClusterIP'));
  assert.equal(r.ready, true);
  assert.equal(r.reason, 'Ready');
  assert.deepEqual(r.addresses, ['10.96.0.9:8080']);
  assert.equal(r.url, undefined);
});

test('a NodePort Service: addresses, still no URL (`<node>` names no node)', async () => {
  const r = await rowFor('http', service('np', 'NodePort', { nodePort: 30080 }));
  assert.deepEqual(r.addresses, ['10.96.0.9:8080', '<node>:30080']);
  assert.equal(r.url, undefined);
});

test("a LoadBalancer Service: the load balancer's address is the URL, with the exposure's scheme", async () => {
  const web = await rowFor('http', service('lbweb', 'LoadBalancer', { nodePort: 30081, lb: '192.0.2.10' }));
  assert.equal(web.url, 'http://192.0.2.10:8080/');
  assert.deepEqual(web.addresses, ['10.96.0.9:8080', '<node>:30081', '192.0.2.10:8080']);
  const db = await rowFor('tcp', service('lbdb', 'LoadBalancer', { nodePort: 30082, lb: '192.0.2.11' }));
  assert.equal(db.url, 'tcp://192.0.2.11:8080');
});
