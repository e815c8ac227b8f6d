// Stable, machine-readable reason codes: on every exposure status (`status -o json` → `reason`),
// on every probe result and on every error envserve raises. The prose (`message`) is rendering;
// front ends decide on the code (the CLI its exit code, the operator's API its HTTP status).
// Imports nothing, so every layer can use it. Codes are never renamed: add new ones instead.
// The one closed set of envserve's codes: ReasonCode (statuses and errors), the codes only `check`
// gives (CheckReason = ReasonCode | CheckOnlyReason) and the codes only the operator gives
// (OperatorReason = ReasonCode | OperatorOnlyReason), and the dashboard's refusals
// (DashboardOnlyReason). Each code is declared once, with its meaning;
// the table in docs/reasons.md lists them all (src/reasons.test.ts compares the two).

export type ReasonCode =
  // an exposure's life
  | 'Ready' // set up, and it answers
  | 'Starting' // being set up, or not probed yet
  | 'Stopped' // stopped by the user (stopExposure) or envserve is stopping
  | 'ApplyFailed' // the runtime could not set it up (see message)
  // this machine
  | 'PortInUse'
  | 'ProxyThreadFailed' // a forwarding thread of the local proxy keeps ending: not started again
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
  | 'RouteNoParent' // no Gateway controller has taken up the HTTPRoute (its Gateway is missing or not served)
  | 'RouteNotAccepted' // the Gateway does not accept the HTTPRoute (its Accepted condition is False)
  | 'RouteRefsUnresolved' // the Gateway accepted the HTTPRoute; its backend reference does not resolve
  | 'NotOwned' // an object of that name exists and envserve does not own it
  | 'ClusterUnreachable'
  | 'CredentialPluginFailed' // the kubeconfig's exec credential plugin is missing or failed
  | 'KubeconfigUnsupported' // a kubeconfig form kubectl accepts and envserve does not (named in the message)
  // an ops policy (ExposurePolicy), applied by the operator or checked with --policy
  | 'PolicyDenied' // a policy that selects the namespace does not allow it
  | 'PolicyConflict' // two policies generate conflicting values (host templates, Ingress classes)
  | 'LoginUnavailable' // a URL whose access level needs a login, and nothing here checks one
  // what a probe found
  | 'ConnectionRefused'
  | 'ConnectionReset'
  | 'Timeout'
  | 'NotHttp'
  | 'Unreachable'
  | 'TlsFailed' // https: the handshake failed, or the certificate is rejected for another reason
  | 'TlsHostnameMismatch' // https: the certificate served does not cover the host name
  | 'TlsCertificateExpired' // https: the certificate served has expired
  | 'TlsUnknownAuthority' // https: the certificate is not signed by an authority this machine trusts
  | 'VantageUnavailable' // this target cannot be probed from that vantage point (e.g. no API server)
  // input and lifecycle
  | 'InvalidInput'
  | 'NotFound'
  | 'NoUrl' // `envserve open`: the exposure has no URL this machine can open
  | 'AlreadyRunning'
  | 'NotRunning'
  | 'Internal';

export const REASONS: Readonly<Record<ReasonCode, string>> = {
  Ready: 'set up, and the service answers',
  Starting: 'being set up, or not checked yet',
  Stopped: 'stopped',
  ApplyFailed: 'the runtime could not set it up',
  PortInUse: 'the host port is taken by another process',
  ProxyThreadFailed: "a forwarding thread of envserve's proxy could not start or kept ending",
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
  RouteNoParent: 'no Gateway controller has taken up the HTTPRoute (is its Gateway there and served?)',
  RouteNotAccepted: 'the Gateway does not accept the HTTPRoute (its Accepted condition is False)',
  RouteRefsUnresolved: "the Gateway accepted the HTTPRoute, and its backend reference does not resolve",
  NotOwned: 'an object of that name exists and is not owned by envserve',
  ClusterUnreachable: 'the Kubernetes API server cannot be reached',
  CredentialPluginFailed: "the kubeconfig's exec credential plugin is missing or failed",
  KubeconfigUnsupported: 'the kubeconfig uses a form envserve does not support',
  PolicyDenied: "an ops policy (ExposurePolicy) does not allow it in this namespace",
  PolicyConflict: 'two ops policies that select this namespace ask for conflicting values',
  LoginUnavailable: 'the access level needs a login and nothing here checks one: install the operator, or access="public"',
  ConnectionRefused: 'nothing listens there',
  ConnectionReset: 'the connection was reset: the service behind it is not answering',
  Timeout: 'no answer in time',
  NotHttp: 'it answers, but not with HTTP',
  Unreachable: 'the address is not reachable from where it was probed',
  TlsFailed: 'the TLS handshake or the certificate check failed',
  TlsHostnameMismatch: 'the TLS certificate served does not cover the host name',
  TlsCertificateExpired: 'the TLS certificate served has expired (or is not valid yet)',
  TlsUnknownAuthority: 'the TLS certificate is not signed by an authority this machine trusts',
  VantageUnavailable: 'this address cannot be probed from that vantage point',
  InvalidInput: 'invalid input or usage',
  NotFound: 'no such thing',
  NoUrl: 'the exposure has no URL this machine can open (in-cluster only, not a web URL, or not set up)',
  AlreadyRunning: 'envserve already runs this environment',
  NotRunning: 'envserve does not run this environment',
  Internal: 'a bug in envserve',
};

