// The ExposureSet a Plan stands for: what the CLI submits through the Kubernetes API
// (cli-client.ts) and what the operator's HTTP API builds from a posted plan (api.ts).
import { ownerLabels } from '../apply/k8s/manifests.js';
import type { Exposure, Plan } from '../plan/types.js';
import { API_VERSION, KIND, SUBMITTED_BY_ANNOTATION, type ExposureSet } from './resource.js';

/** The ExposureSet a Plan stands for: its cluster exposures only (host ones stay on the user's machine). */
export function exposureSetFromPlan(plan: Plan, namespace: string, opts: { name?: string; selector?: Record<string, string>; user?: string } = {}): ExposureSet {
  const exposures = plan.exposures.filter((e: Exposure) => e.kind !== 'host');
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: opts.name ?? plan.env.name,
      namespace,
      // The environment's owner labels: `envserve down` finds and deletes it like its other objects.
      labels: ownerLabels(plan.env.name),
      ...(opts.user && { annotations: { [SUBMITTED_BY_ANNOTATION]: opts.user } }),
    },
    spec: {
      env: plan.env.name,
      source: plan.source,
      ...(opts.selector && Object.keys(opts.selector).length > 0 && { selector: opts.selector }),
      services: plan.env.services,
      exposures,
    },
  };
}
