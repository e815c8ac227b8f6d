#!/usr/bin/env node
// envserve test infrastructure: TEST-ONLY LOADBALANCER CONTROLLER. Not for any real cluster.
//
// There is no cloud here. For every Service of type LoadBalancer (without a loadBalancerClass)
// this gives the Service an address from LB_POOL (honouring spec.loadBalancerIP when it is in
// the pool) by writing status.loadBalancer.ingress, and clears the status of Services that stop
// being LoadBalancers. kube-proxy (iptables mode) then sends traffic for that address to the
// Service's endpoints; the pool is routed "local" inside the test network namespace and, on the
// host, only through the veth pair into that namespace, so the address answers and no packet
// for it can leave the machine.
//
// Environment: KUBE_SERVER, KUBE_CA, KUBE_CERT, KUBE_KEY; LB_POOL (a.b.c.d/n); READY_FILE.
import { writeFileSync } from 'node:fs';
import { kubeFromEnv, log as baseLog } from './lib/kube.mjs';

const NAME = 'test-lb-controller';
const log = (...a) => baseLog(NAME, ...a);
const kube = kubeFromEnv();

function parsePool(cidr) {
  const [addr, bits] = cidr.split('/');
  const base = addr.split('.').reduce((a, o) => (a << 8) + Number(o), 0) >>> 0;
  const size = 2 ** (32 - Number(bits));
  const ips = [];
  for (let i = 1; i < size - 1; i++) {
    const n = (base + i) >>> 0;
    ips.push([24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.'));
  }
  return ips;
}
const POOL = parsePool(process.env.LB_POOL ?? '10.250.1.0/28');

/** key -> service (latest seen) */
const services = new Map();
const key = (s) => `${s.metadata.namespace}/${s.metadata.name}`;
const isOurs = (s) => s.spec?.type === 'LoadBalancer' && !s.spec.loadBalancerClass;
const ingressIPs = (s) => (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter(Boolean);

function used(exceptKey) {
  const u = new Set();
  for (const [k, s] of services) if (k !== exceptKey) for (const ip of ingressIPs(s)) u.add(ip);
  return u;
}

async function setStatus(s, ingress) {
  const path = `/api/v1/namespaces/${encodeURIComponent(s.metadata.namespace)}/services/${encodeURIComponent(s.metadata.name)}/status`;
  await kube.request('PATCH', path, { status: { loadBalancer: { ingress } } }, 'application/merge-patch+json');
}

const pending = new Set();
async function reconcile(s) {
  const k = key(s);
  if (pending.has(k)) return;
  const have = ingressIPs(s);
  try {
    pending.add(k);
    if (!isOurs(s)) {
      if (have.length && s.spec?.type !== 'LoadBalancer') {
        await setStatus(s, []);
        log(`released ${have.join(',')} from ${k}`);
      }
      return;
    }
    const taken = used(k);
    const requested = s.spec.loadBalancerIP;
    if (have.length === 1 && POOL.includes(have[0]) && !taken.has(have[0]) && (!requested || requested === have[0])) return;
    let ip;
    if (requested) {
      if (!POOL.includes(requested) || taken.has(requested)) { log(`${k}: requested ${requested} is not free in the pool`); return; }
      ip = requested;
    } else {
      ip = POOL.find((a) => !taken.has(a));
      if (!ip) { log(`${k}: pool ${process.env.LB_POOL} exhausted`); return; }
    }
    await setStatus(s, [{ ip, ipMode: 'VIP' }]);
    s.status = { ...(s.status ?? {}), loadBalancer: { ingress: [{ ip }] } };
    services.set(k, s);
    log(`assigned ${ip} to ${k}`);
  } catch (e) {
    log(`${k}: ${e.message}`);
  } finally {
    pending.delete(k);
  }
}

let synced = false;
kube.informer('/api/v1/services', {
  name: NAME,
  async onSync(items) {
    services.clear();
    for (const s of items) services.set(key(s), s);
    for (const s of items) await reconcile(s);
    if (!synced) {
      synced = true;
      log(`synced: ${items.length} services, pool ${process.env.LB_POOL} (${POOL.length} addresses)`);
      if (process.env.READY_FILE) writeFileSync(process.env.READY_FILE, `${process.pid}\n`);
    }
  },
  onEvent(type, s) {
    if (type === 'DELETED') { services.delete(key(s)); return; }
    services.set(key(s), s);
    reconcile(s);
  },
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
