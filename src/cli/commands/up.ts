// `envserve up`: start the environment (local processes or a container) and expose its ports;
// stays in the foreground with a live status until Ctrl-C / SIGTERM, then leaves nothing behind.
// `serve` shares all of this with mode 'serve' (see serve.ts).
import { Option, type Command } from 'commander';
import { unwatchFile, watchFile } from 'node:fs';
import { UserError } from '../../errors.js';
import { planFromFile } from '../../plan/from-file.js';
import { down, staleReason } from '../../apply/down.js';
import { LocalRuntime } from '../../apply/local/runtime.js';
import { detectWsl, lanCommands, wslNotes, type WslInfo } from '../../apply/local/wsl.js';
import { Session } from '../../apply/session.js';
import type { Runtime } from '../../apply/types.js';
import { changes, formatStatus } from '../../status/format.js';
import { StatusStore } from '../../status/store.js';
import type { EnvStatus } from '../../status/types.js';
import { printWarnings } from '../output.js';

export interface ForegroundOptions {
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
  probeInterval: string;
}

export function lifecycleOptions(cmd: Command): Command {
  return cmd
    .option('-f, --file <path>', 'the env file', 'build.envd')
    .option('--name <name>', "the environment's name (default: the env file's directory name)")
    .addOption(new Option('--runtime <runtime>', 'where the environment runs').choices(['local', 'docker', 'k8s']).default('local'))
    .option('--listen <address>', "listen address for every host exposure (default: each one's listen_addr, else 127.0.0.1)")
    .option('--lan', 'in WSL: print the Windows commands (netsh) that open the ports to the LAN; nothing is run')
    .option('--probe-interval <ms>', 'how often to check that each service answers (k8s: after a change; backs off to 30 s while nothing changes)', '2000')
    .option('--context <name>', 'k8s runtime: the kubeconfig context (default: the current one)')
    .option('-n, --namespace <namespace>', "k8s runtime: the namespace (default: the context's, else default)")
    .option('--kubeconfig <path>', 'k8s runtime: the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)');
}

export function registerUp(program: Command): void {
  lifecycleOptions(
    program.command('up').description('start the environment and expose its ports here; stays in the foreground (Ctrl-C stops everything)'),
  )
    .option('--image <image>', "docker/k8s runtime: run this image instead of the one base() names (k8s: when base() names none)")
    .option('--target <target>', 'k8s:<namespace>/<deployment|pod>/<name>: attach to a running workload instead of creating one')
    .option('--selector <key=value>', 'k8s runtime: attach to the pods with these labels')
    .action((opts: ForegroundOptions) => runForeground('up', opts));
}

export async function runForeground(mode: 'up' | 'serve', opts: ForegroundOptions): Promise<void> {
  const plan = planFromFile(opts.file, opts.name !== undefined ? { envName: opts.name } : {});
  printWarnings(plan.warnings);
  const store = new StatusStore(plan.source);
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const existing = store.read();
  if (existing) {
    const stale = staleReason(existing);
    if (!stale) {
      throw new UserError(
        `${existing.envName} is already ${existing.mode === 'up' ? 'up' : 'served'} by envserve (pid ${existing.pid}, ${existing.runtime} runtime)`,
        `envserve status -f ${opts.file} shows it; envserve down -f ${opts.file} stops it`,
      );
    }
    say(`cleaning up after an earlier envserve (pid ${existing.pid}) that did not stop cleanly`);
    await down(store, (l) => say(`  ${l}`));
  }
  if (opts.target && opts.runtime !== 'docker') {
    if (opts.target.startsWith('docker:')) opts.runtime = 'docker';
  }
  if ((opts.target?.startsWith('k8s:') || opts.selector) && opts.runtime === 'local') opts.runtime = 'k8s';
  // Runtime modules load on demand: dockerode (~30 MB) and the Kubernetes client (~50 MB) would
  // otherwise sit in the memory of every proxy process.
  const runtime: Runtime =
    opts.runtime === 'k8s'
      ? await k8sRuntime(opts)
      : opts.runtime === 'docker'
      ? new (await import('../../apply/docker/runtime.js')).DockerRuntime({ ...(opts.image ? { image: opts.image } : {}), ...(opts.target ? { target: opts.target.replace(/^docker:/, '') } : {}), log: say })
      : new LocalRuntime({ logDir: store.logDir });
  const wsl = detectWsl(process.env.ENVSERVE_PROC_ROOT || '/proc');
  const session = new Session({
    plan,
    runtime,
    store,
    mode,
    probeIntervalMs: Math.max(100, Number(opts.probeInterval) || 2000),
    ...(opts.listen ? { listenOverride: opts.listen } : {}),
    ...(wsl ? { extraNotes: (s: EnvStatus) => wslNotes(wsl, listenersOf(s)) } : {}),
  });

  // Signals during start are honoured once the start has settled (it rolls back on failure).
  let stopRequested: (sig: string) => void = () => {};
  const stopSignal = new Promise<string>((r) => (stopRequested = r));
  const onSignal = (sig: NodeJS.Signals) => stopRequested(sig);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  let stopPrinting = () => {};
  let reloads: Promise<void> = Promise.resolve();
  try {
    await session.start();
    await session.waitUntilAnswering(mode === 'up' ? 5000 : 1000);
    let shown = session.status();
    process.stdout.write(formatStatus(shown));
    if (opts.lan) process.stdout.write(lanText(wsl, shown));
    process.stdout.write(`state: ${store.path}\nPress Ctrl-C to stop.\n`);
    let quiet = false;
    // The session probes on its own schedule (after changes, else backing off); print what changed.
    const offStatus = session.onStatus((next) => {
      if (quiet) return;
      for (const line of changes(shown, next)) process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
      shown = next;
    });
    stopPrinting = () => {
      quiet = true;
      offStatus();
    };
    if (runtime instanceof LocalRuntime) runtime.onProcessChange = () => session.changed();
    // Edits of the env file are applied while running (exposures only; see Session.updatePlan).
    // watchFile polls, which also follows editors that replace the file.
    watchFile(plan.source, { interval: 500 }, (cur, prev) => {
      if (cur.mtimeMs === prev.mtimeMs) return;
      reloads = reloads.then(async () => {
        let next;
        try {
          next = planFromFile(opts.file, opts.name !== undefined ? { envName: opts.name } : {});
        } catch (e) {
          say(`${opts.file} changed but cannot be used (still running the previous version):\n${(e as { format?: () => string }).format?.() ?? String(e)}`);
          return;
        }
        printWarnings(next.warnings);
        const { diff, notes } = await session.updatePlan(next);
        const stamp = new Date().toISOString().slice(11, 19);
        process.stdout.write(`${stamp} ${opts.file} changed: ${diff.start.length} exposure(s) started, ${diff.stop.length} stopped, ${diff.unchanged.length} unchanged\n`);
        for (const n of notes) process.stdout.write(`${stamp} note: ${n}\n`);
      });
    });
    const sig = await stopSignal;
    stopPrinting(); // no more live lines while stopping
    say(`${sig}: stopping`);
  } finally {
    unwatchFile(plan.source);
    await reloads;
    await session.stop();
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(sig, onSignal);
  }
  say('stopped; nothing left running');
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

