// Two operator replicas on the real node (the Deployment from `envserve operator manifests`), one
// leading through the Lease envserve-system/envserve-operator:
// (a) the leader's pod is deleted while ExposureSets are being applied → the other replica leads
//     within 20 s, every set is Ready, one Service per set (none lost, none duplicated);
// (b) the leader's process is frozen (SIGSTOP to its container's processes, found by the
//     container's cgroup on this machine) while sets are applied → the other takes over within
//     20 s and makes them Ready; woken (SIGCONT), the old leader writes nothing: its own audit of
//     writes sent (--log-writes) has none after it woke, no object's resourceVersion moves, no
//     managedFields entry of its field manager (envserve-operator/<pod>) is newer than its
//     wake-up, and it says in its log that it lost the Lease.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { eventually, kubectl, backedPod, sleep } from './cluster.js';
import { env, createNamespace, deleteNamespace, kubectlJson, mustKubectl } from './expose-lib.js';
import { apply, condition, lease, manifests, OPERATOR_IMAGE, ENVSERVE_CLUSTER_OBJECTS } from './operator-lib.js';

const OP_NS = 'envserve-system';
const OP_SELECTOR = 'app.kubernetes.io/name=envserve-operator';
let ns: string;

const exposureSet = (name: string) => ({
  apiVersion: 'envserve.dev/v1alpha1', kind: 'ExposureSet', metadata: { name, namespace: ns },
  spec: {
    env: name, selector: { 'envserve.dev/env': 'web' },
    exposures: [{ id: 'service-web', kind: 'k8s-service', envPort: 8080, protocol: 'tcp', position: `${name}:1:1`, declaredBy: 'cloud.k8s.bind', serviceType: 'ClusterIP', servicePort: 8080, name: 'web' }],
  },
});

function operatorPods(): any[] {
  return kubectlJson<{ items: any[] }>(['-n', OP_NS, 'get', 'pods', '-l', OP_SELECTOR]).items.filter((p) => !p.metadata.deletionTimestamp);
}
const isReady = (p: any) => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');

/** Two Ready replicas, one of them holding the Lease; returns [leader, other]. */
async function twoReplicasOneLeader(): Promise<[string, string]> {
  return eventually(async () => {
    const pods = operatorPods();
    const ready = pods.filter(isReady).map((p) => p.metadata.name as string);
    if (ready.length !== 2) throw new Error(`Ready operator pods: ${ready.join(', ') || 'none'} (all: ${pods.map((p) => `${p.metadata.name} ${p.status?.phase} ${JSON.stringify(p.status?.containerStatuses?.[0]?.state ?? {})}`).join('; ')})`);
    const l = lease(OP_NS);
    if (!ready.includes(l.pod)) throw new Error(`the Lease's holder "${l.holder}" is not a Ready replica (${ready.join(', ')})`);
    return [l.pod, ready.find((n) => n !== l.pod)!];
  }, 90_000, 500);
}

/** Every named set Ready, and exactly one Service per set, owned by that set. */
async function allReadyNoneDuplicated(names: string[], timeoutMs: number): Promise<void> {
  await eventually(async () => {
    const sets = kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'exposuresets']).items;
    const notReady = names.filter((n) => condition(sets.find((s) => s.metadata.name === n)?.status, 'Ready')?.status !== 'True');
    if (notReady.length) throw new Error(`not Ready: ${notReady.join(', ')}`);
  }, timeoutMs, 250);
  const sets = kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'exposuresets']).items;
  const services = kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'services', '-l', 'app.kubernetes.io/managed-by=envserve']).items;
  assert.deepEqual(services.map((s) => s.metadata.name).sort(), sets.map((s) => `${s.metadata.name}-web`).sort(), 'one Service per ExposureSet: none lost, none duplicated');
  for (const svc of services) {
    const set = sets.find((s) => `${s.metadata.name}-web` === svc.metadata.name);
    assert.deepEqual(svc.metadata.ownerReferences.map((r: any) => r.uid), [set.metadata.uid], `${svc.metadata.name} is owned by its set only`);
  }
}

