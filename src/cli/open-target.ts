// `envserve open <exposure>` (issue 22): an exposure of a running environment, by id or name, to
// the URL the browser should open and whether that URL needs envserve's login. Pure: status in.
import { RuntimeFailure, UserError } from '../errors.js';
import { needsLogin } from '../plan/access.js';
import type { EnvStatus, ExposureStatus } from '../status/types.js';

export interface OpenTarget {
  id: string;
  url: string;
  /** The URL is behind the login gateway (access namespace/authenticated): log in first. */
  login: boolean;
}

export function openTarget(status: EnvStatus, idOrName: string): OpenTarget {
  const byId = status.exposures.find((e) => e.id === idOrName);
  const matches = byId ? [byId] : status.exposures.filter((e) => e.name === idOrName);
  if (matches.length === 0) {
    throw new UserError(
      `no exposure ${JSON.stringify(idOrName)} in environment ${status.envName} [NotFound]`,
      `its exposures: ${status.exposures.map((e) => e.id).join(', ') || 'none'}${/[./:]/.test(idOrName) ? '; a URL needs its scheme (https://HOST/PATH)' : ''}`,
      'NotFound',
    );
  }
  // A name shared by several exposures (a Service, its Ingress, a port-forward): the one with a
  // URL that anyone allowed can open comes first, then a URL on this machine.
  const rank = (e: ExposureStatus) => (e.kind === 'k8s-ingress' || e.kind === 'k8s-route' ? 0 : e.urls.length ? 1 : e.reach?.url ? 2 : 3);
  const e = [...matches].sort((a, b) => rank(a) - rank(b))[0]!;
  const http = (u: string | undefined) => (u && /^https?:\/\//.test(u) ? u : undefined);
  const own = http(e.urls[0]);
  if (own) return servedNow(status, e, { id: e.id, url: own, login: e.access !== undefined && needsLogin(e.access) });
  // Only in-cluster addresses: open what reaches it from here (its Ingress or port-forward).
  const via = http(e.reach?.url);
  if (via) {
    const through = status.exposures.find((x) => x.id === e.reach?.id);
    return servedNow(status, through ?? e, { id: through?.id ?? e.id, url: via, login: through?.access !== undefined && needsLogin(through.access) });
  }
  const why = e.inCluster?.length
    ? `it answers only inside the cluster (${e.inCluster[0]})${e.reach?.command ? `; from here: ${e.reach.command}` : ''}`
    : e.urls.length
      ? `its address is not a web URL (${e.urls[0]})`
      : `it is ${e.state} (${e.reason})${e.message ? `: ${e.message}` : ''}`;
  throw new UserError(`exposure ${e.id} has no URL to open: ${why} [NoUrl]`, 'envserve status lists each exposure and its URL', 'NoUrl');
}

/**
 * A URL that envserve's own process serves (its proxy on this machine, a port-forward) opens
 * nothing while that process is gone or frozen (a stale status); cluster objects (Ingress, a
 * route, a node port) answer without it.
 */
function servedNow(status: EnvStatus, e: ExposureStatus, t: OpenTarget): OpenTarget {
  if (!status.stale || (e.kind !== 'host' && e.kind !== 'k8s-port-forward')) return t;
  throw new RuntimeFailure(`${t.url} is served by envserve itself, and it does not run now: ${status.stale.split(';')[0]} [NotRunning]`, 'start it again (envserve up or serve); envserve status shows the rest', 'NotRunning');
}
