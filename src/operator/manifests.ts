// `envserve operator manifests`: everything to install the operator, for `kubectl apply -f -`,
// with the least privilege it needs; and `--user-role`: what a user needs to use it.
import { CRD_NAMES, GROUP, PLURAL, POLICY_PLURAL, crds } from './resource.js';
import { PUBLISHED_IMAGE } from '../version.js';
import { hostClaimManifests } from './login/host-claim.js';
import { LOGIN_PORT, LOGIN_SERVICE, LOGIN_SERVICE_PORT } from './login/ingress.js';
import { LOGIN_PLURAL, loginManifests } from './login/manifests.js';
import { sessionKeyManifests } from './login/key-store.js';

export const OPERATOR_NAME = 'envserve-operator';
export const API_PORT = 8080;
export const DEFAULT_NAMESPACE = 'envserve-system';
export const USER_CLUSTER_ROLE = 'envserve-user';
export const API_CLIENT_ROLE = 'envserve-api-client';
/** The leader-election Lease, in the operator's namespace. */
export const LEASE_NAME = 'envserve-operator';
export const REPLICAS = 2;

type Obj = Record<string, unknown>;
const partOf = { 'app.kubernetes.io/part-of': 'envserve' };
const operatorLabels = { 'app.kubernetes.io/name': OPERATOR_NAME, ...partOf };

export interface OperatorManifestOptions {
  namespace?: string;
  image?: string;
  /** Never: the image was imported into the nodes (no registry); default IfNotPresent. */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** `traefik`: Traefik checks passes itself (the operator writes a Middleware per login Ingress). */
  loginCheck?: 'gateway' | 'traefik';
}

/**
 * The operator's rights. Cluster-wide because users' namespaces are anywhere; no pods/exec, no
 * Secrets at all (an Ingress only names its TLS Secret, it never reads it), no Deployments.
 */
