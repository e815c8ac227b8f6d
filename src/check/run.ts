// `envserve check` as a library call: from an env file (every exposure of its plan) or from a
// Kubernetes target with no env file, to a CheckReport. The CLI prints it; the dashboard and the
// operator can call this directly.
import { UserError } from '../errors.js';
import { staleReason } from '../engine/down.js';
import { explainKubeError, loadKubeClient, type KubeClient } from '../apply/k8s/client.js';
import { planFromFile } from '../envfile/from-file.js';
import { StateStore } from '../engine/state.js';
import { DEFAULT_DEBUG_IMAGE, DEFAULT_FALLBACK_IMAGE } from './debug-pod.js';
import { checkK8s } from './k8s.js';
import { checkLocal } from './local.js';
import { buildReport, type ExposureInfo } from './report.js';
import { parseCheckTarget, subjectFromPlan, subjectFromTarget, withAutomaticExposures, type K8sSubject, type WorkloadRef } from './subject.js';
import type { Check, CheckReport } from './types.js';

export interface CheckOptions {
  file?: string;
  name?: string;
  /** For the host exposures: which runtime `up` uses (default: what the state file says, else local). */
  runtime?: 'local' | 'docker' | 'k8s';
  /** `k8s:[NS/]KIND/NAME`: check a workload or object that has no env file. */
  target?: string;
  port?: number;
  /** The host users type for an Ingress (--target). */
  host?: string;
  context?: string;
  namespace?: string;
  kubeconfig?: string;
  /** The inside-the-cluster probes (default true). */
  debugPod?: boolean;
  debugImage?: string;
  /** The minimal probe's image when the node cannot pull the debug image (default $ENVSERVE_FALLBACK_IMAGE or busybox:1.36). */
  fallbackImage?: string;
  debugTimeoutMs?: number;
  probeTimeoutMs?: number;
  /** An already loaded client (tests, the bench). */
  client?: KubeClient;
  /** Port-forward listeners by exposure id, when the caller runs them (the dashboard, tests); else read from the state file. */
  localListeners?: Map<string, { address: string; port: number }>;
}

const infoOf = (s: K8sSubject): ExposureInfo[] => s.exposures.map((x) => ({ id: x.id, kind: x.kind, protocol: x.protocol }));

