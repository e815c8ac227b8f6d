// What the rules of `check` share: a check before it is tied to an exposure (Draft), how to make
// one, and small readers of the snapshot's objects.
import type { CheckReason } from '../reasons.js';
import type { Check, CheckStatus } from './types.js';
import { isUnavailable, type Maybe, type Obj } from './snapshot.js';

export type Draft = Omit<Check, 'exposure' | 'vantage'>;

/** How an env file's objects come to exist. */
export const START_HINT = 'start it: envserve up --runtime k8s (or envserve serve --runtime k8s --target k8s:NS/deployment/NAME for a running workload)';

export const mk = (id: string, title: string, status: CheckStatus, reason: CheckReason, message: string, fix?: string): Draft =>
  ({ id, title, status, reason, message, ...(fix && { fix }) });

export function skippedFor(id: string, title: string, u: { unavailable: string; message: string }): Draft {
  return mk(id, title, 'skipped', u.unavailable === 'Forbidden' ? 'Forbidden' : 'NotApplicable', `not looked at: ${u.message}`);
}

export const list = <T>(m: Maybe<T[]>): T[] => (isUnavailable(m) ? [] : m);
export const podName = (p: Obj) => p.metadata?.name as string;
export const isDeleting = (p: Obj) => !!p.metadata?.deletionTimestamp;
