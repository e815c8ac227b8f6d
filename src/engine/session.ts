// The environment session: what `up`/`serve`, the dashboard and library users open to run an
// environment. openEnvironment() does everything between the options and a running EnvController:
//
//   input (env file | Plan | PlanSource) ──load──▶ first plan (its warnings reported)
//     state record: refuse while another envserve runs it; clean up after one that crashed
//     runtime: chosen from the options (a target decides), built on demand (session-runtime.ts)
//     Kubernetes: the plan source with automatic Ingress, the operator or direct-mode policy
//                 warnings (k8s-source.ts)
//     EnvController + control socket (envserve status/down and the dashboard reach it there)
//   run() / start(): the controller runs; once started, what an earlier `serve` left on another
//                    cluster or namespace is removed (takeover.ts)
//   stop() / close(): everything stops, the socket and the cluster client are released
//
// It prints nothing: progress goes to the 'log' event (onLog), the operator's verdicts to
// 'verdict' (onVerdict); the controller's own events are on `controller`.
import { RuntimeFailure } from '../errors.js';
import { detectWsl, wslNotes, type WslInfo } from '../apply/local/wsl.js';
import type { Runtime } from '../apply/types.js';
import type { Plan, PlanWarning } from '../plan/types.js';
import type { EnvStatus } from '../status/types.js';
import { ControlServer } from './control.js';
import { EnvController } from './controller.js';
import { TypedEmitter } from './events.js';
import type { K8sSource, OperatorClient, OperatorVerdict } from './k8s-source.js';
import { FilePlanSource, StaticPlanSource, type PlanSource } from './plan-source.js';
import { buildRuntime, checkRuntimeChoice, k8sTarget, runtimeKind, type RuntimeChoice, type RuntimeKind } from './session-runtime.js';
import { StateStore, type StateRecord } from './state.js';
import { removeLeftover, takeOver } from './takeover.js';

/** An env file's path, a plan, or a plan source (watched: the session follows its changes). */
export type SessionInput = string | Plan | PlanSource;

