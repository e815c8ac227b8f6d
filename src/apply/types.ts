// The runtime interface: what the EnvController and its reconciler need from a place where an
// environment runs (this machine, a container engine, a Kubernetes cluster). Desired state is the
// Plan; each runtime turns exposures into running handles. Probing is not the runtime's job: a
// handle says what it observed (its listener, its addresses) and src/probe/ does the probing.
import type { ClusterRecord, OwnedObject } from '../status/records.js';
import type { Exposure, ExposureKind, Plan } from '../plan/types.js';
import type { ApiRequester, ObservedExposure } from '../probe/index.js';
import type { ReasonCode } from '../reasons.js';
import type { ContainerRecord, Endpoint, ProcessExit, ProcessRecord, RuntimeName } from '../status/types.js';

/**
 * What a runtime knows about an exposure without probing it: a pod that is not Ready, a pending
 * load balancer, an exited process. `blocking` conditions decide the state (the exposure cannot
 * answer); others are notes next to a probe's result.
 */
export interface HandleCondition {
  reason: ReasonCode;
  message: string;
  blocking: boolean;
  /** Non-blocking, and says why a failed probe failed: its reason is the exposure's then (not the probe's). */
  explainsFailure?: boolean;
  /** It comes back by itself (a restart is due): `waiting`, where the reason alone would say `failed`. */
  transient?: boolean;
}

/** One running exposure. The reconciler stops it when its spec changes or disappears. */
export interface ExposureHandle {
  readonly spec: Exposure;
  /** Where users connect (after host_port=0 was resolved). */
  readonly listen: Endpoint;
  /** Where the traffic goes, for people. */
  readonly target: string;
  /** What to probe (src/probe/targets.ts turns this into targets). */
  observed(): ObservedExposure;
  condition?(): HandleCondition | undefined;
  /** Every URL users can open. Default: the one URL of `listen`. */
  urls?(): string[];
  /** Addresses that answer only inside the cluster (a Service's ClusterIP), and a command that reaches them from here. */
  inCluster?(): { urls: string[]; command?: string };
  /** A port-forward: the pod it reaches and how often connections were retried; `up`: the restarts of the process or container behind it. */
  details?(): { pod?: string; reconnects?: number; restarts?: number; lastExit?: ProcessExit };
  /**
   * True when the runtime reports every change this exposure depends on (a 'change' event naming
   * it: its pod went away, its Service lost its endpoints): its probes may then back off while
   * nothing changes. Otherwise it is probed every interval.
   */
  readonly watched?: boolean;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** `up` starts the environment; `serve` only exposes an environment that already runs. */
  mode: 'up' | 'serve';
  /** --listen: overrides every exposure's listen address. */
  listenOverride?: string;
  /** Aborted when the user stops envserve during start-up: long waits end early. */
  signal?: AbortSignal;
  /**
   * Set when preflight runs for a changed plan while the environment runs: only `added` are new
   * (the others hold their ports already); one-time checks of the environment are skipped.
   */
  reload?: { added: Exposure[] };
}

/** What a runtime runs, for the state record. */
export interface RuntimeResources {
  processes: ProcessRecord[];
  container?: ContainerRecord;
  notes: string[];
  cluster?: ClusterRecord;
  owned?: OwnedObject[];
}

export interface Runtime {
  readonly name: RuntimeName;
  /** The exposure kinds this runtime can apply; the controller refuses others up front. */
  readonly kinds: readonly ExposureKind[];
  /**
   * Every check that can fail because of the input (ports in use, commands not found, a
   * container that does not exist) — before anything starts, so nothing is half-applied.
   * Throws UserError. Also called with the new plan when the env file changes.
   */
  preflight(plan: Plan, exposures: Exposure[], opts: StartOptions): Promise<void>;
  /** `up`: start the environment (processes, a container). */
  startEnvironment(plan: Plan, exposures: Exposure[], opts: StartOptions): Promise<void>;
  /** Start one exposure. Failures throw; the reconciler records them in the status. */
  expose(exposure: Exposure): Promise<ExposureHandle>;
  /**
   * After every reconcile: remove what the runtime holds for exposures no longer wanted beyond
   * their handles (Kubernetes: owned Services/Ingresses of exposures gone from the plan).
   */
  prune?(wanted: readonly Exposure[]): Promise<void>;
  /** Set when exposures cannot change while the environment runs (a container publishes its ports when created). */
  fixedExposures?(mode: StartOptions['mode']): string | undefined;
  /** What the runtime knows about an exposure beyond its handle (its process exited). */
  conditionFor?(e: Exposure): HandleCondition | undefined;
  /** For probes through the Kubernetes API server. */
  readonly api?: ApiRequester;
  /** Stop what startEnvironment started (and `up`'s cluster objects). Idempotent. */
  stopEnvironment(): Promise<void>;
  resources(): RuntimeResources;
  /** Called before each probe round: refresh process/container state. */
  refresh?(): Promise<boolean>;
  /**
   * Runtimes that notice changes by themselves (a process exited, a pod moved) emit 'change',
   * with the ids of the exposures concerned (none: all of them).
   */
  on?(event: 'change', listener: (ids?: readonly string[]) => void): unknown;
  off?(event: 'change', listener: (ids?: readonly string[]) => void): unknown;
}
