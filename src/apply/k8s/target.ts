// Which pods an environment is: the Deployment `up` creates, an existing workload named by
// `--target k8s:<namespace>/<deployment|pod>/<name>`, or pods chosen by `--selector key=value`.
// Resolving checks that the namespace and the workload exist, so a typo fails before any change.
import { UserError } from '../../errors.js';
import { isNotFound, KubeApiError, type KubeClient } from './client.js';
import { LABEL_ENV } from './manifests.js';
import type { PodSelector } from './pod-tracker.js';

export type TargetSpec =
  | { kind: 'environment' }
  | { kind: 'deployment' | 'pod'; namespace?: string; name: string }
  | { kind: 'selector'; labels: Record<string, string> };

/** Parses `k8s:<namespace>/<deployment|pod>/<name>` (the namespace may be left out: `k8s:deployment/web`). */
export function parseTarget(text: string): TargetSpec {
  const m = /^k8s:(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/)?(deployment|deploy|pod|po)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(text);
  if (!m) {
    throw new UserError(
      `--target ${JSON.stringify(text)} is not a Kubernetes target`,
      'write it as k8s:<namespace>/deployment/<name> or k8s:<namespace>/pod/<name> (the namespace may be left out)',
    );
  }
  const kind = m[3]!.startsWith('deploy') ? 'deployment' : 'pod';
  return { kind, ...(m[1] && { namespace: m[1] }), name: m[4]! };
}

/** Parses `key=value[,key=value]`. */
export function parseSelector(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?)=([-A-Za-z0-9_.]*)$/.exec(part);
    if (!m) throw new UserError(`--selector ${JSON.stringify(text)}: "${part}" is not key=value`, 'write it as key=value, several separated by commas: app=web,tier=front');
    labels[m[1]!] = m[3]!;
  }
  if (Object.keys(labels).length === 0) throw new UserError('--selector is empty', 'write it as key=value');
  return labels;
}

export const labelSelectorText = (labels: Record<string, string>) =>
  Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');

export interface ResolvedTarget {
  pods: PodSelector;
  /** Labels a Service selects the pods with. */
  serviceSelector: Record<string, string>;
  /** For messages and status. */
  description: string;
}

type Api = Pick<KubeClient, 'request'>;

/** Fails with a UserError when the namespace does not exist (when this user may read namespaces). */
export async function checkNamespace(client: Api, namespace: string): Promise<void> {
  try {
    await client.request(`/api/v1/namespaces/${encodeURIComponent(namespace)}`);
  } catch (e) {
    if (isNotFound(e)) throw new UserError(`namespace "${namespace}" does not exist`, 'check -n/--namespace (kubectl get namespaces)', 'NotFound');
    if (e instanceof KubeApiError && e.code === 403) return; // may not read namespaces: later calls will tell
    throw e;
  }
}

export async function resolveTarget(client: Api, spec: TargetSpec, namespace: string, envName: string): Promise<ResolvedTarget> {
  switch (spec.kind) {
    case 'environment': {
      const labels = { [LABEL_ENV]: envName };
      const description = `the pods of environment ${envName}`;
      return { pods: { namespace, labelSelector: labelSelectorText(labels), description }, serviceSelector: labels, description };
    }
    case 'selector': {
      const sel = labelSelectorText(spec.labels);
      const res = await client.request<{ items: unknown[] }>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, { query: { labelSelector: sel, limit: 1 } });
      if (res.items.length === 0) {
        throw new UserError(`no pod in namespace ${namespace} matches --selector ${sel}`, 'check the labels (kubectl get pods --show-labels) and -n/--namespace', 'NoPods');
      }
      const description = `pods with ${sel}`;
      return { pods: { namespace, labelSelector: sel, description }, serviceSelector: spec.labels, description };
    }
    case 'deployment': {
      let d: { spec?: { selector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } } };
      try {
        d = await client.request(`/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${encodeURIComponent(spec.name)}`);
      } catch (e) {
        if (isNotFound(e)) throw new UserError(`deployment ${namespace}/${spec.name} does not exist`, 'check the name and namespace (kubectl get deployments -n ' + namespace + ')', 'NotFound');
        throw e;
      }
      const labels = d.spec?.selector?.matchLabels ?? {};
      if (Object.keys(labels).length === 0 || (d.spec?.selector?.matchExpressions?.length ?? 0) > 0) {
        throw new UserError(`deployment ${namespace}/${spec.name} selects its pods with expressions, which envserve cannot follow`, 'use --selector key=value instead');
      }
      const description = `deployment/${spec.name}`;
      return { pods: { namespace, labelSelector: labelSelectorText(labels), description }, serviceSelector: labels, description };
    }
    case 'pod': {
      let p: { metadata?: { labels?: Record<string, string> } };
      try {
        p = await client.request(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(spec.name)}`);
      } catch (e) {
        if (isNotFound(e)) throw new UserError(`pod ${namespace}/${spec.name} does not exist`, 'check the name and namespace (kubectl get pods -n ' + namespace + ')', 'NotFound');
        throw e;
      }
      const description = `pod/${spec.name}`;
      return { pods: { namespace, podName: spec.name, description }, serviceSelector: p.metadata?.labels ?? {}, description };
    }
  }
}
