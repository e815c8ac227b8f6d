// Reading policies: from a YAML file (`envserve plan --policy FILE`) or from the objects the
// operator watches. Every problem is reported with the path of the field, all at once.
import { parseAllDocuments } from 'yaml';
import { IssuesError, UserError } from '../errors.js';
import type { ServiceType } from '../plan/types.js';
import { ACCESS_LEVELS, isAccessLevel } from '../plan/access.js';
import { parseRouteFields } from './parse-route.js';
import { POLICY_API_VERSION, POLICY_KIND, type ExposurePolicy, type LabelSelector, type PolicySpec } from './types.js';

const SERVICE_TYPES: readonly ServiceType[] = ['ClusterIP', 'NodePort', 'LoadBalancer'];
const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const TEMPLATE_FIELDS = ['service', 'env', 'namespace', 'port', 'domain'];

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * One policy object (`apiVersion: envserve.dev/v1alpha1, kind: ExposurePolicy`) → the policy, or
 * the problems found (each "spec.field: message").
 */
export function policyFromObject(obj: unknown): { policy: ExposurePolicy; errors: string[] } {
  const errors: string[] = [];
  const err = (path: string, m: string) => errors.push(`${path}: ${m}`);
  const o = isObj(obj) ? obj : {};
  const meta = isObj(o.metadata) ? o.metadata : {};
  const name = typeof meta.name === 'string' && meta.name ? meta.name : '(unnamed)';
  if (name === '(unnamed)') err('metadata.name', 'is required');
  if (o.apiVersion !== POLICY_API_VERSION) err('apiVersion', `must be ${POLICY_API_VERSION}, got ${JSON.stringify(o.apiVersion)}`);
  if (o.kind !== POLICY_KIND) err('kind', `must be ${POLICY_KIND}, got ${JSON.stringify(o.kind)}`);
  if (meta.namespace !== undefined) err('metadata.namespace', 'an ExposurePolicy is cluster-scoped: remove the namespace');
  const s = o.spec === undefined ? {} : o.spec;
  if (!isObj(s)) {
    err('spec', 'must be a mapping');
    return { policy: { name, spec: {} }, errors };
  }
  const spec: PolicySpec = {};
  const known = ['namespaceSelector', 'portForward', 'serviceTypes', 'nodePortRange', 'ingress', 'deniedPorts', 'maxExposuresPerNamespace', 'httpRoute', 'automaticExposure', 'access'];
  for (const k of Object.keys(s)) if (!known.includes(k)) err(`spec.${k}`, `unknown field (known: ${known.join(', ')})`);

  if (s.namespaceSelector !== undefined) {
    const sel = selector(s.namespaceSelector, 'spec.namespaceSelector', err);
    if (sel) spec.namespaceSelector = sel;
  }
  if (s.portForward !== undefined) {
    if (typeof s.portForward !== 'boolean') err('spec.portForward', 'must be true or false');
    else spec.portForward = s.portForward;
  }
  if (s.serviceTypes !== undefined) {
    if (!Array.isArray(s.serviceTypes)) err('spec.serviceTypes', `must be a list of ${SERVICE_TYPES.join(', ')}`);
    else {
      s.serviceTypes.forEach((t, i) => {
        if (!SERVICE_TYPES.includes(t as ServiceType)) err(`spec.serviceTypes[${i}]`, `must be one of ${SERVICE_TYPES.join(', ')}, got ${JSON.stringify(t)}`);
      });
      spec.serviceTypes = s.serviceTypes.filter((t): t is ServiceType => SERVICE_TYPES.includes(t as ServiceType));
    }
  }
  if (s.nodePortRange !== undefined) {
    const r = s.nodePortRange;
    if (!isObj(r) || !isPort(r.min) || !isPort(r.max) || (r.min as number) > (r.max as number)) {
      err('spec.nodePortRange', 'must be {min: PORT, max: PORT} with min <= max');
    } else spec.nodePortRange = { min: r.min as number, max: r.max as number };
  }
  if (s.deniedPorts !== undefined) {
    if (!Array.isArray(s.deniedPorts) || !s.deniedPorts.every(isPort)) err('spec.deniedPorts', 'must be a list of ports (1-65535)');
    else spec.deniedPorts = s.deniedPorts as number[];
  }
  if (s.maxExposuresPerNamespace !== undefined) {
    const m = s.maxExposuresPerNamespace;
    if (!Number.isInteger(m) || (m as number) < 0) err('spec.maxExposuresPerNamespace', 'must be an int >= 0');
    else spec.maxExposuresPerNamespace = m as number;
  }
  if (s.access !== undefined) {
    const access = parseAccess(s.access, err);
    if (access) spec.access = access;
  }
  if (s.ingress !== undefined) {
    const ing = s.ingress;
    if (!isObj(ing)) err('spec.ingress', 'must be a mapping');
    else {
      const p = 'spec.ingress';
      const knownIng = ['allowed', 'className', 'domain', 'hostTemplate', 'allowedHostSuffixes', 'tls', 'annotations'];
      for (const k of Object.keys(ing)) if (!knownIng.includes(k)) err(`${p}.${k}`, `unknown field (known: ${knownIng.join(', ')})`);
      const out: NonNullable<PolicySpec['ingress']> = {};
      if (ing.allowed !== undefined) {
        if (typeof ing.allowed !== 'boolean') err(`${p}.allowed`, 'must be true or false');
        else out.allowed = ing.allowed;
      }
      if (ing.className !== undefined) {
        if (typeof ing.className !== 'string' || !DNS_NAME.test(ing.className)) err(`${p}.className`, 'must be the name of an IngressClass');
        else out.className = ing.className;
      }
      if (ing.domain !== undefined) {
        if (typeof ing.domain !== 'string' || !DNS_NAME.test(ing.domain)) err(`${p}.domain`, `must be a DNS name such as apps.example.com, got ${JSON.stringify(ing.domain)}`);
        else out.domain = ing.domain;
      }
      if (ing.hostTemplate !== undefined) {
        if (typeof ing.hostTemplate !== 'string') err(`${p}.hostTemplate`, 'must be a string');
        else {
          const bad = [...ing.hostTemplate.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!).filter((f) => !TEMPLATE_FIELDS.includes(f));
          if (bad.length) err(`${p}.hostTemplate`, `unknown field {${bad[0]}} (known: ${TEMPLATE_FIELDS.map((f) => `{${f}}`).join(', ')})`);
          else out.hostTemplate = ing.hostTemplate;
        }
      }
      if (ing.allowedHostSuffixes !== undefined) {
        if (!Array.isArray(ing.allowedHostSuffixes) || !ing.allowedHostSuffixes.every((x) => typeof x === 'string' && DNS_NAME.test(x.replace(/^\*?\./, '')))) {
          err(`${p}.allowedHostSuffixes`, 'must be a list of DNS suffixes such as ".apps.example.com"');
        } else out.allowedHostSuffixes = ing.allowedHostSuffixes as string[];
      }
      if (ing.annotations !== undefined) {
        if (!isObj(ing.annotations) || !Object.values(ing.annotations).every((v) => typeof v === 'string')) err(`${p}.annotations`, 'must be a mapping of strings to strings');
        else out.annotations = ing.annotations as Record<string, string>;
      }
      if (ing.tls !== undefined) {
        const t = ing.tls;
        if (!isObj(t)) err(`${p}.tls`, 'must be a mapping');
        else {
          const tls: NonNullable<typeof out.tls> = {};
          if (t.required !== undefined) {
            if (typeof t.required !== 'boolean') err(`${p}.tls.required`, 'must be true or false');
            else tls.required = t.required;
          }
          for (const k of ['defaultSecretName', 'clusterIssuer'] as const) {
            if (t[k] === undefined) continue;
            if (typeof t[k] !== 'string' || !DNS_NAME.test(t[k] as string)) err(`${p}.tls.${k}`, 'must be a DNS name');
            else tls[k] = t[k] as string;
          }
          for (const k of Object.keys(t)) if (!['required', 'defaultSecretName', 'clusterIssuer'].includes(k)) err(`${p}.tls.${k}`, 'unknown field (known: required, defaultSecretName, clusterIssuer)');
          out.tls = tls;
        }
      }
      spec.ingress = out;
    }
  }
  parseRouteFields(s, spec, err);
  return { policy: { name, spec }, errors };
}

