// The API objects `check` diagnoses from, read once per run. Plain data: the diagnosis is a pure
// function of a snapshot, so its unit tests build snapshots from fixtures.

/** A Kubernetes object as JSON. */
export type Obj = Record<string, any>;

/** A read that did not work: forbidden by RBAC, or another error. Checks that need it are skipped. */
export interface Unavailable {
  unavailable: 'Forbidden' | 'Error';
  message: string;
}

export type Maybe<T> = T | Unavailable;

export function isUnavailable<T>(v: Maybe<T> | undefined): v is Unavailable {
  return typeof v === 'object' && v !== null && 'unavailable' in (v as object);
}

export interface ClusterSnapshot {
  namespace: string;
  /** Every pod of the namespace (the nearest labels for a selector mismatch come from all of them). */
  pods: Maybe<Obj[]>;
  /** The workload named by the subject: null when it does not exist. */
  deployment?: Maybe<Obj | null>;
  services: Maybe<Obj[]>;
  endpointSlices: Maybe<Obj[]>;
  ingresses: Maybe<Obj[]>;
  ingressClasses: Maybe<Obj[]>;
  networkPolicies: Maybe<Obj[]>;
  /** Existence of the Secrets named by Ingress TLS sections (the data is never kept). */
  secrets: Record<string, Maybe<boolean>>;
  /** Whether a kube-dns Service exists in kube-system. */
  clusterDNS: Maybe<boolean>;
  /** HTTPRoutes of the namespace; null: the cluster has no Gateway API. Absent: not read. */
  httpRoutes?: Maybe<Obj[] | null>;
  /** The Gateways those routes name, by "namespace/name"; null: it does not exist. */
  gateways?: Record<string, Maybe<Obj | null>>;
  /** InternalIP (else ExternalIP) of each node, for NodePort probes. */
  nodeAddresses: Maybe<string[]>;
}
