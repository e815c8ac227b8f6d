// Options shared by the commands that shape a plan for a cluster (`plan`, `render`): a policy file
// to check against, and what automatic Ingresses need (a domain, a class). No cluster is read.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { IssuesError, UserError } from '../errors.js';
import type { Plan } from '../plan/types.js';
import { denialIssues, planForCluster, type ClusterPlan } from '../policy/cluster-plan.js';
import { parsePolicies } from '../policy/parse.js';
import { routeFlags } from '../policy/route.js';

export interface ClusterFlags {
  policy?: string;
  ingressDomain?: string;
  ingressClass?: string;
  namespaceLabel?: string[];
  gateway?: string;
  routeDomain?: string;
  autoExpose?: string;
}

export function addClusterOptions(cmd: Command): Command {
  return cmd
    .option('--policy <file>', 'check the exposures against ExposurePolicy objects in this YAML file (exit 2 when one is denied)')
    .option('--ingress-domain <domain>', 'make an Ingress for each HTTP Service under this domain (default: $ENVSERVE_INGRESS_DOMAIN, or the policy\'s)')
    .option('--ingress-class <class>', 'the IngressClass of automatic Ingresses (default: the policy\'s; else the cluster\'s default when applied)')
    .option('--gateway <namespace/name[/listener]>', 'make an HTTPRoute attached to this Gateway for each HTTP Service, instead of an Ingress (default: $ENVSERVE_GATEWAY, or the policy\'s)')
    .option('--route-domain <domain>', 'the domain of automatic HTTPRoutes (default: $ENVSERVE_ROUTE_DOMAIN, the policy\'s, else the Ingress domain)')
    .option('--auto-expose <ingress|route>', 'which automatic exposure HTTP Services get when both are configured (default: the policy\'s, else ingress)')
    .option('--namespace-label <key=value>', "a label of the target namespace, for the policies' namespaceSelector (repeatable)", (v: string, prev: string[] = []) => [...prev, v]);
}

export function clusterPlanFromFlags(plan: Plan, namespace: string, flags: ClusterFlags, env: NodeJS.ProcessEnv = process.env, noLogin?: string): ClusterPlan {
  const labels: Record<string, string> = {};
  for (const kv of flags.namespaceLabel ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UserError(`--namespace-label must be key=value, got "${kv}"`);
    labels[kv.slice(0, i)] = kv.slice(i + 1);
  }
  let policies;
  if (flags.policy !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.policy, 'utf8');
    } catch (e) {
      throw new UserError(`cannot read the policy file ${flags.policy}: ${(e as Error).message}`);
    }
    policies = parsePolicies(text, flags.policy);
  }
  const domain = flags.ingressDomain ?? (env.ENVSERVE_INGRESS_DOMAIN || undefined);
  return planForCluster(plan, {
    namespace,
    namespaceLabels: labels,
    ...(policies && { policies }),
    ...(domain !== undefined && { ingressDomain: domain }),
    ...(flags.ingressClass !== undefined && { ingressClass: flags.ingressClass }),
    ...(noLogin !== undefined && { noLogin }),
    ...routeFlags(flags, env),
  });
}

/** The error for a plan some policy denies: every denial, at its call, with its reason code. */
export function denialsError(cp: ClusterPlan): IssuesError {
  const n = cp.denials.length;
  if (cp.denials.every((d) => d.reason === 'LoginUnavailable')) {
    return new IssuesError(denialIssues(cp), `${n} URL${n === 1 ? ' needs' : 's need'} a login that nothing checks here; nothing was applied`);
  }
  return new IssuesError(denialIssues(cp), `${n} exposure${n === 1 ? ' is' : 's are'} denied by ${cp.evaluation.selecting.length === 1 ? 'policy' : 'policies'} ${cp.evaluation.selecting.join(', ')}; nothing was applied`);
}
