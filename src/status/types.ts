// What runs and how it is doing: the EnvController's status (plain data), served on its control
// socket, kept in the state record, printed by `status -o json`. Imports only types.
import type { AccessLevel, ExposureKind, Protocol } from '../plan/types.js';
import type { ReasonCode } from '../reasons.js';

export type RuntimeName = 'local' | 'docker' | 'k8s';

/**
 * starting: being set up; ready: listening and the service answers; waiting: listening, but the
 * service behind it does not answer (yet); failed: could not be set up (see message); stopped.
 */
export type ExposureState = 'starting' | 'ready' | 'waiting' | 'failed' | 'stopped';

export interface Endpoint {
  address: string;
  port: number;
}

export interface ExposureStatus {
  id: string;
  name?: string;
  kind: ExposureKind;
  protocol: Protocol;
  envPort: number;
  state: ExposureState;
  /** Why it is in that state, as a stable code (src/reasons.ts); `message` says it for people. */
  reason: ReasonCode;
  /** ISO time of the last change of state or reason. */
  since: string;
  /** Where users connect (the port actually bound, also after host_port=0). */
  listen?: Endpoint;
  /** What users open: http://... for HTTP exposures, tcp://... otherwise. Never an address that only answers inside the cluster. */
  urls: string[];
  /** Addresses that answer only inside the cluster (a Service's ClusterIP): shown as such, never as a link (issue 22). */
  inCluster?: string[];
  /**
   * How to reach an exposure that has only in-cluster addresses from here: another exposure of the
   * environment that reaches it (its Ingress or route URL, or its port-forward), with `envserve open`
   * when that URL needs a login; or, with none, a command to run.
   */
  reach?: { id?: string; url?: string; command?: string };
  /** An Ingress: who may open its URL (issue 22). */
  access?: AccessLevel;
  /** Where the traffic goes, for people: "127.0.0.1:8888", "container envserve-x 10.88.0.2:8888". */
  target?: string;
  /** Result of the last probe (TCP connect, or an HTTP response for HTTP exposures). */
  answering?: boolean;
  /** The HTTP status of the last probe's answer, when it was an HTTP answer (an app's 302 or 503 answers too). */
  httpStatus?: number;
  /** Notes and errors: "password configured", "connection refused", ... */
  message?: string;
  /** Probe round trip of the last answer, in ms. */
  latencyMs?: number;
  /** A port-forward: the pod it currently reaches, and how often a connection had to be retried. */
  pod?: string;
  reconnects?: number;
  /** The process or container behind it (up): how often it was restarted, and how it last ended. */
  restarts?: number;
  lastExit?: ProcessExit;
}

/** How a process or container last ended: its exit code or the signal that killed it, and when. */
export interface ProcessExit {
  code?: number;
  signal?: string;
  /** ISO time. */
  at: string;
}

/** A process envserve started (local runtime), so `down` can stop it even after a crash. */
export interface ProcessRecord {
  name: string;
  argv: string[];
  pid?: number;
  /** /proc/<pid>/stat start time, so a reused PID is never mistaken for ours. */
  startTime?: number;
  state: 'running' | 'exited' | 'not-installed' | 'failed';
  exitCode?: number | null;
  log?: string;
  message?: string;
  /** How often it was started again after it exited (`up` restarts with backoff unless turned off). */
  restarts?: number;
  lastExit?: ProcessExit;
  /** While it is down: when it will be started again (ISO time); absent when it stays down. */
  restartAt?: string;
}

export interface ContainerRecord {
  id: string;
  name: string;
  image: string;
  /** The engine it runs in (DOCKER_HOST or the default socket). */
  engine: string;
  /** True when `up` created it (and `down` removes it); false for `serve --target`. */
  owned: boolean;
  state?: string;
  /** `up` gives its container a restart policy: the engine's restart count and the last exit. */
  restarts?: number;
  lastExit?: ProcessExit;
}

/** Which environment, and the envserve process that runs it: shared by the status and the state record. */
export interface EnvIdentity {
  /** The environment's id on this machine (the state record's key): <dir name>-<hash of the env file path>. */
  envId: string;
  envName: string;
  /** Absolute path of the env file. */
  envFile: string;
  runtime: RuntimeName;
  mode: 'up' | 'serve';
  /** The envserve process that holds the listeners, and its /proc start time (a reused PID is not it). */
  pid: number;
  pidStartTime?: number;
  startedAt: string;
}

export interface EnvStatus extends EnvIdentity {
  apiVersion: 'envserve/v1';
  kind: 'Status';
  processes: ProcessRecord[];
  container?: ContainerRecord;
  exposures: ExposureStatus[];
  /** Things the user should know (WSL URLs, warnings). */
  notes: string[];
  /** Set by `status` when the envserve process that wrote this is gone. */
  stale?: string;
}