export interface SessionOptions extends Omit<RuntimeChoice, 'runtime'> {
  /** `up` starts the environment; `serve` only exposes one that already runs. Default 'up'. */
  mode?: 'up' | 'serve';
  /** The environment's name (env file input; default: the env file's directory name). */
  name?: string;
  /** Where it runs: a kind (default local; a target or selector decides), or a runtime built by the caller. */
  runtime?: RuntimeKind | Runtime;
  /** docker/k8s: run this image instead of the one base() names (k8s: when base() names none). */
  image?: string;
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** Listen address for every host exposure (default: each one's listen_addr, else 127.0.0.1). */
  listen?: string;
  /** k8s: false applies Services and Ingresses with the caller's rights even when the cluster has envserve's operator. */
  operator?: boolean;
  /** k8s: envserve's operator client (`operatorClient` from 'envserve'); without it no operator is looked for and no policy read. */
  operatorClient?: OperatorClient | (() => Promise<OperatorClient>);
  /** k8s: an automatic Ingress for each HTTP Service under this domain (default $ENVSERVE_INGRESS_DOMAIN). */
  ingressDomain?: string;
  ingressClass?: string;
  /** k8s: automatic HTTPRoutes (`--gateway ns/name[/listener]`, `--route-domain`, `--auto-expose ingress|route`). */
  gateway?: string;
  routeDomain?: string;
  autoExpose?: string;
  /** How soon after a change each service is probed (default 2000 ms, backing off while nothing changes). */
  probeIntervalMs?: number;
  /** How long start-up waits for every exposure to answer (default 5 s for up, 1 s for serve). */
  settleMs?: number;
  /** Where the state record goes (default: the state directory, keyed by the env file's path). */
  store?: StateStore;
  stateDir?: string;
  /** false: no control socket (envserve status/down then see only the state record). */
  controlSocket?: boolean;
  /** For ENVSERVE_INGRESS_DOMAIN and ENVSERVE_PROC_ROOT; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Subscribed before anything happens, so they also see what open does (the 'log', 'warnings', 'verdict' events). */
  onLog?: (line: string) => void;
  onWarnings?: (warnings: PlanWarning[]) => void;
  onVerdict?: (verdict: OperatorVerdict) => void;
}

export interface SessionEvents {
  [k: string]: unknown[];
  /** Progress for people: clean-up of an earlier run, the operator found, warnings, the controller's log. */
  log: [string];
  /** The first plan's warnings (later plans' are in the controller's 'reload' events). */
  warnings: [PlanWarning[]];
  /** k8s with the operator: its decision on each plan. */
  verdict: [OperatorVerdict];
}

class Reports extends TypedEmitter<SessionEvents> {
  readonly log = (line: string) => this.emit('log', line);
  readonly warnings = (w: PlanWarning[]) => this.emit('warnings', w);
  readonly verdict = (v: OperatorVerdict) => this.emit('verdict', v);
}

export async function openEnvironment(input: SessionInput, opts: SessionOptions = {}): Promise<EnvSession> {
  const events = new Reports();
  if (opts.onLog) events.on('log', opts.onLog);
  if (opts.onWarnings) events.on('warnings', opts.onWarnings);
  if (opts.onVerdict) events.on('verdict', opts.onVerdict);
  const given = typeof opts.runtime === 'object' ? opts.runtime : undefined;
  const choice: RuntimeChoice = { ...opts, runtime: given ? given.name : (opts.runtime as RuntimeKind | undefined) };
  checkRuntimeChoice(choice);
  const file = planSourceOf(input, opts.name);
  const plan = await file.load();
  if (plan.warnings.length) events.warnings(plan.warnings);
  const store = opts.store ?? new StateStore(plan.source, opts.stateDir);
  const leftover = await takeOver(store, file.description, events.log);
  const kind = given ? given.name : runtimeKind(choice);
  const target = kind === 'k8s' ? await k8sTarget(choice) : undefined;
  const runtime = given ?? (await buildRuntime(kind, { ...opts, runtime: kind, logDir: store.logDir, log: events.log }, target));
  const stopper = new AbortController();
  let cluster: K8sSource | undefined;
  try {
    if (kind === 'k8s') {
      const operatorClient = typeof opts.operatorClient === 'function' ? await opts.operatorClient() : opts.operatorClient;
      const { kubeconfig, context, namespace, selector, operator, ingressDomain, ingressClass, env, gateway, routeDomain, autoExpose } = opts;
      cluster = await (await import('./k8s-source.js')).k8sPlanSource(file, {
        kubeconfig, context, namespace, selector, operator, ingressDomain, ingressClass, env, gateway, routeDomain, autoExpose,
        ...(target && { target }),
        ...(operatorClient && { operatorClient }),
        signal: stopper.signal,
        log: events.log,
        onVerdict: events.verdict,
      });
    }
    const mode = opts.mode ?? 'up';
    const wsl = detectWsl((opts.env ?? process.env).ENVSERVE_PROC_ROOT || '/proc');
    const controller = new EnvController({
      source: cluster?.source ?? file,
      runtime,
      mode,
      store,
      ...(opts.controlSocket !== false && { controlSocket: store.socketPath }),
      probeIntervalMs: Math.max(100, opts.probeIntervalMs ?? 2000),
      settleMs: opts.settleMs ?? (mode === 'up' ? 5000 : 1000),
      ...(opts.listen ? { listenOverride: opts.listen } : {}),
      ...(wsl ? { extraNotes: (s: EnvStatus) => wslNotes(wsl, listenersOf(s)) } : {}),
    });
    controller.on('log', events.log);
    const control = opts.controlSocket === false ? undefined : await ControlServer.listen(controller, store.socketPath);
    return new EnvSession({ events, controller, runtime, store, plan, stopper, leftover, cluster, control, wsl });
  } catch (e) {
    stopper.abort();
    cluster?.close();
    throw e;
  }
}

function planSourceOf(input: SessionInput, envName: string | undefined): PlanSource {
  if (typeof input === 'string') return new FilePlanSource(input, envName !== undefined ? { envName } : {});
  if ('load' in input && typeof input.load === 'function') return input;
  return new StaticPlanSource(input as Plan, (input as Plan).source);
}

/** The listeners of a status, for WSL notes and the Windows commands that open them to the LAN. */
export function listenersOf(s: EnvStatus) {
  return s.exposures.filter((e) => e.listen).map((e) => ({ name: e.name ?? e.id, address: e.listen!.address, port: e.listen!.port, protocol: e.protocol }));
}

interface Parts {
  events: Reports;
  controller: EnvController;
  runtime: Runtime;
  store: StateStore;
  plan: Plan;
  stopper: AbortController;
  leftover: StateRecord | undefined;
  cluster: K8sSource | undefined;
  control: ControlServer | undefined;
  wsl: WslInfo | undefined;
}

/** An open environment: run() (or start()) it, stop() it, close() it. */
export class EnvSession {
  readonly controller: EnvController;
  readonly runtime: Runtime;
  readonly store: StateStore;
  /** The plan it was opened with (the controller follows later ones). */
  readonly plan: Plan;
  readonly wsl: WslInfo | undefined;
  /** k8s: whether the cluster exposures go to envserve's operator or are applied directly. */
  readonly clusterMode: 'operator' | 'direct' | undefined;
  private running?: Promise<void>;
  private started?: EnvStatus;
  private closing?: Promise<void>;

