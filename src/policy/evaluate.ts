// The policy evaluator: (exposures, namespace and its labels, policies) → a decision per exposure.
// Pure: the CLI (`plan --policy`), the direct mode's warning and the operator all call it.
//
// Combination rules: an exposure is admitted only if every policy that selects its namespace
// admits it; numeric limits take the strictest value (node-port ranges intersect, the smallest
// per-namespace limit wins); when selecting policies would generate different values (two
// Ingress classes, two host templates, two default TLS secrets, two values of one annotation)
// the exposures that need that value are denied with PolicyConflict. No selecting policy: every
// exposure is admitted unchanged.
import type { Exposure, K8sIngressExposure, K8sServiceExposure } from '../plan/types.js';
import { selectorMatches } from './selector.js';
import { accessCeiling } from './access.js';
import { decideRoute, describeRoutes } from './route.js';
import { type ExposurePolicy, type PolicyReason } from './types.js';

export const CERT_MANAGER_CLUSTER_ISSUER = 'cert-manager.io/cluster-issuer';

export interface EvaluationInput {
  envName: string;
  namespace: string;
  /** The namespace's labels (Kubernetes always sets kubernetes.io/metadata.name). */
  namespaceLabels: Record<string, string>;
  exposures: readonly Exposure[];
  policies: readonly ExposurePolicy[];
  /** Cluster exposures other environments already hold in the namespace (for the per-namespace limit). */
  othersInNamespace?: number;
}

export type Decision =
  | { id: string; admitted: true; /** The exposure with the policies' values filled in (Ingress class, TLS, annotations). */ exposure: Exposure }
  | { id: string; admitted: false; reason: PolicyReason; message: string; /** The policies that decided. */ policies: string[] };

type Denied = Extract<Decision, { admitted: false }>;

export interface Evaluation {
  decisions: Decision[];
  /** Names of the policies that select the namespace. */
  selecting: string[];
  /** What the selecting policies allow, in words ("port-forward, ClusterIP, Ingress under *.apps.example.com with TLS"). */
  allowed: string;
}

/** The values automatic Ingresses take from the policies, or the conflict that prevents them. */
export type IngressDefaults =
  | { ok: true; domain?: string; hostTemplate?: string; className?: string; policies: string[] }
  | { ok: false; message: string; policies: string[] };

