// `envserve up`: start the environment (local processes or a container) and expose its ports;
// stays in the foreground with a live status until Ctrl-C / SIGTERM, then leaves nothing behind.
// `serve` shares all of this with mode 'serve' (see serve.ts). The work is the environment
// session's (src/engine/session.ts: takeover, runtime, cluster plan source, control socket): this
// file turns the flags into its options and prints what it and its controller report.
import { Option, type Command } from 'commander';
import { lanCommands, type WslInfo } from '../../apply/local/wsl.js';
import type { EnvController } from '../../engine/controller.js';
import type { OperatorVerdict } from '../../engine/k8s-source.js';
import { listenersOf, openEnvironment } from '../../engine/session.js';
import { changes, formatStatus } from '../../status/format.js';
import type { EnvStatus } from '../../status/types.js';
import { printWarnings } from '../output.js';
import { stopLine } from '../stop-line.js';
import { startDashboard, uiOptions, type UiFlags } from '../ui-option.js';
import { dashboardEnvironment } from '../../ui/in-process.js';
import { fixedSource } from '../../ui/types.js';
import type { UiServer } from '../../ui/server.js';

export interface ForegroundOptions extends UiFlags {
  file: string;
  name?: string;
  runtime: 'local' | 'docker' | 'k8s';
  image?: string;
  target?: string;
  /** k8s runtime: pods chosen by label (key=value[,key=value]). */
  selector?: string;
  context?: string;
  namespace?: string;
  kubeconfig?: string;
  listen?: string;
  lan?: boolean;
  /** false with --no-operator (k8s runtime: apply Services/Ingresses with the user's own rights). */
  operator?: boolean;
  ingressDomain?: string;
  ingressClass?: string;
  gateway?: string;
  routeDomain?: string;
  autoExpose?: string;
  probeInterval: string;
  /** false with `up --no-restart`: processes (local) and the container (docker) stay down when they exit. */
  restart?: boolean;
}

export function lifecycleOptions(cmd: Command): Command {
  cmd
    .option('-f, --file <path>', 'the env file', 'build.envd')
    .option('--name <name>', "the environment's name (default: the env file's directory name)")
    .addOption(new Option('--runtime <runtime>', 'where the environment runs').choices(['local', 'docker', 'k8s']).default('local'))
    .option('--listen <address>', "listen address for every host exposure (default: each one's listen_addr, else 127.0.0.1)")
    .option('--lan', 'in WSL: print the Windows commands (netsh) that open the ports to the LAN; nothing is run')
    .option('--probe-interval <ms>', 'how often to check that each service answers; on Kubernetes, how soon after a change (then backing off to 30 s while nothing changes)', '2000')
    .option('--context <name>', 'k8s runtime: the kubeconfig context (default: the current one)')
    .option('-n, --namespace <namespace>', "k8s runtime: the namespace (default: the context's, else default)")
    .option('--kubeconfig <path>', 'k8s runtime: the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--no-operator', "k8s runtime: apply Services and Ingresses with your own rights even when the cluster has envserve's operator")
    .option('--ingress-domain <domain>', 'k8s runtime: an automatic Ingress for each HTTP Service under this domain (default: $ENVSERVE_INGRESS_DOMAIN)')
    .option('--ingress-class <class>', "k8s runtime: the IngressClass of automatic Ingresses (default: the cluster's default IngressClass)")
    .option('--gateway <namespace/name[/listener]>', 'k8s runtime: an automatic HTTPRoute on this Gateway for each HTTP Service, instead of an Ingress (default: $ENVSERVE_GATEWAY)')
    .option('--route-domain <domain>', 'k8s runtime: the domain of automatic HTTPRoutes (default: $ENVSERVE_ROUTE_DOMAIN, else the Ingress domain)')
    .option('--auto-expose <ingress|route>', 'k8s runtime: which automatic exposure HTTP Services get when both are configured');
  return uiOptions(cmd);
}

export function registerUp(program: Command): void {
  lifecycleOptions(
    program.command('up').description('start the environment and expose its ports here; stays in the foreground (Ctrl-C stops everything)'),
  )
    .option('--image <image>', "docker/k8s runtime: run this image instead of the one base() names (k8s: when base() names none)")
    .option('--target <target>', 'k8s:<namespace>/<deployment|pod>/<name>: attach to a running workload instead of creating one')
    .option('--selector <key=value>', 'k8s runtime: attach to the pods with these labels')
    .option('--no-restart', 'local/docker runtime: leave a process (or the container) down when it exits, instead of starting it again with backoff')
    .action((opts: ForegroundOptions) => runForeground('up', opts));
}

