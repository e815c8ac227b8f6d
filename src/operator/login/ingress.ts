// A login-level URL through the operator (issue 22): its Ingress (or HTTPRoute) lives in the
// operator's namespace and points at the login gateway's Service (an Ingress may only name a
// Service of its own namespace; a route's backend in another namespace would need a
// ReferenceGrant there). What the gateway needs to guard and forward the host is written on it,
// where only the operator (and cluster admins) can write: the Service to forward to, the
// ExposureSet and its UID, the level, the access generation and the session lifetime. It carries
// labels naming its set (owner references cannot cross namespaces), so the operator deletes it
// with the set. Pure.
import { LABEL_EXPOSURE_SET, MANAGED_BY } from '../../apply/k8s/manifests.js';
import type { Obj } from '../../apply/k8s/owned.js';
import { LOGIN_PATH } from './page.js';

/** The gateway's Service in the operator's namespace, and its port (plain HTTP: the Ingress controller terminates TLS). */
export const LOGIN_SERVICE = 'envserve-login';
export const LOGIN_PORT = 8081;
export const LOGIN_SERVICE_PORT = 80;
export const DEFAULT_SESSION_LIFETIME_MS = 8 * 3_600_000;

/** On a login Ingress: the namespace of its ExposureSet (the name is LABEL_EXPOSURE_SET). */
export const LABEL_SET_NAMESPACE = 'envserve.dev/exposure-set-namespace';
/** On a login Ingress: the gateway guards it (the gateway watches these only). */
export const LABEL_LOGIN = 'envserve.dev/login';
export const A = {
  upstream: 'envserve.dev/upstream',
  setUid: 'envserve.dev/exposure-set-uid',
  access: 'envserve.dev/access',
  generation: 'envserve.dev/access-generation',
  lifetime: 'envserve.dev/session-lifetime-ms',
  /** On a login HTTPRoute: its Gateway terminates TLS for the host (an Ingress says so in its spec). */
  tls: 'envserve.dev/tls',
} as const;

export interface LoginGatewayRef {
  /** The operator's namespace: login Ingresses and the gateway's Service live there. */
  namespace: string;
  service: string;
  port: number;
}

/** Unique in the operator's namespace: the set's namespace (a DNS label, no dot) and the Ingress's name. */
export const loginIngressName = (setNamespace: string, name: string) => `${setNamespace}.${name}`;

export interface LoginOptions {
  gateway: LoginGatewayRef;
  setNamespace: string;
  setName: string;
  setUid: string;
  access: string;
  accessGeneration: number;
  sessionLifetimeMs: number;
}

/** Name, namespace, labels and the annotations the gateway reads, for a login object made from `o`. */
function loginMetadata(obj: Obj, upstream: { name: string; port: number }, o: LoginOptions, extra: Record<string, string> = {}): Obj['metadata'] {
  return {
    name: loginIngressName(o.setNamespace, obj.metadata.name),
    namespace: o.gateway.namespace,
    labels: { ...obj.metadata.labels, 'app.kubernetes.io/managed-by': MANAGED_BY, [LABEL_EXPOSURE_SET]: o.setName, [LABEL_SET_NAMESPACE]: o.setNamespace, [LABEL_LOGIN]: 'true' },
    annotations: {
      ...obj.metadata.annotations,
      [A.upstream]: `${upstream.name}.${o.setNamespace}.svc:${upstream.port}`,
      [A.setUid]: o.setUid,
      [A.access]: o.access,
      [A.generation]: String(o.accessGeneration),
      [A.lifetime]: String(o.sessionLifetimeMs),
      ...extra,
    },
  };
}

/**
 * The user's Ingress (as rendered for the set's namespace) turned into the login Ingress: same
 * host, path, class, TLS Secret name (looked up in the operator's namespace) and annotations; the
 * backend is the gateway, plus the gateway's own path for the login link.
 */
export function loginIngress(ing: Obj, o: LoginOptions): Obj {
  const rule = ing.spec.rules[0];
  const path = rule.http.paths[0];
  const backend = path.backend.service as { name: string; port: { number: number } };
  const toGateway = { service: { name: o.gateway.service, port: { number: o.gateway.port } } };
  const paths = [{ ...path, backend: toGateway }];
  if (!LOGIN_PATH.startsWith(path.path)) paths.push({ path: '/.envserve', pathType: 'Prefix', backend: toGateway });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: loginMetadata(ing, { name: backend.name, port: backend.port.number }, o),
    spec: { ...ing.spec, rules: [{ ...rule, http: { paths } }] },
  };
}

/** The same for an HTTPRoute: same Gateway, host and path; the backend is the gateway (a Service of the route's own namespace). */
export function loginRoute(route: Obj, o: LoginOptions & { tls: boolean }): Obj {
  const rule = route.spec.rules[0];
  const backend = rule.backendRefs[0] as { name: string; port: number };
  const toGateway = [{ group: '', kind: 'Service', name: o.gateway.service, port: o.gateway.port }];
  const path: string = rule.matches[0].path.value;
  const matches = [...rule.matches, ...(LOGIN_PATH.startsWith(path) ? [] : [{ path: { type: 'PathPrefix', value: '/.envserve' } }])];
  return {
    apiVersion: route.apiVersion,
    kind: 'HTTPRoute',
    metadata: loginMetadata(route, backend, o, { [A.tls]: String(o.tls) }),
    spec: { ...route.spec, rules: [{ matches, backendRefs: toGateway }] },
  };
}

/**
 * The access generation to write: the one on the Ingress now while its level is unchanged, else
 * the set's metadata.generation (which only grows) — so lowering or changing a level refuses every
 * cookie made before, and other edits of the set log nobody out.
 */
export function accessGeneration(current: Obj | undefined, access: string, setGeneration: number): number {
  const a = current?.metadata.annotations ?? {};
  const kept = Number(a[A.generation]);
  return a[A.access] === access && Number.isInteger(kept) && kept > 0 ? kept : Math.max(1, setGeneration);
}