/** The host pids of a pod's container (the node runs on this machine: cgroupfs, /k8s.io/<container id>). */
function containerPids(pod: string): number[] {
  const p = kubectlJson<any>(['-n', OP_NS, 'get', 'pod', pod]);
  const id = String(p.status.containerStatuses[0].containerID).replace(/^containerd:\/\//, '');
  const files = readdirSync('/sys/fs/cgroup').map((c) => `/sys/fs/cgroup/${c}/k8s.io/${id}/cgroup.procs`).filter((f) => existsSync(f));
  const pids = [...new Set(files.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map(Number)))];
  assert.ok(pids.length > 0, `no process found for container ${id} of ${pod} (${files.length} cgroup files)`);
  return pids;
}

/** resourceVersion of every ExposureSet and Service in the namespace. */
function versions(): Map<string, string> {
  const out = new Map<string, string>();
  for (const kind of ['exposuresets', 'services']) {
    for (const o of kubectlJson<{ items: any[] }>(['-n', ns, 'get', kind]).items) out.set(`${kind}/${o.metadata.name}`, o.metadata.resourceVersion);
  }
  return out;
}

before(async () => {
  kubectl(env.kubeconfig, ['delete', ...ENVSERVE_CLUSTER_OBJECTS, '--ignore-not-found', '--wait=true']);
  kubectl(env.kubeconfig, ['-n', OP_NS, 'delete', 'lease', 'envserve-operator', '--ignore-not-found']);
  ns = createNamespace('lead');
  mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify(backedPod('web-0', { 'envserve.dev/env': 'web' })));
  // --log-writes: each replica logs every write it sends (the audit the frozen-leader test reads).
  const objs = manifests(['--image', OPERATOR_IMAGE, '--image-pull-policy', 'Never']);
  for (const o of objs) if (o.kind === 'Deployment') o.spec.template.spec.containers[0].args.push('--log-writes');
  apply(objs);
  mustKubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd/exposuresets.envserve.dev', 'crd/exposurepolicies.envserve.dev']);
});

after(async () => {
  // Leave no operator running for later files (they install their own), and no CRDs.
  kubectl(env.kubeconfig, ['-n', OP_NS, 'delete', 'deployment', 'envserve-operator', '--ignore-not-found', '--wait=false']);
  if (ns) deleteNamespace(ns);
  kubectl(env.kubeconfig, ['delete', ...ENVSERVE_CLUSTER_OBJECTS, '--ignore-not-found', '--wait=true']);
});

test('two replicas, one Lease holder; the leader\'s pod deleted while ExposureSets are applied → the other leads within 20 s, every set Ready, nothing lost or duplicated', async () => {
  const [leader, other] = await twoReplicasOneLeader();
  const l0 = lease(OP_NS);
  assert.match(l0.holder, new RegExp(`^${leader}_[0-9a-f]{8}$`), 'the Lease names the leader\'s pod');

  const names = Array.from({ length: 6 }, (_, i) => `a${i}`);
  apply(names.slice(0, 3).map(exposureSet));
  await sleep(300); // the leader is in the middle of them
  const t0 = Date.now();
  mustKubectl(['-n', OP_NS, 'delete', 'pod', leader, '--grace-period=0', '--force', '--wait=false']);
  apply(names.slice(3).map(exposureSet));
  // The new leader is another live replica: the one that was running, or the ReplicaSet's
  // replacement for the deleted pod when it starts campaigning first (both are right).
  const [takeoverMs, by] = await eventually(async () => {
    const l = lease(OP_NS);
    const live = operatorPods().map((p) => p.metadata.name as string);
    if (l.pod === leader || !live.includes(l.pod)) throw new Error(`Lease holder: "${l.holder}" (the deleted leader ${leader}, the other ${other}; operator pods now: ${live.join(', ')})`);
    return [Date.now() - t0, l.pod === other ? 'the other replica' : 'the replacement pod'] as const;
  }, 25_000, 200);
  console.log(`  takeover after the leader's pod was deleted: ${(takeoverMs / 1000).toFixed(1)} s, by ${by}`);
  assert.ok(takeoverMs <= 20_000, `the other replica leads within 20 s (took ${takeoverMs} ms)`);
  assert.ok(lease(OP_NS).transitions >= 1);
  await allReadyNoneDuplicated(names, 30_000);
});