export function isReasonCode(s: unknown): s is ReasonCode {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(REASONS, s);
}

/** The codes only `envserve check` gives (its findings about the cluster objects and the probes). */
export const CHECK_ONLY_REASONS = {
  // fine
  Ok: 'the check passed',
  Answers: 'the probe got an answer',
  LoginRequired: 'it answers, with a login (401, 403, or a redirect to a login page)',
  // the workload and its pods
  WorkloadNotFound: 'the Deployment (or the pod) does not exist',
  Unschedulable: 'the pod cannot be scheduled on any node',
  ImagePullFailed: "the pod's image cannot be pulled",
  CrashLoop: "the pod's container keeps crashing",
  ReadinessProbeFailing: "the pod runs, and its readiness probe fails",
  // the Service
  ServiceNotFound: 'the Service does not exist',
  SelectorMismatch: "the Service's selector matches no pod's labels",
  EndpointsNotReady: "the Service's endpoints exist, none is ready",
  TargetPortMismatch: "the Service's targetPort is not a port the pods declare",
  NamedPortMissing: "the Service's named targetPort is not declared by the pods",
  ServicePortMissing: 'the Service has no such port',
  ProtocolMismatch: "the Service port's protocol differs from the container port's",
  NodePortNotAllocated: 'the Service has no node port allocated',
  // the Ingress
  IngressNotFound: 'the Ingress does not exist',
  NoIngressClass: 'the Ingress names no class and the cluster has no default class',
  IngressClassNotFound: "the Ingress's class does not exist",
  BackendServiceMissing: "the Ingress's backend Service does not exist",
  BackendPortMissing: "the Ingress's backend Service has no such port",
  TlsSecretMissing: "the Ingress's TLS secret does not exist",
  HostHeaderMismatch: 'no Ingress rule routes the host users type',
  NoIngressRule: 'the Ingress has no rule for the service',
  // the HTTPRoute (Gateway API)
  HTTPRouteNotFound: 'the HTTPRoute does not exist',
  GatewayApiMissing: 'the cluster has no Gateway API (the HTTPRoute kind is not served)',
  GatewayNotFound: "the HTTPRoute's parent Gateway does not exist",
  RouteSectionNotFound: "the HTTPRoute names a listener (sectionName) its Gateway does not have",
  RouteHostnameNotAllowed: "the HTTPRoute's host is not under the hostname of any listener it attaches to",
  RouteNotAllowedByListener: "the Gateway's listeners do not allow routes from the HTTPRoute's namespace (allowedRoutes)",
  RouteBackendPortMismatch: "the HTTPRoute's backend port is not a port of its Service",
  // the network
  NetworkPolicyDenies: 'a NetworkPolicy selecting the pod does not admit the port',
  NetworkPolicyRestricts: 'the NetworkPolicies admit the port from some peers only',
  NoClusterDNS: 'no kube-dns Service: Service names do not resolve in pods',
  // probes
  ProxyNoRoute: "a proxy answered with its own 404/502/503: no route or no backend",
  WebSocketRejected: 'a WebSocket upgrade was refused',
  AppBoundToLoopback: 'the app listens on 127.0.0.1 only: the port-forward answers, the pod IP does not',
  HostNotAllowed: "the app refuses the host name it is reached by (a dev server's Host check: Vite's allowedHosts, webpack-dev-server)",
  // this machine (local and Docker runtimes)
  ProcessNotRunning: 'a process (or the container) that envserve up started no longer runs',
  NotListening: 'nothing listens on the environment port',
  // what could not be looked at
  ForbiddenToCreatePods: 'RBAC forbids creating the debug pod',
  DebugPodFailed: 'the debug pod could not run',
  DebugPodDisabled: 'the debug pod is disabled (--no-debug-pod)',
  NotReachableFromHere: 'this target cannot be reached from this vantage point',
  NotApplicable: 'the check does not apply to this exposure',
} as const satisfies Record<string, string>;
export type CheckOnlyReason = keyof typeof CHECK_ONLY_REASONS;
/** The reason codes of `envserve check`: any ReasonCode, or one of its own. */
export type CheckReason = ReasonCode | CheckOnlyReason;

