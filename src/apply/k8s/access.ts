// Before changing anything: ask the API server (SelfSubjectAccessReview) whether this user may do
// every verb the plan needs. All checks run in parallel (one round trip in practice); a missing one
// fails the whole run before any object exists, naming the permission and what this user may use.
import { UserError } from '../../errors.js';
import type { KubernetesReason } from '../../reasons.js';
import type { KubeClient } from './client.js';

export type Capability = 'environment' | 'attach' | 'k8s-port-forward' | 'k8s-service' | 'k8s-ingress' | 'k8s-route' | 'down';

export interface AccessNeed {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
}

const POD_READ: AccessNeed[] = ['get', 'list', 'watch'].map((verb) => ({ verb, group: '', resource: 'pods' }));
const owned = (group: string, resource: string, verbs = ['get', 'list', 'create', 'patch', 'delete']) =>
  verbs.map((verb) => ({ verb, group, resource }));

/** What each capability needs (RBAC verbs on resources of the namespace). */
export const NEEDS: Record<Capability, AccessNeed[]> = {
  environment: [...owned('apps', 'deployments', ['get', 'list', 'watch', 'create', 'patch', 'delete']), ...POD_READ],
  attach: POD_READ,
  // WebSocket port-forward is a GET upgrade; SPDY clients POST (create). Ask for both, as kubectl's RBAC docs do.
  'k8s-port-forward': [...POD_READ, { verb: 'get', group: '', resource: 'pods', subresource: 'portforward' }, { verb: 'create', group: '', resource: 'pods', subresource: 'portforward' }],
  'k8s-service': owned('', 'services'),
  'k8s-ingress': owned('networking.k8s.io', 'ingresses'),
  'k8s-route': owned('gateway.networking.k8s.io', 'httproutes'),
  down: [...owned('', 'services', ['list', 'delete']), ...owned('networking.k8s.io', 'ingresses', ['list', 'delete']), ...owned('apps', 'deployments', ['list', 'delete'])],
};

const DESCRIBE: Record<Capability, string> = {
  environment: 'creating the environment (a Deployment: `up --runtime k8s`)',
  attach: 'attaching to a workload (--target/--selector)',
  'k8s-port-forward': 'port-forward (cloud.k8s.bind(host_port=...))',
  'k8s-service': 'Services (cloud.k8s.bind(type=...))',
  'k8s-ingress': 'Ingress (cloud.k8s.bind(ingress=...))',
  'k8s-route': 'HTTPRoutes (cloud.k8s.bind(route=...))',
  down: 'removing what envserve created (down)',
};

export function formatNeed(n: AccessNeed): string {
  const res = n.subresource ? `${n.resource}/${n.subresource}` : n.resource;
  return `${n.verb} ${n.group ? `${res}.${n.group}` : res}`;
}

const key = (n: AccessNeed) => `${n.verb} ${n.group} ${n.resource} ${n.subresource ?? ''}`;

/** Asks the API server about each distinct need; returns the denied ones. */
export async function reviewAccess(client: Pick<KubeClient, 'request'>, namespace: string, needs: AccessNeed[]): Promise<Map<string, { need: AccessNeed; allowed: boolean; reason?: KubernetesReason }>> {
  const distinct = new Map<string, AccessNeed>();
  for (const n of needs) distinct.set(key(n), n);
  const results = await Promise.all(
    [...distinct.entries()].map(async ([k, n]) => {
      const res = await client.request<{ status?: { allowed?: boolean; reason?: KubernetesReason } }>('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        method: 'POST',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { namespace, verb: n.verb, group: n.group, resource: n.resource, ...(n.subresource && { subresource: n.subresource }) } },
        },
      });
      return [k, { need: n, allowed: res.status?.allowed === true, ...(res.status?.reason && { reason: res.status.reason }) }] as const;
    }),
  );
  return new Map(results);
}

/**
 * Throws a UserError (exit 2: nothing was changed, and the fix — other credentials, a Role, or an
 * exposure kind this user may use — is the user's to make) when `required` lacks a permission.
 */
export async function checkAccess(client: Pick<KubeClient, 'request'>, namespace: string, required: Capability[], user = 'this user'): Promise<void> {
  const all = Object.keys(NEEDS) as Capability[];
  const verdict = await reviewAccess(client, namespace, all.flatMap((c) => NEEDS[c]));
  const missingFor = (c: Capability) => NEEDS[c].filter((n) => !verdict.get(key(n))?.allowed);
  const missing = new Map<string, { need: AccessNeed; for: Capability[] }>();
  for (const c of required) {
    for (const n of missingFor(c)) {
      const m = missing.get(key(n)) ?? { need: n, for: [] };
      m.for.push(c);
      missing.set(key(n), m);
    }
  }
  if (missing.size === 0) return;
  const usable = (['k8s-port-forward', 'k8s-service', 'k8s-ingress', 'k8s-route', 'environment'] as Capability[]).filter((c) => missingFor(c).length === 0);
  const lines = [...missing.values()].map((m) => `  ${formatNeed(m.need)} in namespace ${namespace} (needed for ${m.for.map((c) => DESCRIBE[c]).join(', ')})`);
  throw new UserError(
    `${user} lacks ${missing.size} Kubernetes permission${missing.size === 1 ? '' : 's'}; nothing was changed:\n${lines.join('\n')}\n` +
      `this user may use: ${usable.length ? usable.map((c) => DESCRIBE[c]).join('; ') : 'none of the Kubernetes exposure kinds'}`,
    'ask a cluster admin for a Role with these verbs in the namespace, or use the exposure kinds listed above (another -n/--namespace or --context may also help)',
    'Forbidden',
  );
}
