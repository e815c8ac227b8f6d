// The ops policy: what may be exposed from which namespaces, and how. Cluster-scoped objects
// (`envserve.dev/v1alpha1` ExposurePolicy) written by ops; users get no rights on them.
// This module imports only plan types; the evaluator is pure (evaluate.ts).
import type { AccessLevel, ServiceType } from '../plan/types.js';

export const POLICY_GROUP = 'envserve.dev';
export const POLICY_VERSION = 'v1alpha1';
export const POLICY_API_VERSION = `${POLICY_GROUP}/${POLICY_VERSION}`;
export const POLICY_KIND = 'ExposurePolicy';

/** Stable reason codes of a policy decision (statuses and errors carry them; prose is rendering). */
export type PolicyReason = 'PolicyDenied' | 'PolicyConflict' | 'LoginUnavailable';

/** Kubernetes' label selector (matchLabels AND every matchExpression); empty selects everything. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface PolicyTls {
  /** Every Ingress must serve TLS: its own tls_secret, or the default below. */
  required?: boolean;
  /** The Secret used when an Ingress names none (a wildcard certificate in each namespace). */
  defaultSecretName?: string;
  /** cert-manager ClusterIssuer: adds `cert-manager.io/cluster-issuer` and lets cert-manager make the Secret. */
  clusterIssuer?: string;
}

export interface PolicyIngress {
  /** May Ingresses be created at all (default true). */
  allowed?: boolean;
  /** The IngressClass every Ingress uses; an Ingress naming another class is denied. */
  className?: string;
  /** The domain automatic Ingresses live under (`{domain}` in the host template). */
  domain?: string;
  /** Host of an automatic Ingress: `{service}`, `{env}`, `{namespace}`, `{port}`, `{domain}`. */
  hostTemplate?: string;
  /** An Ingress host must end with one of these (".apps.example.com" or "apps.example.com"). */
  allowedHostSuffixes?: string[];
  tls?: PolicyTls;
  /** Added to every Ingress (an auth proxy, timeouts); they win over the user's own. */
  annotations?: Record<string, string>;
}

/** A Gateway HTTPRoutes may attach to; `sectionNames`: only these listeners (absent: any). */
export interface PolicyGateway {
  namespace: string;
  name: string;
  sectionNames?: string[];
}

/** Gateway API HTTPRoutes: the same shape as `ingress`, with the Gateways ops chose instead of a class. */
export interface PolicyHttpRoute {
  /** May HTTPRoutes be created at all (default true). */
  allowed?: boolean;
  /** The Gateways routes may attach to; the first is where automatic routes go. Absent: any. */
  gateways?: PolicyGateway[];
  /** The domain automatic HTTPRoutes live under. */
  domain?: string;
  hostTemplate?: string;
  allowedHostSuffixes?: string[];
  /** The Gateway terminates TLS for the domain (an HTTPS listener): automatic routes' URLs say https. */
  https?: boolean;
}

export interface PolicySpec {
  /** Namespaces this policy governs (absent: every namespace). */
  namespaceSelector?: LabelSelector;
  /** `cloud.k8s.bind(host_port=)` through the API server (default true). */
  portForward?: boolean;
  /** Service types that may be created (absent: all three; [] none). */
  serviceTypes?: ServiceType[];
  /** Node ports must lie in this range (NodePort and LoadBalancer). */
  nodePortRange?: { min: number; max: number };
  ingress?: PolicyIngress;
  httpRoute?: PolicyHttpRoute;
  /** What an HTTP Service gets automatically when both are configured (default Ingress). */
  automaticExposure?: 'Ingress' | 'HTTPRoute';
  /** Environment ports that are never exposed (SSH, a database...). */
  deniedPorts?: number[];
  /** At most this many cluster exposures (port-forwards, Services, Ingresses, HTTPRoutes) in one namespace. */
  maxExposuresPerNamespace?: number;
  access?: PolicyAccess;
}

/** Issue 22: the most open access level a URL may have, and how long a login lasts. */
export interface PolicyAccess {
  max?: AccessLevel;
  /** Milliseconds (written as "30m", "8h" in the policy). */
  sessionLifetimeMs?: number;
}

export interface ExposurePolicy {
  name: string;
  spec: PolicySpec;
  /** Problems found reading it (an invalid policy denies everything in the namespaces it selects). */
  errors?: string[];
}
