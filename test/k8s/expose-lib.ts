// Helpers for the k8s exposure tests (test/k8s/expose-*.test.ts): env files in temp folders,
// running the Kubernetes runtime the way `up`/`serve` do, namespaces, and an API server restart.
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { planFromFile } from '../../src/envfile/from-file.js';
import type { Plan } from '../../src/plan/types.js';
import { K8sRuntime, type K8sExposureHandle, type K8sRuntimeOptions } from '../../src/apply/k8s/runtime.js';
import { probeAll, summarize, targetsFor, type ProbeResult } from '../../src/probe/index.js';
import { clusterEnv, httpRequest, kubectl, eventually, sleep, backedDeploymentManifest, type AppMode } from './cluster.js';

export const env = clusterEnv();
export const rand = () => randomBytes(3).toString('hex');

/** Writes `body` as build.envd in a fresh folder named `dirName` (the default env name). */
export function writeEnvFile(dirName: string, body: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'envserve-k8s-')), dirName);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'build.envd');
  writeFileSync(file, body);
  return file;
}

export const SEED_CLOUD = readFileSync(new URL('../../testdata/examples/seed-cloud.envd', import.meta.url), 'utf8');

export interface Served {
  plan: Plan;
  rt: K8sRuntime;
  handles: K8sExposureHandle[];
  byKind(kind: string): K8sExposureHandle[];
  stop(): Promise<void>;
}

/** What the EnvController does with a runtime: preflight, start (up), expose each exposure, prune. */
export async function serve(file: string, o: K8sRuntimeOptions & { envName: string; mode?: 'up' | 'serve' }): Promise<Served> {
  const plan = planFromFile(file, { envName: o.envName });
  const mode = o.mode ?? 'up';
  const rt = new K8sRuntime({ kubeconfig: env.kubeconfig, ...o });
  await rt.preflight(plan, plan.exposures, { mode });
  if (mode === 'up') await rt.startEnvironment(plan, plan.exposures, { mode });
  const handles: K8sExposureHandle[] = [];
  for (const e of plan.exposures) handles.push((await rt.expose(e)) as K8sExposureHandle);
  await rt.prune(plan.exposures); // as the controller does after every reconcile
  return {
    plan,
    rt,
    handles,
    byKind: (kind) => handles.filter((h) => h.spec.kind === kind),
    stop: async () => {
      for (const h of handles) await h.stop();
      await rt.stopEnvironment();
    },
  };
}

/** What the controller does in a probe round for one handle: its condition, else the prober over its targets. */
export async function probeHandle(rt: K8sRuntime, h: K8sExposureHandle): Promise<ProbeResult> {
  const c = h.condition?.();
  if (c?.blocking) return { ok: false, reason: c.reason, detail: c.message };
  return summarize(await probeAll(targetsFor(h.spec, h.observed()), { ...(rt.api && { api: rt.api }) }));
}

export function createNamespace(prefix: string): string {
  const ns = `${prefix}-${rand()}`;
  const r = kubectl(env.kubeconfig, ['create', 'namespace', ns]);
  if (r.code !== 0) throw new Error(`kubectl create namespace ${ns}: ${r.stderr}`);
  return ns;
}

export function deleteNamespace(ns: string): void {
  kubectl(env.kubeconfig, ['delete', 'namespace', ns, '--wait=false']);
}

