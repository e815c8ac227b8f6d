// `envserve up`: start the environment (local processes or a container) and expose its ports;
// stays in the foreground with a live status until Ctrl-C / SIGTERM, then leaves nothing behind.
// `serve` shares all of this with mode 'serve' (see serve.ts). The work is the EnvController's
// (src/engine/): this file picks the runtime from the flags, serves the control socket, and prints
// what the controller reports.
import { Option, type Command } from 'commander';
import { UserError } from '../../errors.js';
import { LocalRuntime } from '../../apply/local/runtime.js';
import { detectWsl, lanCommands, wslNotes, type WslInfo } from '../../apply/local/wsl.js';
import type { Runtime } from '../../apply/types.js';
import { ControlServer } from '../../engine/control.js';
import { EnvController } from '../../engine/controller.js';
import { down, staleReason } from '../../engine/down.js';
import { FilePlanSource, type PlanSource } from '../../engine/plan-source.js';
import { StateStore } from '../../engine/state.js';
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
    .option('--ingress-class <class>', "k8s runtime: the IngressClass of automatic Ingresses (default: the cluster's default IngressClass)");
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
  if (opts.restart === false && (opts.runtime === 'k8s' || opts.target?.startsWith('k8s:') || opts.selector)) {
    throw new UserError('--no-restart applies to the local and docker runtimes', "on Kubernetes the kubelet restarts the pod's containers (restartPolicy: Always)");
  }
  const file = new FilePlanSource(opts.file, opts.name !== undefined ? { envName: opts.name } : {});
  const plan = await file.load();
  printWarnings(plan.warnings);
  const store = new StateStore(plan.source);
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const existing = store.read();
  // An earlier `serve` that stopped cleanly and left its Services/Ingresses: adopted by this run
  // (server-side apply, stale ones pruned) when it applies to the same cluster and namespace.
  const leftover = existing?.stoppedAt ? existing : undefined;
  if (existing && !leftover) {
    if (!staleReason(existing)) {
      throw new UserError(
        `${existing.envName} is already ${existing.mode === 'up' ? 'up' : 'served'} by envserve (pid ${existing.pid}, ${existing.runtime} runtime)`,
        `envserve status -f ${opts.file} shows it; envserve down -f ${opts.file} stops it`,
        'AlreadyRunning',
      );
    }
    say(`cleaning up after an earlier envserve (pid ${existing.pid}) that did not stop cleanly`);
    await down(store, (l) => say(`  ${l}`));
  }
  if (opts.target?.startsWith('docker:')) opts.runtime = 'docker';
  if ((opts.target?.startsWith('k8s:') || opts.selector) && opts.runtime === 'local') opts.runtime = 'k8s';
  const restart = opts.restart !== false;
  // Runtime modules load on demand: dockerode (~30 MB) and the Kubernetes client (~50 MB) would
  // otherwise sit in the memory of every proxy process.
  const runtime: Runtime =
    opts.runtime === 'k8s'
      ? await k8sRuntime(opts)
      : opts.runtime === 'docker'
      ? new (await import('../../apply/docker/runtime.js')).DockerRuntime({ ...(opts.image ? { image: opts.image } : {}), ...(opts.target ? { target: opts.target.replace(/^docker:/, '') } : {}), log: say, restart })
      : new LocalRuntime({ logDir: store.logDir, restart });
  const stop = new AbortController();
  // k8s: automatic Ingresses, and the operator when the cluster has one (src/cli/k8s-source.ts).
  const cluster = opts.runtime === 'k8s' ? await (await import('../k8s-source.js')).k8sPlanSource(file, opts, { signal: stop.signal, say, print: (l) => process.stdout.write(`${l}\n`) }) : undefined;
  const source: PlanSource = cluster?.source ?? file;
  const wsl = detectWsl(process.env.ENVSERVE_PROC_ROOT || '/proc');
  const controller = new EnvController({
    source,
    runtime,
    mode,
    store,
    controlSocket: store.socketPath,
    probeIntervalMs: Math.max(100, Number(opts.probeInterval) || 2000),
    settleMs: mode === 'up' ? 5000 : 1000,
    ...(opts.listen ? { listenOverride: opts.listen } : {}),
    ...(wsl ? { extraNotes: (s: EnvStatus) => wslNotes(wsl, listenersOf(s)) } : {}),
  });
  printLive(controller, { file: opts.file, statePath: store.path, lan: opts.lan ? (s) => lanText(wsl, s) : undefined, say });

  const onSignal = (sig: NodeJS.Signals) => {
    if (!stop.signal.aborted) say(`${sig}: stopping`);
    stop.abort();
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  if (leftover) {
    const before = leftover;
    controller.on('started', () => {
      const now = runtime.resources().cluster;
      const c = before.cluster;
      if (c && !(now && now.server === c.server && now.namespace === c.namespace && before.envName === plan.env.name)) {
        say(`removing what an earlier envserve left in namespace ${c.namespace} (${c.server})`);
        void import('../../apply/k8s/remove.js')
          .then(({ removeOwnedFromRecord }) => removeOwnedFromRecord(c, before.envName))
          .then((objs) => objs.forEach((o) => say(`  deleted ${o.kind.toLowerCase()} ${o.namespace}/${o.name}`)))
          .catch((e: Error) => say(`  could not remove them: ${e.message} (envserve down --runtime k8s -n ${c.namespace} does)`));
      }
    });
  }
  const control = await ControlServer.listen(controller, store.socketPath);
  let ui: UiServer | undefined;
  try {
    // --ui: the dashboard on this controller (src/ui/); its URL, with the token, is printed once.
    if (opts.ui) ui = await startDashboard(fixedSource(dashboardEnvironment(controller, store.envId, runtime)), opts, `envserve: ${plan.env.name}`, (l) => process.stdout.write(`${l}\n`));
    await controller.run(stop.signal);
  } finally {
    stop.abort(); // also after a failed start: ends what follows the cluster (the operator's status)
    await ui?.close();
    await control.close();
    cluster?.close();
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal);
  }
  say(stopLine(store.read(), opts.file, store.envId));
}

