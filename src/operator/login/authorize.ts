// May this identity open this exposure? `authenticated`: any identity the API server attested.
// `namespace`: a SubjectAccessReview for `get` on the ExposureSet, asked for the identity (not the
// operator). Answers are cached briefly per (identity, set) — the re-check interval bounds how
// long a revoked RoleBinding keeps working.
import type { KubeClient } from '../../apply/k8s/client.js';
import type { AccessLevel } from '../../plan/types.js';
import { reviewExposureSetAccess } from '../auth.js';
import type { Identity } from './flow.js';

export interface Guarded {
  namespace: string;
  setName: string;
  access: AccessLevel;
}

export type Authorize = (who: Identity, route: Guarded) => Promise<boolean>;

export function sarAuthorizer(client: Pick<KubeClient, 'request'>, o: { ttlMs: number; now?: () => number }): Authorize {
  const now = o.now ?? Date.now;
  const cache = new Map<string, { at: number; allowed: boolean }>();
  return async (who, route) => {
    if (route.access === 'public' || route.access === 'authenticated') return true;
    const key = JSON.stringify([who.username, who.uid ?? '', who.groups ?? [], route.namespace, route.setName]);
    const hit = cache.get(key);
    if (hit && now() - hit.at < o.ttlMs) return hit.allowed;
    const { allowed } = await reviewExposureSetAccess(client, who, 'get', route.namespace, route.setName);
    if (cache.size > 10_000) cache.clear();
    cache.set(key, { at: now(), allowed });
    return allowed;
  };
}