/** The codes only the operator gives: on an ExposureSet's status, and in its HTTP API's v1 Status errors. */
export const OPERATOR_ONLY_REASONS = {
  Admitted: 'every exposure is allowed: the operator applies the ExposureSet',
  Invalid: 'the ExposureSet (or the request) is malformed',
  Unauthorized: 'the request carries no valid Kubernetes token',
  MethodNotAllowed: 'the operator API has no such method on that path',
  RequestEntityTooLarge: 'the request body is too large',
  UnsupportedMediaType: 'the request body is not sent as application/json',
  ApiServerError: 'the Kubernetes API server answered the operator with an error',
  InternalError: 'an unexpected error in the envserve operator',
} as const satisfies Record<string, string>;
export type OperatorOnlyReason = keyof typeof OPERATOR_ONLY_REASONS;
/** The reason codes the operator writes and answers with: any ReasonCode, or one of its own. */
export type OperatorReason = ReasonCode | OperatorOnlyReason;

/** The codes only the dashboard gives: why it refused a request (403), before any action. */
export const DASHBOARD_ONLY_REASONS = {
  BadHost: "the request's Host is not the dashboard's own address",
  CrossOrigin: 'the request came from another origin',
  NoToken: 'the request carries no dashboard session cookie',
  BadToken: "the request's dashboard token or session cookie is wrong",
} as const satisfies Record<string, string>;
export type DashboardOnlyReason = keyof typeof DASHBOARD_ONLY_REASONS;

/** Every code of envserve: check's, the operator's and the dashboard's included. */
export type AnyReason = ReasonCode | CheckOnlyReason | OperatorOnlyReason | DashboardOnlyReason;

/** Every code with its meaning. */
export const ALL_REASONS: Readonly<Record<AnyReason, string>> = { ...REASONS, ...CHECK_ONLY_REASONS, ...OPERATOR_ONLY_REASONS, ...DASHBOARD_ONLY_REASONS };

/** Every code `check` gives, for the JSON consumers' tests. */
export const CHECK_REASONS: readonly CheckReason[] = [...(Object.keys(REASONS) as ReasonCode[]), ...(Object.keys(CHECK_ONLY_REASONS) as CheckOnlyReason[])];

const isIn = (table: object, s: unknown): boolean => typeof s === 'string' && Object.prototype.hasOwnProperty.call(table, s);
export const isCheckReason = (s: unknown): s is CheckReason => isReasonCode(s) || isIn(CHECK_ONLY_REASONS, s);
export const isOperatorReason = (s: unknown): s is OperatorReason => isReasonCode(s) || isIn(OPERATOR_ONLY_REASONS, s);

/**
 * Kubernetes' own reason strings, which are not envserve's codes: a pod's or container's waiting
 * reason, a v1 Status's reason from the API server, an access review's explanation. An open set.
 */
export type KubernetesReason = string;

// Each code is declared once: no front end's own code repeats a ReasonCode or another front end's.
type Disjoint<A, B> = [Extract<A, B>] extends [never] ? true : false;
const disjoint: [
  Disjoint<CheckOnlyReason, ReasonCode | OperatorOnlyReason | DashboardOnlyReason>,
  Disjoint<OperatorOnlyReason, ReasonCode | DashboardOnlyReason>,
  Disjoint<DashboardOnlyReason, ReasonCode>,
] = [true, true, true];
void disjoint;