/** The live view: the table once started, then one line per change, reloads and notes. */
function printLive(c: EnvController, o: { file: string; statePath: string; lan: ((s: EnvStatus) => string) | undefined; say: (l: string) => void }): void {
  let shown: EnvStatus | undefined;
  const stamp = () => new Date().toISOString().slice(11, 19);
  c.on('log', o.say);
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
      o.say(`${o.file} changed but cannot be used (still running the previous version):\n${e.format?.() ?? String(r.error)}`);
      return;
    }
    printWarnings(r.warnings);
    const started = r.added.length + r.changed.length;
    const stopped = r.removed.length + r.changed.length;
    process.stdout.write(`${stamp()} ${o.file} changed: ${started} exposure(s) started, ${stopped} stopped, ${r.unchanged.length} unchanged\n`);
    for (const n of r.notes) process.stdout.write(`${stamp()} note: ${n}\n`);
  });
}

/** The Kubernetes runtime from the CLI flags (KUBECONFIG, --context, -n, --target, --selector, --image). */
async function k8sRuntime(opts: ForegroundOptions): Promise<Runtime> {
  const { K8sRuntime } = await import('../../apply/k8s/runtime.js');
  const { parseSelector, parseTarget } = await import('../../apply/k8s/target.js');
  if (opts.target && !opts.target.startsWith('k8s:')) throw new UserError(`--target ${opts.target} is not a Kubernetes target`, 'write it as k8s:<namespace>/deployment/<name> or k8s:<namespace>/pod/<name>');
  if (opts.target && opts.selector) throw new UserError('give --target or --selector, not both');
  const target = opts.target ? parseTarget(opts.target) : opts.selector ? { kind: 'selector' as const, labels: parseSelector(opts.selector) } : undefined;
  return new K8sRuntime({
    ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context ? { context: opts.context } : {}),
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    ...(opts.image ? { image: opts.image } : {}),
    ...(target ? { target } : {}),
  });
}

function listenersOf(s: EnvStatus) {
  return s.exposures.filter((e) => e.listen).map((e) => ({ name: e.name ?? e.id, address: e.listen!.address, port: e.listen!.port, protocol: e.protocol }));
}

function lanText(wsl: WslInfo | undefined, s: EnvStatus): string {
  if (!wsl) return `--lan: not in WSL; for LAN access here, listen on every address (--listen 0.0.0.0) and open the port in this machine's firewall\n`;
  return `${lanCommands(wsl, listenersOf(s)).join('\n')}\n`;
}