export async function runCheck(o: CheckOptions): Promise<CheckReport> {
  const t0 = Date.now();
  if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)) throw new UserError(`--port ${o.port} is not a port number (1-65535)`);
  if (o.target !== undefined && o.file === undefined) {
    const t = parseCheckTarget(o.target);
    if (o.port === undefined && (t.kind === 'deployment' || t.kind === 'pod')) {
      throw new UserError(`--target ${o.target} needs --port: the container port users should reach`, `e.g. envserve check --target ${o.target} --port 8888`);
    }
    const client = o.client ?? loadKubeClient({ ...(o.context && { context: o.context }), ...(o.kubeconfig && { kubeconfig: o.kubeconfig }), ...(o.namespace && { namespace: o.namespace }) });
    const namespace = t.namespace ?? o.namespace ?? client.namespace;
    const r = await k8s(client, namespace, o, (snap) => subjectFromTarget(t, namespace, snap, o.port, o.host), t);
    return buildReport({ runtime: 'k8s', namespace }, infoOf(r.subject), r.checks, Date.now() - t0);
  }
  const file = o.file ?? 'build.envd';
  const plan = planFromFile(file, o.name !== undefined ? { envName: o.name } : {});
  if (plan.exposures.length === 0) throw new UserError(`${file} exposes nothing: its serve() declares no exposure`, 'add host.bind(...) or cloud.k8s.bind(...) to serve()');
  const record = new StateStore(plan.source).read();
  const state = record?.status;
  const stale = record ? staleReason(record) : undefined;
  // The cluster `up`/`serve` used, unless flags say otherwise: check needs no cluster flags either.
  if (record?.cluster) o = { ...o, context: o.context ?? record.cluster.context, namespace: o.namespace ?? record.cluster.namespace, ...(record.cluster.kubeconfig && { kubeconfig: o.kubeconfig ?? record.cluster.kubeconfig }) };
  const checks: Check[] = [];
  const exposures: ExposureInfo[] = [];
  const hostExposures = plan.exposures.filter((e) => e.kind === 'host');
  let runtime: CheckReport['runtime'] = o.runtime ?? (state?.runtime === 'docker' ? 'docker' : 'local');
  if (hostExposures.length) {
    checks.push(...await checkLocal({ plan, ...(state && { state }), ...(stale && { stale }), file, ...(o.probeTimeoutMs && { timeoutMs: o.probeTimeoutMs }) }));
    exposures.push(...hostExposures.map((e) => ({ id: e.id, kind: e.kind, protocol: e.protocol })));
  }
  let namespace: string | undefined;
  if (plan.exposures.some((e) => e.kind !== 'host')) {
    runtime = 'k8s';
    const client = o.client ?? loadKubeClient({ ...(o.context && { context: o.context }), ...(o.kubeconfig && { kubeconfig: o.kubeconfig }), ...(o.namespace && { namespace: o.namespace }) });
    namespace = o.namespace ?? client.namespace;
    const local = new Map<string, { address: string; port: number }>(o.localListeners ?? []);
    if (state && !stale && state.runtime === 'k8s') for (const e of state.exposures) if (e.kind === 'k8s-port-forward' && e.listen) local.set(e.id, e.listen);
    // With --target, the env file's exposures are checked against that workload (as `serve --target`);
    // without, against the one the running `serve --target`/`--selector` reaches (its record says).
    const attach = o.target !== undefined ? parseCheckTarget(o.target) : undefined;
    if (attach && attach.kind !== 'deployment' && attach.kind !== 'pod') throw new UserError(`--target with an env file names the workload the exposures reach: k8s:NS/deployment/NAME or k8s:NS/pod/NAME, not ${attach.kind}`);
    if (attach?.namespace) namespace = attach.namespace;
    const workload: WorkloadRef | undefined = attach ? { kind: attach.kind as 'deployment' | 'pod', name: attach.name } : record?.cluster?.workload;
    const fromFile = subjectFromPlan(plan, namespace, workload);
    const r = await k8s(client, namespace!, o, (snap) => withAutomaticExposures(fromFile, snap, plan.env.name), fromFile.workload, local);
    checks.push(...r.checks);
    exposures.push(...infoOf(r.subject));
  }
  return buildReport({ runtime, envName: plan.env.name, ...(namespace && { namespace }) }, exposures, checks, Date.now() - t0);
}

async function k8s(client: KubeClient, namespace: string, o: CheckOptions, subject: Parameters<typeof checkK8s>[0]['subject'], workload: Parameters<typeof checkK8s>[0]['workload'], local?: Map<string, { address: string; port: number }>) {
  // A client made here is closed here (its keep-alive connections would hold the process).
  const owned = o.client === undefined;
  try {
    return await checkK8s({
      client, namespace, subject, ...(workload && { workload }),
      debugPod: o.debugPod === false ? false : {
        image: o.debugImage ?? process.env.ENVSERVE_DEBUG_IMAGE ?? DEFAULT_DEBUG_IMAGE,
        fallbackImage: o.fallbackImage ?? process.env.ENVSERVE_FALLBACK_IMAGE ?? DEFAULT_FALLBACK_IMAGE,
        ...(o.debugTimeoutMs && { timeoutMs: o.debugTimeoutMs }),
      },
      ...(local && { localListeners: local }),
      ...(o.probeTimeoutMs && { probeTimeoutMs: o.probeTimeoutMs }),
    });
  } catch (e) {
    throw explainKubeError(e, `Kubernetes (${client.server}, namespace ${namespace})`);
  } finally {
    if (owned) client.close();
  }
}
