// What the dashboard needs from an environment, whoever runs it: the engine in this process
// (`up|serve --ui`) or another envserve process reached through its control socket
// (`envserve dashboard`). The server (server.ts) knows only these two interfaces.
import type { CheckReason } from '../reasons.js';
import type { EnvStatus } from '../status/types.js';

export type UiAction = 'restart' | 'stop' | 'start';
export const UI_ACTIONS: readonly UiAction[] = ['restart', 'stop', 'start'];

/** The outcome of an action or a check, shown inline next to the exposure. */
export interface ActionResult {
  ok: boolean;
  /** A stable reason code when not ok (or the check's code). */
  reason?: CheckReason;
  message?: string;
  /** `check`: the per-target results, as `envserve check -o json` prints them. */
  details?: unknown;
}

/** Where a Kubernetes environment runs (from the state record; no credentials). */
export interface ClusterInfo {
  server?: string;
  context?: string;
  namespace?: string;
}

export interface UiEnvironment {
  /** Stable and URL-safe: the state key of the env file. */
  readonly key: string;
  /** The latest status; undefined while not known yet. */
  status(): EnvStatus | undefined;
  /** Called on every change of the status; returns the unsubscribe function. */
  subscribe(cb: (status: EnvStatus) => void): () => void;
  action(name: UiAction, exposureId: string): Promise<ActionResult>;
  check(exposureId: string): Promise<ActionResult>;
  cluster?(): ClusterInfo | undefined;
}

/** One environment (up|serve --ui) or every environment on this machine (dashboard). */
export interface UiSource {
  environments(): UiEnvironment[];
  /** Called when environments appear or go away; returns the unsubscribe function. */
  onListChange(cb: () => void): () => void;
}

/** A source holding a fixed list (the in-process case). */
export function fixedSource(...envs: UiEnvironment[]): UiSource {
  return { environments: () => envs, onListChange: () => () => {} };
}
