// `up`/`serve --runtime k8s`: the plan source the controller runs, picked from the cluster and the
// flags. The env file's plan gets its automatic Ingresses (--ingress-domain / ENVSERVE_INGRESS_DOMAIN,
// --ingress-class); then, when the cluster has envserve's operator (its CRDs) and --no-operator is not
// given, the cluster exposures go to the operator as an ExposureSet and only the port-forwards run
// here; otherwise (direct mode) the user's own rights apply them, after a warning for what a
// readable cluster policy would deny.
import { loadKubeClient, explainKubeError, type KubeClient } from '../apply/k8s/client.js';
import { parseSelector, parseTarget, resolveTarget } from '../apply/k8s/target.js';
import { MappedPlanSource, type PlanSource } from '../engine/plan-source.js';
import { denialLines, directModePolicyWarnings, operatorInstalled, versionSkew } from '../operator/client/cli-client.js';
import { operatorPlanSource } from '../operator/client/plan-source.js';
import { planForCluster } from '../policy/cluster-plan.js';
import type { Plan } from '../plan/types.js';

export interface K8sSourceFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  target?: string;
  selector?: string;
  /** false with --no-operator. */
  operator?: boolean;
  ingressDomain?: string;
  ingressClass?: string;
}

export interface K8sSource {
  source: PlanSource;
  mode: 'operator' | 'direct';
  close(): void;
}

export async function k8sPlanSource(file: PlanSource, flags: K8sSourceFlags, o: { signal: AbortSignal; say: (line: string) => void; print: (line: string) => void; env?: NodeJS.ProcessEnv }): Promise<K8sSource> {
  const client: KubeClient = loadKubeClient({ ...(flags.kubeconfig && { kubeconfig: flags.kubeconfig }), ...(flags.context && { context: flags.context }), ...(flags.namespace && { namespace: flags.namespace }) });
  const target = flags.target?.startsWith('k8s:') ? parseTarget(flags.target) : undefined;
  const namespace = target && (target.kind === 'deployment' || target.kind === 'pod') && target.namespace ? target.namespace : client.namespace;
  const domain = flags.ingressDomain ?? ((o.env ?? process.env).ENVSERVE_INGRESS_DOMAIN || undefined);
  // Pure: no policies here (the operator applies them; direct mode only warns).
  const shaped = new MappedPlanSource(file, (plan: Plan) =>
    planForCluster(plan, { namespace, ...(domain !== undefined && { ingressDomain: domain }), ...(flags.ingressClass !== undefined && { ingressClass: flags.ingressClass }) }).plan,
  );
  try {
    if (flags.operator !== false && (await operatorInstalled(client))) {
      // The operator's Services select the pods envserve forwards to.
      const selector = flags.selector ? parseSelector(flags.selector) : target ? (await resolveTarget(client, target, namespace, '')).serviceSelector : undefined;
      let skewTold = false;
      o.say(`envserve operator found in this cluster: the cluster exposures go to it as exposureset ${namespace}/<env> (--no-operator applies them with your own rights)`);
      const source = operatorPlanSource(shaped, client, namespace, {
        signal: o.signal,
        ...(selector && { selector }),
        onVerdict: ({ set, verdict, localPlan }) => {
          if (verdict.state === 'NoOperator') return;
          const skew = versionSkew(verdict.status);
          if (skew && !skewTold) o.say(`warning: ${skew}`);
          skewTold ||= skew !== undefined;
          const name = `${namespace}/${set.metadata.name}`;
          const forwards = localPlan.exposures.filter((e) => e.kind === 'k8s-port-forward').map((e) => e.id);
          if (verdict.state === 'Denied') {
            o.say(`the operator denied exposureset ${name}; nothing was created in the cluster:`);
            for (const l of denialLines(verdict.status)) o.say(`  ${l}`);
            o.say(forwards.length ? `the port-forwards the policy allows run from this machine: ${forwards.join(', ')}` : 'the policy allows no port-forward of this environment either');
            return;
          }
          o.print(`exposureset ${name} (generation ${verdict.status.observedGeneration}): ${verdict.state === 'Ready' ? 'Ready through the envserve operator' : 'admitted by the envserve operator, not all Ready yet (envserve status follows it)'}`);
          for (const e of verdict.status.exposures ?? []) {
            if (e.kind === 'k8s-port-forward') continue;
            o.print(`  ${e.id}  ${e.kind}  ${e.reason}  ${e.url ?? (e.addresses ?? []).join(' ')}`);
          }
        },
      });
      return { source, mode: 'operator', close: () => client.close() };
    }
  } catch (e) {
    client.close();
    throw explainKubeError(e, `looking for the envserve operator (${client.server}, namespace ${namespace})`);
  }
  // Direct mode: warn before anything is created (preflight and apply follow the load).
  const source = new MappedPlanSource(shaped, async (plan: Plan) => {
    try {
      const at = new Map(plan.exposures.map((e) => [e.id, e.position]));
      for (const d of await directModePolicyWarnings(client, plan, namespace)) o.say(`warning: ${at.get(d.id) ? `${at.get(d.id)}: ` : ''}${d.id}: ${d.message} [${d.reason}] (a cluster policy would deny this; applying it with your own rights)`);
    } catch (e) {
      o.say(`warning: could not check the cluster's envserve policies: ${(e as Error).message}`);
    }
    return plan;
  });
  return { source, mode: 'direct', close: () => client.close() };
}
