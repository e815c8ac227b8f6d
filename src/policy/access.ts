// Issue 22: the policies' access ceiling and session lifetime. Several selecting policies → the
// strictest ceiling and the shortest lifetime. Pure.
import { compareAccess, urlAccess } from '../plan/access.js';
import type { AccessLevel, Exposure } from '../plan/types.js';
import type { ExposurePolicy } from './types.js';

export const DEFAULT_SESSION_LIFETIME_MS = 8 * 3_600_000;

/** The strictest `access.max` of the policies, with the policies that set it; undefined: no ceiling. */
export function strictestCeiling(selecting: readonly ExposurePolicy[]): { max: AccessLevel; policies: ExposurePolicy[] } | undefined {
  const setters = selecting.filter((p) => p.spec.access?.max !== undefined);
  if (!setters.length) return undefined;
  const max = setters.map((p) => p.spec.access!.max!).reduce((a, b) => (compareAccess(a, b) <= 0 ? a : b));
  return { max, policies: setters.filter((p) => p.spec.access!.max === max) };
}

/** Set when the exposure's URL asks for more than the ceiling allows. */
export function accessCeiling(selecting: readonly ExposurePolicy[], e: Exposure): { asked: AccessLevel; max: AccessLevel; policies: ExposurePolicy[] } | undefined {
  const asked = urlAccess(e);
  const c = strictestCeiling(selecting);
  return asked && c && compareAccess(asked, c.max) > 0 ? { asked, ...c } : undefined;
}

/** How long a login lasts in a namespace: the shortest of the policies', else the default. */
export function sessionLifetimeMs(selecting: readonly ExposurePolicy[]): number {
  const set = selecting.map((p) => p.spec.access?.sessionLifetimeMs).filter((v): v is number => v !== undefined);
  return set.length ? Math.min(...set) : DEFAULT_SESSION_LIFETIME_MS;
}
