// Kubernetes label selector matching (matchLabels and matchExpressions), as the API server does it.
import type { LabelSelector } from './types.js';

export function selectorMatches(sel: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const ex of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, ex.key);
    const values = ex.values ?? [];
    switch (ex.operator) {
      case 'In':
        if (!has || !values.includes(labels[ex.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[ex.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

export function describeSelector(sel: LabelSelector | undefined): string {
  if (!sel) return 'every namespace';
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const ex of sel.matchExpressions ?? []) {
    if (ex.operator === 'Exists') parts.push(ex.key);
    else if (ex.operator === 'DoesNotExist') parts.push(`!${ex.key}`);
    else parts.push(`${ex.key} ${ex.operator === 'In' ? 'in' : 'notin'} (${(ex.values ?? []).join(',')})`);
  }
  return parts.length ? `namespaces with ${parts.join(', ')}` : 'every namespace';
}
