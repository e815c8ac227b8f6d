// Label selectors as the API server reads them: matchLabels and matchExpressions.
import type { Obj } from './snapshot.js';

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** An empty selector selects everything (NetworkPolicy podSelector: {}). */
export function matchesSelector(sel: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel?.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    switch (e.operator) {
      case 'In': if (!has || !(e.values ?? []).includes(l[e.key]!)) return false; break;
      case 'NotIn': if (has && (e.values ?? []).includes(l[e.key]!)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

export function selectorOf(svc: Obj): Record<string, string> | undefined {
  const s = svc.spec?.selector as Record<string, string> | undefined;
  return s && Object.keys(s).length > 0 ? s : undefined;
}

export const labelText = (labels: Record<string, string> | undefined) =>
  Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '(no labels)';

/** The pods whose labels come closest to a selector (most pairs equal, then most keys present). */
export function nearestPods(selector: Record<string, string>, pods: Obj[], n = 3): Obj[] {
  const score = (p: Obj) => {
    const l = (p.metadata?.labels ?? {}) as Record<string, string>;
    let s = 0;
    for (const [k, v] of Object.entries(selector)) s += l[k] === v ? 10 : k in l ? 3 : 0;
    return s;
  };
  return [...pods].sort((a, b) => score(b) - score(a)).slice(0, n);
}
