// Helpers for the k8s exposure tests (test/k8s/expose-*.test.ts): env files in temp folders,
// running the Kubernetes runtime the way `up`/`serve` do, namespaces, and an API server restart.
import { closeSync, mkdtempSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { planFromFile } from '../../src/plan/from-file.js';
import type { Plan } from '../../src/plan/types.js';
import { K8sRuntime, type K8sExposureHandle, type K8sRuntimeOptions } from '../../src/apply/k8s/runtime.js';
import { clusterEnv, kubectl, eventually, sleep } from './cluster.js';

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

/** What the session does with a runtime: preflight, start (up), expose each exposure. */
export async function serve(file: string, o: K8sRuntimeOptions & { envName: string; mode?: 'up' | 'serve' }): Promise<Served> {
  const plan = planFromFile(file, { envName: o.envName });
  const mode = o.mode ?? 'up';
  const rt = new K8sRuntime({ kubeconfig: env.kubeconfig, ...o });
  await rt.preflight(plan, plan.exposures, { mode });
  if (mode === 'up') await rt.startEnvironment(plan, plan.exposures, { mode });
  const handles: K8sExposureHandle[] = [];
  for (const e of plan.exposures) handles.push((await rt.expose(e)) as K8sExposureHandle);
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

/** A Deployment whose pods the pod backer serves: HTTP on 8080, raw echo on 9000. */
export function backedDeployment(ns: string, name: string, labels: Record<string, string>): void {
  const d = {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image: 'envserve.test/backed:1', ports: [{ name: 'http', containerPort: 8080 }, { name: 'echo', containerPort: 9000 }] }] },
      },
    },
  };
  mustKubectl(['apply', '-f', '-'], JSON.stringify(d));
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
 * Restarts kube-apiserver with the same command line (there is no restart helper in
 * scripts/testenv/k8s yet): kill it, start it again inside the namespace, update its pid file so
 * down.sh stops the new one, wait for /readyz. Returns how long the API server was down.
 */
export async function restartApiServer(): Promise<number> {
  const state = new URL('../../.testenv/k8s/', import.meta.url).pathname;
  const pidFile = join(state, 'run', 'kube-apiserver.pid');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  if (!argv[0]?.endsWith('kube-apiserver')) throw new Error(`pid ${pid} is not kube-apiserver: ${argv[0]}`);
  const t0 = Date.now();
  // A zombie (nobody reaps it in this sandbox) counts as gone; SIGKILL if graceful shutdown lags
  // (it waits for long-running requests such as watches).
  const gone = () => {
    try {
      return /State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return true;
    }
  };
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 30 && !gone(); i++) await sleep(100);
  if (!gone()) process.kill(pid, 'SIGKILL');
  await eventually(async () => {
    if (!gone()) throw new Error('kube-apiserver still running');
  }, 30_000, 50);
  // detached = a new session (what setsid does in up.sh); `ip netns exec` execs, so the pid is the API server's.
  const log = openSync(join(state, 'logs', 'kube-apiserver.log'), 'a');
  const child = spawn('ip', ['netns', 'exec', env.netns, ...argv], { detached: true, stdio: ['ignore', log, log] });
  child.unref();
  closeSync(log);
  writeFileSync(pidFile, `${child.pid}\n`);
  await eventually(async () => {
    const r = spawnSync('kubectl', ['--kubeconfig', env.kubeconfig, '--request-timeout=2s', 'get', '--raw', '/readyz'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`API server not ready: ${r.stderr}`);
  }, 90_000, 100);
  return Date.now() - t0;
}

export { sleep, eventually };
