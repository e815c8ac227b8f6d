// Issue 22 item 9: an exposure whose addresses answer only inside the cluster (a ClusterIP Service)
// is shown next to the way to reach it from here — the URL of its Ingress or route (with
// `envserve open` when that URL needs a login), else its port-forward's, else the command the
// runtime suggested. Pure: status rows and the plan in, rows out.
import { needsLogin } from '../plan/access.js';
import { reachersOf } from '../plan/reach.js';
import type { Exposure } from '../plan/types.js';
import type { ExposureStatus } from './types.js';

export function linkReach<T extends Pick<ExposureStatus, 'id' | 'urls' | 'inCluster' | 'reach' | 'access'>>(rows: T[], exposures: readonly Exposure[]): T[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return rows.map((r) => {
    if (!r.inCluster?.length || r.urls.length) return r;
    const spec = exposures.find((x) => x.id === r.id);
    for (const x of spec ? reachersOf(exposures, spec) : []) {
      const via = byId.get(x.id);
      const url = via?.urls[0];
      if (!url) continue;
      return { ...r, reach: { id: x.id, url, ...(via.access && needsLogin(via.access) && { command: `envserve open ${url}` }) } };
    }
    return r;
  });
}