// --- issue 22: spec.access {max, sessionLifetime} ---
const MAX_SESSION_MS = 168 * 3_600_000;

function parseAccess(v: unknown, err: (p: string, m: string) => void): PolicySpec['access'] | undefined {
  if (!isObj(v)) {
    err('spec.access', 'must be a mapping {max, sessionLifetime}');
    return undefined;
  }
  const out: NonNullable<PolicySpec['access']> = {};
  for (const k of Object.keys(v)) if (!['max', 'sessionLifetime'].includes(k)) err(`spec.access.${k}`, 'unknown field (known: max, sessionLifetime)');
  if (v.max !== undefined) {
    if (typeof v.max !== 'string' || !isAccessLevel(v.max)) err('spec.access.max', `must be one of ${ACCESS_LEVELS.join(', ')}, got ${JSON.stringify(v.max)}`);
    else out.max = v.max;
  }
  if (v.sessionLifetime !== undefined) {
    const m = typeof v.sessionLifetime === 'string' ? /^(\d+)(m|h)$/.exec(v.sessionLifetime) : null;
    const ms = m ? Number(m[1]) * (m[2] === 'h' ? 3_600_000 : 60_000) : NaN;
    if (!(ms >= 60_000 && ms <= MAX_SESSION_MS)) err('spec.access.sessionLifetime', `must be a duration such as "30m" or "8h", from 1m to 168h, got ${JSON.stringify(v.sessionLifetime)}`);
    else out.sessionLifetimeMs = ms;
  }
  return out;
}
// --- end issue 22 ---

