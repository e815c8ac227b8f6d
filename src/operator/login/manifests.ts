// The Login object and the admission policy that makes the API server attest who created it
// (issue 22). A Login's `spec.user`, `spec.uid` and `spec.groups` must equal the `request.userInfo`
// the API server authenticated for its creation — whatever the kubeconfig used (token, exec
// plugin, client certificate, OIDC) — and a Login can never be changed. So the operator trusts no
// field a user wrote: the identity in a Login is the API server's. Requires Kubernetes ≥ 1.30
// (ValidatingAdmissionPolicy GA).
// Part of `envserve operator manifests`.
import { API_VERSION, GROUP, VERSION_ANNOTATION } from '../resource.js';
import { POLICY_VERSION } from '../../policy/types.js';
import { VERSION } from '../../version.js';

export const LOGIN_KIND = 'Login';
export const LOGIN_PLURAL = 'logins';
export const LOGIN_CRD = `${LOGIN_PLURAL}.${GROUP}`;
export const LOGIN_POLICY = 'envserve-login-identity';
/** Every authenticated identity may create a Login (the `authenticated` level needs no other right). */
export const LOGIN_CREATOR_ROLE = 'envserve-login-creator';
export const loginPath = (name?: string) => `/apis/${API_VERSION}/${LOGIN_PLURAL}${name ? `/${encodeURIComponent(name)}` : ''}`;

type Obj = Record<string, unknown>;
const labels = { 'app.kubernetes.io/part-of': 'envserve' };


// CEL: a missing uid or group list in userInfo is the same as an empty one.
const userUid = "has(request.userInfo.uid) ? request.userInfo.uid : ''";
const userGroups = 'has(request.userInfo.groups) ? request.userInfo.groups : []';

export function loginManifests(): Obj[] {
  return [
    {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: LOGIN_CRD, labels, annotations: { [VERSION_ANNOTATION]: VERSION } },
      spec: {
        group: GROUP,
        scope: 'Cluster',
        names: { kind: LOGIN_KIND, listKind: `${LOGIN_KIND}List`, plural: LOGIN_PLURAL, singular: 'login', categories: ['envserve'] },
        versions: [
          {
            name: POLICY_VERSION,
            served: true,
            storage: true,
            additionalPrinterColumns: [
              { name: 'User', type: 'string', jsonPath: '.spec.user' },
              { name: 'Host', type: 'string', jsonPath: '.spec.host' },
              { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            ],
            schema: {
              openAPIV3Schema: {
                type: 'object',
                required: ['spec'],
                properties: {
                  spec: {
                    type: 'object',
                    required: ['user', 'host', 'verifierHash'],
                    properties: {
                      user: { type: 'string', maxLength: 1024 },
                      uid: { type: 'string', maxLength: 1024 },
                      groups: { type: 'array', maxItems: 256, items: { type: 'string', maxLength: 1024 } },
                      host: { type: 'string', maxLength: 253 },
                      // SHA-256 of the verifier only the CLI holds, base64url: the ticket cannot be redeemed from this.
                      verifierHash: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
                    },
                  },
                },
              },
            },
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: LOGIN_POLICY, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: [GROUP], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: [LOGIN_PLURAL] }] },
        validations: [
          { expression: "request.operation == 'CREATE'", message: 'a Login cannot be changed; create a new one', reason: 'Forbidden' },
          {
            expression: 'object.spec.user == request.userInfo.username',
            messageExpression: "'spec.user must be the identity that creates the Login (' + request.userInfo.username + ')'",
            reason: 'Forbidden',
          },
          { expression: `(has(object.spec.uid) ? object.spec.uid : '') == (${userUid})`, message: 'spec.uid must be the uid of the identity that creates the Login', reason: 'Forbidden' },
          { expression: `(has(object.spec.groups) ? object.spec.groups : []) == (${userGroups})`, message: 'spec.groups must be the groups of the identity that creates the Login, in the order the API server gives them', reason: 'Forbidden' },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: LOGIN_POLICY, labels },
      spec: { policyName: LOGIN_POLICY, validationActions: ['Deny'] },
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: LOGIN_CREATOR_ROLE, labels }, rules: [{ apiGroups: [GROUP], resources: [LOGIN_PLURAL], verbs: ['create'] }] },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: LOGIN_CREATOR_ROLE, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: LOGIN_CREATOR_ROLE },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:authenticated' }],
    },
  ];
}

/** The Login a CLI creates for itself: its identity exactly as SelfSubjectReview reported it. */
export function loginObject(o: { generateName?: string; user: string; uid?: string; groups?: string[]; host: string; verifierHash: string }): Obj {
  return {
    apiVersion: API_VERSION,
    kind: LOGIN_KIND,
    metadata: { generateName: o.generateName ?? 'login-' },
    spec: { user: o.user, ...(o.uid && { uid: o.uid }), ...(o.groups && { groups: o.groups }), host: o.host.toLowerCase(), verifierHash: o.verifierHash },
  };
}
