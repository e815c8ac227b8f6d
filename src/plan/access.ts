// Access levels of cluster URLs (issue 22), as data: their order and what each needs. Pure.
import type { AccessLevel, Exposure } from './types.js';

/** From the most closed to the most open; a policy ceiling admits a level at or before it. */
export const ACCESS_LEVELS: readonly AccessLevel[] = ['namespace', 'authenticated', 'public'];
export const DEFAULT_ACCESS: AccessLevel = 'namespace';

export function isAccessLevel(v: string): v is AccessLevel {
  return (ACCESS_LEVELS as readonly string[]).includes(v);
}

/** -1, 0, 1 as `a` is more closed than, equal to, more open than `b`. */
export function compareAccess(a: AccessLevel, b: AccessLevel): number {
  return Math.sign(ACCESS_LEVELS.indexOf(a) - ACCESS_LEVELS.indexOf(b));
}

/** The level of an exposure's URL, or undefined when it has none envserve guards (port-forwards, Services). */
export function urlAccess(e: Exposure): AccessLevel | undefined {
  return e.kind === 'k8s-ingress' || e.kind === 'k8s-route' ? e.access ?? DEFAULT_ACCESS : undefined;
}

/** Whether opening the URL needs a login checked by something (the operator's login gateway). */
export function needsLogin(level: AccessLevel): boolean {
  return level !== 'public';
}
