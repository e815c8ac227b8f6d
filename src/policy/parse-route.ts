// The policy's Gateway API fields (`spec.httpRoute`, `spec.automaticExposure`), read like the
// Ingress fields: every problem with the path of its field.
import type { PolicyGateway, PolicySpec } from './types.js';

const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const TEMPLATE_FIELDS = ['service', 'env', 'namespace', 'port', 'domain'];
type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseRouteFields(s: Json, spec: PolicySpec, err: (path: string, m: string) => void): void {
  if (s.automaticExposure !== undefined) {
    if (s.automaticExposure !== 'Ingress' && s.automaticExposure !== 'HTTPRoute') err('spec.automaticExposure', `must be Ingress or HTTPRoute, got ${JSON.stringify(s.automaticExposure)}`);
    else spec.automaticExposure = s.automaticExposure;
  }
  if (s.httpRoute === undefined) return;
  const r = s.httpRoute;
  const p = 'spec.httpRoute';
  if (!isObj(r)) return void err(p, 'must be a mapping');
  const known = ['allowed', 'gateways', 'domain', 'hostTemplate', 'allowedHostSuffixes', 'https'];
  for (const k of Object.keys(r)) if (!known.includes(k)) err(`${p}.${k}`, `unknown field (known: ${known.join(', ')})`);
  const out: NonNullable<PolicySpec['httpRoute']> = {};
  for (const k of ['allowed', 'https'] as const) {
    if (r[k] === undefined) continue;
    if (typeof r[k] !== 'boolean') err(`${p}.${k}`, 'must be true or false');
    else out[k] = r[k] as boolean;
  }
  if (r.gateways !== undefined) {
    if (!Array.isArray(r.gateways)) err(`${p}.gateways`, 'must be a list of {namespace, name, sectionNames}');
    else {
      const gws: PolicyGateway[] = [];
      r.gateways.forEach((g, i) => {
        const gp = `${p}.gateways[${i}]`;
        if (!isObj(g) || typeof g.namespace !== 'string' || !DNS_NAME.test(g.namespace) || typeof g.name !== 'string' || !DNS_NAME.test(g.name)) {
          return void err(gp, 'must be {namespace: NS, name: NAME, sectionNames: [LISTENER, ...]}');
        }
        if (g.sectionNames !== undefined && (!Array.isArray(g.sectionNames) || !g.sectionNames.every((x) => typeof x === 'string' && DNS_NAME.test(x)))) {
          return void err(`${gp}.sectionNames`, 'must be a list of listener names');
        }
        gws.push({ namespace: g.namespace, name: g.name, ...(g.sectionNames !== undefined && { sectionNames: g.sectionNames as string[] }) });
      });
      out.gateways = gws;
    }
  }
  if (r.domain !== undefined) {
    if (typeof r.domain !== 'string' || !DNS_NAME.test(r.domain)) err(`${p}.domain`, `must be a DNS name such as apps.example.com, got ${JSON.stringify(r.domain)}`);
    else out.domain = r.domain;
  }
  if (r.hostTemplate !== undefined) {
    if (typeof r.hostTemplate !== 'string') err(`${p}.hostTemplate`, 'must be a string');
    else {
      const bad = [...r.hostTemplate.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!).filter((f) => !TEMPLATE_FIELDS.includes(f));
      if (bad.length) err(`${p}.hostTemplate`, `unknown field {${bad[0]}} (known: ${TEMPLATE_FIELDS.map((f) => `{${f}}`).join(', ')})`);
      else out.hostTemplate = r.hostTemplate;
    }
  }
  if (r.allowedHostSuffixes !== undefined) {
    if (!Array.isArray(r.allowedHostSuffixes) || !r.allowedHostSuffixes.every((x) => typeof x === 'string' && DNS_NAME.test(x.replace(/^\*?\./, '')))) {
      err(`${p}.allowedHostSuffixes`, 'must be a list of DNS suffixes such as ".apps.example.com"');
    } else out.allowedHostSuffixes = r.allowedHostSuffixes as string[];
  }
  spec.httpRoute = out;
}
