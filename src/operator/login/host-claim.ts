// "Nobody else can take the host" (issue 22 item 5): hosts under an envserve domain belong to
// envserve's exposures. A ValidatingAdmissionPolicy refuses an Ingress or HTTPRoute outside the
// operator's namespace that routes such a host, so nobody can receive the tickets and cookies a
// browser sends to an exposure's host.
//
// Design, and why:
// - The domains are read from the ExposurePolicies themselves (paramKind, paramRef selector {}):
//   `ingress.domain`, `httpRoute.domain` and both `allowedHostSuffixes` — every place a policy lets
//   an exposure's host live. No second list for ops to keep in step; a new policy claims its domain
//   at once. The binding evaluates every policy (a policy's namespaceSelector does not matter: the
//   host space is shared by all namespaces); no policy → nothing is claimed (parameterNotFoundAction
//   Allow). Direct mode's `--ingress-domain` is in no policy and is not claimed.
// - Exempt: the operator's namespace (login-level Ingresses live there; only admins write in it)
//   and requests by the operator's ServiceAccount (it makes `public` exposures' Ingresses in users'
//   namespaces, with hosts the policy gave it). Both are what the API server authenticated —
//   never a label, which anyone who may create an Ingress can write.
// - A rule with no host (an Ingress rule without `host`, an HTTPRoute without `hostnames`) matches
//   every host, envserve's included; Traefik ranks routers by rule length, so such a rule with a
//   longer path would win over the exposure's. Refused too, once any policy claims a domain. An
//   Ingress `defaultBackend` is left alone (ingress controllers use it only when no rule matches).
// - UPDATE refuses only hosts the old object did not have: an object that held the host before this
//   policy existed can still be edited (finalizers removed, labels changed) and deleted; removing
//   its host is the admin's call.
// - failurePolicy Fail: an error must not open the door (with Ignore, an Ingress big enough to
//   exceed the CEL cost budget would pass). The expressions guard every type so a malformed
//   ExposurePolicy (its spec is free-form) cannot make them fail. The price: with the ExposurePolicy
//   CRD gone and this policy left, the API server (after a restart) refuses every Ingress outside
//   the operator's namespace ("failed to find resource referenced by paramKind") — uninstall both.
// - Not exempt: cert-manager's HTTP-01 solver Ingress for a `public` exposure in a user's namespace
//   (it routes the exposure's host). Use DNS-01 or the policy's wildcard `defaultSecretName`.
import { API_VERSION } from '../resource.js';
import { POLICY_KIND } from '../../policy/types.js';

export const HOST_CLAIM_POLICY = 'envserve-host-claim';

type Obj = Record<string, unknown>;
const labels = { 'app.kubernetes.io/part-of': 'envserve' };

// A policy's domains, as plain lowercase suffixes ("*.x", ".x" and "x" all mean "hosts under x").
// has(params.spec) && type(params.spec) == map && has(params.spec.ingress) && ...: a field of the
// wrong type in a policy makes its domain absent, never an evaluation error.
const has = (path: string) => {
  const parts = path.split('.');
  const prefixes = parts.slice(1).map((_, i) => parts.slice(0, i + 2).join('.'));
  return prefixes.map((p, i) => (i < prefixes.length - 1 ? `has(${p}) && type(${p}) == map` : `has(${p})`)).join(' && ');
};
const one = (path: string) => `(${has(path)} ? [${path}] : [])`;
const many = (path: string) => `(${has(path)} && type(${path}) == list ? ${path} : [])`;
const DOMAINS = [
  `(${[one('params.spec.ingress.domain'), one('params.spec.httpRoute.domain'), many('params.spec.ingress.allowedHostSuffixes'), many('params.spec.httpRoute.allowedHostSuffixes')].join(' + ')})`,
  `.filter(d, type(d) == string)`,
  `.map(d, d.lowerAscii())`,
  `.map(d, d.startsWith('*.') ? d.substring(2) : (d.startsWith('.') ? d.substring(1) : d))`,
  `.filter(d, d != '')`,
].join('');

// The hosts an object routes; '' stands for "every host".
const hostsOf = (o: string) =>
  `${o}.kind == 'Ingress' ? (has(${o}.spec.rules) ? ${o}.spec.rules.map(r, has(r.host) ? r.host : '') : []) ` +
  `: (has(${o}.spec.hostnames) && size(${o}.spec.hostnames) > 0 ? ${o}.spec.hostnames : [''])`;

// h lies under d: a name under d (wildcards included), or `*.d`, which matches d's own subdomains.
const under = (h: string, d: string) => `(${h}.endsWith('.' + ${d}) || (${h}.startsWith('*.') && ${h}.substring(2) == ${d}))`;

export interface HostClaimOptions {
  /** The operator's namespace: exempt. */
  namespace: string;
  /** The operator's ServiceAccount (in `namespace`): its requests are exempt. */
  serviceAccount: string;
}

export function hostClaimManifests(o: HostClaimOptions): Obj[] {
  const operator = `system:serviceaccount:${o.namespace}:${o.serviceAccount}`;
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: HOST_CLAIM_POLICY, labels },
      spec: {
        failurePolicy: 'Fail',
        paramKind: { apiVersion: API_VERSION, kind: POLICY_KIND },
        matchConstraints: {
          resourceRules: [
            { apiGroups: ['networking.k8s.io'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['ingresses'] },
            { apiGroups: ['gateway.networking.k8s.io'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['httproutes'] },
          ],
          namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [o.namespace] }] },
        },
        matchConditions: [{ name: 'not-the-operator', expression: `request.userInfo.username != '${operator}'` }],
        variables: [
          { name: 'domains', expression: DOMAINS },
          { name: 'hosts', expression: hostsOf('object') },
          { name: 'oldHosts', expression: `request.operation == 'UPDATE' && oldObject != null ? (${hostsOf('oldObject')}) : []` },
          { name: 'added', expression: 'variables.hosts.filter(h, !(h in variables.oldHosts))' },
          { name: 'taken', expression: `variables.added.filter(h, h != '' && variables.domains.exists(d, ${under('h', 'd')}))` },
        ],
        validations: [
          {
            expression: 'size(variables.taken) == 0',
            messageExpression:
              `'host ' + variables.taken[0] + ' lies under ' + variables.domains.filter(d, ${under('variables.taken[0]', 'd')})[0] + ` +
              `', the domain ExposurePolicy ' + params.metadata.name + ' reserves for envserve exposures: only the envserve operator routes it. ' + ` +
              `'Use a host outside it, or expose the service through envserve'`,
            reason: 'Forbidden',
          },
          {
            expression: "size(variables.domains) == 0 || !('' in variables.added)",
            messageExpression:
              `'a rule without a host matches every host, including those under ' + variables.domains[0] + ` +
              `', the domain ExposurePolicy ' + params.metadata.name + ' reserves for envserve exposures. Give the rule a host outside it'`,
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: HOST_CLAIM_POLICY, labels },
      spec: {
        policyName: HOST_CLAIM_POLICY,
        paramRef: { selector: {}, parameterNotFoundAction: 'Allow' },
        validationActions: ['Deny'],
      },
    },
  ];
}
