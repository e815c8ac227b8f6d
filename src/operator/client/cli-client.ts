// The CLI's side when an operator is present: detect it (its CRD), submit the environment's cluster
// exposures as an ExposureSet through the Kubernetes API (the user needs only the envserve-user
// role), follow the operator's status, and render denials. Also the direct mode's early warning:
// check the plan against the cluster's policies when the user may read them.
// Front ends (`serve`/`up --runtime k8s`, `envserve operator submit`) call these; no printing here.
import { isNotFound, KubeApiError, type KubeClient } from '../../apply/k8s/client.js';
import { Informer } from '../../apply/k8s/informer.js';
import type { Plan } from '../../plan/types.js';
import { planForCluster, type Denial } from '../../policy/cluster-plan.js';
import { policyFromObject } from '../../policy/parse.js';
import type { ExposurePolicy } from '../../policy/types.js';
import { exposureSetFromPlan } from '../exposure-set.js';
import { sameMinor, VERSION } from '../../version.js';
import { API_VERSION, PLURAL, policiesPath, resourcePath, type ExposureSet, type ExposureSetStatus } from '../resource.js';

type Api = Pick<KubeClient, 'request' | 'watch'>;

/** Whether the cluster has envserve's CRDs (then `serve --runtime k8s` goes through the operator unless --no-operator). */
export async function operatorInstalled(client: Pick<KubeClient, 'request'>): Promise<boolean> {
  try {
    // The ExposureSet resource itself, not just the group: other envserve kinds (Login) may be there alone.
    const list = await client.request<{ resources?: { name: string }[] }>(`/apis/${API_VERSION}`);
    return (list?.resources ?? []).some((r) => r.name === PLURAL);
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** Creates or updates the ExposureSet for the plan (server-side apply as the user). */
export async function submitPlan(client: Pick<KubeClient, 'request'>, plan: Plan, namespace: string, opts: { selector?: Record<string, string>; name?: string } = {}): Promise<ExposureSet> {
  const set = exposureSetFromPlan(plan, namespace, opts);
  return client.request<ExposureSet>(resourcePath(namespace, set.metadata.name), {
    method: 'PATCH',
    query: { fieldManager: 'envserve', force: true },
    contentType: 'application/apply-patch+yaml',
    body: set,
  });
}

/** Admitted: the operator applied it but not everything answers yet (no pod behind a Service yet, say). */
export type Verdict = { state: 'Ready' | 'Admitted' | 'Denied'; status: ExposureSetStatus } | { state: 'NoOperator'; message: string };

/** A cache of one ExposureSet, listed and watched by name. */
export function exposureSetInformer(client: Api, namespace: string, name: string): Informer<ExposureSet> {
  return new Informer<ExposureSet>(client, resourcePath(namespace), '', `metadata.name=${name}`);
}

/**
 * Follows the ExposureSet until the operator has decided on this generation: Denied, or Ready, or
 * Admitted when it has not become Ready within `readyGraceMs` of being admitted (`serve`/`up` go on
 * then: the pods the Services need may be what they are about to start). `onStatus` sees every
 * status on the way. No status for `noOperatorMs` → NoOperator. At `timeoutMs` an admitted set is
 * Admitted, else NoOperator.
 */
export async function waitForVerdict(client: Api, namespace: string, name: string, generation: number, o: { signal: AbortSignal; onStatus?: (s: ExposureSetStatus) => void; noOperatorMs?: number; timeoutMs?: number; readyGraceMs?: number }): Promise<Verdict> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  o.signal.addEventListener('abort', stop, { once: true });
  let verdict: Verdict | undefined;
  let admitted: ExposureSetStatus | undefined;
  let grace: NodeJS.Timeout | undefined;
  const look = (s: ExposureSet) => {
    const st = s.status;
    if (!st || (st.observedGeneration ?? 0) < generation) return;
    o.onStatus?.(st);
    const c = (t: string) => st.conditions?.find((x) => x.type === t);
    if (c('Denied')?.status === 'True') verdict = { state: 'Denied', status: st };
    else if (c('Ready')?.status === 'True') verdict = { state: 'Ready', status: st };
    else if (c('Admitted')?.status === 'True') {
      admitted = st;
      if (o.readyGraceMs !== undefined) grace ??= setTimeout(() => { verdict = { state: 'Admitted', status: admitted! }; ac.abort(); }, o.readyGraceMs);
    }
    if (verdict) ac.abort();
  };
  const noOp = setTimeout(() => { if (!admitted && !verdict) { verdict = { state: 'NoOperator', message: `no envserve operator answered within ${(o.noOperatorMs ?? 10_000) / 1000} s: the CRDs are installed but the operator does not run (kubectl -n envserve-system get pods), or use --no-operator` }; ac.abort(); } }, o.noOperatorMs ?? 10_000);
  const deadline = setTimeout(() => ac.abort(), o.timeoutMs ?? 120_000);
  const sets = exposureSetInformer(client, namespace, name);
  sets.on('change', (_name: string, s?: ExposureSet) => s && look(s));
  try {
    await sets.start(); // a first GET that fails (403, 404) is the caller's error
    if (!ac.signal.aborted) await new Promise<void>((r) => ac.signal.addEventListener('abort', () => r(), { once: true }));
  } finally {
    sets.stop();
    clearTimeout(noOp);
    clearTimeout(deadline);
    clearTimeout(grace);
    o.signal.removeEventListener('abort', stop);
  }
  return verdict ?? (admitted ? { state: 'Admitted', status: admitted } : { state: 'NoOperator', message: 'stopped before the operator decided' });
}

/** The warning for an operator of another minor version than this CLI (it reports its version in every status). */
export function versionSkew(status: ExposureSetStatus, cliVersion = VERSION): string | undefined {
  const v = status.operatorVersion;
  if (!v || sameMinor(v, cliVersion)) return undefined;
  return `version skew: the envserve operator in this cluster is ${v}, this envserve is ${cliVersion}; use the CLI of the operator's minor version (or ask ops to upgrade the operator)`;
}

export interface ThroughOperator {
  set: ExposureSet;
  verdict: Verdict;
  /**
   * What the user's machine still runs: the host exposures and the port-forwards the operator
   * admitted (Services and Ingresses are the operator's). On a denial the port-forwards the policy
   * allows still run, so `serve` brings them up and prints the denial.
   */
  localPlan: Plan;
}

/**
 * `serve`/`up --runtime k8s` with an operator present: submit the plan, wait for the verdict, and
 * hand back what stays local. The caller runs `localPlan` with the Kubernetes runtime (port-forwards)
 * and prints `denialLines(verdict.status)` when denied.
 */
export async function serveThroughOperator(client: Api, plan: Plan, namespace: string, o: { signal: AbortSignal; selector?: Record<string, string>; onStatus?: (s: ExposureSetStatus) => void; timeoutMs?: number; noOperatorMs?: number; readyGraceMs?: number }): Promise<ThroughOperator> {
  const set = await submitPlan(client, plan, namespace, o.selector ? { selector: o.selector } : {});
  const verdict = await waitForVerdict(client, namespace, set.metadata.name, set.metadata.generation ?? 1, {
    signal: o.signal,
    ...(o.onStatus && { onStatus: o.onStatus }),
    ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
    ...(o.noOperatorMs !== undefined && { noOperatorMs: o.noOperatorMs }),
    ...(o.readyGraceMs !== undefined && { readyGraceMs: o.readyGraceMs }),
  });
  const admitted = new Set(verdict.state === 'NoOperator' ? [] : (verdict.status.exposures ?? []).filter((e) => e.decision === 'Admitted').map((e) => e.id));
  const localPlan = { ...plan, exposures: plan.exposures.filter((e) => e.kind === 'host' || (e.kind === 'k8s-port-forward' && admitted.has(e.id))) };
  return { set, verdict, localPlan };
}

/** The lines a user reads for a denied ExposureSet: each denied exposure with the policy's reason and what it allows. */
export function denialLines(status: ExposureSetStatus): string[] {
  const lines = (status.exposures ?? []).filter((e) => e.decision === 'Denied').map((e) => `${e.id}: ${e.message ?? e.reason} [${e.reason}]`);
  if (lines.length) return lines;
  const d = status.conditions?.find((c) => c.type === 'Denied');
  return d ? [`${d.message} [${d.reason}]`] : [];
}

/**
 * Direct mode: the cluster's policies, if this user may read them, applied to the plan; each
 * denial is a warning to print before anything is created. Unreadable policies → no warnings.
 */
export async function directModePolicyWarnings(client: Pick<KubeClient, 'request'>, plan: Plan, namespace: string): Promise<Denial[]> {
  let policies: ExposurePolicy[];
  try {
    const list = await client.request<{ items: unknown[] }>(policiesPath());
    policies = list.items.map((o) => {
      const { policy, errors } = policyFromObject(o);
      return errors.length ? { ...policy, errors } : policy;
    });
  } catch (e) {
    if (e instanceof KubeApiError && (e.code === 403 || e.code === 404)) return [];
    throw e;
  }
  let labels: Record<string, string> = {};
  try {
    labels = (await client.request<{ metadata: { labels?: Record<string, string> } }>(`/api/v1/namespaces/${encodeURIComponent(namespace)}`)).metadata.labels ?? {};
  } catch (e) {
    if (!(e instanceof KubeApiError && (e.code === 403 || e.code === 404))) throw e;
  }
  return planForCluster(plan, { namespace, namespaceLabels: labels, policies }).denials;
}
