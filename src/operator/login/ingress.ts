// A login-level URL through the operator (issue 22): its Ingress (or HTTPRoute) lives in the
// operator's namespace and points at the login gateway's Service (an Ingress may only name a
// Service of its own namespace; a route's backend in another namespace would need a
// ReferenceGrant there). What the gateway needs to guard and forward the host is written on it,
// where only the operator (and cluster admins) can write: the Service to forward to, the
// ExposureSet and its UID, the level, the access generation and the session lifetime. It carries
// labels naming its set (owner references cannot cross namespaces), so the operator deletes it
// with the set. Pure.
import { createHash } from 'node:crypto';
import { LABEL_EXPOSURE_SET, MANAGED_BY } from '../../apply/k8s/manifests.js';
import type { Obj } from '../../apply/k8s/owned.js';
import { PASS_KEY_FIELD, PASS_KEY_SECRET } from './key-store.js';
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
  /** On a login Ingress: Traefik checks passes for this host itself; the gateway hands them out. */
  pass: 'envserve.dev/pass',
} as const;

/** The name Traefik knows envserve's check by (`experimental.localPlugins.<name>` in its static configuration). */
export const TRAEFIK_PLUGIN = 'envserve-login';
/** Above any rule-length priority Traefik gives the login Ingress of the same host. */
const FAST_ROUTE_PRIORITY = '100000';

export interface LoginGatewayRef {
  /** The operator's namespace: login Ingresses and the gateway's Service live there. */
  namespace: string;
  service: string;
  port: number;
  /**
   * `--login-check traefik`: Traefik runs envserve's check (traefik-plugin/) in front of a login
   * Ingress and sends it everything the check does not let through; the gateway's URL as Traefik
   * reaches it (the Service's cluster IP).
   */
  traefik?: { gatewayUrl: string };
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
    metadata: loginMetadata(ing, { name: backend.name, port: backend.port.number }, o, o.gateway.traefik ? { [A.pass]: 'true' } : {}),
    spec: { ...ing.spec, rules: [{ ...rule, http: { paths } }] },
  };
}

/**
 * `--login-check traefik` for a login Ingress: the Middleware running envserve's check for its host
 * (in the operator's namespace, next to the pass key's Secret it names), and the user's Ingress
 * made into the fast route — the app's own Service, behind that Middleware, preferred over the
 * login Ingress, which stays the route of everything the check sends to the gateway (and the
 * route of all traffic should the fast one be removed). The fast route has no TLS Secret of its
 * own: Traefik picks the certificate by SNI, the login Ingress's.
 */
export function traefikCheck(ing: Obj, login: Obj, o: LoginOptions): { middleware: Obj; fastIngress: Obj } {
  const host = String(ing.spec.rules[0].host).toLowerCase();
  const name = checkName(login.metadata.name);
  const middleware: Obj = {
    apiVersion: 'traefik.io/v1alpha1',
    kind: 'Middleware',
    metadata: { name, namespace: o.gateway.namespace, labels: login.metadata.labels, annotations: login.metadata.annotations },
    spec: {
      plugin: {
        [TRAEFIK_PLUGIN]: {
          host,
          setUid: o.setUid,
          generation: String(o.accessGeneration),
          tls: Array.isArray(ing.spec.tls) && ing.spec.tls.length > 0,
          gateway: o.gateway.traefik!.gatewayUrl,
          key: `urn:k8s:secret:${PASS_KEY_SECRET}:${PASS_KEY_FIELD}`,
        },
      },
    },
  };
  const fastIngress: Obj = {
    ...ing,
    metadata: {
      ...ing.metadata,
      annotations: {
        ...ing.metadata.annotations,
        'traefik.ingress.kubernetes.io/router.middlewares': `${o.gateway.namespace}-${name}@kubernetescrd`,
        'traefik.ingress.kubernetes.io/router.priority': FAST_ROUTE_PRIORITY,
      },
    },
    spec: { ...ing.spec, ...(Array.isArray(ing.spec.tls) && { tls: ing.spec.tls.map((t: { hosts?: string[] }) => ({ hosts: t.hosts })) }) },
  };
  return { middleware, fastIngress };
}

/**
 * The Middleware's name: Traefik knows it as NAMESPACE-NAME with every other character made a
 * dash, so the login Ingress's `ns.name` could meet another set's `ns-name` there (and take its
 * check); a digest of it cannot.
 */
export function checkName(loginName: string): string {
  return `envserve-login-${createHash('sha256').update(loginName).digest('hex').slice(0, 24)}`;
}

/** The generation a login Middleware's check holds passes to: its login Ingress's (the controller keeps that one). */
export function syncCheckGeneration(middleware: Obj, generation: string): void {
  middleware.metadata.annotations = { ...middleware.metadata.annotations, [A.generation]: generation };
  middleware.spec.plugin[TRAEFIK_PLUGIN].generation = generation;
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
