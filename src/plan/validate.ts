// Validation of a plan as a whole: every problem at once, each at the call that caused it.
// A plan with any issue is never applied.
import { isIP } from 'node:net';
import { canonicalAddress, PortListeners, routeKey } from './addresses.js';
import type { Exposure, HostExposure, K8sPortForwardExposure, K8sRouteExposure, Plan, PlanIssue, ValidationResult } from './types.js';

export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

/** Argument names as each builtin spells them, so messages match what the user wrote. */
function argName(e: Exposure, field: 'envPort' | 'hostPort' | 'listenAddress'): string {
  if (e.declaredBy === 'runtime.expose') return { envPort: 'envd_port', hostPort: 'host_port', listenAddress: 'listen_addr' }[field];
  return { envPort: 'env_port', hostPort: 'host_port', listenAddress: 'listen_addr' }[field];
}

export function validatePlan(plan: Plan): ValidationResult {
  const issues: PlanIssue[] = [];
  const add = (e: Exposure, message: string) => issues.push({ message: `${e.declaredBy}: ${message}`, position: e.position, exposureId: e.id });

  // Listeners by host port; each checked against those of its port in constant time.
  const listeners = new Map<number, PortListeners<HostExposure | K8sPortForwardExposure>>();
  const servicePorts = new Map<number, Exposure>();
  const nodePorts = new Map<number, Exposure>();
  const routes = new Map<string, Exposure>();
  const httpRoutes = new Map<string, Exposure>();

  for (const e of plan.exposures) {
    if (e.kind !== 'k8s-ingress' && e.kind !== 'k8s-route') checkPort(e.envPort, 1, (m) => add(e, `${argName(e, 'envPort')} ${m}`));

    switch (e.kind) {
      case 'host':
      case 'k8s-port-forward': {
        checkPort(e.hostPort, 0, (m) => add(e, `${argName(e, 'hostPort')} ${m} (0 picks a free port)`));
        const addr = canonicalAddress(e.listenAddress);
        if (addr === undefined) {
          add(e, `${argName(e, 'listenAddress')} must be an IP address, got "${e.listenAddress}"` + hintForAddress(e.listenAddress));
        } else if (e.hostPort > 0) {
          let port = listeners.get(e.hostPort);
          if (!port) listeners.set(e.hostPort, (port = new PortListeners()));
          const clash = port.add(addr, e);
          if (clash) {
            add(e, `host port ${e.hostPort} on ${e.listenAddress} is already used by ${clash.declaredBy} at ${clash.position} (listening on ${clash.listenAddress})`);
          }
        }
        break;
      }
      case 'k8s-service': {
        checkPort(e.servicePort, 1, (m) => add(e, `service_port ${m}`));
        const other = servicePorts.get(e.servicePort);
        if (other) add(e, `service port ${e.servicePort} is already used by the Service declared at ${other.position}`);
        else servicePorts.set(e.servicePort, e);
        if (e.nodePort !== undefined) {
          if (!Number.isInteger(e.nodePort) || e.nodePort < NODE_PORT_RANGE.min || e.nodePort > NODE_PORT_RANGE.max) {
            add(e, `node_port must be in the NodePort range ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}, got ${e.nodePort}`);
          } else {
            const sameNode = nodePorts.get(e.nodePort);
            if (sameNode) add(e, `node port ${e.nodePort} is already used by the Service declared at ${sameNode.position}`);
            else nodePorts.set(e.nodePort, e);
          }
        }
        break;
      }
      case 'k8s-ingress': {
        const ingressAdd = (m: string) => issues.push({ message: `cloud.k8s.ingress: ${m}`, position: e.position, exposureId: e.id });
        if (!isIngressHost(e.host)) {
          ingressAdd(`host must be a DNS name such as "jupyter.example.com" (lowercase letters, digits, "-" and "."; "*." allowed first), got "${e.host}"`);
        }
        if (!e.path.startsWith('/')) ingressAdd(`path must start with "/", got "${e.path}"`);
        else {
          const bad = badPathPart(e.path);
          if (bad) ingressAdd(`path must not contain "${bad}" (Kubernetes refuses it in a Prefix path), got "${e.path}"`);
        }
        // By meaning: "/x" and "/x/" route the same requests, and hosts ignore case.
        const key = routeKey(e.host, e.path);
        const other = routes.get(key);
        if (other) ingressAdd(`host ${e.host} and path ${e.path} are already routed by the Ingress declared at ${other.position}`);
        else routes.set(key, e);
        if (e.tlsSecret !== undefined && !isDnsLabelOrSubdomain(e.tlsSecret)) {
          ingressAdd(`tls_secret must be the name of a Secret (a DNS subdomain), got "${e.tlsSecret}"`);
        }
        break;
      }
      case 'k8s-route':
        for (const m of routeIssues(e, httpRoutes)) issues.push({ message: `cloud.k8s.route: ${m}`, position: e.position, exposureId: e.id });
        break;
    }
  }
  return issues.length === 0 ? { ok: true } : { ok: false, issues };
}