  constructor(private readonly p: Parts) {
    this.controller = p.controller;
    this.runtime = p.runtime;
    this.store = p.store;
    this.plan = p.plan;
    this.wsl = p.wsl;
    this.clusterMode = p.cluster?.mode;
    this.controller.on('started', (s) => (this.started = s));
  }

  /** The session's events: 'log', 'warnings', 'verdict'. */
  get events(): TypedEmitter<SessionEvents> {
    return this.p.events;
  }

  on<K extends keyof SessionEvents & string>(event: K, listener: (...args: SessionEvents[K]) => void): () => void {
    return this.p.events.on(event, listener);
  }

  get envId(): string {
    return this.store.envId;
  }

  get controlSocket(): string | undefined {
    return this.p.control?.path;
  }

  status(): EnvStatus {
    return this.controller.status();
  }

  /**
   * Runs the environment until stop(), `signal`, or the control socket's `stop`; resolves once
   * everything it started is stopped, rejects when start-up fails (after rolling back). Calling
   * it again returns the same promise.
   */
  run(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) this.stop();
    else signal?.addEventListener('abort', () => this.stop(), { once: true });
    return (this.running ??= this.go());
  }

  /** Starts run() and resolves with the status once everything is applied and settled. */
  async start(): Promise<EnvStatus> {
    if (this.started) return this.started;
    const started = new Promise<EnvStatus>((resolve) => this.controller.on('started', resolve));
    const running = this.run().then((): EnvStatus => {
      throw new RuntimeFailure(`${this.plan.env.name} stopped before it started`, undefined, 'NotRunning');
    });
    return Promise.race([started, running]);
  }

  /** Asks everything to stop; run() resolves once it has. */
  stop(): void {
    this.p.stopper.abort();
  }

  /** Stops (if running), waits, and releases the control socket and the cluster client. run() reports a failure; this does not. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      this.stop();
      await this.running?.catch(() => undefined);
      await this.p.control?.close();
      this.p.cluster?.close();
    })());
  }

  private async go(): Promise<void> {
    const before = this.p.leftover;
    if (before) this.controller.on('started', () => removeLeftover(before, this.runtime, this.plan.env.name, this.p.events.log));
    try {
      await this.controller.run(this.p.stopper.signal);
    } finally {
      this.p.stopper.abort(); // also after a failed start: ends what follows the cluster (the operator's status)
    }
  }
}
