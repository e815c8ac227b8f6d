// `envserve plan`: evaluate the env file, plan every exposure, validate, print.
import type { Command } from 'commander';
import { planFromFile } from '../../plan/from-file.js';
import type { Exposure, Plan } from '../../plan/types.js';
import { outputOption, printData, printWarnings, table, type OutputFormat } from '../output.js';

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('show what the env file exposes, where, and how; nothing is applied')
    .option('-f, --file <path>', 'the env file', 'build.envd')
    .option('--name <name>', "the environment's name (default: the env file's directory name)")
    .option('--load-root <dir>', "the folder load() may read under (default: the env file's folder)")
    .addOption(outputOption())
    .action((opts: { file: string; name?: string; loadRoot?: string; output: OutputFormat }) => {
      const plan = planFromFile(opts.file, {
        ...(opts.name !== undefined && { envName: opts.name }),
        ...(opts.loadRoot !== undefined && { loadRoot: opts.loadRoot }),
      });
      printWarnings(plan.warnings);
      if (opts.output === 'table') process.stdout.write(planTable(plan));
      else printData(opts.output, plan);
    });
}

export function planTable(plan: Plan): string {
  const b = plan.env.base;
  const base = [b.image && `image=${b.image}`, b.os && `os=${b.os}`, b.language && `language=${b.language}`].filter(Boolean).join(' ');
  let out = `Environment: ${plan.env.name}${base ? ` (${base})` : ''}   from ${plan.source}\n`;
  if (plan.env.services.length > 0) {
    out += `Services:    ${plan.env.services.map((s) => `${s.name} ${s.port}/${s.protocol}`).join(', ')}\n`;
  }
  if (plan.exposures.length === 0) return `${out}\nNo exposures: the file's serve() declares none.\n`;
  const rows = [['ID', 'KIND', 'ENV PORT', 'EXPOSED AT', 'PROTOCOL', 'DECLARED AT']];
  for (const e of plan.exposures) rows.push([e.id, e.kind, String(e.envPort), exposedAt(e), e.protocol, e.position]);
  return `${out}\n${table(rows)}`;
}

function exposedAt(e: Exposure): string {
  switch (e.kind) {
    case 'host':
      return `${e.listenAddress}:${e.hostPort === 0 ? '(free port)' : e.hostPort}`;
    case 'k8s-port-forward':
      return `${e.listenAddress}:${e.hostPort} (port-forward)`;
    case 'k8s-service':
      return `${e.serviceType} port ${e.servicePort}${e.nodePort !== undefined ? `, node port ${e.nodePort}` : ''}`;
    case 'k8s-ingress':
      return `http${e.tlsSecret ? 's' : ''}://${e.host}${e.path} (Ingress)`;
  }
}