/** An HTTPRoute's host and path: the same rules as an Ingress's; one route per host, path and Gateway. */
function routeIssues(e: K8sRouteExposure, seen: Map<string, Exposure>): string[] {
  const out: string[] = [];
  if (!isIngressHost(e.host)) out.push(`host must be a DNS name such as "jupyter.apps.example.com" (lowercase letters, digits, "-" and "."; "*." allowed first), got "${e.host}"`);
  if (!e.path.startsWith('/')) out.push(`path must start with "/", got "${e.path}"`);
  else {
    const bad = badPathPart(e.path);
    if (bad) out.push(`path must not contain "${bad}", got "${e.path}"`);
  }
  const g = e.gateway;
  if (g && (!LABEL.test(g.namespace) || !isDnsLabelOrSubdomain(g.name) || (g.sectionName !== undefined && !isDnsLabelOrSubdomain(g.sectionName)))) {
    out.push(`gateway must be "namespace/name" or "namespace/name/listener" (DNS names), got "${[g.namespace, g.name, g.sectionName].filter((x) => x !== undefined).join('/')}"`);
  }
  const key = `${g ? `${g.namespace}/${g.name}` : ''} ${routeKey(e.host, e.path)}`;
  const other = seen.get(key);
  if (other) out.push(`host ${e.host} and path ${e.path} are already routed by the HTTPRoute declared at ${other.position}`);
  else seen.set(key, e);
  return out;
}

function checkPort(port: number, min: 0 | 1, report: (m: string) => void): void {
  if (!Number.isInteger(port) || port < min || port > 65535) report(`must be an int between ${min} and 65535, got ${port}`);
}

/** What the API server refuses in an Ingress path of type Prefix (and what would confuse routing). */
function badPathPart(path: string): string | undefined {
  for (const seq of ['//', '/./', '/../', '%2f', '%2F']) if (path.includes(seq)) return seq;
  for (const end of ['/..', '/.']) if (path.endsWith(end)) return end;
  if (/[\s"'{};\\]/.test(path)) return /[\s"'{};\\]/.exec(path)![0].replace(/\s/, ' ');
  return undefined;
}

function hintForAddress(addr: string): string {
  if (addr === 'localhost') return '; use "127.0.0.1"';
  if (addr === '*' || addr === '') return '; use "0.0.0.0" for every address';
  return '';
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function isDnsLabelOrSubdomain(name: string): boolean {
  return name.length <= 253 && name.split('.').every((l) => LABEL.test(l));
}

/** What the API server accepts as an Ingress rule host: a DNS subdomain, optionally "*." first, and not an IP. */
export function isIngressHost(host: string): boolean {
  const rest = host.startsWith('*.') ? host.slice(2) : host;
  return rest.length > 0 && isDnsLabelOrSubdomain(rest) && isIP(rest) === 0;
}