export function kubectlJson<T = any>(args: string[], kc = env.kubeconfig): T {
  const r = kubectl(kc, [...args, '-o', 'json']);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export function mustKubectl(args: string[], input?: string): string {
  const r = kubectl(env.kubeconfig, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Every object envserve owns for `envName` in `ns`, as "kind/name". */
export function ownedObjects(ns: string, envName: string): string[] {
  const out = mustKubectl(['-n', ns, 'get', 'deployments,services,ingresses', '-l', `app.kubernetes.io/managed-by=envserve,envserve.dev/env=${envName}`, '-o', 'name']);
  return out.split('\n').filter(Boolean);
}

/**
 * A Deployment of the test server on the real node: each pod's container answers HTTP on 8080
 * with JSON naming the pod, echoes raw TCP on 9000, and is Ready once HTTP answers.
 */
export function backedDeployment(ns: string, name: string, labels: Record<string, string>, replicas = 1, mode: AppMode = 'json'): void {
  mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify(backedDeploymentManifest(name, labels, mode, replicas)));
}

export async function readyPods(ns: string, selector: string): Promise<string[]> {
  const list = kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'pods', '-l', selector]);
  return list.items
    .filter((p) => !p.metadata.deletionTimestamp && p.status?.podIP && (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'))
    .map((p) => p.metadata.name as string);
}

export async function waitReadyPod(ns: string, selector: string, not?: string, timeoutMs = 30_000): Promise<string> {
  return eventually(async () => {
    const names = (await readyPods(ns, selector)).filter((n) => n !== not);
    if (names.length === 0) throw new Error(`no Ready pod with ${selector} in ${ns}${not ? ` other than ${not}` : ''}`);
    return names[0]!;
  }, timeoutMs, 20);
}

/** Waits until the Service's EndpointSlices mark an endpoint ready (a moment after its pod is Ready). */
export async function waitReadyEndpoint(ns: string, service: string, timeoutMs = 30_000): Promise<void> {
  await eventually(async () => {
    const slices = kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'endpointslices', '-l', `kubernetes.io/service-name=${service}`]).items;
    if (!slices.some((x) => (x.endpoints ?? []).some((e: any) => e.conditions?.ready))) throw new Error(`service ${ns}/${service} has no ready endpoint yet`);
  }, timeoutMs, 100);
}

/**
 * `n` node ports of the cluster's range that no Service holds now, picked at random (a port
 * picked blindly may be allocated already: the apply then fails, and the test with it).
 */
export function freeNodePorts(n: number): number[] {
  const taken = new Set(
    kubectlJson<{ items: { spec: { ports?: { nodePort?: number }[] } }[] }>(['get', 'services', '-A'])
      .items.flatMap((s) => (s.spec.ports ?? []).map((p) => p.nodePort)),
  );
  const [lo, hi] = env.nodePortRange;
  const picked: number[] = [];
  while (picked.length < n) {
    const p = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (!taken.has(p) && !picked.includes(p)) picked.push(p);
  }
  return picked;
}

// Settle points, read independently of what a test then checks (whose first attempt must pass).

/** An Ingress admitted (an address in its status) and routed: its Host answers 200 at the Ingress address. */
export async function ingressRouted(ns: string, name: string, host: string): Promise<void> {
  const [ip, port] = env.ingressAddress.split(':');
  await eventually(async () => {
    const st = kubectlJson(['-n', ns, 'get', 'ingress', name]).status?.loadBalancer?.ingress;
    if (!st?.length) throw new Error(`ingress ${ns}/${name} not admitted yet`);
    const r = await httpRequest(ip!, Number(port), { hostHeader: host });
    if (r.status !== 200) throw new Error(`ingress ${ns}/${name}: HTTP ${r.status} for Host ${host}`);
  }, 60_000, 250);
}

/** A Service's node port answers on the node (kube-proxy has programmed it). */
export async function nodePortAnswers(ns: string, service: string): Promise<void> {
  const nodePort = kubectlJson(['-n', ns, 'get', 'service', service]).spec.ports[0].nodePort as number;
  await eventually(() => httpRequest(env.nodeIP, nodePort), 60_000, 250);
}

/** A free port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * Restarts kube-apiserver with its recorded command line (scripts/testenv/k8s/restart.sh, which
 * follows ENVSERVE_TESTENV_SLOT) and waits until it is ready. Returns how long it was down, in ms.
 */
export async function restartApiServer(): Promise<number> {
  const r = spawnSync('bash', ['scripts/testenv/k8s/restart.sh', 'kube-apiserver'], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`restart.sh kube-apiserver failed (exit ${r.status}): ${r.stderr}`);
  const ms = Number(r.stdout.trim().split('\n').at(-1));
  if (!Number.isFinite(ms)) throw new Error(`restart.sh printed no duration: ${r.stdout}`);
  return ms;
}

export { sleep, eventually };
