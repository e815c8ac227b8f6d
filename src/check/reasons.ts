// The reason codes of `envserve check`: one per thing that can be wrong (or right) with an
// exposure. A string union and nothing else, so the dashboard and the operator can import it.
// When the engine's prober lands (src/reasons.ts), the probe codes here map onto its codes.

export type CheckReason =
  // fine
  | 'Ok'
  | 'Answers'
  | 'LoginRequired'
  // the workload and its pods
  | 'WorkloadNotFound'
  | 'NoPods'
  | 'PodNotReady'
  | 'Unschedulable'
  | 'ImagePullFailed'
  | 'CrashLoop'
  | 'ReadinessProbeFailing'
  | 'ContainerNotRunning'
  // the Service
  | 'ServiceNotFound'
  | 'SelectorMismatch'
  | 'NoEndpoints'
  | 'EndpointsNotReady'
  | 'TargetPortMismatch'
  | 'NamedPortMissing'
  | 'ServicePortMissing'
  | 'ProtocolMismatch'
  | 'NodePortNotAllocated'
  | 'LoadBalancerPending'
  // the Ingress
  | 'IngressNotFound'
  | 'NoIngressClass'
  | 'IngressClassNotFound'
  | 'IngressNotAdmitted'
  | 'BackendServiceMissing'
  | 'BackendPortMissing'
  | 'TlsSecretMissing'
  | 'HostHeaderMismatch'
  | 'NoIngressRule'
  // the network
  | 'NetworkPolicyDenies'
  | 'NetworkPolicyRestricts'
  | 'NoClusterDNS'
  // probes
  | 'ConnectionRefused'
  | 'Timeout'
  | 'Unreachable'
  | 'ConnectionReset'
  | 'NotHttp'
  | 'ProxyNoRoute'
  | 'TlsFailed'
  | 'WebSocketRejected'
  | 'AppBoundToLoopback'
  // this machine (local and Docker runtimes)
  | 'NotRunning'
  | 'ProcessNotRunning'
  | 'NotListening'
  // what could not be looked at
  | 'Forbidden'
  | 'ForbiddenToCreatePods'
  | 'DebugPodFailed'
  | 'DebugPodDisabled'
  | 'NotReachableFromHere'
  | 'NotApplicable';

/** Every code, for the README table and the JSON consumers' tests. */
export const CHECK_REASONS: readonly CheckReason[] = [
  'Ok', 'Answers', 'LoginRequired',
  'WorkloadNotFound', 'NoPods', 'PodNotReady', 'Unschedulable', 'ImagePullFailed', 'CrashLoop', 'ReadinessProbeFailing', 'ContainerNotRunning',
  'ServiceNotFound', 'SelectorMismatch', 'NoEndpoints', 'EndpointsNotReady', 'TargetPortMismatch', 'NamedPortMissing', 'ServicePortMissing', 'ProtocolMismatch', 'NodePortNotAllocated', 'LoadBalancerPending',
  'IngressNotFound', 'NoIngressClass', 'IngressClassNotFound', 'IngressNotAdmitted', 'BackendServiceMissing', 'BackendPortMissing', 'TlsSecretMissing', 'HostHeaderMismatch', 'NoIngressRule',
  'NetworkPolicyDenies', 'NetworkPolicyRestricts', 'NoClusterDNS',
  'ConnectionRefused', 'Timeout', 'Unreachable', 'ConnectionReset', 'NotHttp', 'ProxyNoRoute', 'TlsFailed', 'WebSocketRejected', 'AppBoundToLoopback',
  'NotRunning', 'ProcessNotRunning', 'NotListening',
  'Forbidden', 'ForbiddenToCreatePods', 'DebugPodFailed', 'DebugPodDisabled', 'NotReachableFromHere', 'NotApplicable',
];