export function selectingPolicies(policies: readonly ExposurePolicy[], namespaceLabels: Record<string, string>): ExposurePolicy[] {
  return policies.filter((p) => selectorMatches(p.spec.namespaceSelector, namespaceLabels)).sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** One value several policies may set: every setter must agree. */
function agreed<T>(policies: ExposurePolicy[], get: (p: ExposurePolicy) => T | undefined): { value?: T; setters: string[]; conflict?: string } {
  const setters = policies.filter((p) => get(p) !== undefined);
  const values = [...new Set(setters.map((p) => JSON.stringify(get(p))))];
  if (values.length > 1) {
    return { setters: setters.map((p) => p.name), conflict: setters.map((p) => `${p.name}: ${JSON.stringify(get(p))}`).join(', ') };
  }
  return setters.length ? { value: get(setters[0]!), setters: setters.map((p) => p.name) } : { setters: [] };
}

export function ingressDefaults(selecting: ExposurePolicy[]): IngressDefaults {
  const domain = agreed(selecting, (p) => p.spec.ingress?.domain);
  const template = agreed(selecting, (p) => p.spec.ingress?.hostTemplate);
  const cls = agreed(selecting, (p) => p.spec.ingress?.className);
  for (const [what, a] of [['domains', domain], ['host templates', template], ['Ingress classes', cls]] as const) {
    if (a.conflict) return { ok: false, message: `the policies set different ${what} (${a.conflict})`, policies: a.setters };
  }
  return {
    ok: true,
    ...(domain.value !== undefined && { domain: domain.value }),
    ...(template.value !== undefined && { hostTemplate: template.value }),
    ...(cls.value !== undefined && { className: cls.value }),
    policies: [...new Set([...domain.setters, ...template.setters, ...cls.setters])],
  };
}

export function evaluatePolicies(input: EvaluationInput): Evaluation {
  const selecting = selectingPolicies(input.policies, input.namespaceLabels);
  const ns = input.namespace;
  const allowed = describeAllowed(selecting);
  if (selecting.length === 0) {
    return { decisions: input.exposures.map((e) => ({ id: e.id, admitted: true, exposure: e })), selecting: [], allowed };
  }
  const names = (ps: ExposurePolicy[]) => ps.map((p) => p.name);
  const byPolicy = (ps: ExposurePolicy[]) => `${ps.length === 1 ? 'policy' : 'policies'} ${names(ps).join(', ')}`;
  const denyWith = (e: Exposure, message: string, ps: ExposurePolicy[]): Denied => ({ id: e.id, admitted: false, reason: 'PolicyDenied', policies: names(ps), message });
  const deny = (e: Exposure, what: string, ps: ExposurePolicy[], reason: PolicyReason = 'PolicyDenied'): Denied => ({
    id: e.id,
    admitted: false,
    reason,
    policies: names(ps),
    message:
      reason === 'PolicyConflict'
        ? `${what} in namespace ${ns}: ${byPolicy(ps)} conflict; ask ops to make them agree`
        : `${what} is not allowed in namespace ${ns} by ${byPolicy(ps)}; allowed: ${allowed}`,
  });

  const invalid = selecting.filter((p) => p.errors?.length);
  const limit = agreedMin(selecting, (p) => p.spec.maxExposuresPerNamespace);
  const deniedPorts = new Map<number, ExposurePolicy[]>();
  for (const p of selecting) for (const port of p.spec.deniedPorts ?? []) deniedPorts.set(port, [...(deniedPorts.get(port) ?? []), p]);
  const ranges = selecting.filter((p) => p.spec.nodePortRange);
  const range = ranges.length
    ? { min: Math.max(...ranges.map((p) => p.spec.nodePortRange!.min)), max: Math.min(...ranges.map((p) => p.spec.nodePortRange!.max)) }
    : undefined;

  let used = input.othersInNamespace ?? 0;
  const decisions: Decision[] = [];
  const serviceDecision = new Map<string, Decision>();

  for (const e of input.exposures) {
    if (e.kind === 'host') {
      decisions.push({ id: e.id, admitted: true, exposure: e });
      continue;
    }
    const d = decide(e);
    if (d.admitted) {
      if (limit && used >= limit.value) {
        const ld = deny(e, `${label(e)} (exposure ${used + 1}; the limit is ${limit.value} per namespace)`, limit.policies);
        decisions.push(ld);
        if (e.kind === 'k8s-service') serviceDecision.set(e.id, ld);
        continue;
      }
      used++;
    }
    decisions.push(d);
    if (e.kind === 'k8s-service') serviceDecision.set(e.id, d);
  }
  return { decisions, selecting: names(selecting), allowed };

  function decide(e: Exposure): Decision {
    if (invalid.length) {
      return {
        id: e.id,
        admitted: false,
        reason: 'PolicyDenied',
        policies: names(invalid),
        message: `${byPolicy(invalid)} ${invalid.length === 1 ? 'is' : 'are'} invalid (${invalid.flatMap((p) => p.errors!).join('; ')}), so nothing is exposed in namespace ${ns} until ops fix ${invalid.length === 1 ? 'it' : 'them'}`,
      };
    }
    const portDeniers = deniedPorts.get(e.envPort) ?? (e.kind === 'k8s-service' ? deniedPorts.get(e.servicePort) : undefined);
    if (portDeniers && e.kind !== 'k8s-ingress' && e.kind !== 'k8s-route') return deny(e, `exposing port ${deniedPorts.has(e.envPort) ? e.envPort : (e as K8sServiceExposure).servicePort}`, portDeniers);
    switch (e.kind) {
      case 'k8s-port-forward': {
        const deniers = selecting.filter((p) => p.spec.portForward === false);
        return deniers.length ? deny(e, 'port-forward', deniers) : { id: e.id, admitted: true, exposure: e };
      }
      case 'k8s-service': {
        const deniers = selecting.filter((p) => p.spec.serviceTypes && !p.spec.serviceTypes.includes(e.serviceType));
        if (deniers.length) return deny(e, e.serviceType, deniers);
        if (e.serviceType !== 'ClusterIP' && range) {
          if (range.min > range.max) return deny(e, `node ports (ranges ${ranges.map((p) => `${p.name}: ${p.spec.nodePortRange!.min}-${p.spec.nodePortRange!.max}`).join(', ')} do not overlap)`, ranges, 'PolicyConflict');
          if (e.nodePort === undefined) {
            return denyWith(e, `${e.serviceType} without node_port is not allowed in namespace ${ns} by ${byPolicy(ranges)}: set node_port in ${range.min}-${range.max}`, ranges);
          }
          if (e.nodePort < range.min || e.nodePort > range.max) {
            const outside = ranges.filter((p) => e.nodePort! < p.spec.nodePortRange!.min || e.nodePort! > p.spec.nodePortRange!.max);
            return denyWith(e, `node port ${e.nodePort} is not allowed in namespace ${ns} by ${byPolicy(outside)}; allowed: node ports ${range.min}-${range.max}`, outside);
          }
        }
        return { id: e.id, admitted: true, exposure: e };
      }
      case 'k8s-ingress':
        return decideIngress(e);
      case 'k8s-route': {
        const d = decideRoute(e, selecting, { namespace: ns, allowed, service: serviceDecision.get(e.serviceId) });
        const ceiling = d.admitted ? accessCeiling(selecting, e) : undefined; // issue 22
        return ceiling ? denyWith(e, `access "${ceiling.asked}" is not allowed in namespace ${ns} by ${byPolicy(ceiling.policies)} (access.max: ${ceiling.max}); allowed: access up to "${ceiling.max}"`, ceiling.policies) : d;
      }
    }
    return { id: e.id, admitted: true, exposure: e };
  }

  function decideIngress(e: K8sIngressExposure): Decision {
    const svc = serviceDecision.get(e.serviceId);
    if (svc && !svc.admitted) return { id: e.id, admitted: false, reason: svc.reason, policies: svc.policies, message: `its Service (${e.serviceId}) is denied: ${svc.message}` };
    const deniers = selecting.filter((p) => p.spec.ingress?.allowed === false);
    if (deniers.length) return deny(e, 'Ingress', deniers);
    const ceiling = accessCeiling(selecting, e);
    if (ceiling) return denyWith(e, `access "${ceiling.asked}" is not allowed in namespace ${ns} by ${byPolicy(ceiling.policies)} (access.max: ${ceiling.max}); allowed: access up to "${ceiling.max}"`, ceiling.policies);
    const defaults = ingressDefaults(selecting);
    if (!defaults.ok) return deny(e, `an Ingress (${defaults.message})`, selecting.filter((p) => defaults.policies.includes(p.name)), 'PolicyConflict');
    const out: K8sIngressExposure = { ...e, ...(e.annotations && { annotations: { ...e.annotations } }) };
    if (defaults.className !== undefined) {
      if (e.className !== undefined && e.className !== defaults.className) {
        const ps = selecting.filter((p) => p.spec.ingress?.className !== undefined);
        return denyWith(e, `Ingress class ${e.className} is not allowed in namespace ${ns} by ${byPolicy(ps)}; allowed: class ${defaults.className}`, ps);
      }
      out.className = defaults.className;
    }
    const hostDeniers = selecting.filter((p) => p.spec.ingress?.allowedHostSuffixes && !p.spec.ingress.allowedHostSuffixes.some((s) => hostHasSuffix(e.host, s)));
    if (hostDeniers.length) {
      const suffixes = hostDeniers.flatMap((p) => p.spec.ingress!.allowedHostSuffixes!.map(wildcard));
      return denyWith(e, `host ${e.host} is not allowed in namespace ${ns} by ${byPolicy(hostDeniers)}; allowed: hosts under ${[...new Set(suffixes)].join(', ')}`, hostDeniers);
    }
    const ann = agreedAnnotations(selecting);
    if (ann.conflict) return deny(e, `an Ingress (the policies set annotation ${ann.conflict.key} differently)`, ann.conflict.policies, 'PolicyConflict');
    if (Object.keys(ann.values).length) out.annotations = { ...(out.annotations ?? {}), ...ann.values };
    const tlsRequiredBy = selecting.filter((p) => p.spec.ingress?.tls?.required);
    if (tlsRequiredBy.length && e.tlsSecret === undefined) {
      const secret = agreed(selecting, (p) => p.spec.ingress?.tls?.defaultSecretName);
      const issuer = agreed(selecting, (p) => p.spec.ingress?.tls?.clusterIssuer);
      const c = secret.conflict ? ['default TLS secrets', secret] : issuer.conflict ? ['cert-manager issuers', issuer] : undefined;
      if (c) return deny(e, `an Ingress (the policies set different ${c[0]}: ${(c[1] as { conflict: string }).conflict})`, selecting.filter((p) => (c[1] as { setters: string[] }).setters.includes(p.name)), 'PolicyConflict');
      if (secret.value !== undefined) out.tlsSecret = secret.value;
      else if (issuer.value !== undefined) {
        out.tlsSecret = dnsName(`${input.envName}-${e.id.replace(/^ingress-/, '')}-tls`);
        out.annotations = { ...(out.annotations ?? {}), [CERT_MANAGER_CLUSTER_ISSUER]: issuer.value };
      } else {
        return denyWith(e, `an Ingress without TLS is not allowed in namespace ${ns} by ${byPolicy(tlsRequiredBy)}: set tls_secret= in cloud.k8s.ingress(...) (the policy names no default secret or issuer)`, tlsRequiredBy);
      }
    }
    return { id: e.id, admitted: true, exposure: out };
  }
}

function agreedMin(policies: ExposurePolicy[], get: (p: ExposurePolicy) => number | undefined): { value: number; policies: ExposurePolicy[] } | undefined {
  const setters = policies.filter((p) => get(p) !== undefined);
  if (!setters.length) return undefined;
  const value = Math.min(...setters.map((p) => get(p)!));
  return { value, policies: setters.filter((p) => get(p) === value) };
}

function agreedAnnotations(policies: ExposurePolicy[]): { values: Record<string, string>; conflict?: { key: string; policies: ExposurePolicy[] } } {
  const values: Record<string, string> = {};
  const from: Record<string, ExposurePolicy> = {};
  for (const p of policies) {
    for (const [k, v] of Object.entries(p.spec.ingress?.annotations ?? {})) {
      if (k in values && values[k] !== v) return { values, conflict: { key: k, policies: [from[k]!, p] } };
      values[k] = v;
      from[k] = p;
    }
  }
  return { values };
}

/** "apps.example.com", ".apps.example.com" and "*.apps.example.com" all mean "a host under apps.example.com". */
export function hostHasSuffix(host: string, suffix: string): boolean {
  const s = suffix.replace(/^\*?\.?/, '');
  return host.endsWith(`.${s}`);
}

const wildcard = (s: string) => `*.${s.replace(/^\*?\.?/, '')}`;

function dnsName(raw: string): string {
  return raw.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-+/, '').slice(0, 63).replace(/-+$/, '');
}

