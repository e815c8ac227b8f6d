// The plan: what the environment is and every way it is exposed.
// This module imports nothing; it is the contract between the env-file reader, the
// validator, the runtimes and the JSON output (`envserve plan -o json`).

export type Protocol = 'tcp' | 'http';

/** "file:line:col" of the call that declared something. */
export type SourcePosition = string;

export interface ServiceSpec {
  /** jupyter, rstudio, or a daemon/expose name. */
  name: string;
  port: number;
  protocol: Protocol;
  /** URL path users open (Jupyter: "/lab"); absent means "/". */
  urlPath?: string;
}

export interface BaseSpec {
  /** envd's `base(image=)`. */
  image?: string;
  /** the proposal's `base(os=, language=)`. */
  os?: string;
  language?: string;
  /** envd's `base(dev=True)`. */
  dev?: boolean;
}

export interface JupyterSpec {
  port: number;
  /** Jupyter's own hash format ("sha1:salt:digest"); the password itself is never kept. */
  passwordHash?: string;
  /** envd's `config.jupyter(token=)`: whether a token was set. The token is not kept in the plan. */
  tokenSet?: boolean;
}

export interface EnvSpec {
  name: string;
  base: BaseSpec;
  services: ServiceSpec[];
  jupyter?: JupyterSpec;
  rstudio?: { port: number };
  packages: {
    python: string[];
    apt: string[];
    r: string[];
    conda: string[];
  };
  /** Long-running commands (`runtime.daemon`), each an argv. */
  daemons: string[][];
  /** Indexes into `daemons` of those declared with `runtime.daemon(..., restart=False)`: left down when they exit. */
  noRestart?: number[];
  /** One-shot commands (`runtime.command`), by name. */
  commands: Record<string, string>;
  environment: Record<string, string>;
  extraPath: string[];
  entrypoint?: string[];
  copies: { source: string; target: string }[];
  shell?: string;
  pipIndex?: { url: string; extraUrl?: string };
}

// --- access levels (issue 22): who may open a cluster URL; absent means 'namespace' ---
/** `namespace`: whoever may get the ExposureSet; `authenticated`: any identity the API server knows; `public`: no login. */
export type AccessLevel = 'namespace' | 'authenticated' | 'public';
// --- end access levels ---
export type ExposureKind = 'host' | 'k8s-port-forward' | 'k8s-service' | 'k8s-ingress' | 'k8s-route';
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

interface ExposureCommon {
  /** Stable across runs of the same file: derived from kind, ports and name, never from time. */
  id: string;
  kind: ExposureKind;
  /** Optional user-given name (`name=`), or the preset's name. */
  name?: string;
  envPort: number;
  protocol: Protocol;
  /** Where in the env file it was declared. */
  position: SourcePosition;
  /** The builtin that declared it ("host.bind", "runtime.expose", "cloud.k8s.bind"), for messages. */
  declaredBy: string;
  /** `websocket=True/False`: whether the app needs WebSocket upgrades; absent: its preset says (Jupyter does). */
  websocket?: boolean;
}

/** `host.bind` / `runtime.expose`: listen on this machine, forward to the env port. */
export interface HostExposure extends ExposureCommon {
  kind: 'host';
  /** 0 = pick a free port when applied. */
  hostPort: number;
  listenAddress: string;
}

/** `cloud.k8s.bind(host_port=)`: a local listener carried through the API server to a pod. */
export interface K8sPortForwardExposure extends ExposureCommon {
  kind: 'k8s-port-forward';
  hostPort: number;
  listenAddress: string;
}

/** `cloud.k8s.bind(type=)`: a Service selecting the environment's pods. */
export interface K8sServiceExposure extends ExposureCommon {
  kind: 'k8s-service';
  serviceType: ServiceType;
  servicePort: number;
  nodePort?: number;
  /** `ingress=False` (false) turns the automatic Ingress off; `ingress=True` (true) asks for one. */
  autoIngress?: boolean;
  /** `access=`: the level of this Service's URLs (its Ingresses); absent: 'namespace'. */
  access?: AccessLevel;
  /** `route=False` turns the automatic HTTPRoute off; `route=True` asks for one (where a Gateway is chosen). */
  autoRoute?: boolean;
}

/** `cloud.k8s.bind(ingress=cloud.k8s.ingress(...))`: an Ingress in front of a Service exposure. */
export interface K8sIngressExposure extends ExposureCommon {
  kind: 'k8s-ingress';
  /** id of the k8s-service exposure this Ingress routes to. */
  serviceId: string;
  servicePort: number;
  host: string;
  path: string;
  className?: string;
  tlsSecret?: string;
  annotations?: Record<string, string>;
  /** Made by envserve (auto-Ingress: a domain and class were known), not declared in the file. */
  automatic?: true;
  /** Who may open the URL (from the Service binding's `access=`); absent: 'namespace'. */
  access?: AccessLevel;
}

/** The Gateway (and optionally its listener) an HTTPRoute attaches to. */
export interface GatewayRef {
  namespace: string;
  name: string;
  /** A listener's name; absent: every listener of the Gateway whose hostname matches. */
  sectionName?: string;
}

/** `cloud.k8s.bind(route=cloud.k8s.route(...))`: a Gateway API HTTPRoute in front of a Service exposure. */
export interface K8sRouteExposure extends ExposureCommon {
  kind: 'k8s-route';
  /** id of the k8s-service exposure this route sends to. */
  serviceId: string;
  servicePort: number;
  host: string;
  path: string;
  /** Absent: the Gateway a policy or --gateway names (filled in before apply). */
  gateway?: GatewayRef;
  /** The Gateway terminates TLS for this host (an HTTPS listener): URLs say https. */
  https?: boolean;
  /** Made by envserve (a Gateway and a domain were chosen), not declared in the file. */
  automatic?: true;
  /** Who may open the URL (from the Service binding's `access=`); absent: 'namespace'. */
  access?: AccessLevel;
}

export type Exposure = HostExposure | K8sPortForwardExposure | K8sServiceExposure | K8sIngressExposure | K8sRouteExposure;

export interface PlanWarning {
  message: string;
  position?: SourcePosition;
}

export interface Plan {
  apiVersion: 'envserve/v1';
  kind: 'Plan';
  /** The env file the plan came from, as given. */
  source: string;
  env: EnvSpec;
  exposures: Exposure[];
  warnings: PlanWarning[];
}

/** One problem found by validation, tied to the call that caused it. */
export interface PlanIssue {
  message: string;
  position?: SourcePosition;
  /** The exposure it concerns, when there is one. */
  exposureId?: string;
}

export type ValidationResult = { ok: true } | { ok: false; issues: PlanIssue[] };