export function operatorRules(): Obj[] {
  return [
    { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch', 'create', 'patch', 'update'] },
    { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['get', 'patch', 'update'] },
    { apiGroups: [GROUP], resources: [POLICY_PLURAL], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
    { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] },
    { apiGroups: ['networking.k8s.io'], resources: ['ingressclasses'], verbs: ['get', 'list', 'watch'] },
    // HTTPRoutes are applied and re-read on each reconcile (no watch: a cluster may have no
    // Gateway API; the login gateway watches its own, loginGatewayRules); a Gateway is only read,
    // for its address on the route's status.
    { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
    { apiGroups: ['gateway.networking.k8s.io'], resources: ['gateways'], verbs: ['get'] },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
    { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], resourceNames: [...CRD_NAMES], verbs: ['get'] },
    // The login gateway (issue 22) redeems a ticket by reading its Login and deleting it, and lists
    // them only to remove those nobody redeemed. Logins hold verifier hashes, never tickets.
    { apiGroups: [GROUP], resources: [LOGIN_PLURAL], verbs: ['get', 'list', 'delete'] },
  ];
}

/**
 * Leader election, in the operator's namespace only: get and update on its one Lease (by name),
 * create for the first start (create cannot be limited by name).
 */
export function leaseRules(): Obj[] {
  return [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [LEASE_NAME], verbs: ['get', 'update'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
  ];
}

/**
 * The login gateway, in the operator's namespace only: it watches the login HTTPRoutes there
 * (Ingresses: the ClusterRole); with `--login-check traefik` the operator also keeps one Traefik
 * Middleware per login Ingress there.
 */
export function loginGatewayRules(loginCheck: 'gateway' | 'traefik' = 'gateway'): Obj[] {
  return [
    { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['watch'] },
    ...(loginCheck === 'traefik' ? [{ apiGroups: ['traefik.io'], resources: ['middlewares'], verbs: ['get', 'list', 'create', 'patch', 'delete'] }] : []),
  ];
}

export function operatorManifests(o: OperatorManifestOptions = {}): Obj[] {
  const ns = o.namespace ?? DEFAULT_NAMESPACE;
  const image = o.image ?? PUBLISHED_IMAGE;
  return [
    ...crds(),
    // Hosts under the policies' domains are envserve's (issue 22); after the ExposurePolicy CRD it reads.
    ...hostClaimManifests({ namespace: ns, serviceAccount: OPERATOR_NAME }),
    // The Login CRD, its admission policy and every authenticated user's right to create one (issue 22).
    ...loginManifests(),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: partOf } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: OPERATOR_NAME, namespace: ns, labels: operatorLabels } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: OPERATOR_NAME, labels: operatorLabels }, rules: operatorRules() },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: OPERATOR_NAME, labels: operatorLabels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_NAME },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: ns }],
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: `${OPERATOR_NAME}-leader-election`, namespace: ns, labels: operatorLabels }, rules: leaseRules() },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${OPERATOR_NAME}-leader-election`, namespace: ns, labels: operatorLabels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${OPERATOR_NAME}-leader-election` },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: ns }],
    },
    // The session keys' Secret, created empty, and get/update on it by name (RBAC cannot limit create by name).
    ...sessionKeyManifests(ns, OPERATOR_NAME, { passKey: o.loginCheck === 'traefik' }),
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: `${OPERATOR_NAME}-login-gateway`, namespace: ns, labels: operatorLabels }, rules: loginGatewayRules(o.loginCheck) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${OPERATOR_NAME}-login-gateway`, namespace: ns, labels: operatorLabels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${OPERATOR_NAME}-login-gateway` },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: ns }],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: OPERATOR_NAME, namespace: ns, labels: operatorLabels },
      spec: {
        // Two replicas: both serve the HTTP API, the one holding the Lease reconciles, the other
        // takes over within 20 s when it goes (drain, stuck node, deleted pod).
        replicas: REPLICAS,
        // A new pod starts before an old one stops (maxUnavailable 0): the API keeps two pods
        // through a rollout, and the leader hands the Lease over when it gets SIGTERM.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        selector: { matchLabels: { 'app.kubernetes.io/name': OPERATOR_NAME } },
        template: {
          metadata: { labels: operatorLabels },
          spec: {
            serviceAccountName: OPERATOR_NAME,
            // Preferred, not required: a one-node cluster still runs both replicas.
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/name': OPERATOR_NAME } } } },
                ],
              },
            },
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'operator',
                image,
                imagePullPolicy: o.imagePullPolicy ?? 'IfNotPresent',
                // The login gateway listens on its own port: users who may port-forward to the pod for
                // the API reach the gateway only as they would through the Ingress.
                args: ['operator', '--listen', `0.0.0.0:${API_PORT}`, '--login-listen', `0.0.0.0:${LOGIN_PORT}`, ...(o.loginCheck === 'traefik' ? ['--login-check', 'traefik'] : [])],
                // Who holds the Lease, by pod name; the Lease lives in the pod's namespace.
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ],
                ports: [
                  { name: 'http', containerPort: API_PORT, protocol: 'TCP' },
                  { name: 'login', containerPort: LOGIN_PORT, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 20, failureThreshold: 6 },
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      },
    },
    {
      // A voluntary disruption (a drain) never takes both replicas at once.
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: OPERATOR_NAME, namespace: ns, labels: operatorLabels },
      spec: { minAvailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': OPERATOR_NAME } } },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: OPERATOR_NAME, namespace: ns, labels: operatorLabels },
      spec: { type: 'ClusterIP', selector: { 'app.kubernetes.io/name': OPERATOR_NAME }, ports: [{ name: 'http', port: API_PORT, targetPort: 'http', protocol: 'TCP' }] },
    },
    {
      // What login-level Ingresses (in this namespace) point at: the gateway in every replica.
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: LOGIN_SERVICE, namespace: ns, labels: operatorLabels },
      spec: { type: 'ClusterIP', selector: { 'app.kubernetes.io/name': OPERATOR_NAME }, ports: [{ name: 'login', port: LOGIN_SERVICE_PORT, targetPort: 'login', protocol: 'TCP' }] },
    },
  ];
}

export interface UserRoleOptions {
  namespace?: string;
  /** Also bind the roles to this user (a username, or system:serviceaccount:NS:NAME) ... */
  user?: string;
  /** ... in this namespace (where the user's environments live). */
  userNamespace?: string;
}

/**
 * What a user needs: the ExposureSet resource (a ClusterRole to bind per namespace, with no rights
 * on policies, Services or Ingresses) and, in the operator's namespace, a port-forward to the
 * operator's pod for the HTTP API.
 */
export function userRoleManifests(o: UserRoleOptions = {}): Obj[] {
  const ns = o.namespace ?? DEFAULT_NAMESPACE;
  const out: Obj[] = [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: USER_CLUSTER_ROLE, labels: partOf },
      rules: [
        { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['get'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: API_CLIENT_ROLE, namespace: ns, labels: partOf },
      rules: [
        // Finding the operator's pod behind its Service, and the port-forward to it.
        { apiGroups: [''], resources: ['services'], resourceNames: [OPERATOR_NAME], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['pods/portforward'], verbs: ['get', 'create'] },
      ],
    },
  ];
  if (o.user) {
    const subject = { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: o.user };
    const bindingName = `envserve-user-${o.user.replace(/[^a-z0-9-]+/gi, '-').toLowerCase()}`.slice(0, 63).replace(/-+$/, '');
    out.push(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: bindingName, namespace: o.userNamespace ?? 'default', labels: partOf },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: USER_CLUSTER_ROLE },
        subjects: [subject],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: bindingName, namespace: ns, labels: partOf },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: API_CLIENT_ROLE },
        subjects: [subject],
      },
    );
  }
  return out;
}
