// Stable, machine-readable reason codes: on every exposure status (`status -o json` → `reason`),
// on every probe result and on every error envserve raises. The prose (`message`) is rendering;
// front ends decide on the code (the CLI its exit code, the operator's API its HTTP status).
// Imports nothing, so every layer can use it. Codes are never renamed: add new ones instead.

export type ReasonCode =
  // an exposure's life
  | 'Ready' // set up, and it answers
  | 'Starting' // being set up, or not probed yet
  | 'Stopped' // stopped by the user (stopExposure) or envserve is stopping
  | 'ApplyFailed' // the runtime could not set it up (see message)
  // this machine
  | 'PortInUse'
  | 'ProcessExited' // the environment's process behind it exited (exit code and log tail in message)
  | 'ProcessNotInstalled'
  | 'CommandNotFound'
  | 'ContainerNotRunning'
  // Kubernetes
  | 'Forbidden' // RBAC said no
  | 'NoPods' // nothing matches the workload's selector
  | 'PodNotReady' // pods exist, none is Ready
  | 'NoEndpoints' // a Service with no ready endpoint
  | 'LoadBalancerPending'
  | 'IngressNotAdmitted'
  | 'IngressRouteNotAnswering' // admitted, but the controller has no route/backend yet (404/502/503/504)
  | 'NotOwned' // an object of that name exists and envserve does not own it
  | 'ClusterUnreachable'
  // an ops policy (ExposurePolicy), applied by the operator or checked with --policy
  | 'PolicyDenied' // a policy that selects the namespace does not allow it
  | 'PolicyConflict' // two policies generate conflicting values (host templates, Ingress classes)
  // what a probe found
  | 'ConnectionRefused'
  | 'ConnectionReset'
  | 'Timeout'
  | 'NotHttp'
  | 'Unreachable'
  | 'VantageUnavailable' // this target cannot be probed from that vantage point (e.g. no API server)
  // input and lifecycle
  | 'InvalidInput'
  | 'NotFound'
  | 'AlreadyRunning'
  | 'NotRunning'
  | 'Internal';

export const REASONS: Readonly<Record<ReasonCode, string>> = {
  Ready: 'set up, and the service answers',
  Starting: 'being set up, or not checked yet',
  Stopped: 'stopped',
  ApplyFailed: 'the runtime could not set it up',
  PortInUse: 'the host port is taken by another process',
  ProcessExited: "the environment's process behind it exited",
  ProcessNotInstalled: "the environment's program is not installed here",
  CommandNotFound: 'a command of the environment is not on PATH',
  ContainerNotRunning: 'the container is not running',
  Forbidden: 'the Kubernetes user lacks a permission',
  NoPods: "no pod matches the workload's selector",
  PodNotReady: 'no matching pod is Ready',
  NoEndpoints: 'the Service has no ready endpoint',
  LoadBalancerPending: 'the LoadBalancer Service has no address (no load-balancer provider?)',
  IngressNotAdmitted: 'no Ingress controller has admitted the Ingress',
  IngressRouteNotAnswering: 'the Ingress controller has no working route to the service yet',
  NotOwned: 'an object of that name exists and is not owned by envserve',
  ClusterUnreachable: 'the Kubernetes API server cannot be reached',
  PolicyDenied: "an ops policy (ExposurePolicy) does not allow it in this namespace",
  PolicyConflict: 'two ops policies that select this namespace ask for conflicting values',
  ConnectionRefused: 'nothing listens there',
  ConnectionReset: 'the connection was reset: the service behind it is not answering',
  Timeout: 'no answer in time',
  NotHttp: 'it answers, but not with HTTP',
  Unreachable: 'the address is not reachable from where it was probed',
  VantageUnavailable: 'this address cannot be probed from that vantage point',
  InvalidInput: 'invalid input or usage',
  NotFound: 'no such thing',
  AlreadyRunning: 'envserve already runs this environment',
  NotRunning: 'envserve does not run this environment',
  Internal: 'a bug in envserve',
};

export function isReasonCode(s: unknown): s is ReasonCode {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(REASONS, s);
}