function label(e: Exposure): string {
  switch (e.kind) {
    case 'k8s-port-forward':
      return 'port-forward';
    case 'k8s-service':
      return `${e.serviceType} Service`;
    case 'k8s-ingress':
      return 'Ingress';
    case 'k8s-route':
      return 'HTTPRoute';
    default:
      return e.kind;
  }
}

/** What every selecting policy allows, in words, for denial messages. */
export function describeAllowed(selecting: ExposurePolicy[]): string {
  if (selecting.length === 0) return 'everything (no policy selects this namespace)';
  if (selecting.some((p) => p.errors?.length)) return 'nothing until the invalid policy is fixed';
  const parts: string[] = [];
  if (selecting.every((p) => p.spec.portForward !== false)) parts.push('port-forward');
  let types: string[] = ['ClusterIP', 'NodePort', 'LoadBalancer'];
  for (const p of selecting) if (p.spec.serviceTypes) types = types.filter((t) => p.spec.serviceTypes!.includes(t as never));
  const ranges = selecting.filter((p) => p.spec.nodePortRange);
  const min = Math.max(...ranges.map((p) => p.spec.nodePortRange!.min));
  const max = Math.min(...ranges.map((p) => p.spec.nodePortRange!.max));
  for (const t of types) parts.push(t !== 'ClusterIP' && ranges.length ? `${t} (node ports ${min}-${max})` : t);
  const ingressOk = types.length > 0 && selecting.every((p) => p.spec.ingress?.allowed !== false);
  if (ingressOk) {
    const suffixes = selecting.flatMap((p) => p.spec.ingress?.allowedHostSuffixes ?? []).map(wildcard);
    const cls = selecting.map((p) => p.spec.ingress?.className).find((c) => c !== undefined);
    const tls = selecting.some((p) => p.spec.ingress?.tls?.required);
    let s = 'Ingress';
    if (suffixes.length) s += ` under ${[...new Set(suffixes)].join(', ')}`;
    if (cls) s += ` (class ${cls})`;
    if (tls) s += ' with TLS';
    parts.push(s);
  }
  const routes = types.length > 0 ? describeRoutes(selecting) : undefined;
  if (routes && selecting.some((p) => p.spec.httpRoute)) parts.push(routes);
  const denied = [...new Set(selecting.flatMap((p) => p.spec.deniedPorts ?? []))].sort((a, b) => a - b);
  let out = parts.length ? parts.join(', ') : 'no cluster exposure';
  if (denied.length) out += `; never ports ${denied.join(', ')}`;
  return out;
}