function isPort(v: unknown): boolean {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;
}

function selector(v: unknown, path: string, err: (p: string, m: string) => void): LabelSelector | undefined {
  if (!isObj(v)) {
    err(path, 'must be a label selector ({matchLabels: {...}, matchExpressions: [...]})');
    return undefined;
  }
  const sel: LabelSelector = {};
  if (v.matchLabels !== undefined) {
    if (!isObj(v.matchLabels) || !Object.values(v.matchLabels).every((x) => typeof x === 'string')) err(`${path}.matchLabels`, 'must map label keys to string values');
    else sel.matchLabels = v.matchLabels as Record<string, string>;
  }
  if (v.matchExpressions !== undefined) {
    if (!Array.isArray(v.matchExpressions)) err(`${path}.matchExpressions`, 'must be a list');
    else {
      sel.matchExpressions = [];
      v.matchExpressions.forEach((ex, i) => {
        const ops = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
        if (!isObj(ex) || typeof ex.key !== 'string' || !ops.includes(ex.operator as string)) {
          err(`${path}.matchExpressions[${i}]`, `must be {key, operator: ${ops.join('|')}, values}`);
          return;
        }
        const needsValues = ex.operator === 'In' || ex.operator === 'NotIn';
        if (needsValues && (!Array.isArray(ex.values) || ex.values.length === 0 || !ex.values.every((x) => typeof x === 'string'))) {
          err(`${path}.matchExpressions[${i}].values`, `${ex.operator} needs a non-empty list of strings`);
          return;
        }
        sel.matchExpressions!.push({ key: ex.key, operator: ex.operator as 'In', ...(needsValues && { values: ex.values as string[] }) });
      });
    }
  }
  return sel;
}

/** Every ExposurePolicy in a YAML text (several documents, or a `kind: List`). Throws a UserError listing every problem. */
export function parsePolicies(text: string, file: string): ExposurePolicy[] {
  const docs = parseAllDocuments(text);
  const problems: { message: string; position?: string }[] = [];
  const objects: unknown[] = [];
  for (const d of Array.isArray(docs) ? docs : [docs]) {
    if (d.errors.length) {
      for (const e of d.errors) problems.push({ message: e.message.split('\n')[0]!, position: `${file}:${e.linePos?.[0]?.line ?? 1}:${e.linePos?.[0]?.col ?? 1}` });
      continue;
    }
    const v = d.toJS() as unknown;
    if (v === null || v === undefined) continue;
    if (isObj(v) && v.kind === 'List' && Array.isArray(v.items)) objects.push(...v.items);
    else objects.push(v);
  }
  const policies: ExposurePolicy[] = [];
  objects.forEach((o, i) => {
    const { policy, errors } = policyFromObject(o);
    for (const e of errors) problems.push({ message: `${POLICY_KIND} ${policy.name} (document ${i + 1}): ${e}`, position: file });
    policies.push(policy);
  });
  if (problems.length) throw new IssuesError(problems, `the policy file ${file} has ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
  if (policies.length === 0) throw new UserError(`the policy file ${file} holds no ${POLICY_KIND}`, `write one: apiVersion: ${POLICY_API_VERSION}, kind: ${POLICY_KIND}`);
  const seen = new Set<string>();
  for (const p of policies) {
    if (seen.has(p.name)) throw new UserError(`the policy file ${file} has two policies named ${p.name}`);
    seen.add(p.name);
  }
  return policies;
}
