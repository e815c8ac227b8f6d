// `envserve plan`: evaluate the env file, plan every exposure, validate, print.
import type { Command } from 'commander';
import { planFromFile } from '../../envfile/from-file.js';
import type { Exposure, Plan } from '../../plan/types.js';
import { DEFAULT_ACCESS } from '../../plan/access.js';
import { inClusterOnly, reachNote } from '../../plan/reach.js';
import type { ClusterPlan } from '../../policy/cluster-plan.js';
import { addClusterOptions, clusterPlanFromFlags, denialsError, type ClusterFlags } from '../cluster-options.js';
import { outputOption, printData, printWarnings, table, type OutputFormat } from '../output.js';

export function registerPlan(program: Command): void {
  const cmd = program
    .command('plan')
    .description('show what the env file exposes, where, and how; nothing is applied')
    .option('-f, --file <path>', 'the env file', 'build.envd')
    .option('--name <name>', "the environment's name (default: the env file's directory name)")
    .option('-n, --namespace <namespace>', 'the namespace the cloud exposures are meant for (host templates, policies)', 'default')
    .option('--load-root <dir>', "the folder load() may read under (default: the env file's folder)")
    .addOption(outputOption());
  addClusterOptions(cmd).action((opts: { file: string; name?: string; namespace: string; loadRoot?: string; output: OutputFormat } & ClusterFlags) => {
    const filePlan = planFromFile(opts.file, {
      ...(opts.name !== undefined && { envName: opts.name }),
      ...(opts.loadRoot !== undefined && { loadRoot: opts.loadRoot }),
    });
    printWarnings(filePlan.warnings);
    const cp = clusterPlanFromFlags(filePlan, opts.namespace, opts);
    const checked = opts.policy !== undefined;
    if (opts.output === 'table') process.stdout.write(planTable(cp.plan, checked ? cp : undefined));
    else printData(opts.output, checked ? { ...cp.plan, policy: policySummary(cp) } : cp.plan);
    if (cp.denials.length > 0) throw denialsError(cp);
  });
}

/** The policy's verdict in `plan -o json|yaml` (only with --policy): which policies applied, and each decision. */
function policySummary(cp: ClusterPlan) {
  return {
    selecting: cp.evaluation.selecting,
    allowed: cp.evaluation.allowed,
    decisions: cp.evaluation.decisions.map((d) => (d.admitted ? { id: d.id, decision: 'Admitted' } : { id: d.id, decision: 'Denied', reason: d.reason, message: d.message })),
  };
}

export function planTable(plan: Plan, cp?: ClusterPlan): string {
  const b = plan.env.base;
  const base = [b.image && `image=${b.image}`, b.os && `os=${b.os}`, b.language && `language=${b.language}`].filter(Boolean).join(' ');
  let out = `Environment: ${plan.env.name}${base ? ` (${base})` : ''}   from ${plan.source}\n`;
  if (plan.env.services.length > 0) {
    out += `Services:    ${plan.env.services.map((s) => `${s.name} ${s.port}/${s.protocol}`).join(', ')}\n`;
  }
  if (plan.exposures.length === 0) return `${out}\nNo exposures: the file's serve() declares none.\n`;
  const decided = new Map(cp?.evaluation.decisions.map((d) => [d.id, d.admitted ? 'admitted' : `DENIED (${d.reason})`]));
  const rows = [['ID', 'KIND', 'ENV PORT', 'EXPOSED AT', 'PROTOCOL', ...(cp ? ['POLICY'] : []), 'DECLARED AT']];
  for (const e of plan.exposures) {
    const at = (e.kind === 'k8s-ingress' || e.kind === 'k8s-route') && e.automatic ? `${e.position} (automatic)` : e.position;
    rows.push([e.id, e.kind, String(e.envPort), exposedAt(e), e.protocol, ...(cp ? [decided.get(e.id) ?? ''] : []), at]);
  }
  let policyLine = '';
  if (cp) policyLine = cp.evaluation.selecting.length ? `Policies:    ${cp.evaluation.selecting.join(', ')} (allowed: ${cp.evaluation.allowed})\n` : 'Policies:    none selects this namespace: everything is allowed\n';
  // Issue 22: a ClusterIP answers only inside the cluster; say what reaches it from here.
  const notes = plan.exposures.map((e) => reachNote(plan.exposures, e)).filter((n): n is string => n !== undefined);
  return `${out}${policyLine}\n${table(rows)}${notes.length ? `\n${notes.map((n) => `${n}\n`).join('')}` : ''}`;
}

function exposedAt(e: Exposure): string {
  switch (e.kind) {
    case 'host':
      return `${e.listenAddress}:${e.hostPort === 0 ? '(free port)' : e.hostPort}`;
    case 'k8s-port-forward':
      return `${e.listenAddress}:${e.hostPort} (port-forward)`;
    case 'k8s-service':
      return `${e.serviceType} port ${e.servicePort}${e.nodePort !== undefined ? `, node port ${e.nodePort}` : ''}${inClusterOnly(e) ? ' (in-cluster only)' : ''}`;
    case 'k8s-ingress':
      return `http${e.tlsSecret ? 's' : ''}://${e.host}${e.path} (Ingress, access: ${e.access ?? DEFAULT_ACCESS})`;
    case 'k8s-route':
      return `http${e.https ? 's' : ''}://${e.host}${e.path} (HTTPRoute${e.gateway ? ` via ${e.gateway.namespace}/${e.gateway.name}${e.gateway.sectionName ? `/${e.gateway.sectionName}` : ''}` : ''}, access: ${e.access ?? DEFAULT_ACCESS})`;
  }
}
