// Starts what needs an API group once the API server serves it: asked at start and again every
// `everyMs` until it is. The group may be installed after the operator started (Gateway API added
// to a cluster later), or not answer for a moment (a CRD group's discovery right after an API
// server restart, or the API server away): looked at only once, a replica that started in such a
// moment would never guard the login HTTPRoutes, and half the requests through the gateway's
// Service would find no such exposure.
import { KubeApiError, type KubeClient } from '../../apply/k8s/client.js';

export interface WhenServed {
  /** Settles after the first look (and the start, where the group was served then). */
  first: Promise<void>;
  stop(): void;
}

export function whenServed(
  client: Pick<KubeClient, 'request'>,
  groupPath: string,
  everyMs: number,
  start: () => Promise<void>,
  log: (level: 'info' | 'warn', m: string) => void,
): WhenServed {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let said = '';
  let missed = false;
  const again = (why: string) => {
    missed = true;
    // 404 is the plain "not installed": nothing to say; anything else once per different answer.
    if (why && why !== said) log('warn', `${why} (asking again every ${everyMs / 1000} s)`);
    said = why;
    if (stopped) return;
    timer = setTimeout(() => void look(), everyMs);
    timer.unref();
  };
  const look = async (): Promise<void> => {
    try {
      await client.request(groupPath);
    } catch (e) {
      return again(e instanceof KubeApiError && e.code === 404 ? '' : `cannot tell whether ${groupPath} is served: ${(e as Error).message}`);
    }
    if (stopped) return;
    try {
      await start();
      if (missed) log('info', `${groupPath} is served now`);
    } catch (e) {
      again(`${groupPath} is served, but starting on it failed: ${(e as Error).message}`);
    }
  };
  return {
    first: look(),
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