test('the leader frozen (SIGSTOP) while sets are applied → the other takes over within 20 s and makes them Ready; woken (SIGCONT), the old leader writes nothing and stands down', async () => {
  const [leader, other] = await twoReplicasOneLeader();
  const otherHolder = () => lease(OP_NS).pod === other;
  const pids = containerPids(leader);
  const names = Array.from({ length: 4 }, (_, i) => `b${i}`);
  let woken = false;
  const wake = () => { if (!woken) for (const pid of pids) process.kill(pid, 'SIGCONT'); woken = true; };
  try {
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    const t0 = Date.now();
    apply(names.map(exposureSet));
    const takeoverMs = await eventually(async () => {
      if (!otherHolder()) throw new Error(`Lease holder: "${lease(OP_NS).holder}"`);
      return Date.now() - t0;
    }, 25_000, 200);
    console.log(`  takeover from the frozen leader: ${(takeoverMs / 1000).toFixed(1)} s`);
    assert.ok(takeoverMs <= 20_000, `the other replica leads within 20 s (took ${takeoverMs} ms)`);
    await allReadyNoneDuplicated([...names, ...Array.from({ length: 6 }, (_, i) => `a${i}`)], 30_000);
    assert.ok(readFileSync(`/proc/${pids[0]}/stat`, 'utf8').split(') ')[1]!.startsWith('T'), 'the old leader is still stopped');
  } catch (e) {
    wake();
    throw e;
  }

  // Everything is Ready and steady: from now on any write to these objects would be the woken leader's.
  const before = versions();
  const wokeAt = new Date();
  wake();
  // Its renew notices the loss within one retry period; its watches deliver the sets it missed.
  await eventually(async () => {
    const log = kubectl(env.kubeconfig, ['-n', OP_NS, 'logs', leader]).stdout;
    if (!/lost the Lease envserve-system\/envserve-operator to /.test(log)) throw new Error(`the woken leader has not noticed yet:\n${log.split('\n').slice(-5).join('\n')}`);
  }, 15_000, 250);
  await sleep(3000);
  // Its own audit (--log-writes): every write it sent, with the time; none after it woke.
  const lines = kubectl(env.kubeconfig, ['-n', OP_NS, 'logs', leader]).stdout.split('\n').map((l) => /^(\S+) (?:info|warn|error) (.*)$/.exec(l)).filter((m) => m !== null);
  const after = lines.filter((m) => new Date(m[1]!).getTime() >= wokeAt.getTime() - 1000);
  const sentBefore = lines.filter((m) => new Date(m[1]!).getTime() < wokeAt.getTime() - 1000 && m[2]!.startsWith('write ')).length;
  const refused = after.filter((m) => m[2]!.includes('refused ')).length;
  console.log(`  the woken leader: ${sentBefore} write(s) sent while it led, ${refused} refused after it woke`);
  assert.ok(sentBefore > 0, 'the audit shows the writes it made while it led (so an empty audit below means something)');
  assert.deepEqual(after.filter((m) => m[2]!.startsWith('write ')).map((m) => m[0]), [], 'the woken leader sent no write');

  assert.ok(otherHolder(), 'the Lease stays with the new leader');
  assert.deepEqual(versions(), before, 'no object changed after the old leader woke');
  const manager = `envserve-operator/${leader}`;
  for (const s of kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'exposuresets', '--show-managed-fields']).items) {
    const late = (s.metadata.managedFields ?? []).filter((m: any) => m.manager === manager && new Date(m.time).getTime() >= wokeAt.getTime() - 1000);
    assert.deepEqual(late, [], `${s.metadata.name}: no write of ${manager} after it woke`);
    if (names.includes(s.metadata.name)) {
      assert.ok(s.metadata.managedFields.some((m: any) => m.manager === `envserve-operator/${other}` && m.subresource === 'status'), `${s.metadata.name}'s status was written by the new leader ${other}`);
    }
  }
  // It stayed up (it stood down, it did not exit) and serves again.
  await eventually(async () => {
    const p = operatorPods().find((x) => x.metadata.name === leader);
    if (!p || !isReady(p)) throw new Error(`${leader} not Ready again`);
    assert.equal(p.status.containerStatuses[0].restartCount, 0);
  }, 30_000, 500);
});