export async function runForeground(mode: 'up' | 'serve', opts: ForegroundOptions): Promise<void> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const session = await openEnvironment(opts.file, {
    mode,
    ...(opts.name !== undefined && { name: opts.name }),
    runtime: opts.runtime,
    ...pick(opts, ['image', 'target', 'selector', 'context', 'namespace', 'kubeconfig', 'listen', 'operator', 'ingressDomain', 'ingressClass', 'gateway', 'routeDomain', 'autoExpose', 'restart']),
    // The operator's client half loads with the Kubernetes client, only for the k8s runtime.
    operatorClient: async () => (await import('../../operator/client/operator-link.js')).operatorClient,
    probeIntervalMs: Number(opts.probeInterval) || 2000,
    onWarnings: printWarnings,
    onLog: say,
    onVerdict: (v) => printVerdict(v, say, print),
  });
  const { controller, store } = session;
  printLive(controller, { file: opts.file, statePath: store.path, lan: opts.lan ? (s) => lanText(session.wsl, s) : undefined });
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stop.signal.aborted) say(`${sig}: stopping`);
    stop.abort();
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  let ui: UiServer | undefined;
  try {
    // --ui: the dashboard on this session (src/ui/); its URL, with the token, is printed once.
    if (opts.ui) ui = await startDashboard(fixedSource(dashboardEnvironment(session)), opts, `envserve: ${session.plan.env.name}`, print);
    await session.run(stop.signal);
  } finally {
    stop.abort();
    await ui?.close();
    await session.close();
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal);
  }
  say(stopLine(store.read(), opts.file, store.envId));
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Partial<Pick<T, K>>;
}

/** The operator's decision: Ready/admitted with its exposures on stdout; a denial on stderr. */
function printVerdict(v: OperatorVerdict, say: (l: string) => void, print: (l: string) => void): void {
  if (v.state === 'Denied') {
    say(`the operator denied exposureset ${v.set}; nothing was created in the cluster:`);
    for (const l of v.denials) say(`  ${l}`);
    say(v.forwards.length ? `the port-forwards the policy allows run from this machine: ${v.forwards.join(', ')}` : 'the policy allows no port-forward of this environment either');
    return;
  }
  print(`exposureset ${v.set} (generation ${v.generation}): ${v.state === 'Ready' ? 'Ready through the envserve operator' : 'admitted by the envserve operator, not all Ready yet (envserve status follows it)'}`);
  for (const e of v.exposures) print(`  ${e.id}  ${e.kind}  ${e.reason}  ${e.url ?? (e.addresses ?? []).join(' ')}`);
}

/** The live view: the table once started, then one line per change, reloads and notes. */
function printLive(c: EnvController, o: { file: string; statePath: string; lan: ((s: EnvStatus) => string) | undefined }): void {
  let shown: EnvStatus | undefined;
  const stamp = () => new Date().toISOString().slice(11, 19);
  c.on('started', (s) => {
    process.stdout.write(formatStatus(s));
    if (o.lan) process.stdout.write(o.lan(s));
    process.stdout.write(`state: ${o.statePath}\nPress Ctrl-C to stop.\n`);
    shown = s;
  });
  c.on('status', (s) => {
    if (!shown) return;
    for (const line of changes(shown, s)) process.stdout.write(`${stamp()} ${line}\n`);
    shown = s;
  });
  c.on('stopping', () => (shown = undefined)); // no more live lines while stopping
  c.on('reload', (r) => {
    if (!r.ok) {
      const e = r.error as { format?: () => string };
      process.stderr.write(`${o.file} changed but cannot be used (still running the previous version):\n${e.format?.() ?? String(r.error)}\n`);
      return;
    }
    printWarnings(r.warnings);
    const started = r.added.length + r.changed.length;
    const stopped = r.removed.length + r.changed.length;
    process.stdout.write(`${stamp()} ${o.file} changed: ${started} exposure(s) started, ${stopped} stopped, ${r.unchanged.length} unchanged\n`);
    for (const n of r.notes) process.stdout.write(`${stamp()} note: ${n}\n`);
  });
}

function lanText(wsl: WslInfo | undefined, s: EnvStatus): string {
  if (!wsl) return `--lan: not in WSL; for LAN access here, listen on every address (--listen 0.0.0.0) and open the port in this machine's firewall\n`;
  return `${lanCommands(wsl, listenersOf(s)).join('\n')}\n`;
}

