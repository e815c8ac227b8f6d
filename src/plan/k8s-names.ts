// What the Kubernetes API server accepts as names, label values, annotation keys and env var
// names (after k8s.io/apimachinery's validation), and names shortened with a hash so that two
// long derived names never collide after truncation.
import { createHash } from 'node:crypto';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function isDns1035Label(s: string): boolean {
  return s.length <= 63 && DNS1035_LABEL.test(s);
}

export function isDns1123Subdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((l) => DNS1123_LABEL.test(l));
}

/** A label or annotation key: an optional DNS-subdomain prefix and "/", then a name of ≤ 63. */
export function isQualifiedName(key: string): boolean {
  const slash = key.indexOf('/');
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (slash >= 0 && !isDns1123Subdomain(key.slice(0, slash))) return false;
  return name.length <= 63 && QUALIFIED_NAME_PART.test(name);
}

export function isLabelValue(v: string): boolean {
  return v.length <= 63 && LABEL_VALUE.test(v);
}

export function isEnvVarName(name: string): boolean {
  return ENV_VAR_NAME.test(name) && name !== '.' && name !== '..' && !name.startsWith('..');
}

/** What a rejected name should look like, for hints. */
export const NAME_RULES = {
  label: 'at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit',
  subdomain: 'lowercase letters, digits, "-" and ".", at most 253 characters, each part starting and ending with a letter or digit',
  qualified: 'an optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit (e.g. "nginx.ingress.kubernetes.io/rewrite-target")',
  envVar: 'letters, digits, "_", "-" and ".", not starting with a digit (e.g. "MY_VAR")',
} as const;

/** 8 hex digits of SHA-256: enough to keep distinct long names distinct. */
export function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 8);
}

/**
 * `s` if it fits in `max` characters; else its first characters, "-" and a hash of the whole,
 * so two long names that share a prefix stay different (and the same name stays the same).
 */
export function fitName(s: string, max: number): string {
  if (s.length <= max) return s;
  const keep = s.slice(0, max - 9).replace(/[-_.]+$/, '');
  return `${keep}-${shortHash(s)}`;
}
