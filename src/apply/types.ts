// The runtime interface: what the reconciler and the session need from a place where an
// environment runs (this machine, a container engine, later a Kubernetes cluster).
// Desired state is the Plan; each runtime turns exposures into running handles.
import type { Exposure, ExposureKind, Plan } from '../plan/types.js';
import type { ContainerRecord, Endpoint, ExposureStatus, ProcessRecord, RuntimeName } from '../status/types.js';

/** One running exposure. The reconciler stops it when its spec changes or disappears. */
export interface ExposureHandle {
  readonly spec: Exposure;
  /** Where users connect (after host_port=0 was resolved). */
  readonly listen: Endpoint;
  /** Where the traffic goes, for people. */
  readonly target: string;
  /** What the probe connects to; HTTP exposures are probed end to end through `listen`. */
  readonly probeEndpoint: Endpoint;
  /**
   * Runtime-specific state, e.g. a reconnecting port-forward that is between attempts.
   * undefined = nothing to add; the probe decides.
   */
  condition?(): { state: ExposureStatus['state']; message?: string } | undefined;
  /**
   * Every URL users can open (a Service: ClusterIP, node:nodePort, load balancer; an Ingress: its
   * host). Default: the one URL of `listen`.
   */
  urls?(): string[];
  /**
   * The runtime's own probe, for exposures this machine cannot simply connect to (a ClusterIP is
   * checked through the API server). Default: connect to `probeEndpoint`.
   */
  probe?(): Promise<{ answering: boolean; message?: string }>;
  /**
   * Calls `listener` when something observed about this exposure changed (a watch event: its pod
   * went away, its Service lost its endpoints), so it is probed now instead of at its next turn.
   * Returns the unsubscribe function.
   */
  onChange?(listener: () => void): () => void;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** `up` starts the environment; `serve` only exposes an environment that already runs. */
  mode: 'up' | 'serve';
  /** --listen: overrides every exposure's listen address. */
  listenOverride?: string;
}

export interface Runtime {
  readonly name: RuntimeName;
  /** The exposure kinds this runtime can apply; the session refuses others up front. */
  readonly kinds: readonly ExposureKind[];
  /**
   * Every check that can fail because of the input (ports in use, commands not found, a
   * container that does not exist) — before anything starts, so nothing is half-applied.
   * Throws UserError.
   */
  preflight(plan: Plan, exposures: Exposure[], opts: StartOptions): Promise<void>;
  /** `up`: start the environment (processes, a container). */
  startEnvironment(plan: Plan, exposures: Exposure[], opts: StartOptions): Promise<void>;
  /** Start one exposure. Failures throw; the reconciler records them in the status. */
  expose(exposure: Exposure): Promise<ExposureHandle>;
  /** Stop what startEnvironment started. Idempotent. */
  stopEnvironment(): Promise<void>;
  /** What runs, for the state file (processes, the container). */
  resources(): { processes: ProcessRecord[]; container?: ContainerRecord; notes: string[] };
  /** Called on every status tick: refresh process/container state. Returns true if it changed. */
  refresh?(): Promise<boolean>;
  /**
   * How far probes may back off while nothing changes (see probe/scheduler.ts). Runtimes whose
   * handles report changes (onChange) set it; without it every exposure is probed every interval.
   */
  readonly maxProbeIntervalMs?: number;
}
